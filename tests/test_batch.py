"""Cohorts lose nothing and never hang (issue 14): workers, the rulebook they use, dirty input, output files.

Anything that could hang (a deadlock at fork, a dead worker) runs in a subprocess with a timeout, so
a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import imgpath
from imgpath.rulebook import Rulebook, load_rulebook

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 1, 15)
HANG = 180  # seconds: far beyond any honest run of these scripts; reached only by a hang


def python(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a fresh interpreter; a hang fails the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=HANG, check=False)


def cohort_rows(n: int) -> list[dict[str, str]]:
    """``n`` valid flattened applicants with distinct ids (the example cohort's good rows, repeated)."""
    with (ROOT / "examples" / "cohort.csv").open() as fh:
        good = [r for r in csv.DictReader(fh) if r["id"] != "bad"]
    return [{**good[i % len(good)], "id": f"p{i}"} for i in range(n)]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: no psutil)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            out.append(int(entry.name))
    return out


def wait_for(condition, what: str, limit: float = 120.0):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something true (a generous limit: not a speed assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc/self/status").exists(),
                                reason="needs fork and /proc (Linux)")


# --------------------------------------------------------------------------- finding 2: fork and start methods


@needs_fork
class TestStartMethods:
    def test_a_thread_evaluating_while_workers_start_does_not_deadlock(self) -> None:
        """Another thread evaluates non-stop while evaluate_many(workers=2) forks its workers, five times:
        every run finishes, with the same verdicts as one process."""
        proc = python("""
            import datetime, threading, imgpath
            D = datetime.date(2026, 1, 15)
            docs = [{"school": {"country": c}} for c in ["IN", "US", "EG"] * 10]
            stop = threading.Event()
            def spin():
                while not stop.is_set():
                    imgpath.evaluate({"school": {"country": "IN"}, "exams": []}, as_of=D)
            threading.Thread(target=spin, daemon=True).start()
            for _ in range(3):
                got = [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=D, workers=2)]
                assert got == ["yes", "no", "yes"] * 10, got
            stop.set()
            print("done")
        """)
        assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr

    def test_locks_held_by_another_thread_at_fork_are_free_in_the_workers(self) -> None:
        """The rule-base cache lock and the rule base's own lock, held by another thread while the workers
        fork, do not stop the workers (they are re-created in the child)."""
        proc = python("""
            import datetime, threading, imgpath
            from imgpath import evaluation
            D = datetime.date(2026, 1, 15)
            imgpath.evaluate({"school": {"country": "IN"}}, as_of=D)
            rb = evaluation._rulebase(imgpath.rulebook().program(D))
            held, release = threading.Event(), threading.Event()
            def hold():
                with evaluation._rulebase_lock, rb._lock:
                    held.set()
                    release.wait()
            threading.Thread(target=hold, daemon=True).start()
            held.wait()
            docs = [{"school": {"country": c}} for c in ["IN", "US"] * 10]
            got = [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=D, workers=2)]
            release.set()
            assert got == ["yes", "no"] * 10, got
            print("done")
        """)
        assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr

    def test_the_global_start_method_is_respected(self, tmp_path: Path) -> None:
        """multiprocessing.set_start_method("spawn") in the caller's script: the workers are spawned, never
        forked (the script has the main-module guard spawn needs)."""
        script = tmp_path / "cohort_script.py"
        script.write_text(textwrap.dedent("""
            import datetime, multiprocessing, multiprocessing.context as mc
            import imgpath

            def main():
                multiprocessing.set_start_method("spawn")
                started = []
                spawn_popen = mc.SpawnProcess._Popen
                mc.SpawnProcess._Popen = staticmethod(lambda p: (started.append(p), spawn_popen(p))[1])
                def no_fork(p):
                    raise AssertionError("forked although the caller chose spawn")
                mc.ForkProcess._Popen = staticmethod(no_fork)
                docs = [{"school": {"country": c}} for c in ["IN", "US"] * 5]
                got = [e.verdict("img").value for e in
                       imgpath.evaluate_many(docs, as_of=datetime.date(2026, 1, 15), workers=2)]
                assert got == ["yes", "no"] * 5, got
                assert started, "no spawned worker"
                print("done")

            if __name__ == "__main__":
                main()
        """))
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=HANG, check=False)
        assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr

    def test_an_explicit_mp_context_is_respected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """evaluate_many(mp_context=...) starts its workers with that context (here spawn, by name and as a
        context object)."""
        import multiprocessing.context as mc

        started: list[object] = []
        spawn_popen = mc.SpawnProcess._Popen
        monkeypatch.setattr(mc.SpawnProcess, "_Popen",
                            staticmethod(lambda p: (started.append(p), spawn_popen(p))[1]))

        def no_fork(p: object) -> None:
            raise AssertionError("forked although the caller chose spawn")

        monkeypatch.setattr(mc.ForkProcess, "_Popen", staticmethod(no_fork))
        docs = [{"school": {"country": c}} for c in ["IN", "US"] * 3]
        for ctx in ("spawn", multiprocessing.get_context("spawn")):
            got = [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=AS_OF, workers=2,
                                                                         mp_context=ctx)]
            assert got == ["yes", "no"] * 3
        assert len(started) >= 2


