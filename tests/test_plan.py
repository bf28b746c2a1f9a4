"""Planning: the smallest action sets that make a goal YES, never suggesting unchangeable facts."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import Verdict
from imgpath import strategies as ips
from imgpath.plan import Step, _Action, _apply, _params_of  # the helpers the property replays steps with

AS_OF = dt.date(2026, 1, 15)
STUDENT = {"school": {"country": "US", "degree": "MD", "graduated": "2025-05-20"}, "exams": [],
           "interest": {"states": ["TX"]}}


def test_plan_for_step3() -> None:
    """A U.S. graduate with no exams needs Step 1 and Step 2 CK, in that order, with deadlines."""
    plan = imgpath.evaluate(STUDENT, as_of=AS_OF).next_steps("step3_eligible")
    assert [s.id for s in plan.steps] == ["pass_step1", "pass_step2ck"]
    assert plan.steps[0].rule and plan.steps[0].deadline is not None
    assert plan.to_dict()["format"] == "imgpath.plan/2" and "Pass USMLE Step 1" in str(plan)


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


GOALS = [("may_start_acgme_residency", {}), ("match_eligible", {}), ("ecfmg_certified", {}),
         ("h1b_eligible", {}), ("licensable", {"state": "TX"}), ("alt_pathway_eligible", {"state": "TN"}),
         ("ecfmg_exams_met", {}), ("step3_eligible", {}), ("eras_ready", {})]
UNCHANGEABLE = ("person", "school", "licenses", "practice")  # citizenship, school, graduation, history
PLANS = max(20, settings.default.max_examples // 4)  # each example plans (tens of what-if evaluations)


def _replay(doc: dict, steps: Iterable[Step], ev: imgpath.Evaluation) -> dict:
    """A copy of ``doc`` with each of ``steps`` applied by the planner's own patcher."""
    out = copy.deepcopy(doc)
    catalog = ev.book.extras["actions"]["actions"]
    for step in steps:
        base = step.id.split("[")[0]
        _apply(out, _Action(base, catalog[base], _params_of(step.id)), ev)
    return out


@pytest.mark.property
@settings(max_examples=PLANS, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(ips.imgs(as_of=st.just(AS_OF), complete=True), ips.applicants(as_of=st.just(AS_OF), complete=True),
                 ips.applicants(as_of=st.just(AS_OF))),
       st.sampled_from(GOALS))
def test_applying_a_plan_makes_the_goal_yes(app: imgpath.Applicant, goal_args: tuple[str, dict]) -> None:
    """Soundness (issue 5): replaying each option's steps, one by one, on the facts makes the goal YES;
    the option's own what-if document says the same; a step that requires a conclusion (a certificate
    needs every requirement met) gets it from the other steps; prerequisites come first; and no step
    changes a fact nobody can change (citizenship, school, graduation, past exams, licenses, practice)."""
    goal, args = goal_args
    doc = app.to_dict()
    if "state" in args:
        doc["interest"] = {"states": [args["state"]]}
    ev = imgpath.evaluate(doc, as_of=AS_OF)
    plan = ev.next_steps(goal, **args)
    event(f"{goal}: {plan.verdict}, {'options' if plan.options else 'blocked' if plan.blocked else 'none'}")
    if plan.verdict == "yes":
        assert not plan.options and ev.verdict(goal, **args) is Verdict.YES
        return
    if not plan.options:
        assert plan.blocked, "a plan with no option says why"
        return
    catalog = ev.book.extras["actions"]["actions"]
    for option in plan.options:
        replayed = _replay(doc, option.steps, ev)
        assert imgpath.evaluate(replayed, as_of=AS_OF).verdict(goal, **args) is Verdict.YES, option
        assert imgpath.evaluate(dict(option.document), as_of=AS_OF).verdict(goal, **args) is Verdict.YES
        for section in UNCHANGEABLE:
            assert replayed.get(section) == doc.get(section), f"a step changed {section}"
        before = doc.get("exams") or []
        assert (replayed.get("exams") or [])[: len(before)] == before, "a step rewrote a past exam"
        for step in option.steps:  # a step that requires a conclusion gets it from the other steps
            needs = catalog[step.id.split("[")[0]].get("requires")
            if needs:
                others = _replay(doc, [o for o in option.steps if o.id != step.id], ev)
                assert imgpath.evaluate(others, as_of=AS_OF).verdict(needs) is Verdict.YES, (step.id, needs)
        ids = [s.id.split("[")[0] for s in option.steps]
        for k, step in enumerate(option.steps):
            assert all(ids.index(a) < k for a in step.after if a in ids), "a prerequisite comes later"


