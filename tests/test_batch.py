"""Cohorts lose nothing and never hang (issue 14): workers, the rulebook they use, dirty input, output files.

Anything that could hang (a deadlock at fork, a dead worker) runs in a subprocess with a timeout, so
a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath.rulebook import Rulebook, load_rulebook

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 1, 15)
HANG = 180  # seconds: far beyond any honest run of these scripts; reached only by a hang


def python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a fresh interpreter; a hang fails the test (TimeoutExpired)."""
    return run_python([sys.executable, "-c", textwrap.dedent(script), *args])


def run_python(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in its own process group; on a hang the whole group (workers too) is killed."""
    with started(argv) as proc:
        out, err = proc.communicate(timeout=HANG)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@contextlib.contextmanager
def started(argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A process in a new process group, killed with everything it started when the block ends."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


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


def wait_for(condition: Callable[[], Any], what: str, limit: float = 120.0) -> Any:
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
        """The rule-base cache lock, the fused-program lock and the rule base's own lock, held by another
        thread while the workers fork, do not stop the workers (they are re-created in the child)."""
        proc = python("""
            import datetime, threading, imgpath
            from imgpath import engine
            import sys
            from imgpath.compiler import lowered, program
            fused_module = sys.modules["imgpath.compiler.fused"]
            D = datetime.date(2026, 1, 15)
            imgpath.evaluate({"school": {"country": "IN"}}, as_of=D)
            rb = engine.rulebase(lowered(program(imgpath.rulebook(), D)))
            held, release = threading.Event(), threading.Event()
            def hold():
                with engine._create_lock, rb._lock, fused_module._lock:
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

    def test_every_module_evaluation_needs_is_imported_before_forking(self) -> None:
        """A module another thread is importing at the moment of a fork stays locked forever in the child.
        imgpath imports its presentation layers on first use (a cold start pays only for what it
        uses), so the pool imports every module before forking (_workers._import_everything): after
        that, evaluating, explaining, planning and rendering import nothing more."""
        proc = python("""
            import datetime, sys, imgpath
            from imgpath import _workers
            _workers._import_everything()
            before = {m for m in sys.modules if m.startswith("imgpath")}
            D = datetime.date(2026, 1, 15)
            ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=D)
            ev.why("img"); ev.why_not("ecfmg_certified"); ev.to_dict(); ev._repr_html_()
            ev.next_steps("ecfmg_exams_met")
            list(imgpath.evaluate_many([{"school": {"country": "US"}}], as_of=D))
            after = {m for m in sys.modules if m.startswith("imgpath")}
            assert after == before, sorted(after - before)
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
        proc = run_python([sys.executable, str(script)])
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

    @pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
    def test_the_batch_ends_with_exit_1_and_keeps_finished_rows(self, tmp_path: Path, suffix: str) -> None:
        """kill -9 of one worker of `imgpath batch --workers 2`: exit 1 with one clear line, the rows
        already finished kept in OUTPUT.partial, no file posing as the complete output."""
        cohort = write_csv(tmp_path / "cohort.csv", cohort_rows(20_000))
        out = tmp_path / f"out{suffix}"
        with started([sys.executable, "-m", "imgpath", "batch", str(cohort), "-o", str(out), "--workers", "2",
                      *OUT_ARGS]) as proc:
            workers = wait_for(lambda: len(children(proc.pid)) >= 2 and children(proc.pid), "two workers")
            wait_for(lambda: any(p.stat().st_size for p in tmp_path.iterdir() if p != cohort),
                     "the first finished rows on disk")
            os.kill(workers[0], signal.SIGKILL)
            _, err = proc.communicate(timeout=HANG)
        assert proc.returncode == 1, err
        assert "Traceback" not in err and "worker" in err and "SIGKILL" in err
        assert not out.exists()
        partial = Path(f"{out}.partial")
        ids = _ids(partial)
        assert ids and len(ids) == len(set(ids)) and set(ids) <= {f"p{i}" for i in range(20_000)}


def _ids(path: Path) -> list[str]:
    if path.name.endswith((".jsonl", ".jsonl.partial")):
        return [json.loads(line)["id"] for line in path.read_text().splitlines()]
    with path.open(newline="") as fh:
        return [r["id"] for r in csv.DictReader(fh)]


# --------------------------------------------------------------------------- finding 4: the rulebook in the workers


def _img_verdicts(docs: list[dict[str, Any]], **kw: Any) -> list[str]:
    return [e.verdict("img").value for e in imgpath.evaluate_many(docs, as_of=AS_OF, **kw)]


DOCS: list[dict[str, Any]] = [{"school": {"country": c}} for c in ["IN", "US", "EG", "IN"]]


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

        def counting(self: Rulebook) -> dict[str, Any]:
            calls.append(1)
            return original(self)

        monkeypatch.setattr(Rulebook, "__getstate__", counting)
        docs = DOCS * 50
        assert _img_verdicts(docs, workers=2, mp_context="spawn", chunksize=4) == _img_verdicts(docs)
        assert 1 <= len(calls) <= 2


# --------------------------------------------------------------------------- findings 7 and 8: the batch command

OUT_ARGS = ("--as-of", "2026-11-25", "--no-progress")


class Run:
    """One in-process ``imgpath batch`` run: exit status, output rows, error records, standard error."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes | str,
                 suffix: str = ".csv", *args: str, out: str = "out.jsonl") -> None:
        from imgpath.cli import main

        self.input = tmp_path / f"cohort{suffix}"
        self.input.write_bytes(data.encode() if isinstance(data, str) else data)
        self.out = tmp_path / out
        self.errors_path = Path(f"{self.out}.errors.jsonl")
        self.code = main(["batch", str(self.input), "-o", str(self.out), *OUT_ARGS, *args])
        self.stderr = capsys.readouterr().err
        self.rows = _rows(self.out) if self.out.is_file() else []
        self.errors = [json.loads(x) for x in self.errors_path.read_text().splitlines()] \
            if self.errors_path.exists() else []

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.rows]

    def error(self, line: int) -> dict[str, Any]:
        found = [e for e in self.errors if e["line"] == line]
        assert len(found) == 1, (line, self.errors)
        return found[0]


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(x) for x in path.read_text().splitlines()]
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


