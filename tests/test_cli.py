"""The command line (contract §5): commands, formats and exit codes."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imgpath.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "india-img-2027.toml"


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "imgpath", *args], capture_output=True, text=True, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def test_check_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """check prints an aligned report; --format json is the stable evaluation document."""
    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "match_eligible" in out and "source: http" in out
    assert main(["check", str(EXAMPLE), "--format", "json", "--as-of", "2026-11-25"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "imgpath.evaluation/1" and doc["as_of"] == "2026-11-25"


def test_explain_and_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """explain shows why (YES) or why not; plan shows next steps."""
    assert main(["explain", str(EXAMPLE), "img"]) == 0
    assert "img.school_abroad" in capsys.readouterr().out
    assert main(["explain", str(EXAMPLE), "licensable", "state=TX", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "imgpath.why_not/1"
    assert main(["plan", str(EXAMPLE), "--goal", "may_start_acgme_residency"]) == 0
    assert "next steps" in capsys.readouterr().out


def test_bad_input_exits_2_and_names_the_field(tmp_path: Path) -> None:
    """A bad document exits 2 naming the file and field, with a hint; nothing is written."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[school]\ncountry = "India"\n')
    code, out, err = run("check", str(bad))
    assert code == 2 and "school.country" in err and "bad.toml" in err and "hint" in err
    code, _, err = run("explain", str(EXAMPLE), "licensable", "state")
    assert code == 2
    out_file = tmp_path / "out.csv"
    code, _, _ = run("batch", str(bad), "-o", str(out_file))
    assert code == 2 and not out_file.exists()


