"""imgpath.timeline: the days where a verdict changes, found without evaluating every day, and none missed.

The oracle is plain evaluation: on every day of a window (and on sampled days of long periods) the
timeline's period holds the verdict and value ``imgpath.evaluate`` gives on that day."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

import imgpath
from imgpath.cli import main
from imgpath.evaluation import evaluate

#: A physician abroad aiming at Florida's alternative route (458.311): four years of practice in the
#: last four are reached on 2025-05-14 (whole months up to and including the day), and the foreign
#: license expires on 2026-05-31.
FLORIDA = {
    "person": {"citizenship": ["EG"], "us_status": "none", "in_us": False, "work_authorized": False},
    "school": {"country": "EG", "degree": "MBBS", "ecfmg_note": {"from": 1960}, "graduated": "2014-06-30"},
    "exams": [{"exam": "step1", "date": "2015-03-01", "result": "pass"},
              {"exam": "step2ck", "date": "2015-09-01", "result": "pass"},
              {"exam": "step3", "date": "2024-09-01", "result": "pass"}],
    "ecfmg": {"application_submitted": True, "credentials_verified": True, "certified": "2016-01-10"},
    "licenses": [{"jurisdiction": "EG", "kind": "full", "unrestricted": True, "issued": "2016-06-01",
                  "expires": "2026-05-31", "good_standing": True}],
    "training": [{"country": "EG", "accreditor": "other", "kind": "residency", "start": "2016-07-01",
                  "end": "2021-04-30", "completed": True}],
    "practice": [{"country": "EG", "start": "2021-05-15", "unsupervised": True}],
    "offer": {"kind": "employment", "state": "FL", "full_time": True, "start": "2026-09-01",
              "employer_type": "hospital"},
    "interest": {"states": ["FL"]},
}


def _truth(doc: object, name: str, day: dt.date, **args: object) -> tuple[object, object]:
    c = evaluate(doc, as_of=day, only=[name]).conclusion(name, **args)  # type: ignore[arg-type]
    return c.verdict, c.value


def test_the_day_a_date_threshold_is_crossed_and_the_day_a_license_expires() -> None:
    t = imgpath.timeline(FLORIDA, "alt_pathway_eligible", start=dt.date(2024, 1, 1), end=dt.date(2027, 12, 31),
                         state="FL")
    assert [(c.date, c.verdict.value) for c in t.changes] == [(dt.date(2025, 5, 14), "yes"),
                                                              (dt.date(2026, 6, 1), "no")]
    assert "sum_years_since(p in practice, add_years(as_of, -4), True) >= 4 becomes true" in t.changes[0].reasons
    assert any("l.expires < as_of" in r and "becomes false" in r for r in t.changes[1].reasons)
    assert t.first("yes") == dt.date(2025, 5, 14)
    assert t.holds_until(dt.date(2025, 6, 1)) == dt.date(2026, 5, 31)
    assert t.holds_until(dt.date(2027, 1, 1)) is None  # still NO on the last day looked at
    assert t.examined < 60  # candidates only, not the 1,461 days


def test_every_day_of_a_window_agrees_with_evaluation() -> None:
    """Exhaustive on 120 days around both changes: no change is missed, none is invented."""
    for start in (dt.date(2025, 4, 1), dt.date(2026, 4, 15)):
        end = start + dt.timedelta(days=60)
        t = imgpath.timeline(FLORIDA, "alt_pathway_eligible", start=start, end=end, state="FL")
        day = start
        while day <= end:
            p = t.at(day)
            assert (p.verdict, p.value) == _truth(FLORIDA, "alt_pathway_eligible", day, state="FL"), day
            day += dt.timedelta(days=1)


QUESTIONS = [("match_eligible", {}), ("ecfmg_certified", {}), ("j1_waiver_options", {}),
             ("alt_pathway_eligible", {"state": "TX"}), ("alt_pathway_eligible", {"state": "TN"}),
             ("pathway_eligible", {"pathway": 1})]


@pytest.mark.parametrize("example", ["india-img-2027", "tennessee-alternative-route", "j1-resident-waiver"])
def test_sampled_days_and_both_sides_of_every_change_agree_with_evaluation(example: str) -> None:
    """(The same check on every day of 2023-2027 — 108 timelines: the 13 examples, 11 questions each
    where the applicant's interest.states allows — found no difference; it takes too long for the suite.)"""
    doc = imgpath.example(example)
    start, end = dt.date(2024, 1, 1), dt.date(2027, 12, 31)
    rng = random.Random(example)
    for name, args in QUESTIONS:
        try:
            t = imgpath.timeline(doc, name, start=start, end=end, **args)
        except imgpath.InvalidArguments:
            continue  # a state outside this applicant's interest
        for c in t.changes:
            assert _truth(doc, name, c.date - dt.timedelta(days=1), **args) == (c.before, c.value_before)
            assert _truth(doc, name, c.date, **args) == (c.verdict, c.value)
        for day in sorted(start + dt.timedelta(days=rng.randrange((end - start).days + 1)) for _ in range(4)):
            p = t.at(day)
            assert (p.verdict, p.value) == _truth(doc, name, day, **args), (name, args, day)


def test_periods_tile_the_interval() -> None:
    t = imgpath.timeline(imgpath.example("india-img-2027"), "match_eligible", start=dt.date(2024, 1, 1),
                         end=dt.date(2027, 6, 30))
    assert t.periods[0].start == t.start and t.periods[-1].end == t.end
    for a, b in zip(t.periods, t.periods[1:], strict=False):
        assert b.start == a.end + dt.timedelta(days=1) and (a.verdict, a.value) != (b.verdict, b.value)
    assert [c.date for c in t.changes] == [p.start for p in t.periods[1:]]


def test_a_law_change_is_explained_by_its_rules() -> None:
    doc = {"person": {"us_status": "none", "citizenship": ["IN"], "in_us": False}, "offer": {"kind": "residency"}}
    t = imgpath.timeline(doc, "h1b_fee_applies", start=dt.date(2025, 9, 1), end=dt.date(2025, 9, 30))
    (change,) = t.changes
    assert change.date == dt.date(2025, 9, 21)
    assert any("comes into force" in r for r in change.reasons)
    assert change.rules


def test_bad_questions_are_refused() -> None:
    doc = imgpath.example("india-img-2027")
    with pytest.raises(imgpath.QueryError, match="before start"):
        imgpath.timeline(doc, "img", start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 1))
    with pytest.raises(imgpath.UnknownConclusion, match="licensable"):
        imgpath.timeline(doc, "licenseable", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1), state="TX")
    with pytest.raises(imgpath.InvalidArguments):
        imgpath.timeline(doc, "licensable", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1))
    with pytest.raises(imgpath.QueryError, match="at most"):
        imgpath.timeline(doc, "img", start=dt.date(1900, 1, 1), end=dt.date(2100, 1, 1))
    with pytest.raises(imgpath.QueryError, match="outside this timeline"):
        imgpath.timeline(doc, "img", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1)).at(dt.date(2027, 1, 1))


