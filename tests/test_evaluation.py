"""The evaluation API (contract §1): verdicts, values, conclusions, to_dict, dates, errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import imgpath
from imgpath import Verdict

AS_OF = dt.date(2026, 1, 15)
IMG = {"person": {"citizenship": ["IN"], "us_status": "none"},
       "school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2022-06-30"},
       "exams": [{"exam": "step1", "date": "2023-05-10", "result": "pass"},
                 {"exam": "step2ck", "date": "2024-01-10", "result": "pass"}],
       "interest": {"states": ["TX"]}}


class TestQueries:
    def test_verdict_holds_value(self) -> None:
        """verdict, holds and value answer a conclusion with its arguments."""
        ev = imgpath.evaluate(IMG, as_of=AS_OF)
        assert ev.verdict("img") is Verdict.YES and ev.holds("img")
        assert ev.value("nrmp_category") == "non_us_citizen_img"
        assert ev.value("gme_years_required", state="TX") == 2
        assert Verdict.YES == "yes" and str(Verdict.UNKNOWN) == "unknown"

    def test_missing_fact_is_unknown_not_no(self) -> None:
        """An absent fact leaves the conclusion UNKNOWN; a known empty list decides NO."""
        assert imgpath.evaluate({"school": {"country": "IN"}}, as_of=AS_OF).verdict("ecfmg_exams_met") is Verdict.UNKNOWN
        assert imgpath.evaluate({"school": {"country": "IN"}, "exams": []}, as_of=AS_OF).verdict(
            "ecfmg_exams_met") is Verdict.NO

    def test_bad_arguments(self) -> None:
        """Wrong argument names or values raise clear errors."""
        ev = imgpath.evaluate(IMG, as_of=AS_OF)
        with pytest.raises(TypeError, match="state="):
            ev.verdict("licensable")
        with pytest.raises(ValueError, match="interest"):
            ev.verdict("licensable", state="NY")
        with pytest.raises(ValueError, match="one of"):
            ev.verdict("pathway_eligible", pathway=9)
        with pytest.raises(KeyError, match="did you mean 'img'"):
            ev.verdict("imgg")

    def test_every_yes_has_rule_and_source(self) -> None:
        """Every YES carries at least one rule id and one source URL (contract §4)."""
        ev = imgpath.evaluate(IMG, as_of=AS_OF)
        for c in ev.conclusions:
            if c.verdict is Verdict.YES:
                assert c.rules and c.sources and all(s.url.startswith("http") for s in c.sources)

    def test_to_dict_is_json(self) -> None:
        """to_dict is JSON-serialisable and carries as_of, season, confidence and assumptions."""
        d = imgpath.evaluate(IMG, as_of=AS_OF).to_dict()
        text = json.dumps(d)
        assert d["as_of"] == "2026-01-15" and d["season"] == 2026
        assert all({"verdict", "confidence", "assumptions", "sources", "rules"} <= set(c) for c in d["conclusions"])
        assert "imgpath.evaluation/1" in text

    def test_html(self) -> None:
        """The Jupyter view is self-contained HTML with badges and the date."""
        html = imgpath.evaluate(IMG, as_of=AS_OF)._repr_html_()
        assert "<style>" in html and "2026-01-15" in html and "<script" not in html
        assert html.count("<style>") == 1  # nested why-not views do not repeat the stylesheet

    def test_html_says_why_not_and_what_is_missing(self) -> None:
        """Each NO or UNKNOWN row has a collapsible why-not; an UNKNOWN row names what is missing."""
        ev = imgpath.evaluate(imgpath.load_applicant("examples/india-img-2027.toml"), as_of=dt.date(2026, 11, 25))
        html = ev._repr_html_()
        not_yes = sum(c.verdict is not Verdict.YES for c in ev.conclusions)
        assert html.count("<summary class='c'>why not</summary>") == not_yes
        assert "missing: offer.h1b_petition.filed" in html
        assert "missing: figure states.NY.canadian_training_counts" in html


class TestDates:
    def test_as_of_from_document(self) -> None:
        """The document's as_of is used when none is given; an explicit as_of wins."""
        doc = {**IMG, "as_of": "2021-06-30"}
        assert imgpath.evaluate(doc).as_of == dt.date(2021, 6, 30)
        assert imgpath.evaluate(doc, as_of=AS_OF).as_of == AS_OF

    def test_season_default_is_next_match_day(self) -> None:
        """Without match.season the season is the first Match Day on or after as_of."""
        assert imgpath.evaluate({}, as_of=dt.date(2026, 3, 20)).season == 2026
        assert imgpath.evaluate({}, as_of=dt.date(2026, 3, 21)).season == 2027
        assert imgpath.evaluate({"match": {"season": 2025}}, as_of=dt.date(2026, 3, 21)).season == 2025

    def test_facts_after_as_of_are_not_yet_known(self) -> None:
        """An exam dated after as_of does not count yet (contract §6.4)."""
        ev = imgpath.evaluate(IMG, as_of=dt.date(2023, 12, 1))
        assert ev.verdict("ecfmg_exams_met") is Verdict.NO

    def test_rule_change_between_dates(self) -> None:
        """The attempt limit changed on 2021-07-01: four failures bar from that day, not the day before."""
        doc = {"school": {"country": "IN"}, "exams": [
            {"exam": "step1", "date": f"201{i}-01-10", "result": "fail"} for i in range(4)]}
        assert imgpath.evaluate(doc, as_of=dt.date(2021, 6, 30)).verdict("usmle_barred") is Verdict.NO
        assert imgpath.evaluate(doc, as_of=dt.date(2021, 7, 1)).verdict("usmle_barred") is Verdict.YES

    def test_diff_across_dates(self) -> None:
        """diff() names the conclusions and rules that changed between two dates."""
        doc = {"person": {"us_status": "none", "citizenship": ["IN"]}, "offer": {"kind": "residency"}}
        d = imgpath.diff(imgpath.evaluate(doc, as_of=dt.date(2025, 9, 20)),
                         imgpath.evaluate(doc, as_of=dt.date(2025, 9, 21)))
        (change,) = list(d)
        assert change.name == "h1b_fee_applies" and (change.before, change.after) == ("no", "yes")
        assert "visa.h1b_fee.new_petition" in change.rules
        assert d.to_dict()["format"] == "imgpath.diff/1"


