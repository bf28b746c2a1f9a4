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
import importlib
import multiprocessing
import multiprocessing.connection
import pkgutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .compiler import Firing, program
from .context import Context
from .errors import InvalidFacts, WorkerCrashed
from .engine import COHORT, evaluate_codes
from .evaluation import Evaluation, as_applicant, evaluate
from .facts import Applicant
from .rulebook import rulebook as default_rulebook

__all__ = ["Pool", "context", "parallel_evaluate"]

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_POLL = 0.5  # seconds between checks that every worker is alive, while waiting for a result
_GRACE = 5.0  # seconds a dead worker goes unnoticed by the pool before imgpath declares it broken
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
        ctx = context(mp_context)
        if ctx.get_start_method() == "fork":
            _import_everything()
        self._executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(book, engine))

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

        try:
            submit_more()
        except BrokenProcessPool:  # a worker died while starting
            message, details = self._obituary()
            raise WorkerCrashed(message, **details) from None
        while pending:
            head = pending.popleft()
            try:
                result = self._result(head)
                # the pool may learn of a death between two results: submit then raises at once
                submit_more()
            except BrokenProcessPool:
                if salvage:
                    if head.done() and not head.cancelled() and head.exception() is None:
                        yield head.result()
                    for f in pending:
                        if f.done() and not f.cancelled() and f.exception() is None:
                            yield f.result()
                message, details = self._obituary()
                raise WorkerCrashed(message, **details) from None
            yield result

    def _result(self, future: Future[Any]) -> Any:
        """The future's result; BrokenProcessPool if a worker died, even one killed halfway through
        sending a result (the pool's reader thread then waits forever for the rest of it)."""
        dead_since: float | None = None
        while True:
            try:
                return future.result(timeout=_POLL)
            except FuturesTimeout:
                pass
            sentinels = [p.sentinel for p in self._processes()]
            if not sentinels or not multiprocessing.connection.wait(sentinels, timeout=0):
                continue
            dead_since = dead_since or time.monotonic()
            if time.monotonic() - dead_since > _GRACE:  # the pool has not noticed: unblock its reader
                self._unblock_reader()
                raise BrokenProcessPool("a worker died while sending a result")

    def _unblock_reader(self) -> None:
        """Stop every worker and close this process's end of the result pipe: the pool's reader thread,
        stuck on half a message, sees end-of-file, marks the pool broken and exits."""
        for p in self._processes():
            with contextlib.suppress(Exception):  # already gone
                p.kill()
        writer = getattr(getattr(self._executor, "_result_queue", None), "_writer", None)
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.close()

    def _obituary(self) -> tuple[str, dict[str, Any]]:
        """What killed a worker, from the exit codes the pool saw: (message, {"signal": number})."""
        codes = self._exit_codes()
        codes.sort(key=lambda c: c == -signal.SIGTERM)  # the pool terminates the others after one dies
        if not codes:
            return "a worker process died", {}
        code = codes[0]
        if code > 0:
            return f"a worker process exited with status {code}", {}
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {"SIGKILL": " (out of memory, or killed)", "SIGSEGV": " (a crash in the rule engine: please report it)",
               "SIGABRT": " (a crash in the rule engine: please report it)"}.get(name, "")
        return f"a worker process was killed by {name}{why}", {"signal": -code}

    def _exit_codes(self) -> list[int]:
        """The non-zero exit codes of the workers that have ended. The pool's thread may be reaping
        them at this very moment (a code then reads None until it is done): wait for it, briefly."""
        deadline = time.monotonic() + 2.0
        while True:
            ended = [p for p in self._processes() if multiprocessing.connection.wait([p.sentinel], timeout=0)]
            codes = [p.exitcode for p in ended]
            if None not in codes or time.monotonic() > deadline:
                return [c for c in codes if c]
            time.sleep(0.02)

    def _processes(self) -> list[Any]:
        return list((getattr(self._executor, "_processes", None) or {}).values())

    def close(self, *, abort: bool = False) -> None:
        """Wait for the workers to finish (normal end), or drop the work not started (``abort``).

        An abort does not kill the workers: one killed while it sends a result would leave the
        pool's reader thread waiting forever (and the interpreter with it, at exit). Each finishes
        the chunk in hand, at most a second or so, and exits.
        """
        self._executor.shutdown(wait=not abort, cancel_futures=abort)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=kind is not None)


