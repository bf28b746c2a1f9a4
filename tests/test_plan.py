"""Planning: the smallest action sets that make a goal YES, never suggesting unchangeable facts."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import Verdict
from imgpath import strategies as ips
from conftest import replay as _replay  # the planner's own patcher, step by step

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
UNCHANGEABLE = ("school", "licenses", "practice")  # the school, graduation, history
#: person facts no step changes (an employer's petition brings work authorization, nothing else)
PERSON_FIXED = ("citizenship", "us_status", "in_us", "us_family", "waiver_212e")
PLANS = max(20, settings.default.max_examples // 4)  # each example plans (tens of what-if evaluations)


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
        assert plan.blocked or plan.branches or plan.to_confirm, "a plan with no option branches, asks or says why"
        return
    catalog = ev.book.extras["actions"]["actions"]
    for option in plan.options:
        replayed = _replay(doc, option.steps, ev)
        assert imgpath.evaluate(replayed, as_of=AS_OF).verdict(goal, **args) is Verdict.YES, option
        assert imgpath.evaluate(dict(option.document), as_of=AS_OF).verdict(goal, **args) is Verdict.YES
        for section in UNCHANGEABLE:
            assert replayed.get(section) == doc.get(section), f"a step changed {section}"
        for key in PERSON_FIXED:
            assert (replayed.get("person") or {}).get(key) == (doc.get("person") or {}).get(key), f"changed {key}"
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


# ------------------------------------------------------------------ issue 12: plans for real people

INDIAN = {"person": {"citizenship": ["IN"], "us_status": "none"},
          "school": {"country": "IN", "degree": "MBBS", "ecfmg_note": {"from": 1990}, "graduated": "2023-03-31"},
          "exams": [{"exam": "step1", "date": "2024-02-10", "result": "pass"},
                    {"exam": "step2ck", "date": "2025-04-22", "result": "pass"}],
          "ecfmg": {"application_submitted": True, "credentials_verified": True}}
TODAY = dt.date(2026, 12, 6)


def _replay_branch(doc: dict, branch: imgpath.plan.Branch, ev: imgpath.Evaluation) -> dict:
    from imgpath.plan_completions import apply_patch
    return _replay(apply_patch(doc, branch.patch), branch.steps, ev)


@pytest.mark.parametrize("variant", ["licenses absent", "no [ecfmg] section"])
def test_missing_license_branches_instead_of_cannot_be_reached(variant: str) -> None:
    """Steps 1 and 2 CK passed, no OET, licenses not said: it was 'cannot be reached ... decided by
    ecfmg.pathway.season'. Now the plan branches: with a full licence, Pathway 1; otherwise Pathway 6;
    each branch replayed (its assumed facts, then its steps) makes the goal YES."""
    doc = copy.deepcopy(INDIAN)
    if variant == "no [ecfmg] section":
        del doc["ecfmg"]
    ev = imgpath.evaluate(doc, as_of=TODAY)
    plan = ev.next_steps("may_start_acgme_residency")
    assert not plan.blocked and "cannot be reached" not in str(plan)
    assert len(plan.branches) == 2 and plan.to_dict()["format"] == "imgpath.plan/2"
    licensed, otherwise = plan.branches
    assert licensed.facts[0] == "licenses" and "kind 'full'" in licensed.condition
    assert licensed.patch["licenses"][0]["kind"] == "full"
    assert otherwise.condition.startswith("otherwise") and otherwise.patch["licenses"] == []
    assert any(s.id == "apply_pathway[n=1]" for s in licensed.steps)
    assert any(s.id == "apply_pathway[n=6]" for s in otherwise.steps)
    assert [s.id for s in plan] == [s.id for s in licensed.steps]  # iter(plan): the first branch's steps
    for b in plan.branches:
        assert imgpath.evaluate(_replay_branch(doc, b, ev), as_of=TODAY).verdict(plan.goal) is Verdict.YES
        assert imgpath.evaluate(dict(b.document), as_of=TODAY).verdict(plan.goal) is Verdict.YES
    out = str(plan)
    assert "if licenses has an entry with kind 'full'" in out and "otherwise: no licenses entry" in out
    assert "Pathway 1" in out and "Pathway 6" in out
    html = plan._repr_html_()
    assert "Pathway 1" in html and "Pathway 6" in html and "otherwise" in html


def test_empty_license_list_still_gives_the_three_step_plan() -> None:
    """With licenses = [] the plan is the three steps it was: OET, Pathway 6, certificate."""
    doc = {**copy.deepcopy(INDIAN), "licenses": []}
    plan = imgpath.evaluate(doc, as_of=TODAY).next_steps("may_start_acgme_residency")
    assert [s.id for s in plan] == ["pass_oet", "apply_pathway[n=6]", "obtain_certificate"] and not plan.branches


def test_unchangeable_facts_are_named_when_nothing_helps() -> None:
    """A school whose sponsor note starts after graduation: cannot be reached, whatever licence is held;
    the answer names the school's facts (no branching on facts that cannot help)."""
    doc = copy.deepcopy(INDIAN)
    doc["school"]["ecfmg_note"] = {"from": 2024}
    plan = imgpath.evaluate(doc, as_of=TODAY).next_steps("ecfmg_certified")
    assert plan.blocked and not plan.branches
    assert "school.ecfmg_note.from = 2024" in plan.unchangeable


