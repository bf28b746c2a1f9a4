"""Cohorts lose nothing and never hang (issue 14): workers, the rulebook they use, dirty input, output files.

Anything that could hang (a deadlock at fork, a dead worker) runs in a subprocess with a timeout, so
a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 1, 15)
HANG = 180  # seconds: far beyond any honest run of these scripts; reached only by a hang


def python(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a fresh interpreter; a hang fails the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], check=False, capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=HANG)


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
            docs = [{"school": {"country": c}} for c in ["IN", "US", "EG"] * 20]
            stop = threading.Event()
            def spin():
                while not stop.is_set():
                    imgpath.evaluate({"school": {"country": "IN"}, "exams": []}, as_of=D)
            threading.Thread(target=spin, daemon=True).start()
            for _ in range(5):
                got = [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=D, workers=2)]
                assert got == ["yes", "no", "yes"] * 20, got
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


