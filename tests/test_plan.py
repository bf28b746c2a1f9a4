"""Planning: the smallest action sets that make a goal YES, never suggesting unchangeable facts."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import Verdict
from imgpath import strategies as ips
from imgpath.plan import _apply, _Action  # noqa: F401 - the helpers the property replays

AS_OF = dt.date(2026, 1, 15)
STUDENT = {"school": {"country": "US", "degree": "MD", "graduated": "2025-05-20"}, "exams": [],
           "interest": {"states": ["TX"]}}


def test_plan_for_step3() -> None:
    """A U.S. graduate with no exams needs Step 1 and Step 2 CK, in that order, with deadlines."""
    plan = imgpath.evaluate(STUDENT, as_of=AS_OF).next_steps("step3_eligible")
    assert [s.id for s in plan.steps] == ["pass_step1", "pass_step2ck"]
    assert plan.steps[0].rule and plan.steps[0].deadline is not None
    assert plan.to_dict()["format"] == "imgpath.plan/1" and "Pass USMLE Step 1" in str(plan)


def test_goal_already_met() -> None:
    """A goal that holds needs no steps."""
    plan = imgpath.evaluate({"school": {"country": "IN"}}, as_of=AS_OF).next_steps("img")
    assert plan.verdict == "yes" and not plan.options


def test_blocked_by_attempt_limit() -> None:
    """A Step failed four times (from 2021-07-01) cannot be retaken: the plan says so."""
    doc = {"school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2020-06-30"},
           "exams": [{"exam": "step1", "date": f"202{i}-01-10", "result": "fail"} for i in range(2, 6)]}
    plan = imgpath.evaluate(doc, as_of=AS_OF).next_steps("ecfmg_exams_met")
    assert not plan.options and "attempt limit" in plan.blocked


def test_never_suggests_unchangeable_facts() -> None:
    """No plan changes citizenship, the school or the graduation date."""
    plan = imgpath.evaluate({"school": {"country": "IN", "ecfmg_note": False}, "person": {"us_status": "none"}},
                            as_of=AS_OF).next_steps("ecfmg_eligible")
    assert not plan.options


def test_calendar() -> None:
    """The Match calendar lists dated events; estimated ones are marked."""
    events = imgpath.calendar(2026)
    ids = [e.id for e in events]
    assert "rol_deadline" in ids and "match_day" in ids
    assert any(e.estimated for e in events) and events == sorted(events, key=lambda e: (e.date, e.id))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ips.applicants(as_of=st.just(AS_OF)),
       st.sampled_from(["ecfmg_exams_met", "step3_eligible", "eras_ready", "match_eligible"]))
def test_applying_a_plan_makes_the_goal_yes(doc: imgpath.Applicant, goal: str) -> None:
    """Soundness: applying the first option's steps to the facts makes the goal YES."""
    ev = imgpath.evaluate(doc, as_of=AS_OF)
    plan = ev.next_steps(goal)
    if plan.verdict == "yes" or not plan.options:
        return
    patched = doc.to_dict()
    catalog = ev.book.extras["actions"]["actions"]
    from imgpath.plan import _params_of

    for step in plan.steps:
        base = step.id.split("[")[0]
        _apply(patched, _Action(base, catalog[base], _params_of(step.id)), ev)
    assert imgpath.evaluate(patched, as_of=AS_OF).verdict(goal) is Verdict.YES
