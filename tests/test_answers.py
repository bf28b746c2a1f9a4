"""Answers for real people (issue 12, items 3-7): each observation of the issue, reproduced.

Expected graduation (contract §6.4), the data's horizon and its warnings (§1.1, §2), the reason that
matters and the display of answers (§6.10, decisions "Display"), every error at once (§6.11) and the
API's edges. Each test failed before the change it names.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings

import imgpath
from imgpath import InvalidFacts, Verdict
from imgpath import strategies as ips
from imgpath.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "india-img-2027.toml"

CANADIAN_STUDENT = {
    "person": {"citizenship": ["CA"], "us_status": "none", "in_us": False},
    "school": {"country": "CA", "degree": "MD", "accreditors": ["LCME", "CACMS"], "graduated": "2024-05-30"},
    "interest": {"states": ["NY"]},
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- 3. expected graduation


def test_canadian_lcme_student_at_match_time_is_not_an_img() -> None:
    """Observed: a Canadian LCME-era student in the 2024 Match (graduating 2024-05-30) was img and
    match_eligible UNKNOWN ("sources conflict") on 2024-01-15, though img NO and match_eligible YES on
    2024-06-15. The graduation date after as_of is the expected graduation: the same answers, with the
    assumption listed."""
    for engine in ("durable", "reference"):
        before = imgpath.evaluate(CANADIAN_STUDENT, as_of=dt.date(2024, 1, 15), engine=engine)
        after = imgpath.evaluate(CANADIAN_STUDENT, as_of=dt.date(2024, 6, 15), engine=engine)
        for ev in (before, after):
            assert ev.verdict("img") is Verdict.NO
            assert ev.verdict("match_eligible") is Verdict.YES
            assert ev.value("nrmp_category") == "canadian"
        assumed = before.conclusion("match_eligible").assumptions
        assert any("graduates as expected on 2024-05-30" in a for a in assumed), assumed
        assert not any("expected" in a for a in after.conclusion("match_eligible").assumptions)
        assert any("graduates as expected" in a for a in before.why("match_eligible").root.assumptions)


def test_degree_in_hand_rules_still_wait_for_graduation() -> None:
    """The certificate and Step 3 need the degree in hand: a student with a planned graduation is not
    yet graduated for them."""
    ev = imgpath.evaluate({**CANADIAN_STUDENT, "exams": [
        {"exam": "step1", "date": "2022-06-01", "result": "pass"},
        {"exam": "step2ck", "date": "2023-06-01", "result": "pass"}]}, as_of=dt.date(2024, 1, 15))
    assert ev.verdict("step3_eligible") is Verdict.NO
    assert ev.verdict("may_start_acgme_residency") is Verdict.NO
    assert imgpath.evaluate({**CANADIAN_STUDENT, "exams": [
        {"exam": "step1", "date": "2022-06-01", "result": "pass"},
        {"exam": "step2ck", "date": "2023-06-01", "result": "pass"}]},
        as_of=dt.date(2024, 6, 15)).verdict("step3_eligible") is Verdict.YES


def test_expected_graduation_cannot_be_given_in_a_document() -> None:
    """school.expected_graduation is read from school.graduated; a document cannot set it."""
    with pytest.raises(InvalidFacts, match="school.expected_graduation: is read from graduated"):
        imgpath.Applicant.from_dict({"school": {"expected_graduation": "2027-05-30"}})


# --------------------------------------------------------------------------- 4. the data's horizon


def test_season_beyond_the_data_warns() -> None:
    """Observed: from Match Day 2027 on the default season is 2028, for which the rulebook has no
    parameters, and nothing warned. Now season_beyond_data says so and why (not published yet)."""
    doc = imgpath.load_applicant(EXAMPLE).evolve(match={"eras_submitted": True})  # no pinned season
    day_before = imgpath.evaluate(doc, as_of=dt.date(2027, 3, 19))
    day_of = imgpath.evaluate(doc, as_of=dt.date(2027, 3, 20))
    assert (day_before.season, day_of.season) == (2027, 2028)
    assert [w.code for w in day_before.warnings] == []
    (warning,) = day_of.warnings
    assert warning.code == "season_beyond_data" and warning.concerns == "season"
    assert "2028" in warning.message and "not" in warning.message and "2027" in warning.message
    data = day_of.to_dict()
    assert data["warnings"] == [warning.to_dict()]
    assert data["horizon"] == {"first_season": 2021, "last_season": 2027, "checked": "2026-12-06"}
    assert list(data)[:3] == ["format", "imgpath", "rulebook"] and "horizon" in data


def test_pinned_season_already_passed_warns(capsys: pytest.CaptureFixture[str]) -> None:
    """Observed: --as-of 2030-01-01 with match.season = 2027 silently planned for a Match long past.
    Now pinned_season_passed (and as_of_beyond_horizon) are printed first, by check and by plan."""
    code, out, _ = _run(capsys, "plan", str(EXAMPLE), "--as-of", "2030-01-01")
    assert code == 0
    head = out.splitlines()[:2]
    assert any(line.startswith("warning (pinned_season_passed)") for line in head), head
    assert any(line.startswith("warning (as_of_beyond_horizon)") for line in head), head
    code, out, _ = _run(capsys, "check", str(EXAMPLE), "--as-of", "2030-01-01")
    lines = out.splitlines()
    first_verdict = next(i for i, line in enumerate(lines) if line.startswith("img "))
    warned = [i for i, line in enumerate(lines) if line.startswith("warning (")]
    assert warned and max(warned) < first_verdict
    ev = imgpath.evaluate(imgpath.load_applicant(EXAMPLE), as_of=dt.date(2027, 3, 3))
    assert "pinned_season_passed" not in [w.code for w in ev.warnings]  # the ROL deadline itself
    ev = imgpath.evaluate(imgpath.load_applicant(EXAMPLE), as_of=dt.date(2027, 3, 4))
    assert "pinned_season_passed" in [w.code for w in ev.warnings]


def test_as_of_long_before_the_pinned_season_warns(capsys: pytest.CaptureFixture[str]) -> None:
    """Observed: --as-of 1990-01-01 printed "Match season 2027" and nothing else."""
    code, out, _ = _run(capsys, "check", str(EXAMPLE), "--as-of", "1990-01-01")
    assert code == 0
    assert out.splitlines()[1].startswith("warning (as_of_before_data): as_of 1990-01-01")
    unpinned = imgpath.evaluate({"school": {"country": "IN"}}, as_of=dt.date(1990, 1, 1))
    assert [w.code for w in unpinned.warnings] == ["season_before_data"]


def test_as_of_beyond_the_horizon_warns() -> None:
    """as_of more than 12 months after the rulebook was last checked warns; 12 months exactly does not."""
    doc = {"school": {"country": "IN"}, "match": {"season": 2027}}
    assert "as_of_beyond_horizon" not in [w.code for w in imgpath.evaluate(doc, as_of="2027-12-06").warnings]
    assert "as_of_beyond_horizon" in [w.code for w in imgpath.evaluate(doc, as_of="2027-12-07").warnings]


def test_warnings_are_shown_first_in_jupyter() -> None:
    ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=dt.date(2027, 3, 20))
    page = ev._repr_html_()
    assert "season_beyond_data" in page and page.index("season_beyond_data") < page.index("<th>conclusion</th>")


def _rules_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(imgpath.rulebook().path, folder, ignore=shutil.ignore_patterns("scenarios"))
    return folder


def test_lint_fails_on_data_beyond_the_horizon_and_an_old_check_date(tmp_path: Path) -> None:
    """The horizon is declared by hand: lint fails if a later season has data, or if the declared check
    date is older than the newest source retrieved."""
    folder = _rules_copy(tmp_path)
    horizon = folder / "data" / "horizon.toml"
    text = horizon.read_text()
    horizon.write_text(text.replace("last_season = 2027", "last_season = 2026")
                       .replace("checked = 2026-12-06", "checked = 2026-06-01")
                       .replace("\n2028 =", "\n2029 ="))
    codes = {i.code for i in imgpath.load_rulebook(folder).lint() if i.level == "error"}
    assert {"data-beyond-horizon", "horizon-older-than-sources"} <= codes
    assert not [i for i in imgpath.rulebook().lint() if i.level == "error"]


# --------------------------------------------------------------------------- 5. the reason that matters


def test_check_gives_the_reason_that_applies(capsys: pytest.CaptureFixture[str]) -> None:
    """Observed on the README's example: 'may_start_acgme_residency NO — fails: nrmp_category in [...]'
    (a U.S.-graduate rule for an IMG) and 'usmle_barred NO — fails: count(… 'step2cs' …) >= 4' for
    someone who never took Step 2 CS."""
    ev = imgpath.evaluate(imgpath.load_applicant(EXAMPLE))
    start = ev.conclusion("may_start_acgme_residency").reason
    assert "nrmp_category" not in start and "certificate" in start
    barred = ev.conclusion("usmle_barred").reason
    assert "step2cs" not in barred and "Step 2 CS" not in barred
    code, out, _ = _run(capsys, "check", str(EXAMPLE))
    assert code == 0
    assert "nrmp_category in ['us_md', 'us_do', 'canadian']" not in out
    assert "step2cs" not in out.split("\nusmle_barred", 1)[1].split("\n", 4)[2]


def test_long_conditions_are_shortened_with_an_ellipsis(capsys: pytest.CaptureFixture[str]) -> None:
    """Observed: long conditions cut mid-expression with no ellipsis. A reason shows a condition whole
    or shortened between words with '…'."""
    from imgpath.explain import shorten

    long = "any(l in licenses, " + " and ".join(f"l.field_{i} == 'value_{i}'" for i in range(12)) + ")"
    short = shorten(long)
    assert len(short) <= 82 and "…" in short and short.endswith("…)")
    assert shorten("img") == "img"
    _, out, _ = _run(capsys, "check", str(EXAMPLE))
    for line in out.splitlines():
        if "not met:" in line:
            condition = line.split("not met:", 1)[1]
            assert len(condition) <= 200 and (condition.count("(") == condition.count(")") or "…" in condition)


def test_check_opens_with_the_summary_declared_in_data(capsys: pytest.CaptureFixture[str]) -> None:
    """check opens with the few verdicts a person looks for first, as rules/data/display.toml lists them."""
    names = imgpath.rulebook().extras["display"]["summary"]["conclusions"]
    assert names[:2] == ["img", "ecfmg_certified"]
    _, out, _ = _run(capsys, "check", str(EXAMPLE))
    lines = out.splitlines()
    title = lines.index("In short")
    assert [line.split()[0] for line in lines[title + 1: title + 1 + len(names)]] == names
    assert lines[title + 1 + len(names) + 1] == "Every conclusion"


def test_values_and_sets_read_as_answers(capsys: pytest.CaptureFixture[str]) -> None:
    """Observed (decisions "Display"): valued conclusions read "YES 3" and "YES none", a set
    "UNKNOWN []", and rows showed only the snake_case name. Now the value, the members or "none",
    UNKNOWN only when unknown, and each row's plain description."""
    _, out, _ = _run(capsys, "check", str(EXAMPLE))
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert rows["gme_years_required(state='TX')"].split()[1] == "2"
    assert rows["alt_pathway_status(state='NY')"].split()[1] == "none"
    assert "YES" not in rows["gme_years_required(state='NY')"]
    assert "UNKNOWN []" not in out
    assert "    means:  NRMP applicant category; permanent residents are non-U.S.-citizen IMGs" in out
    trained = imgpath.evaluate({"school": {"country": "IN"}, "person": {"us_family": False}, "training": [
        {"country": "US", "visa": "j1", "start": "2020-07-01", "end": "2023-06-30", "accreditor": "ACGME",
         "kind": "residency", "completed": True}]}, as_of=dt.date(2026, 1, 15))
    assert trained.conclusion("j1_waiver_options").shown == "conrad30, iga, persecution"
    assert imgpath.evaluate({"training": []}, as_of=dt.date(2026, 1, 15)).conclusion("j1_waiver_options").shown == "none"


