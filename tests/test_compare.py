"""imgpath.compare: per applicant, what a reform of the law (or the next release of the rules) changes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import pytest

import imgpath
from imgpath.rulebook import rules_dir

ROOT = Path(__file__).resolve().parent.parent
ON = dt.date(2026, 12, 1)
#: An IMG who completed two years of ACGME internal medicine by 2026-06-30, with every exam Texas asks.
TWO_YEARS = {
    "person": {"citizenship": ["IN"], "us_status": "h1b", "in_us": True, "work_authorized": True},
    "school": {"country": "IN", "degree": "MBBS", "ecfmg_note": {"from": 1960}, "graduated": "2018-05-31"},
    "exams": [{"exam": "step1", "date": "2019-03-01", "result": "pass"},
              {"exam": "step2ck", "date": "2019-09-01", "result": "pass"},
              {"exam": "step3", "date": "2025-01-15", "result": "pass"},
              {"exam": "texas_jp", "date": "2026-05-01", "result": "pass"}],
    "ecfmg": {"application_submitted": True, "credentials_verified": True, "certified": "2020-01-10"},
    "training": [{"country": "US", "accreditor": "ACGME", "kind": "residency", "specialty": "internal medicine",
                  "start": "2024-07-01", "end": "2026-06-30", "completed": True, "visa": "h1b"}],
    "interest": {"states": ["TX"]},
}


@pytest.fixture(scope="module")
def reform() -> imgpath.Rulebook:
    return imgpath.rulebook().with_parameters({"states.TX.img_gme_years": 3}, name="Texas asks three years")


def test_the_example_cohort_under_the_texas_reform(reform: imgpath.Rulebook) -> None:
    result = imgpath.compare(ROOT / "examples" / "cohort.csv", imgpath.rulebook(), reform)
    assert [(d.applicant, d.label, d.value_before, d.value_after) for d in result] == [
        ("priya", "gme_years_required(state='TX')", 2, 3), ("omar", "gme_years_required(state='TX')", 2, 3)]
    assert result.evaluated == 3 and [i for i, _ in result.errors] == ["bad"]
    assert not result.flips and result.summary() == [("gme_years_required(state='TX')", "2 -> 3", 2)]


def test_a_verdict_flips_for_someone_with_two_years(reform: imgpath.Rulebook) -> None:
    result = imgpath.compare({"asha": TWO_YEARS}, imgpath.rulebook(), reform, as_of=ON)
    flips = [(d.applicant, d.label, d.before, d.after) for d in result.flips]
    assert flips == [("asha", "licensable(state='TX')", "yes", "no")]
    (flip,) = result.flips
    assert flip.rules_before and flip.rules_after  # the rule that gave YES, the candidates that now fail
    assert imgpath.evaluate(TWO_YEARS, as_of=ON, rulebook=reform).verdict("licensable", state="TX") == "no"


def test_conclusions_restrict_and_unknown_ones_are_refused(reform: imgpath.Rulebook) -> None:
    result = imgpath.compare([TWO_YEARS], imgpath.rulebook(), reform, as_of=ON, conclusions=["gme_years_required"])
    assert [d.name for d in result] == ["gme_years_required"] and result[0].applicant == "0"
    with pytest.raises(imgpath.UnknownConclusion, match="licensable"):
        imgpath.compare([TWO_YEARS], imgpath.rulebook(), reform, conclusions=["licenseable"])
    with pytest.raises(imgpath.QueryError, match="not one document"):
        imgpath.compare(TWO_YEARS, imgpath.rulebook(), reform)


def test_two_releases_of_the_rules_folder(tmp_path: Path) -> None:
    """Across two rulebooks loaded from folders: a changed figure, and a conclusion the new release adds."""
    new = tmp_path / "rules"
    shutil.copytree(rules_dir(), new, ignore=shutil.ignore_patterns("scenarios"))
    states = new / "data" / "states.toml"
    text = states.read_text()
    old = 'img_gme_years = { value = 2, confidence = "primary", sources = ["tx-occ-155-003"'
    assert old in text
    states.write_text(text.replace(old, old.replace("value = 2", "value = 3"), 1))
    with (new / "conclusions.toml").open("a") as fh:
        fh.write(textwrap.dedent("""
            [texas_jp_passed]
            description = "Passed the Texas jurisprudence exam"
            """))
    with (new / "img.toml").open("a") as fh:
        fh.write(textwrap.dedent("""
            [[rule]]
            id = "release.texas_jp_passed"
            title = "Passed the Texas jurisprudence exam"
            when = ["any(e in exams, e.exam == 'texas_jp' and e.result == 'pass')"]
            then = { conclusion = "texas_jp_passed" }
            sources = ["tx-occ-155-003"]
            confidence = "primary"
            digest = ["R6"]
            """))
    result = imgpath.compare([TWO_YEARS], rules_dir(), new, as_of=ON)
    got = {(d.label, d.before, d.after) for d in result}
    assert got == {("gme_years_required(state='TX')", "yes", "yes"), ("licensable(state='TX')", "yes", "no"),
                   ("texas_jp_passed", "absent", "yes")}


def test_renderings(reform: imgpath.Rulebook) -> None:
    result = imgpath.compare({"asha": TWO_YEARS}, imgpath.rulebook(), reform, as_of=ON)
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["format"] == "imgpath.compare/1" and doc["reform"]["digest"] == reform.digest
    text = str(result)
    assert "1 verdict flip(s)" in text and "asha  licensable(state='TX'): YES -> NO" in text
    assert "<table>" in result._repr_html_()
    pd = pytest.importorskip("pandas")
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame["after"]) == ["yes", "no"]
    empty = imgpath.compare([], imgpath.rulebook(), reform).to_frame()
    assert list(empty.columns)[:4] == ["applicant", "conclusion", "before", "after"] and len(empty) == 0