def test_rules_and_lint(capsys: pytest.CaptureFixture[str]) -> None:
    """rules lists rules with sources; --lint reports zero errors on the packaged rules."""
    assert main(["rules"]) == 0
    assert "sources: http" in capsys.readouterr().out
    assert main(["rules", "--lint"]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_batch_csv_jsonl_with_error_file(tmp_path: Path) -> None:
    """batch reads CSV or JSONL, writes results, and puts invalid rows in an error file (exit 2: some
    rows were not evaluated; the valid ones are all written)."""
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("id,school.country,exams,person.citizenship,interest.states\n"
                      "a,IN,[],IN;GB,TX\nb,US,,US,TX\nc,Atlantis,,,TX\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run("batch", str(cohort), "-o", str(out), "--as-of", "2026-01-15")
    assert code == 2, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"] and rows[0]["img"] == "yes" and rows[1]["img"] == "no"
    errors = (tmp_path / "out.jsonl.errors.jsonl").read_text()
    assert "school.country" in errors and '"id": "c"' in errors
    jsonl = tmp_path / "cohort.jsonl"
    jsonl.write_text('{"id": "x", "school": {"country": "IN"}, "interest": {"states": ["TX"]}}\nnot json\n')
    out_csv = tmp_path / "out.csv"
    code, _, _ = run("batch", str(jsonl), "-o", str(out_csv), "--workers", "2")
    assert code == 2 and out_csv.read_text().startswith("id,")
    jsonl.write_text('{"id": "x", "school": {"country": "IN"}, "interest": {"states": ["TX"]}}\n')
    code, _, err = run("batch", str(jsonl), "-o", str(out_csv), "--workers", "2")
    assert code == 0 and "not evaluated" not in err and not (tmp_path / "out.csv.errors.jsonl").exists()


class TestErrors:
    """Bad input exits 2 with the problem named (and writes nothing); rule problems exit 1."""

    @pytest.mark.parametrize(("argv", "says"), [
        (["explain", "licenseable", "state=TX"], "did you mean 'licensable'"),  # unknown conclusion
        (["explain", "licensable", "TX"], "ARG=VALUE"),  # an argument that is not ARG=VALUE
        (["plan", "--goal", "licensable"], "state"),  # a goal missing its argument
        (["explain", "licensable", "state=CA"], "interest"),  # a state outside the applicant's interest
    ], ids=["unknown-conclusion", "not-arg-equals-value", "goal-missing-argument", "state-not-of-interest"])
    def test_bad_arguments_exit_2_and_say_why(self, argv: list[str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        assert main([argv[0], str(EXAMPLE), *argv[1:]]) == 2
        assert says in capsys.readouterr().err

    def test_missing_file_and_bad_date(self, tmp_path: Path) -> None:
        code, _, err = run("check", str(tmp_path / "nobody.toml"))
        assert code == 2 and "nobody.toml" in err
        code, _, err = run("check", str(EXAMPLE), "--as-of", "25/11/2026")
        assert code == 2 and "2026-01-15" in err  # the hint shows the expected form

    def test_lint_fails_on_a_broken_rules_folder(self, tmp_path: Path) -> None:
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        with (rules / "img.toml").open("a") as fh:
            fh.write('\n[[rule]]\nid = "img.broken"\ntitle = "broken"\nwhen = ["school.contry == \'IN\'"]\n'
                     'then = { conclusion = "img" }\nsources = ["ecfmg-ib-certification"]\nconfidence = "primary"\n')
        code, out, err = run("rules", "--lint", "--path", str(rules))
        assert code == 2  # the rules the user pointed at are their input
        assert "img.broken" in out + err and "did you mean 'country'" in out + err

    def test_missing_rules_folder_is_bad_input(self, tmp_path: Path) -> None:
        code, _, err = run("rules", "--path", str(tmp_path / "nowhere"))
        assert code == 2 and "not a folder of rules" in err

    def test_internal_error_is_not_reported_as_bad_input(self, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        import imgpath.cli as cli

        def boom(*a: object, **k: object) -> None:
            raise KeyError("an internal bug")

        monkeypatch.setattr(cli, "evaluate", boom)
        monkeypatch.delenv("IMGPATH_DEBUG", raising=False)
        doc = tmp_path / "a.toml"
        doc.write_text('[school]\ncountry = "IN"\n')
        assert main(["check", str(doc)]) == 1
        err = capsys.readouterr().err
        assert "internal error" in err and "bug in imgpath" in err


class TestOutputs:
    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            main(["--version"])
        assert info.value.code == 0 and capsys.readouterr().out.startswith("imgpath ")

    def test_plan_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["plan", str(ROOT / "examples" / "pathway6-cs-failure.toml"), "--goal", "match_eligible",
                     "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["format"] == "imgpath.plan/2"
        steps = [s["id"] for s in doc["options"][0]["steps"]]
        assert steps == ["pass_oet", "apply_pathway[n=6]"]

    def test_reference_engine_gives_the_same_verdicts(self, capsys: pytest.CaptureFixture[str]) -> None:
        outs = []
        for engine in ("durable", "reference"):
            assert main(["check", str(EXAMPLE), "--format", "json", "--engine", engine]) == 0
            doc = json.loads(capsys.readouterr().out)
            outs.append([(c["name"], c["args"], c["verdict"], c["value"]) for c in doc["conclusions"]])
        assert outs[0] == outs[1]

    def test_batch_selected_conclusions_to_csv(self, tmp_path: Path) -> None:
        out = tmp_path / "out.csv"
        code, _, err = run("batch", str(ROOT / "examples" / "cohort.csv"), "-o", str(out),
                           "--conclusions", "img,match_eligible", "--no-progress")
        assert code == 2, err  # the example's row 'bad' went to the error file
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0]) == ["id", "as_of", "season", "img", "match_eligible"]
        assert [(r["id"], r["img"]) for r in rows] == [("priya", "yes"), ("omar", "yes"), ("ana", "no")]
        error = json.loads((tmp_path / "out.csv.errors.jsonl").read_text())
        assert error["id"] == "bad" and error["line"] == 5 and "person.citizenship[0]" in error["error"]

    def test_batch_unknown_conclusion_writes_nothing(self, tmp_path: Path) -> None:
        out = tmp_path / "out.csv"
        code, _, err = run("batch", str(ROOT / "examples" / "cohort.csv"), "-o", str(out),
                           "--conclusions", "img,match_eligble", "--no-progress")
        assert code == 2 and "match_eligble" in err and not out.exists()