FRESH_IMG = {"person": {"citizenship": ["IN"], "us_status": "none"},
             "school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2022-06-30"},
             "exams": [], "licenses": [], "ecfmg": {"application_submitted": True}}


def test_long_plans_are_found() -> None:
    """A graduate with no exams needs six steps to a certificate valid at the start of training; the
    search finds them (any number of steps), prerequisites first, every step needed."""
    ev = imgpath.evaluate(FRESH_IMG, as_of=AS_OF)
    plan = ev.next_steps()  # the default goal: may_start_acgme_residency
    assert plan.goal == "may_start_acgme_residency" and plan.options
    ids = [s.id.split("[")[0] for s in plan.steps]
    assert set(ids) == {"pass_step1", "pass_step2ck", "pass_oet", "apply_pathway", "verify_credentials",
                        "obtain_certificate"}
    assert ids[-1] == "obtain_certificate"
    before_certificate = [s for s in plan.steps if not s.id.startswith("obtain_certificate")]
    for s in before_certificate:  # irredundant: without any one of them the certificate's requirement fails
        partial = _replay(FRESH_IMG, [o for o in before_certificate if o.id != s.id], ev)
        assert imgpath.evaluate(partial, as_of=AS_OF).verdict("ecfmg_requirements_met") is not Verdict.YES, s.id
    assert imgpath.evaluate(dict(plan.options[0].document), as_of=AS_OF).verdict(plan.goal) is Verdict.YES


def test_options_are_minimal_and_distinct() -> None:
    """No option's steps include another option's steps."""
    ev = imgpath.evaluate(FRESH_IMG, as_of=AS_OF)
    sets = [frozenset(s.id for s in o.steps) for o in ev.next_steps("match_eligible").options]
    assert sets and all(not (a < b) for a in sets for b in sets) and len(set(sets)) == len(sets)


def test_deadline_already_passed_is_flagged() -> None:
    """On 2026-01-15 the advised OET date for the 2026 Match (end of December 2025) has passed: said so."""
    plan = imgpath.evaluate(FRESH_IMG, as_of=AS_OF).next_steps("match_eligible")
    oet = next(s for s in plan.steps if s.id == "pass_oet")
    assert oet.deadline == dt.date(2025, 12, 31) and oet.deadline_passed
    assert "already passed" in oet.when and oet.to_dict()["deadline_passed"] is True
    step1 = next(s for s in plan.steps if s.id == "pass_step1")
    assert not step1.deadline_passed and "already passed" not in step1.when


def test_deadline_missing_from_the_calendar_is_named() -> None:
    """The 2026 Pathways deadline is not in the calendar: the step says so instead of showing none."""
    plan = imgpath.evaluate(FRESH_IMG, as_of=AS_OF).next_steps("match_eligible")
    pathway = next(s for s in plan.steps if s.id.startswith("apply_pathway"))
    assert pathway.deadline is None
    assert pathway.when == "deadline unknown (pathways_application_deadline: not in the 2026 calendar)"
    assert "deadline unknown" in str(plan) and "deadline unknown" in plan._repr_html_()


def test_unreachable_goal_names_the_fact_in_the_way() -> None:
    """A school whose sponsor note starts after the graduation year: no certificate, and the plan
    names the condition and the facts (not just 'no combination')."""
    doc = copy.deepcopy(FRESH_IMG)
    doc["school"]["ecfmg_note"] = {"from": 2023}
    plan = imgpath.evaluate(doc, as_of=AS_OF).next_steps("ecfmg_certified")
    assert not plan.options
    assert "school.ecfmg_note.from = 2023" in plan.blocked and "school.graduated = 2022-06-30" in plan.blocked


def test_goal_that_would_stay_unknown() -> None:
    """Tennessee's USMLE time limit is not sourced: even three years of residency leave the traditional
    license UNKNOWN, and the plan names the missing figure."""
    ev = imgpath.evaluate(imgpath.load_applicant("examples/tennessee-alternative-route.toml"))
    plan = ev.next_steps("licensable", state="TN")
    assert not plan.options
    assert "still be UNKNOWN" in plan.blocked and "figure states.TN.usmle_time_limit_years" in plan.blocked


def test_no_option_is_a_bigger_version_of_another() -> None:
    """Texas asks two years of GME of an IMG: three years is not offered as a second option."""
    ev = imgpath.evaluate(imgpath.load_applicant("examples/india-img-2027.toml"), as_of=dt.date(2026, 11, 25))
    plan = ev.next_steps("licensable", state="TX")
    gme = [s.id for o in plan.options for s in o.steps if s.id.startswith("complete_gme")]
    assert gme == ["complete_gme[n=2][state=TX]"]