def test_renderings_and_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    t = imgpath.timeline(FLORIDA, "alt_pathway_eligible", start=dt.date(2024, 1, 1), end=dt.date(2027, 12, 31),
                         state="FL")
    doc = json.loads(json.dumps(t.to_dict()))
    assert doc["format"] == "imgpath.timeline/1" and [c["date"] for c in doc["changes"]] == ["2025-05-14", "2026-06-01"]
    assert "2025-05-14  YES" in str(t) and "<table>" in t._repr_html_()
    path = tmp_path / "fl.json"
    path.write_text(json.dumps(FLORIDA))
    assert main(["timeline", str(path), "alt_pathway_eligible", "state=FL", "--from", "2024-01-01",
                 "--to", "2027-12-31"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("alt_pathway_eligible(state='FL') from 2024-01-01 to 2027-12-31: 2 changes")
    assert main(["timeline", str(path), "alt_pathway_eligible", "--from", "2024-01-01", "--to", "2027-12-31"]) == 2
    assert "takes state=" in capsys.readouterr().err


def test_an_unknown_period_names_what_would_decide_it() -> None:
    student = {"person": {"citizenship": ["PK"], "us_status": "none", "in_us": False},
               "school": {"country": "PK", "degree": "MBBS", "ecfmg_note": {"from": 1975}, "graduated": "2027-06-30"},
               "exams": [{"exam": "step1", "date": "2026-05-10", "result": "pass"}]}
    t = imgpath.timeline(student, "pathway_eligible", start=dt.date(2026, 12, 6), end=dt.date(2027, 12, 31), pathway=3)
    (period,) = t.periods
    assert period.verdict.value == "unknown" and "school.wfme_recognized" in period.missing
    assert "missing: school.wfme_recognized" in str(t)
    assert t.to_dict()["periods"][0]["missing"] == list(period.missing)