def test_law_not_in_force_is_named() -> None:
    """Virginia's route is not operational: the plan says the law is not in force, nothing else."""
    doc = {**copy.deepcopy(INDIAN), "interest": {"states": ["VA"]}}
    plan = imgpath.evaluate(doc, as_of=TODAY).next_steps("alt_pathway_eligible", state="VA")
    assert not plan.reachable and plan.not_in_force and "not in force" in plan.blocked


PK_INTERNIST = {
    "person": {"citizenship": ["PK"], "us_status": "none", "in_us": False},
    "school": {"country": "PK", "degree": "MBBS", "ecfmg_note": {"from": 1980}, "graduated": "2010-12-31"},
    "exams": [{"exam": "step1", "date": "2022-03-10", "result": "pass"},
              {"exam": "step2ck", "date": "2022-09-15", "result": "pass"},
              {"exam": "oet", "date": "2022-11-12", "listening": 380, "reading": 370, "writing": 350, "speaking": 400}],
    "ecfmg": {"application_submitted": True, "credentials_verified": True, "certified": "2023-05-02",
              "expires": "2027-12-31", "pathway": {"number": 1, "season": 2023, "accepted": "2022-10-01"}},
    "licenses": [{"jurisdiction": "PK", "kind": "full", "unrestricted": True, "issued": "2012-01-15",
                  "good_standing": True}],
    "training": [{"country": "PK", "accreditor": "other", "kind": "residency", "start": "2012-01-01",
                  "end": "2015-12-31", "completed": True}],
    "practice": [{"country": "PK", "start": "2016-01-01", "unsupervised": True}],
    "interest": {"states": ["TN"]}}


def test_tennessee_route_offers_the_employer_petition_and_step3() -> None:
    """Ten years of practice abroad, asking for Tennessee's route: it was 'cannot be reached ...
    person.work_authorized' and Step 3 was never mentioned. The plan now has the employment offer, the
    employer's petition that brings work authorization, Step 3, and says the payment applies."""
    ev = imgpath.evaluate(PK_INTERNIST, as_of=TODAY)
    plan = ev.next_steps("alt_pathway_eligible", state="TN")
    ids = [s.id.split("[")[0] for s in plan]
    assert {"employment_offer", "employer_petition", "pass_step3"} <= set(ids)
    assert ids.index("employment_offer") < ids.index("employer_petition")
    assert imgpath.evaluate(dict(plan.options[0].document), as_of=TODAY).verdict(
        "alt_pathway_eligible", state="TN") is Verdict.YES
    fee = [c for c in plan.options[0].consequences if c.conclusion == "h1b_fee_applies"]
    assert fee and fee[0].caused and "$100,000" in str(plan)


def test_no_work_authorization_step_where_the_law_does_not_ask() -> None:
    """A state whose rule does not condition on work authorization gets no petition step (Texas asks
    for it; the step appears only for such states)."""
    catalog = imgpath.rulebook().extras["actions"]["actions"]
    assert "person" in catalog["employer_petition"]["set"]
    doc = {**copy.deepcopy(PK_INTERNIST), "person": {**PK_INTERNIST["person"], "work_authorized": True}}
    plan = imgpath.evaluate(doc, as_of=TODAY).next_steps("alt_pathway_eligible", state="TN")
    assert "employer_petition" not in [s.id for s in plan]