_END = object()
_NOT_PRELOADED = ("__main__", "bench", "strategies", "frame", "dask")  # the command line, a tool, an optional dependency


def _import_everything() -> None:
    """Import every imgpath module before forking. A module another thread is importing at the
    moment of the fork would stay locked forever in the child (the import system does not reset
    its per-module locks), and imgpath imports some modules on first use; importing here waits
    for such an import to finish instead."""
    package = sys.modules[__name__.rpartition(".")[0]]  # imgpath, already imported: this is a submodule
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_PRELOADED:
            importlib.import_module(f"{package.__name__}.{info.name}")


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
    """Worker initializer: the rulebook and engine for every task, Ctrl-C left to the parent, malloc pinned.

    SIGTERM gets its default action back (a forked worker inherits the parent's handler, and the
    pool stops a worker with SIGTERM: it must die, not carry on).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
    out: list[tuple[str, Any]] = []
    for doc, as_of in chunk:
        try:
            ev = evaluate(doc, as_of=as_of, rulebook=state["book"], engine=state["engine"])
        except InvalidFacts as err:
            out.append(("invalid", str(err)))
            continue
        out.append(("ok", [(f.rule_id, f.mode, f.conclusion, f.args, f.value, f.row) for f in ev.firings]))
    return out


def _codes(state: dict[str, Any], chunk: list[tuple[Any, _dt.date | None]]) -> list[tuple[str, Any, Any]]:
    """A chunk of the durable engine's work: documents validated here once, evaluated in cohorts sharing
    a session, firings sent back as integer codes (:func:`imgpath.engine.evaluate_codes`)."""
    return evaluate_codes(state["book"], chunk, cohort=COHORT)


def parallel_evaluate(applicants: Iterable[Any], *, as_of: _dt.date | None, workers: int, rulebook: Any,
                      engine: str, chunksize: int = 256, mp_context: Any = None) -> Iterator[Any]:
    """Evaluate in ``workers`` processes; evaluations come back in input order.

    With the durable engine each worker validates its documents (once: the parent does not),
    evaluates them in cohorts and sends back firing codes; each :class:`Evaluation` is built
    lazily, when a question is asked of it, and a document that fails validation raises
    :class:`~imgpath.InvalidFacts` when its turn comes. Raises
    :class:`~imgpath.errors.WorkerCrashed` if a worker dies (the evaluations before it have been
    yielded).
    """
    book = rulebook if rulebook is not None else default_rulebook()
    items = list(applicants)
    if engine == "durable":
        # a plain dict travels as itself (pickling an Applicant costs ~20x more); the worker validates it
        sent = [(a if type(a) is dict or isinstance(a, Applicant) else as_applicant(a), as_of) for a in items]
        size = max(1, min(chunksize, len(sent) // (workers * 4) or 1))
        chunks = (sent[i:i + size] for i in range(0, len(sent), size))
        done = 0
        with Pool(workers, book, engine, mp_context=mp_context) as pool:
            for results in pool.imap(_codes, chunks):
                for status, payload, codes in results:
                    doc = sent[done][0]
                    done += 1
                    if status != "ok":
                        path, problem, file = payload
                        raise InvalidFacts(path, problem, file=file)
                    yield Evaluation.from_codes(book, doc, payload, codes)
        return
    docs = [as_applicant(a) for a in items]  # every document is checked before any is evaluated
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
                yield Evaluation(program(book, when), Context(book, doc, when), firings, engine)


