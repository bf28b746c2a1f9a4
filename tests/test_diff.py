"""What-if comparisons (imgpath.diff): the conclusions that changed and the rules responsible."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import imgpath

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
H1B = imgpath.load_applicant(EXAMPLES / "h1b-step3-abroad.toml")
TN = imgpath.load_applicant(EXAMPLES / "tennessee-alternative-route.toml")


def _without_step3(app: imgpath.Applicant) -> imgpath.Applicant:
    return app.with_facts({"exams": [e for e in app.to_dict()["exams"] if e["exam"] != "step3"]})


def test_a_new_yes_is_due_to_the_rule_that_derived_it() -> None:
    """Passing Step 3 turns h1b_eligible YES through visa.h1b.img; the failed candidate that still fails
    (visa.h1b.us_canadian_graduate: he is an IMG) is not blamed."""
    d = imgpath.diff(imgpath.evaluate(_without_step3(H1B)), imgpath.evaluate(H1B))
    assert [(c.label, c.before, c.after) for c in d] == [("h1b_eligible", "no", "yes")]
    assert d.changes[0].rules == ("visa.h1b.img",)
    assert "visa.h1b.us_canadian_graduate" in d.changes[0].rules_before


def test_a_lost_yes_is_due_to_the_rule_that_had_derived_it() -> None:
    """The reverse comparison blames the rule whose derivation was lost."""
    d = imgpath.diff(imgpath.evaluate(H1B), imgpath.evaluate(_without_step3(H1B)))
    assert [(c.label, c.before, c.after, c.rules) for c in d] == [("h1b_eligible", "yes", "no", ("visa.h1b.img",))]


def test_law_changing_between_two_dates() -> None:
    """Same facts, two dates either side of the route's effective date: status and eligibility change,
    each with the rules in force on each side."""
    early = imgpath.evaluate(TN, as_of=dt.date(2024, 6, 30))
    later = imgpath.evaluate(TN, as_of=dt.date(2026, 3, 2))
    changes = {c.label: c for c in imgpath.diff(early, later)}
    status = changes["alt_pathway_status(state='TN')"]
    assert (status.value_before, status.value_after) == ("enacted_not_operational", "in_force")
    assert status.rules == ("alt.status",)  # one rule over the dated table rules/data/alt_status.toml
    assert changes["alt_pathway_eligible(state='TN')"].rules == ("alt.tn.eligible.2024",)


def test_no_change_is_empty_and_falsy() -> None:
    """Two evaluations of one applicant on one date do not differ."""
    d = imgpath.diff(imgpath.evaluate(H1B), imgpath.evaluate(H1B))
    assert not d and len(d) == 0 and list(d) == []
    assert str(d).endswith(": 0")


def test_renderings() -> None:
    """to_dict is versioned JSON, str one line per change, HTML a self-contained table."""
    d = imgpath.diff(imgpath.evaluate(_without_step3(H1B)), imgpath.evaluate(H1B))
    doc = json.loads(json.dumps(d.to_dict()))
    assert doc["format"] == "imgpath.diff/1" and doc["changes"][0]["rules"] == ["visa.h1b.img"]
    assert doc["before"]["as_of"] == "2026-03-25"
    assert "h1b_eligible: NO -> YES   rules: visa.h1b.img" in str(d)
    html = d._repr_html_()
    assert "<table>" in html and "visa.h1b.img" in html and "<script" not in html


def test_internal_conclusions_only_on_request() -> None:
    """Internal helper conclusions (communication_met_by_rol) stay out of a diff unless asked for."""
    priya = imgpath.load_applicant(EXAMPLES / "india-img-2027.toml")
    no_oet = priya.with_facts({"exams": [e for e in priya.to_dict()["exams"] if e["exam"] != "oet"]})
    a, b = imgpath.evaluate(no_oet), imgpath.evaluate(priya)
    public = [c.label for c in imgpath.diff(a, b)]
    every = [c.label for c in imgpath.diff(a, b, include_internal=True)]
    assert public == ["ecfmg_communication_met", "ecfmg_requirements_met", "match_eligible"]
    assert every == [*public, "communication_met_by_rol"]
