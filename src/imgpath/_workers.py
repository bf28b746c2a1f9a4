"""Worker processes: the start method, a pool whose workers hold the rulebook, results in input order.

*Start method* (decisions: workers). The caller's choice wins: ``mp_context=`` (a name such as
``"spawn"``, or a context) or a global ``multiprocessing.set_start_method``. Otherwise fork on
Linux: imgpath's own locks are re-created in the child (:mod:`imgpath._forksafe`), and fork needs
no ``if __name__ == "__main__":`` guard in the caller's script; elsewhere the platform's default
(spawn), which does need that guard.

*The rulebook* reaches each worker once, in the initializer: with fork the child has the very
object; with spawn or forkserver it is pickled once per worker (its compiled programs are dropped,
and rebuilt there). Workers never read rules from disk, so an in-memory rulebook, or a folder
edited after loading, answers the same as in one process.

*A dead worker* (kill -9, out of memory, a crash in the C engine) breaks the pool:
:class:`~imgpath.errors.WorkerCrashed` is raised instead of waiting forever, naming the signal.
Workers ignore Ctrl-C (the parent stops them), so an interrupt prints no trace from each worker.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import InvalidFacts, WorkerCrashed

__all__ = ["Pool", "context", "parallel_evaluate"]

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_state: dict[str, Any] = {}  # in a worker: the rulebook and the engine name


def context(mp_context: Any = None) -> Any:
    """The multiprocessing context workers start with: the caller's, else fork on Linux, else the default."""
    if isinstance(mp_context, str):
        return multiprocessing.get_context(mp_context)
    if mp_context is not None:
        return mp_context
    if multiprocessing.get_start_method(allow_none=True) is not None:
        return multiprocessing.get_context()  # set_start_method(...) was called: respected
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class Pool:
    """``workers`` processes, each initialised once with ``book`` and ``engine``.

    :meth:`imap` runs ``fn(state, chunk)`` in the workers for each chunk and yields the results in
    chunk order, with a bounded number of chunks in flight (memory stays flat for any cohort).
    Use as a context manager: leaving it normally waits for the workers; leaving it on an error, an
    interrupt or an abandoned iteration stops them at once.
    """

    def __init__(self, workers: int, book: Any, engine: str, *, mp_context: Any = None) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(workers, mp_context=context(mp_context), initializer=_init,
                                             initargs=(book, engine))

    def imap(self, fn: Callable[[dict[str, Any], Any], Any], chunks: Iterable[Any], *,
             salvage: bool = False) -> Iterator[Any]:
        """``fn``'s result for each chunk, in order; raises WorkerCrashed if a worker dies.

        With ``salvage``, the chunks that had finished after the lost one are yielded before the
        error (out of order: for callers whose results say which input they belong to).
        """
        pending: collections.deque[Future[Any]] = collections.deque()
        source = iter(chunks)
        ahead = 3 * self.workers

        def submit_more() -> None:
            while len(pending) < ahead:
                chunk = next(source, _END)
                if chunk is _END:
                    return
                with _stop_signals_blocked():  # a forked worker must not inherit a Ctrl-C mid-start
                    pending.append(self._executor.submit(_call, fn, chunk))

        submit_more()
        while pending:
            head = pending.popleft()
            try:
                result = head.result()
            except BrokenProcessPool:
                if salvage:
                    for f in pending:
                        if f.done() and not f.cancelled() and f.exception() is None:
                            yield f.result()
                raise WorkerCrashed(self._obituary()) from None
            submit_more()
            yield result

    def _obituary(self) -> str:
        """What killed a worker, from the exit codes the pool saw."""
        codes = [p.exitcode for p in self._processes() if p.exitcode not in (None, 0)]
        codes.sort(key=lambda c: c == -signal.SIGTERM)  # the pool terminates the others after one dies
        if not codes:
            return "a worker process died"
        code = codes[0]
        if code > 0:
            return f"a worker process exited with status {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {"SIGKILL": " (out of memory, or killed)", "SIGSEGV": " (a crash in the rule engine: please report it)",
               "SIGABRT": " (a crash in the rule engine: please report it)"}.get(name, "")
        return f"a worker process was killed by {name}{why}"

    def _processes(self) -> list[Any]:
        return list((getattr(self._executor, "_processes", None) or {}).values())

    def close(self, *, abort: bool = False) -> None:
        """Wait for the workers to finish (normal end), or stop them at once (``abort``)."""
        if not abort:
            self._executor.shutdown(wait=True)
            return
        processes = self._processes()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:  # what they were computing is no longer wanted
            with contextlib.suppress(Exception):  # already gone: nothing to stop
                p.kill()
        for p in processes:
            with contextlib.suppress(Exception):
                p.join(5)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=kind is not None)


_END = object()


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM held back in this thread (delivered right after); a child forked meanwhile starts
    with them blocked until its initializer has set them up."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init(book: Any, engine: str) -> None:
    """Worker initializer: the rulebook and engine for every task, Ctrl-C left to the parent, malloc pinned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _pin_malloc()
    _state["book"] = book
    _state["engine"] = engine


def _call(fn: Callable[[dict[str, Any], Any], Any], chunk: Any) -> Any:
    return fn(_state, chunk)


def _pin_malloc() -> None:
    """One arena per worker, no trimming: engine-notes §4 (sessions allocate and free ~MBs)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


# --------------------------------------------------------------------------- evaluate_many


def _firings(state: dict[str, Any], chunk: list[tuple[Any, _dt.date | None]]) -> list[tuple[str, Any]]:
    from .evaluation import evaluate

    out: list[tuple[str, Any]] = []
    for doc, as_of in chunk:
        try:
            ev = evaluate(doc, as_of=as_of, rulebook=state["book"], engine=state["engine"])
        except InvalidFacts as err:
            out.append(("invalid", str(err)))
            continue
        out.append(("ok", [(f.rule_id, f.mode, f.conclusion, f.args, f.value, f.row) for f in ev.firings]))
    return out


def parallel_evaluate(applicants: Iterable[Any], *, as_of: _dt.date | None, workers: int, rulebook: Any,
                      engine: str, chunksize: int = 256, mp_context: Any = None) -> Iterator[Any]:
    """Evaluate in ``workers`` processes; evaluations come back in input order.

    Raises :class:`~imgpath.errors.WorkerCrashed` if a worker dies (the evaluations before it
    have been yielded).
    """
    from .context import Context
    from .engine import Firing
    from .evaluation import Evaluation, _as_applicant
    from .rulebook import rulebook as default_rulebook

    book = rulebook if rulebook is not None else default_rulebook()
    items = list(applicants)
    docs = [_as_applicant(a) for a in items]  # every document is checked before any is evaluated
    # a mapping travels as itself (pickling a dict costs a tenth of pickling the Applicant); the
    # worker validates it again, in parallel with the others
    sent = [(a if type(a) is dict else d, as_of) for a, d in zip(items, docs, strict=True)]
    size = max(1, min(chunksize, len(sent) // (workers * 4) or 1))
    chunks = (sent[i:i + size] for i in range(0, len(sent), size))
    pending = iter(docs)
    with Pool(workers, book, engine, mp_context=mp_context) as pool:
        for results in pool.imap(_firings, chunks):
            for status, payload in results:
                doc = next(pending)
                if status != "ok":  # pragma: no cover - documents were validated above
                    raise InvalidFacts("", payload)
                when = as_of or doc.as_of or _dt.date.today()
                firings = [Firing(*f) for f in payload]
                yield Evaluation(book.program(when), Context(book, doc, when), firings, engine)