class TestInputs:
    def test_invalid_facts_name_the_field(self) -> None:
        """Bad input raises InvalidFacts (a ValueError) with the field path, and nothing is evaluated."""
        with pytest.raises(imgpath.InvalidFacts) as info:
            imgpath.evaluate({"exams": [{}, {}, {"date": "not-a-date"}]}, as_of=AS_OF)
        assert info.value.path == "exams[2].date" and isinstance(info.value, ValueError)
        for bad in ("01/01/2026", 20260101, "9999-12-31"):
            with pytest.raises(imgpath.InvalidFacts, match="as_of"):
                imgpath.evaluate(IMG, as_of=bad)  # type: ignore[arg-type]

    def test_engines_agree_and_bad_engine(self) -> None:
        """Both engines give the same conclusions; an unknown engine name is refused."""
        a = imgpath.evaluate(IMG, as_of=AS_OF)
        b = imgpath.evaluate(IMG, as_of=AS_OF, engine="reference")
        assert a.to_dict()["conclusions"] == b.to_dict()["conclusions"]
        with pytest.raises(ValueError):
            imgpath.evaluate(IMG, as_of=AS_OF, engine="drools")

    def test_evaluate_many_in_order_with_workers(self) -> None:
        """evaluate_many keeps input order, in one process or two."""
        docs = [IMG, {"school": {"country": "US", "degree": "MD"}}, IMG]
        one = [e.verdict("img") for e in imgpath.evaluate_many(docs, as_of=AS_OF)]
        two = [e.verdict("img") for e in imgpath.evaluate_many(docs, as_of=AS_OF, workers=2)]
        assert one == two == [Verdict.YES, Verdict.NO, Verdict.YES]

    def test_with_facts(self) -> None:
        """with_facts re-evaluates a what-if without changing the original."""
        ev = imgpath.evaluate(IMG, as_of=AS_OF)
        us = ev.with_facts(person={"citizenship": ["US"], "us_status": "citizen"})
        assert us.value("nrmp_category") == "us_citizen_img"
        assert ev.value("nrmp_category") == "non_us_citizen_img"


class TestToDict:
    def test_unknown_conclusions_say_what_is_missing(self) -> None:
        """to_dict(): an UNKNOWN names the facts and figures that would decide it; YES and NO do not carry
        the keys; missing=False skips the work."""
        ev = imgpath.evaluate(imgpath.load_applicant("examples/india-img-2027.toml"), as_of=dt.date(2026, 11, 25))
        doc = json.loads(json.dumps(ev.to_dict()))
        by = {(c["name"], json.dumps(c["args"])): c for c in doc["conclusions"]}
        fee = by[("h1b_fee_applies", "{}")]
        assert fee["verdict"] == "unknown" and fee["missing"] == ["offer.h1b_petition.filed", "offer.h1b_petition.kind", "training"]
        ny = by[("canadian_training_counts", '{"state": "NY"}')]
        assert ny["missing"] == [] and ny["missing_parameters"] == ["states.NY.canadian_training_counts"]
        assert all(("missing" in c) == (c["verdict"] == "unknown") for c in doc["conclusions"])
        assert not any("missing" in c for c in ev.to_dict(missing=False)["conclusions"])