# --------------------------------------------------------------------------- 6. every error at once


FOUR_ERRORS = """\
[person]
us_status = "citizn"

[school]
country = "India"
graduated = "last year"

[[exams]]
exam = "step 1"
"""


def test_four_errors_are_reported_as_four(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Observed: a document with four errors reported only the first."""
    p = tmp_path / "four.toml"
    p.write_text(FOUR_ERRORS)
    with pytest.raises(InvalidFacts) as info:
        imgpath.load_applicant(p)
    err = info.value
    assert [e.path for e in err.errors] == ["person.us_status", "school.country", "school.graduated",
                                            "exams[0].exam"]
    assert all(e.path in str(err) for e in err.errors) and str(p) in str(err)
    code, _, stderr = _run(capsys, "check", str(p))
    assert code == 2
    assert "4 problems" in stderr and all(f"  {e.path}: " in stderr for e in err.errors)


# --------------------------------------------------------------------------- 7. API edges


def test_as_of_accepts_an_iso_string_as_documents_do() -> None:
    assert imgpath.evaluate({"school": {"country": "IN"}}, as_of="2026-01-15").as_of == dt.date(2026, 1, 15)


def test_evaluate_many_reads_an_iso_as_of_too() -> None:
    for workers in (1, 2):
        evs = list(imgpath.evaluate_many([{"school": {"country": "IN"}}] * 2, as_of="2026-01-15", workers=workers))
        assert [e.as_of for e in evs] == [dt.date(2026, 1, 15)] * 2


def test_evaluating_a_file_name_points_to_load_applicant() -> None:
    for name in (str(EXAMPLE), EXAMPLE):
        with pytest.raises(InvalidFacts, match="load_applicant"):
            imgpath.evaluate(name)  # type: ignore[arg-type]


def test_conclusion_lists_what_is_missing() -> None:
    """Conclusion.missing: what to_dict() already lists for an UNKNOWN."""
    ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=dt.date(2026, 1, 15))
    c = ev.conclusion("ecfmg_exams_met")
    assert c.verdict is Verdict.UNKNOWN and c.missing == ("exams",)
    row = next(d for d in ev.to_dict()["conclusions"] if d["name"] == "ecfmg_exams_met")
    assert list(c.missing) == row["missing"] and list(c.missing_parameters) == row["missing_parameters"]
    assert ev.conclusion("img").missing == ()


def test_license_that_never_expires() -> None:
    """licenses[].no_expiry (contract §3 v1.1): an absent expires then means no expiry, not unknown."""
    doc = {"school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2011-06-30"},
           "exams": [], "match": {"season": 2024},
           "licenses": [{"jurisdiction": "IN", "kind": "full", "unrestricted": True, "good_standing": True,
                         "issued": "2012-03-01"}]}
    as_of = dt.date(2023, 10, 1)
    assert imgpath.evaluate(doc, as_of=as_of).verdict("pathway_eligible", pathway=1) is Verdict.UNKNOWN
    doc["licenses"][0]["no_expiry"] = True
    assert imgpath.evaluate(doc, as_of=as_of).verdict("pathway_eligible", pathway=1) is Verdict.YES
    doc["licenses"][0]["expires"] = "2030-01-01"
    with pytest.raises(InvalidFacts, match=r"licenses\[0\].expires"):
        imgpath.evaluate(doc, as_of=as_of)


@pytest.mark.parametrize("name, text", [("empty.toml", ""), ("comments.toml", "# nothing yet\n"),
                                        ("empty.json", ""), ("object.json", "{}"), ("blank.json", " \n")])
def test_an_empty_document_is_an_error_naming_the_file(tmp_path: Path, name: str, text: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InvalidFacts) as info:
        imgpath.load_applicant(p)
    assert info.value.file == str(p) and "empty" in str(info.value)


def test_dir_shows_only_public_names() -> None:
    assert dir(imgpath) == sorted(imgpath.__all__)
    assert "EvaluationWarning" in dir(imgpath) and not [n for n in dir(imgpath) if n.startswith("_")
                                                         and n != "__version__"]


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01"])
def test_as_of_at_the_ends_of_the_calendar_is_bad_input(capsys: pytest.CaptureFixture[str], as_of: str) -> None:
    """Observed (issue 14 #10): plan --as-of 9999-12-31 failed with 'year 10000 is out of range'."""
    for command in ("plan", "check"):
        code, _, err = _run(capsys, command, str(EXAMPLE), "--as-of", as_of)
        assert code == 2 and "as_of: expected a date from 1900-01-01 to 2199-12-31" in err and "internal" not in err
    with pytest.raises(InvalidFacts, match="as_of"):
        imgpath.evaluate({"school": {"country": "IN"}}, as_of=dt.date.fromisoformat(as_of))


@pytest.mark.parametrize("as_of", ["1900-01-01", "2199-12-31"])
def test_the_last_accepted_dates_evaluate_and_plan(capsys: pytest.CaptureFixture[str], as_of: str) -> None:
    for command in ("plan", "check"):
        code, out, _ = _run(capsys, command, str(EXAMPLE), "--as-of", as_of, "--format", "json")
        assert code == 0 and json.loads(out)


def test_document_dates_are_bounded_too() -> None:
    with pytest.raises(InvalidFacts, match=r"exams\[0\].date: expected a date from 1900-01-01"):
        imgpath.Applicant.from_dict({"exams": [{"exam": "step1", "date": "9999-12-31"}]})


# --------------------------------------------------------------------------- the README stays true


def test_the_readme_quotes_real_check_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``console`` block of the README that runs imgpath shows the start of what it prints
    (a block ending in "..." shows the first lines only)."""
    import re

    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```console\n\$ imgpath (.*?)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    for command, shown in blocks:
        code, out, _ = _run(capsys, *command.split())
        lines = shown.rstrip("\n").split("\n")
        partial = lines[-1] == "..."
        want = [line.replace("imgpath 0.1.0", f"imgpath {imgpath.__version__}") for line in lines[:-1 if partial else None]]
        got = out.rstrip("\n").split("\n")
        assert code == 0 and (got[:len(want)] if partial else got) == want, command


def test_check_json_carries_warnings_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", str(EXAMPLE), "--format", "json", "--as-of", "2030-01-01")
    doc = json.loads(out)
    assert code == 0 and [w["code"] for w in doc["warnings"]] == ["as_of_beyond_horizon", "pinned_season_passed"]
    start = next(c for c in doc["conclusions"] if c["name"] == "may_start_acgme_residency")
    assert "certificate" in start["reason"] and "nrmp_category" not in start["reason"]


@settings(max_examples=25, deadline=None)
@given(ips.imgs())
def test_an_imgs_reason_is_never_a_us_graduate_rule(a: imgpath.Applicant) -> None:
    """Contract §6.10 over generated IMGs: the rule a NO's reason comes from applies to the applicant
    whenever one does, and no reason of an IMG quotes the U.S./Canadian-graduate condition."""
    from imgpath._internal.judge import Judge
    from imgpath.explain import applies, closest

    ev = imgpath.evaluate(a, as_of=a.as_of)
    if ev.verdict("img") is not Verdict.YES:
        return
    judge = Judge(ev)
    for c in ev.conclusions:
        if c.verdict is not Verdict.NO:
            continue
        wn = ev.why_not(c.name, **c.args)
        found = closest(ev, wn)
        if found is not None and any(applies(judge, ch.rule, ch.row) for ch in wn.checks if ch.status == "fails"):
            assert applies(judge, found[0].rule, found[0].row), (c.label, found[0].rule.id)
        assert "'us_md', 'us_do', 'canadian'" not in c.reason, (c.label, c.reason)