# --------------------------------------------------------------------------- finding 3: a dead worker


@needs_fork
class TestDeadWorker:
    def test_evaluate_many_raises_when_a_worker_is_killed(self) -> None:
        """kill -9 of a worker in the middle of evaluate_many: an ImgpathError says a worker died (no hang)."""
        proc = python("""
            import datetime, multiprocessing, os, signal, imgpath
            D = datetime.date(2026, 1, 15)
            docs = [{"school": {"country": c}} for c in ["IN", "US"] * 3000]
            it = imgpath.evaluate_many(docs, as_of=D, workers=2, chunksize=8)
            next(it)
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
            try:
                for _ in it:
                    pass
            except imgpath.ImgpathError as err:
                print(type(err).__name__, "|", err)
            else:
                print("no error")
        """)
        assert proc.returncode == 0, proc.stderr
        name, message = proc.stdout.strip().split(" | ")
        assert name == "WorkerCrashed" and "SIGKILL" in message


def _ids(path: Path) -> list[str]:
    if path.name.endswith((".jsonl", ".jsonl.partial")):
        return [json.loads(line)["id"] for line in path.read_text().splitlines()]
    with path.open(newline="") as fh:
        return [r["id"] for r in csv.DictReader(fh)]


# --------------------------------------------------------------------------- finding 4: the rulebook reaches the workers


def _img_verdicts(docs: list[dict], **kw: object) -> list[str]:  # type: ignore[type-arg]
    return [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=AS_OF, **kw)]  # type: ignore[arg-type]


DOCS = [{"school": {"country": c}} for c in ["IN", "US", "EG", "IN"]]


class TestRulebookInWorkers:
    def test_an_in_memory_rulebook_is_the_one_the_workers_use(self) -> None:
        """A rulebook built in memory (no folder) without the rule that makes a graduate abroad an IMG:
        the workers answer from it, as one process does (fork and spawn)."""
        base = imgpath.rulebook()
        custom = Rulebook([r for r in base.rules if r.id != "img.school_abroad"], base.sources, base.tables,
                          base.conclusions, extras=base.extras)
        assert custom.path is None
        one = _img_verdicts(DOCS, rulebook=custom)
        assert one == ["no", "no", "no", "no"]
        assert _img_verdicts(DOCS, rulebook=custom, workers=2) == one
        assert _img_verdicts(DOCS, rulebook=custom, workers=2, mp_context="spawn") == one

    def test_a_folder_edited_after_loading_is_not_read_again(self, tmp_path: Path) -> None:
        """The rulebook as loaded answers, not the folder as it is now: after loading, India is added to the
        countries whose graduates are not IMGs; the workers still say an Indian graduate is an IMG."""
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        book = load_rulebook(rules)
        img = rules / "img.toml"
        img.write_text(img.read_text().replace("not in ['US', 'PR', 'CA']", "not in ['US', 'PR', 'CA', 'IN']"))
        assert _img_verdicts(DOCS[:1], rulebook=load_rulebook(rules)) == ["no"]  # the edit matters
        one = _img_verdicts(DOCS, rulebook=book)
        assert one == ["yes", "no", "yes", "yes"]
        assert _img_verdicts(DOCS, rulebook=book, workers=2) == one

    def test_the_rulebook_is_sent_once_per_worker_not_per_item(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Pickling the rulebook happens in the worker initializer (spawn: once per worker), never per chunk."""
        calls = []
        original = Rulebook.__getstate__

        def counting(self: Rulebook) -> dict:  # type: ignore[type-arg]
            calls.append(1)
            return original(self)

        monkeypatch.setattr(Rulebook, "__getstate__", counting)
        docs = DOCS * 50
        assert _img_verdicts(docs, workers=2, mp_context="spawn", chunksize=4) == _img_verdicts(docs)
        assert 1 <= len(calls) <= 2