H1B_SEEKER = imgpath.load_applicant("examples/h1b-step3-abroad.toml").to_dict()
H1B_SEEKER["exams"] = [e for e in H1B_SEEKER["exams"] if e["exam"] != "step3"]
H1B_SEEKER["match"]["season"] = 2027
H1B_SEEKER["offer"].update(start="2027-07-01", end="2030-06-30")


def test_step3_deadline_follows_the_h1b_petition_lead_time() -> None:
    """Matched, H-1B only, start 2027-07-01, asked on 2027-03-25: 'Pass USMLE Step 3' had no deadline
    and nothing said the payment applies. Step 3 is now due when the petition's filing window opens
    (6 months before the start: 2027-01-01, already passed), with the reason, and the payment is named."""
    ev = imgpath.evaluate(H1B_SEEKER, as_of=dt.date(2027, 3, 25))
    plan = ev.next_steps("h1b_eligible")
    step3 = next(s for s in plan if s.id == "pass_step3")
    assert step3.deadline == dt.date(2027, 1, 1) and step3.deadline_passed
    assert "H-1B petition" in step3.deadline_event and "8 CFR 214.2(h)(9)(i)(B)" in step3.note
    assert "ecfr-8cfr-214-2-h9-filing-window" in step3.sources
    fee = [c for c in plan.options[0].consequences if c.conclusion == "h1b_fee_applies"]
    assert fee and not fee[0].caused  # it already applied: a new petition for someone abroad
    assert "$100,000" in str(plan) and plan.to_dict()["options"][0]["consequences"][0]["conclusion"] == "h1b_fee_applies"


def test_step3_deadline_is_not_the_h1b_one_for_other_goals() -> None:
    """Toward a license, Step 3 keeps no H-1B deadline."""
    ev = imgpath.evaluate(H1B_SEEKER, as_of=dt.date(2027, 3, 25))
    plan = ev.next_steps("step3_eligible")
    assert all(s.deadline_event != "h1b_petition_opens" for s in plan)


def test_certificate_comes_before_the_remaining_training_years() -> None:
    """Licensure: the certificate (and the residency position) come before the training years."""
    ev = imgpath.evaluate({**copy.deepcopy(FRESH_IMG), "interest": {"states": ["TX"]}}, as_of=AS_OF)
    ids = [s.id.split("[")[0] for s in ev.next_steps("licensable", state="TX")]
    assert "complete_gme" in ids and ids.index("obtain_certificate") < ids.index("complete_gme")


def test_default_goal_and_training_start_come_from_the_rules_data(tmp_path: Any) -> None:
    """The default goal and the July 1 start are data (actions.toml), not Python literals: a rulebook
    that says otherwise plans otherwise."""
    import shutil

    from imgpath.plan import default_goal, training_start

    book = imgpath.rulebook()
    assert default_goal(book) == "may_start_acgme_residency" and training_start(book, 2027) == dt.date(2027, 7, 1)
    root = tmp_path / "rules"
    shutil.copytree(book.path, root)
    text = (root / "data" / "actions.toml").read_text()
    text = text.replace('default_goal = "may_start_acgme_residency"', 'default_goal = "match_eligible"')
    text = text.replace('training_start = "07-01"', 'training_start = "06-24"')
    (root / "data" / "actions.toml").write_text(text)
    other = imgpath.load_rulebook(root)
    ev = imgpath.evaluate(FRESH_IMG, as_of=AS_OF, rulebook=other)
    assert ev.next_steps().goal == "match_eligible" and training_start(other, 2027) == dt.date(2027, 6, 24)


def test_a_plan_names_the_missing_fact_that_might_spare_steps() -> None:
    """A Pakistani internist abroad holds an ECFMG certificate whose expiry date she did not give: the
    plan toward Tennessee's route still exists (it renews the certificate the long way), and asks for
    ecfmg.expires, which may make that unnecessary; with the expiry given, the question goes away."""
    doc = copy.deepcopy(PK_INTERNIST)
    doc["as_of"] = "2026-12-06"
    del doc["ecfmg"]["expires"]
    plan = imgpath.evaluate(doc).next_steps("alt_pathway_eligible", state="TN")
    assert plan.options and plan.to_confirm == ["ecfmg.expires"]
    assert "facts to confirm (missing; their value may spare some steps): ecfmg.expires" in str(plan)
    doc["ecfmg"]["expires"] = "2027-12-31"
    known = imgpath.evaluate(doc).next_steps("alt_pathway_eligible", state="TN")
    assert known.options and not known.to_confirm
    assert len(known.options[0].steps) < len(plan.options[0].steps)
