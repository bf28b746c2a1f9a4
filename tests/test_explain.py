"""Explanations: why and why_not, their renderings, and their soundness."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings

import imgpath
from imgpath import Verdict
from imgpath import strategies as ips

AS_OF = dt.date(2026, 1, 15)
IMG = {"person": {"citizenship": ["IN"], "us_status": "none"},
       "school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2022-06-30", "fifth_pathway": False},
       "exams": [{"exam": "step1", "date": "2023-05-10", "result": "pass"},
                 {"exam": "step2ck", "date": "2024-01-10", "result": "pass"}],
       "licenses": [], "ecfmg": {"application_submitted": True}, "interest": {"states": ["TX"]}}


def test_why_tree_and_renderings() -> None:
    """why() names the rule, the facts with their values and paths, sub-conclusions and sources."""
    ev = imgpath.evaluate(IMG, as_of=AS_OF)
    why = ev.why("ecfmg_exams_met")
    text = str(why)
    assert "ecfmg.exams.step1_step2ck" in text and "exams[0].result = 'pass'" in text
    d = why.to_dict()
    assert d["format"] == "imgpath.explanation/1"
    assert d["derivation"]["sources"][0]["url"].startswith("http")
    json.dumps(d)
    assert "<details" in why._repr_html_()
    assert any(p["conclusion"] == "img" for p in ev.why("ecfmg_eligible").to_dict()["derivation"]["premises"])


def test_why_not_names_failures_and_missing_facts() -> None:
    """why_not judges each condition: what failed, and which fields would decide an UNKNOWN."""
    ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=AS_OF)
    wn = ev.why_not("ecfmg_exams_met")
    assert wn.verdict == "unknown" and "exams" in wn.missing
    assert wn.to_dict()["format"] == "imgpath.why_not/1"
    no = imgpath.evaluate(IMG, as_of=AS_OF).why_not("may_start_acgme_residency")
    assert no.failed() and "ecfmg_certificate_valid_at_start" in str(no)


def test_wrong_direction_raises() -> None:
    """why of a NO and why_not of a YES raise a clear error."""
    ev = imgpath.evaluate(IMG, as_of=AS_OF)
    with pytest.raises(ValueError, match="why_not"):
        ev.why("may_start_acgme_residency")
    with pytest.raises(ValueError, match="YES"):
        ev.why_not("img")


def _drop(doc: dict, path: str) -> dict:
    """A copy of ``doc`` without the fact at ``path`` (``exams[1].result``, ``school.country``)."""
    import copy
    import re

    from imgpath.facts import field_meta, fields_by_key, section_classes

    out = copy.deepcopy(doc)
    parts = re.findall(r"[a-z_]+|\[\d+\]", path)
    cls = section_classes().get(parts[0])
    if len(parts) == 2 and cls is not None and field_meta(fields_by_key(cls)[parts[1]])["derived"]:
        parts[1] = field_meta(fields_by_key(cls)[parts[1]])["derived"]  # a derived fact: drop its source
    target = out
    for p in parts[:-1]:
        target = target[int(p[1:-1])] if p.startswith("[") else target.get(p, {})
    last = parts[-1]
    if last.startswith("["):
        del target[int(last[1:-1])]
    else:
        target.pop({"from_": "from"}.get(last, last), None)
    return out


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(ips.applicants())
def test_removing_a_premise_fact_breaks_the_conclusion(doc: imgpath.Applicant) -> None:
    """Soundness: remove any fact a why() tree read and that conclusion is no longer YES (or the fact
    was not needed: the conclusion is re-derived another way)."""
    ev = imgpath.evaluate(doc, as_of=doc.as_of)
    for name in ("img", "ecfmg_exams_met", "visa_needed", "ecfmg_eligible"):
        if ev.verdict(name) is not Verdict.YES:
            continue
        why = ev.why(name)
        for fact in why.facts():
            if fact.status != "known" or "[" in fact.path.split(".")[0] and fact.path.count(".") == 0:
                continue
            smaller = _drop(doc.to_dict(), fact.path)
            after = imgpath.evaluate(smaller, as_of=doc.as_of)
            if after.verdict(name) is Verdict.YES:
                # still derivable: then through a tree that does not read the removed value (an absent
                # field with a documented meaning, like no graduation date, reads as a different fact)
                assert (fact.path, fact.value) not in {(f.path, f.value) for f in after.why(name).facts()
                                                       if f.status == "known"}


def test_unknown_names_unsourced_figures() -> None:
    """Georgia's IMG GME figure is unsourced: licensable(GA) is UNKNOWN and every rendering names the
    missing figures."""
    doc = {**IMG, "exams": [*IMG["exams"], {"exam": "step3", "date": "2025-01-10", "result": "pass"}],
           "training": [{"country": "US", "accreditor": "ACGME", "kind": "residency", "start": "2022-07-01",
                         "end": "2025-06-30", "completed": True}],
           "ecfmg": {"application_submitted": True, "certified": "2023-01-10"}, "interest": {"states": ["GA"]}}
    ev = imgpath.evaluate(doc, as_of=AS_OF)
    wn = ev.why_not("licensable", state="GA")
    missing_figures = wn.missing_parameters
    assert wn.verdict == "unknown"
    assert missing_figures and all(p.startswith("states.GA.") for p in missing_figures)
    assert "figure states.GA." in str(wn) and "figure states.GA." in wn._repr_html_()
    assert wn.to_dict()["missing_parameters"] == missing_figures


def test_rests_on_lists_the_unknown_premises() -> None:
    """An UNKNOWN whose only open condition is another conclusion lists that conclusion and inherits its
    missing figure: a fully trained IMG in Tennessee, whose USMLE time limit nobody sourced."""
    doc = {**IMG, "interest": {"states": ["TN"]},
           "exams": [*IMG["exams"], {"exam": "step3", "date": "2025-01-10", "result": "pass"}],
           "ecfmg": {"application_submitted": True, "certified": "2024-03-01"},
           "training": [{"country": "US", "accreditor": "ACGME", "kind": "residency", "start": "2022-07-01",
                         "end": "2025-06-30", "completed": True}]}
    wn = imgpath.evaluate(doc, as_of=AS_OF).why_not("licensable", state="TN")
    assert wn.verdict == "unknown"
    assert [p.label for p in wn.premises] == ["usmle_within_time_limit(state='TN')"]
    assert wn.missing_parameters == ["states.TN.usmle_time_limit_years"]
    assert wn.to_dict()["rests_on"][0]["missing_parameters"] == ["states.TN.usmle_time_limit_years"]
    assert "rests on UNKNOWN: usmle_within_time_limit(state='TN')" in str(wn)
    assert "figure states.TN.usmle_time_limit_years" in str(wn)


def test_failing_any_shows_what_is_there_instead() -> None:
    """A failing 'any' over a list shows the entries it looked at: no Step 3 among the Step 1 and
    Step 2 CK attempts."""
    wn = imgpath.evaluate({**IMG, "offer": {"kind": "residency", "visa_sponsorship": ["h1b"]}},
                          as_of=AS_OF).why_not("h1b_eligible")
    failing = [c for rule, c in wn.failed() if rule == "visa.h1b.img" and "step3" in c.text]
    assert len(failing) == 1
    assert [(f.path, f.value) for f in failing[0].facts] == [("exams[0].exam", "step1"), ("exams[1].exam", "step2ck")]


def test_explanation_rules_are_listed_once() -> None:
    """Explanation.rules names each rule once, even when a premise (img) appears twice in the tree."""
    why = imgpath.evaluate(IMG, as_of=AS_OF).why("ecfmg_eligible")
    assert len(why.rules) == len(set(why.rules)) and why.rules[0] == "ecfmg.eligible.sponsor_note"