RunBatch = Callable[..., Run]


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> RunBatch:
    """``run(data, suffix=".csv", *args, out="out.jsonl")``: one batch run over ``data`` in ``tmp_path``."""
    return lambda data, suffix=".csv", *args, **kw: Run(tmp_path, capsys, data, suffix, *args, **kw)


class TestDirtyInput:
    """Finding 7: one bad line never aborts the run; every row is written or reported with its true line."""

    @pytest.mark.parametrize("workers", ["1", "2"])
    def test_a_row_with_an_extra_cell_is_one_error(self, run: RunBatch, workers: str) -> None:
        r = run("id,school.country\na,IN\nb,IN,extra\nc,US\n", ".csv", "--workers", workers)
        assert r.code == 2 and r.ids == ["a", "c"]
        assert r.error(3)["id"] == "b" and "3 cells" in r.error(3)["error"] and "Traceback" not in r.stderr

    def test_a_truncated_row_is_an_error_not_a_shorter_applicant(self, run: RunBatch) -> None:
        r = run("id,school.country,interest.states\na,IN,TX\nb,US\n")
        assert r.code == 2 and r.ids == ["a"] and "2 cells" in r.error(3)["error"]

    def test_a_field_over_the_csv_modules_limit_is_that_rows_problem(self, run: RunBatch) -> None:
        r = run("id,school.country\na,IN\nb," + "X" * 140_000 + "\nc,US\n")
        assert r.code == 2 and r.ids == ["a", "c"] and r.error(3)["id"] == "b"
        assert len(r.error(3)["error"]) < 500  # the cell is quoted cut short

    @pytest.mark.parametrize(("line", "says"), [
        (b'{"id": "b", "school": {"country": "\xff\xfe"}}', "UTF-8"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"id": "b", "school": {"country": ' + b"9" * 5000 + b"}}", "number"),
        (b'{"id": "b", "school": {"country": "IN"}', "not valid JSON"),
        (b'["not", "an", "object"]', "JSON object"),
    ], ids=["invalid-utf8", "deep", "huge-number", "bad-json", "not-an-object"])
    def test_a_bad_jsonl_line_is_one_error_naming_its_line(self, run: RunBatch, line: bytes, says: str) -> None:
        data = b'{"id": "a", "school": {"country": "IN"}}\n' + line + b'\n{"id": "c", "school": {"country": "US"}}\n'
        r = run(data, ".jsonl")
        assert r.code == 2 and r.ids == ["a", "c"] and says in r.error(2)["error"], r.errors

    def test_invalid_utf8_in_a_csv_row_names_the_line(self, run: RunBatch) -> None:
        r = run(b"id,school.name,school.country\na,Ecole,IN\nb,\xc9cole,IN\nc,X,US\n")
        assert r.code == 2 and r.ids == ["a", "c"]
        assert r.error(3)["id"] == "b" and "UTF-8" in r.error(3)["error"]

    def test_a_utf16_file_is_refused_before_any_work(self, run: RunBatch) -> None:
        r = run("id,school.country\na,IN\n".encode("utf-16"))
        assert r.code == 2 and "UTF-16" in r.stderr and not r.out.exists() and not r.errors_path.exists()

    def test_the_documented_nested_column_with_a_digit_is_read(self, run: RunBatch) -> None:
        r = run("id,school.country,offer.h1b_petition.kind,offer.h1b_petition.filed\na,IN,new,2026-10-01\n")
        assert r.code == 0 and r.ids == ["a"] and not r.errors, r.stderr

    @pytest.mark.parametrize("workers", ["1", "2"])
    def test_a_utf8_bom_is_read_as_excel_writes_it(self, run: RunBatch, workers: str) -> None:
        r = run(b"\xef\xbb\xbfid,school.country\na,IN\nb,US\n", ".csv", "--workers", workers)
        assert r.code == 0 and r.ids == ["a", "b"] and [x["img"] for x in r.rows] == ["yes", "no"]
        r = run(b'\xef\xbb\xbf{"id": "a", "school": {"country": "IN"}}\n', ".jsonl")
        assert r.code == 0 and r.ids == ["a"]

    def test_line_numbers_are_physical_lines(self, run: RunBatch) -> None:
        """Blank lines and a quoted cell spanning two lines count: the error names the line the row starts on."""
        r = run('id,school.name,school.country\n\na,"two\nlines",IN\n\nb,x,XX\n')
        assert r.ids == ["a"] and r.error(6)["id"] == "b"
        r = run('{"id": "a", "school": {"country": "IN"}}\n\n\n{"id": "b", "school": {"country": "XX"}}\n', ".jsonl")
        assert r.ids == ["a"] and r.error(4)["id"] == "b"

    def test_an_unknown_column_refuses_the_file_once_before_any_work(self, run: RunBatch,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """A misspelt column would silently leave a fact unknown in every row: the file is refused (exit 2),
        each bad column named once with a hint, nothing evaluated or written."""
        import imgpath.batch

        monkeypatch.setattr(imgpath.batch, "evaluate", lambda *a, **k: pytest.fail("evaluated"))
        r = run("id,school.contry,foo.bar,exams[0].dat\na,IN,1,x\nb,US,2,y\n")
        assert r.code == 2 and not r.out.exists() and not r.errors_path.exists()
        assert r.stderr.count("school.contry") == 1 and "did you mean 'country'" in r.stderr
        assert "foo.bar" in r.stderr and "exams[0].dat" in r.stderr

    def test_duplicate_ids_are_errors_after_the_first(self, run: RunBatch) -> None:
        r = run("id,school.country\na,IN\nb,US\na,US\n")
        assert r.code == 2 and r.ids == ["a", "b"]
        assert "duplicate id 'a'" in r.error(4)["error"] and "line 2" in r.error(4)["error"]

    def test_every_problem_of_a_row_is_listed(self, run: RunBatch) -> None:
        """Each cell that cannot be read, and then what the facts layer finds in the rest of the row."""
        r = run("id,school.country,person.in_us,exams[0].score\na,India,maybe,abc\n")
        err = r.error(2)
        assert {e["path"] for e in err["errors"]} == {"school.country", "person.in_us", "exams[0].score"}
        assert all(e["path"] in err["error"] for e in err["errors"])

    def test_several_problems_from_the_facts_layer_are_listed(self, run: RunBatch,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """Every problem of InvalidFacts.errors (contract §6.11) is listed with its field path."""
        from imgpath.facts import Applicant

        def several(cls: type, data: Any, **kw: Any) -> Any:
            raise imgpath.InvalidFacts("school.country", "first", errors=(
                imgpath.InvalidFacts("school.country", "first"), imgpath.InvalidFacts("person.us_status", "second")))

        monkeypatch.setattr(Applicant, "from_dict", classmethod(several))
        r = run("id,school.country\na,IN\n")
        assert r.error(2)["errors"] == [{"path": "school.country", "problem": "first"},
                                        {"path": "person.us_status", "problem": "second"}]


class TestOutputFiles:
    """Finding 8: paths are checked before any work; finished rows survive an interruption."""

    GOOD = "id,school.country\na,IN\nb,US\n"

    def test_errors_and_output_on_the_same_path_are_refused(self, run: RunBatch, tmp_path: Path) -> None:
        r = run(self.GOOD, ".csv", "--errors", str(tmp_path / "out.jsonl"))
        assert r.code == 2 and not r.out.exists() and "same" in r.stderr

    def test_an_output_that_is_the_input_is_refused(self, run: RunBatch, tmp_path: Path) -> None:
        r = run(self.GOOD, ".csv", out="cohort.csv")
        assert r.code == 2 and r.input.read_text() == self.GOOD and "input" in r.stderr

    def test_a_clean_rerun_leaves_no_stale_error_file(self, run: RunBatch) -> None:
        assert run("id,school.country\na,IN\nb,XX\n").errors_path.exists()
        r = run(self.GOOD)
        assert r.code == 0 and not r.errors_path.exists() and r.ids == ["a", "b"]

    def test_the_files_get_the_permissions_a_new_file_gets(self, run: RunBatch) -> None:
        """Written through a private temporary file, the results still get the umask's permissions."""
        mask = os.umask(0o022)
        os.umask(mask)
        r = run("id,school.country\na,IN\nb,XX\n")
        assert r.out.stat().st_mode & 0o777 == 0o666 & ~mask == r.errors_path.stat().st_mode & 0o777

    @pytest.mark.parametrize("where", ["missing-folder", "a-directory", "under-a-file", "unwritable-folder"])
    def test_a_bad_output_path_is_refused_before_any_work(self, run: RunBatch, tmp_path: Path, where: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
        import imgpath.batch

        monkeypatch.setattr(imgpath.batch, "evaluate", lambda *a, **k: pytest.fail("evaluated"))
        (tmp_path / "dir.jsonl").mkdir()
        (tmp_path / "file").write_text("")
        out = {"missing-folder": "nowhere/out.jsonl", "a-directory": "dir.jsonl", "under-a-file": "file/out.jsonl",
               "unwritable-folder": "/proc/out.jsonl"}  # no file can be created in /proc, even by root
        r = run(self.GOOD, ".csv", out=out[where])
        assert r.code == 2 and "Traceback" not in r.stderr and str(r.out) in r.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "dir.jsonl", "file"]

    def test_an_interrupt_keeps_the_finished_rows_as_partial(self, run: RunBatch, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """Ctrl-C after some rows: exit 130, one line, the finished rows in OUTPUT.partial, no OUTPUT."""
        import imgpath.batch

        real, calls = imgpath.batch.evaluate, []

        def interrupted(*a: Any, **k: Any) -> Any:
            calls.append(1)
            if len(calls) == 100:
                raise KeyboardInterrupt
            return real(*a, **k)

        monkeypatch.setattr(imgpath.batch, "evaluate", interrupted)
        rows = cohort_rows(200)
        buf = [",".join(rows[0])] + [",".join(r.values()) for r in rows]
        r = run("\n".join(buf) + "\n", ".csv", out="out.csv")
        assert r.code == 130 and not r.out.exists()
        assert len(r.stderr.strip().splitlines()) == 1 and "partial" in r.stderr
        kept = _ids(Path(f"{r.out}.partial"))
        assert kept and kept == [f"p{i}" for i in range(len(kept))] and len(kept) < 100
        monkeypatch.setattr(imgpath.batch, "evaluate", real)  # a complete rerun: no stale .partial
        again = run("\n".join(buf) + "\n", ".csv", out="out.csv")
        assert again.code == 0 and len(again.rows) == 200 and not Path(f"{r.out}.partial").exists()

    def test_an_internal_error_in_one_row_exits_1_and_keeps_the_rest(self, run: RunBatch,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        import imgpath.batch

        real = imgpath.batch.evaluate

        def broken(doc: Any, **k: Any) -> Any:
            if doc.school and doc.school.country == "US":
                raise imgpath.EngineError("boom", rule_id="img.school_abroad")
            return real(doc, **k)

        monkeypatch.setattr(imgpath.batch, "evaluate", broken)
        r = run("id,school.country\na,IN\nb,US\nc,IN\n")
        assert r.code == 1 and r.ids == ["a", "c"] and "EngineError" in r.error(3)["error"]
        assert r.error(3)["internal"] is True


@needs_fork
class TestSignals:
    """A real Ctrl-C (SIGINT to the process group) or SIGTERM: finished rows kept, one line, no traceback."""

    @pytest.mark.parametrize(("workers", "sig", "status"), [
        ("1", signal.SIGINT, 130), ("2", signal.SIGINT, 130), ("2", signal.SIGTERM, 143)])
    def test_a_signal_keeps_the_finished_rows(self, tmp_path: Path, workers: str, sig: int, status: int) -> None:
        cohort = write_csv(tmp_path / "cohort.csv", cohort_rows(20_000))
        out = tmp_path / "out.csv"
        with started([sys.executable, "-m", "imgpath", "batch", str(cohort), "-o", str(out), "--workers", workers,
                      *OUT_ARGS]) as proc:
            wait_for(lambda: any(p.stat().st_size for p in tmp_path.iterdir() if p != cohort),
                     "the first finished rows on disk")
            os.killpg(proc.pid, sig)
            _, err = proc.communicate(timeout=HANG)
        assert proc.returncode == status, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "partial" in err
        kept = _ids(Path(f"{out}.partial"))
        assert kept and len(kept) == len(set(kept)) and not out.exists()


# --------------------------------------------------------------------------- property: nothing lost

_PROFILE = os.environ.get("IMGPATH_PROFILE", "ci" if os.environ.get("CI") else "dev")
FILE_EXAMPLES = {"dev": 25, "ci": 40, "thorough": 1000}.get(_PROFILE, 25)  # each example runs two batches

CSV_FAULTS = ("none", "none", "none", "extra-cell", "missing-cell", "bad-bytes", "huge-field", "duplicate-id",
              "multi-line-cell")
JSONL_FAULTS = ("none", "none", "none", "bad-bytes", "deep", "huge-number", "bad-json", "not-an-object",
                "huge-field", "duplicate-id")


def _cohort_file(data: st.DataObject, fmt: str) -> tuple[bytes, list[int]]:
    """A cohort file with faults injected, and the physical line each of its rows starts on."""
    n = data.draw(st.integers(1, 10), label="rows")
    bom = data.draw(st.booleans(), label="bom")
    out = bytearray(codecs.BOM_UTF8 if bom else b"")
    starts: list[int] = []
    line = 1
    if fmt == "csv":
        out += b"id,school.country,school.name,person.in_us\r\n"
        line += 1
    for i in range(n):
        fault = data.draw(st.sampled_from(CSV_FAULTS if fmt == "csv" else JSONL_FAULTS), label="fault")
        rid = f"r{data.draw(st.integers(0, i - 1))}" if fault == "duplicate-id" and i else f"r{i}"
        country = data.draw(st.sampled_from(["IN", "US", "EG", "XX", ""]), label="country")
        in_us = data.draw(st.sampled_from(["true", "false", "", "maybe"]), label="in_us")
        name = "N" * 140_000 if fault == "huge-field" else ("two\nlines" if fault == "multi-line-cell" else "x")
        if fmt == "csv":
            cells = [rid, country, name, in_us]
            if fault == "extra-cell":
                cells.append("extra")
            if fault == "missing-cell":
                cells.pop()
            text = io.StringIO()
            csv.writer(text).writerow(cells)
            raw = text.getvalue().encode()
            if fault == "bad-bytes":
                raw = raw.replace(b",x,", b",\xff\xfex,")
        else:
            school = {"name": name, **({"country": country} if country else {})}
            doc: dict[str, Any] = {"id": rid, "school": school}
            if in_us:
                doc["person"] = {"in_us": {"true": True, "false": False}.get(in_us, in_us)}
            raw = (json.dumps(doc) + "\n").encode()
            if fault == "bad-bytes":
                raw = raw.replace(b'"x"', b'"\xffx"')
            elif fault == "deep":
                raw = b"[" * 50_000 + b"]" * 50_000 + b"\n"
            elif fault == "huge-number":
                raw = raw.replace(b'"name"', b'"n": ' + b"9" * 5000 + b', "name"')
            elif fault == "bad-json":
                raw = raw[: len(raw) // 2] + b"\n"
            elif fault == "not-an-object":
                raw = b"[1, 2]\n"
        starts.append(line)
        out += raw
        line += raw.count(b"\n")
    return bytes(out), starts


def _blank_lines(data: st.DataObject, content: bytes, starts: list[int]) -> tuple[bytes, list[int]]:
    """Blank lines inserted before some rows; the rows' first lines move down accordingly."""
    firsts = set(starts)
    out: list[bytes] = []
    moved = []
    for number, text in enumerate(content.split(b"\n"), start=1):
        if number in firsts:
            out.extend([b""] * data.draw(st.integers(0, 2), label="blank lines"))
            moved.append(len(out) + 1)
        out.append(text)
    return b"\n".join(out), moved


@needs_fork
@settings(max_examples=FILE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])
@given(data=st.data(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_every_row_is_written_or_reported(data: st.DataObject, fmt: str) -> None:
    """Generated CSV and JSONL files with faults (cells too many or too few, bad bytes, huge fields,
    blank lines, duplicate ids, a BOM, deep or huge JSON): rows in = rows out + rows in the error file,
    each error at a row's first line, on 1 and 2 workers alike."""
    import tempfile

    from imgpath.cli import main

    content, starts = _cohort_file(data, fmt)
    content, starts = _blank_lines(data, content, starts)
    seen = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"cohort.{fmt}"
        source.write_bytes(content)
        for workers in ("1", "2"):
            out = Path(folder) / f"out{workers}.jsonl"
            with contextlib.redirect_stderr(io.StringIO()):
                code = main(["batch", str(source), "-o", str(out), "--workers", workers, *OUT_ARGS])
            rows = _rows(out)
            err_file = Path(f"{out}.errors.jsonl")
            errors = [json.loads(x) for x in err_file.read_text().splitlines()] if err_file.exists() else []
            assert len(rows) + len(errors) == len(starts), (rows, errors, starts)
            lines = [e["line"] for e in errors]
            assert len(set(lines)) == len(lines) and set(lines) <= set(starts)
            assert len({r["id"] for r in rows}) == len(rows)
            assert code == (2 if errors else 0)
            seen.append(([r["id"] for r in rows], lines))
    assert seen[0] == seen[1]
