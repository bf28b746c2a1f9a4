"""The fact model (contract §3): validation, error coordinates, absent vs known-none, round trips, loading."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given

import imgpath
from imgpath import Applicant, InvalidFacts, Verdict
from imgpath import strategies as ips
from imgpath.facts import MAX_LIST, MAX_STRING, EcfmgNote, Exam, load_applicant

AS_OF = dt.date(2026, 1, 15)


def invalid(doc: Any) -> InvalidFacts:
    """Validate ``doc`` and return the InvalidFacts it must raise."""
    with pytest.raises(InvalidFacts) as info:
        Applicant.from_dict(doc)
    return info.value


# --------------------------------------------------------------------------- error coordinates


class TestErrorCoordinates:
    def test_list_entry_field_path_in_message(self) -> None:
        """A bad date in the third exam is reported as ``exams[2].date: expected an ISO date ...``."""
        doc = {"exams": [{"exam": "step1", "date": "2023-05-10"}, {"exam": "step2ck"},
                         {"exam": "oet", "date": "10/05/2023"}]}
        err = invalid(doc)
        assert err.path == "exams[2].date"
        assert str(err).startswith("exams[2].date: expected an ISO date")
        assert "10/05/2023" in str(err)

    def test_nested_object_path(self) -> None:
        """A field of a nested table is named with dots (``ecfmg.pathway.number``)."""
        err = invalid({"ecfmg": {"pathway": {"number": 7}}})
        assert err.path == "ecfmg.pathway.number"
        assert str(err).startswith("ecfmg.pathway.number: ")

    def test_list_of_strings_item_path(self) -> None:
        """A bad item of a list of strings is named by its index (``person.citizenship[1]``)."""
        err = invalid({"person": {"citizenship": ["IN", 42]}})
        assert err.path == "person.citizenship[1]"

    def test_problem_and_path_attributes(self) -> None:
        """The error exposes ``path`` and ``problem`` separately and is ``path: problem`` as text."""
        err = invalid({"match": {"letters": -1}})
        assert (err.path, str(err)) == ("match.letters", f"match.letters: {err.problem}")
        assert "between 0 and 100" in err.problem

    def test_invalid_facts_is_a_value_error(self) -> None:
        """InvalidFacts subclasses ValueError and the library's root error, so generic handlers catch it."""
        err = invalid({"person": {"in_us": "yes"}})
        assert isinstance(err, ValueError) and isinstance(err, imgpath.ImgpathError)

    def test_top_level_must_be_a_mapping(self) -> None:
        """A document that is not a table (a list) is rejected with an empty path."""
        err = invalid([{"person": {}}])
        assert err.path == "" and "table/object" in str(err)

    def test_evaluate_reports_the_same_path(self) -> None:
        """``imgpath.evaluate`` on a bad mapping raises InvalidFacts naming the field, evaluating nothing."""
        with pytest.raises(InvalidFacts) as info:
            imgpath.evaluate({"training": [{}, {"start": "2023-02-30"}]}, as_of=AS_OF)
        assert info.value.path == "training[1].start"

    def test_evaluate_rejects_non_mapping(self) -> None:
        """``imgpath.evaluate`` on something that is neither an Applicant nor a mapping raises InvalidFacts."""
        with pytest.raises(InvalidFacts):
            imgpath.evaluate(["not", "a", "document"], as_of=AS_OF)  # type: ignore[arg-type]

    def test_evaluate_rejects_datetime_as_of(self) -> None:
        """An ``as_of`` that is a datetime (or not a date, nor an ISO date string) is rejected as
        InvalidFacts naming ``as_of``; an ISO string is read as documents read dates (issue 12 #7)."""
        assert imgpath.evaluate({}, as_of="2026-01-15").as_of == dt.date(2026, 1, 15)
        for bad in (dt.datetime(2026, 1, 15, 9, 0), "2026-1-15", "15/01/2026", 2026):
            with pytest.raises(InvalidFacts) as info:
                imgpath.evaluate({}, as_of=bad)  # type: ignore[arg-type]
            assert info.value.path == "as_of"


# --------------------------------------------------------------------------- keys


class TestUnknownKeys:
    def test_top_level_typo_suggests_section(self) -> None:
        """An unknown top-level key is rejected with a did-you-mean for the nearest section."""
        err = invalid({"persn": {"us_status": "none"}})
        assert err.path == "persn"
        assert "unknown key 'persn'" in str(err) and "did you mean 'person'?" in str(err)

    def test_nested_typo_suggests_field(self) -> None:
        """An unknown field inside a section is named with its full path and a suggestion."""
        err = invalid({"school": {"contry": "IN"}})
        assert err.path == "school.contry" and "did you mean 'country'?" in str(err)

    def test_typo_inside_list_entry(self) -> None:
        """An unknown field of a list entry carries the entry's index."""
        err = invalid({"exams": [{"exam": "step1"}, {"exam": "step1", "reslt": "pass"}]})
        assert err.path == "exams[1].reslt" and "did you mean 'result'?" in str(err)

    def test_no_close_match_lists_known_keys(self) -> None:
        """A key like nothing known lists every known key of that table instead."""
        err = invalid({"zzzzzzzz": 1})
        assert "known keys:" in str(err) and "person" in str(err) and "exams" in str(err)

    def test_python_spelling_of_from_is_unknown(self) -> None:
        """The document key is ``from``; the Python attribute name ``from_`` is not accepted as a key."""
        err = invalid({"school": {"ecfmg_note": {"from_": 1990}}})
        assert err.path == "school.ecfmg_note.from_" and "did you mean 'from'?" in str(err)

    def test_non_string_key(self) -> None:
        """A non-string key (possible from Python dicts) is rejected, not crashed on."""
        err = invalid({"person": {1: True}})
        assert err.path == "person" and "keys must be strings" in str(err)

    def test_huge_unknown_key_message_is_bounded(self) -> None:
        """An absurdly long unknown key is rejected with a message of bounded length (fuzzer finding)."""
        err = invalid({"school": {"k" * 100_000: 1}})
        assert len(str(err)) < 1000 and err.path.startswith("school.kkk") and err.path.endswith("...")

    def test_unknown_key_even_when_null(self) -> None:
        """An unknown key is rejected even when its value is null (a typo is never silently ignored)."""
        err = invalid({"school": {"gradauted": None}})
        assert err.path == "school.gradauted"


# --------------------------------------------------------------------------- types


class TestTypes:
    @pytest.mark.parametrize("value", [True, False])
    def test_bool_is_not_an_int(self, value: bool) -> None:
        """``letters = true`` is rejected: a boolean is not a number even though Python says so."""
        err = invalid({"match": {"letters": value}})
        assert err.path == "match.letters" and "boolean" in str(err)

    @pytest.mark.parametrize("value", [1, 0, "true", "yes", "false"])
    def test_int_or_string_is_not_a_bool(self, value: Any) -> None:
        """``in_us = 1`` or ``in_us = "true"`` is rejected: booleans must be true or false."""
        err = invalid({"person": {"in_us": value}})
        assert err.path == "person.in_us" and "expected true or false" in str(err)

    def test_string_is_not_a_list_of_strings(self) -> None:
        """``citizenship = "IN"`` is rejected: it must be a list, even with one country."""
        err = invalid({"person": {"citizenship": "IN"}})
        assert err.path == "person.citizenship" and "list of strings" in str(err)

    @pytest.mark.parametrize("value", ["step1", {"exam": "step1"}, 3])
    def test_list_section_needs_a_list(self, value: Any) -> None:
        """``exams`` given as a string, a table or a number is rejected as not a list of tables."""
        err = invalid({"exams": value})
        assert err.path == "exams" and "list of tables" in str(err)

    def test_list_entry_must_be_a_table(self) -> None:
        """A list entry that is a scalar is rejected with its index."""
        err = invalid({"licenses": [{"jurisdiction": "IN"}, "US-TX"]})
        assert err.path == "licenses[1]" and "table/object" in str(err)

    def test_section_must_be_a_table(self) -> None:
        """A section given as a list is rejected."""
        err = invalid({"person": [{"us_status": "none"}]})
        assert err.path == "person" and "table/object" in str(err)

    def test_numeric_string_is_not_a_number(self) -> None:
        """``score = "250"`` is rejected: numbers are not parsed out of strings."""
        err = invalid({"exams": [{"exam": "step1", "score": "250"}]})
        assert err.path == "exams[0].score" and "expected a number" in str(err)

    def test_whole_float_accepted_as_int(self) -> None:
        """``letters = 3.0`` (as JSON may give it) is accepted as the integer 3."""
        a = Applicant.from_dict({"match": {"letters": 3.0}})
        assert a.match.letters == 3 and type(a.match.letters) is int

    def test_fractional_float_rejected_as_int(self) -> None:
        """``letters = 3.5`` is rejected: the field is a whole number."""
        err = invalid({"match": {"letters": 3.5}})
        assert "whole number" in str(err)

    def test_number_field_keeps_float(self) -> None:
        """A number field (``us_clinical_months``) keeps a fractional value."""
        assert Applicant.from_dict({"match": {"us_clinical_months": 2.5}}).match.us_clinical_months == 2.5

    def test_mixed_type_list_of_strings(self) -> None:
        """A list of strings containing a non-string names the offending index."""
        err = invalid({"school": {"accreditors": ["NMC", None, "WFME"]}})
        assert err.path == "school.accreditors[1]"

    def test_string_list_is_deduplicated_in_order(self) -> None:
        """A list of strings is a set kept in document order (duplicates dropped)."""
        a = Applicant.from_dict({"person": {"citizenship": ["IN", "US", "IN"]}})
        assert a.person.citizenship == ("IN", "US")

    def test_too_long_string(self) -> None:
        """A string longer than MAX_STRING characters is rejected, not truncated."""
        err = invalid({"school": {"name": "x" * (MAX_STRING + 1)}})
        assert err.path == "school.name" and str(MAX_STRING) in str(err)
        assert Applicant.from_dict({"school": {"name": "x" * MAX_STRING}}).school.name == "x" * MAX_STRING

    def test_too_long_list(self) -> None:
        """A list longer than MAX_LIST entries is rejected, not truncated."""
        err = invalid({"exams": [{"exam": "step1"}] * (MAX_LIST + 1)})
        assert err.path == "exams" and str(MAX_LIST) in str(err)
        assert len(Applicant.from_dict({"exams": [{"exam": "step1"}] * MAX_LIST}).exams) == MAX_LIST

    def test_long_string_error_message_is_bounded(self) -> None:
        """The message for a huge wrong-typed string quotes only its beginning."""
        err = invalid({"exams": [{"date": "9" * 100_000}]})
        assert len(str(err)) < 500

    @pytest.mark.parametrize("doc", [
        {"match": {"letters": 10**5000}}, {"person": {"in_us": 10**5000}}, {"exams": [{"score": -10**5000}]},
        {"schema": 10**5000},
    ], ids=["out-of-range", "wrong-type", "negative", "schema"])
    def test_huge_integer(self, doc: dict[str, Any]) -> None:
        """A gigantic integer (possible from Python dicts) is rejected as InvalidFacts naming the field."""
        err = invalid(doc)
        assert err.path in ("match.letters", "person.in_us", "exams[0].score", "schema")
        assert len(str(err)) < 500


class TestNonFinite:
    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    @pytest.mark.parametrize("where", [("exams", 0, "score"), ("exams", 0, "listening"),
                                       ("match", "us_clinical_months"), ("match", "letters"),
                                       ("ecfmg", "revalidated")])
    def test_nan_and_infinities_rejected(self, value: float, where: tuple[Any, ...]) -> None:
        """NaN and ±infinity are rejected in every numeric field, with the field's path."""
        doc: dict[str, Any] = {}
        if where[0] == "exams":
            doc["exams"] = [{"exam": "oet", where[2]: value}]
            path = f"exams[0].{where[2]}"
        else:
            doc[where[0]] = {where[1]: value}
            path = f"{where[0]}.{where[1]}"
        err = invalid(doc)
        assert err.path == path and "finite" in str(err)

    def test_nan_schema_rejected(self) -> None:
        """``schema = nan`` is rejected as an unknown schema version."""
        assert invalid({"schema": math.nan}).path == "schema"


# --------------------------------------------------------------------------- dates


class TestDates:
    @pytest.mark.parametrize("text", ["2023-02-30", "2023-02-29", "2023-13-01", "2023-00-10", "2023-04-31",
                                      "2023-1-5", "23-01-05", "2023/01/05", "yesterday", "", "2023-01-05 ",
                                      "20230105"])
    def test_impossible_or_malformed_date_strings(self, text: str) -> None:
        """Impossible calendar dates (2023-02-30) and non-ISO spellings are rejected with the path."""
        err = invalid({"school": {"graduated": text}})
        assert err.path == "school.graduated" and "ISO date" in str(err)

    def test_leap_day_accepted(self) -> None:
        """2024-02-29 exists and is accepted."""
        assert Applicant.from_dict({"school": {"graduated": "2024-02-29"}}).school.graduated == dt.date(2024, 2, 29)

    def test_date_object_accepted(self) -> None:
        """A ``datetime.date`` (what tomllib gives) is accepted as is."""
        a = Applicant.from_dict({"ecfmg": {"certified": dt.date(2025, 3, 1)}})
        assert a.ecfmg.certified == dt.date(2025, 3, 1)

    @pytest.mark.parametrize("value", [dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 1, 12, 30),
                                       "2025-03-01T00:00:00"])
    def test_datetime_rejected(self, value: Any) -> None:
        """A datetime (or a datetime string) where a date is expected is rejected: facts are dated by day."""
        err = invalid({"ecfmg": {"certified": value}})
        assert err.path == "ecfmg.certified"

    def test_time_rejected(self) -> None:
        """A time of day is not a date."""
        assert invalid({"as_of": dt.time(10, 0)}).path == "as_of"

    @pytest.mark.parametrize("value", [20230105, 2023.0, True, ["2023-01-05"]])
    def test_non_string_date(self, value: Any) -> None:
        """Numbers, booleans and lists are not dates."""
        assert invalid({"offer": {"start": value}}).path == "offer.start"

    def test_iso_week_date_rejected(self) -> None:
        """Only YYYY-MM-DD is a date: ISO week and ordinal forms are rejected, not reinterpreted."""
        for text in ("2023-W01-1", "2023W011", "2023-001", "+2023-01-05", "٢٠٢٣-٠١-٠٥", "２０２３-０１-０５",
                     "2023-01-05\n"):
            assert invalid({"school": {"graduated": text}}).path == "school.graduated", text


# --------------------------------------------------------------------------- ranges and enums


class TestRanges:
    @pytest.mark.parametrize("part", ["listening", "reading", "writing", "speaking"])
    def test_oet_subscores_0_to_500(self, part: str) -> None:
        """OET sub-test scores are accepted from 0 to 500 inclusive and rejected outside."""
        for ok in (0, 350, 500, 499.5):
            Applicant.from_dict({"exams": [{"exam": "oet", part: ok}]})
        for bad in (-1, -0.5, 500.5, 501, 1000):
            err = invalid({"exams": [{"exam": "oet", part: bad}]})
            assert err.path == f"exams[0].{part}" and "between 0 and 500" in str(err)

    def test_score_range(self) -> None:
        """A USMLE score must lie between 0 and 1000."""
        Applicant.from_dict({"exams": [{"exam": "step1", "score": 1000}]})
        assert invalid({"exams": [{"exam": "step1", "score": 1001}]}).path == "exams[0].score"

    @pytest.mark.parametrize("number", [0, 7, -1])
    def test_pathway_number(self, number: int) -> None:
        """An ECFMG Pathway number is 1 to 6."""
        assert invalid({"ecfmg": {"pathway": {"number": number}}}).path == "ecfmg.pathway.number"

    def test_match_season_range(self) -> None:
        """A Match season is a year from 2000 to 2100."""
        assert Applicant.from_dict({"match": {"season": 2026}}).match.season == 2026
        assert invalid({"match": {"season": 26}}).path == "match.season"

    def test_note_to_before_from(self) -> None:
        """An ECFMG sponsor note whose ``to`` precedes ``from`` is rejected at ``ecfmg_note.to``."""
        err = invalid({"school": {"ecfmg_note": {"from": 2000, "to": 1990}}})
        assert err.path == "school.ecfmg_note.to"


class TestEnums:
    @pytest.mark.parametrize(("doc", "path", "hint"), [
        ({"exams": [{"exam": "Step1"}]}, "exams[0].exam", "step1"),
        ({"exams": [{"result": "passed"}]}, "exams[0].result", "pass"),
        ({"person": {"us_status": "citizn"}}, "person.us_status", "citizen"),
        ({"school": {"degree": "MBS"}}, "school.degree", "MBBS"),
        ({"training": [{"accreditor": "ACGM"}]}, "training[0].accreditor", "ACGME"),
        ({"offer": {"h1b_petition": {"kind": "extention"}}}, "offer.h1b_petition.kind", "extension"),
    ])
    def test_enum_did_you_mean(self, doc: dict[str, Any], path: str, hint: str) -> None:
        """A near-miss enum value is rejected with the choices and a did-you-mean."""
        err = invalid(doc)
        assert err.path == path and f"did you mean {hint!r}?" in str(err) and "expected one of" in str(err)

    def test_enum_without_close_match(self) -> None:
        """A value like no choice is rejected listing the choices, without a suggestion."""
        err = invalid({"person": {"us_status": "astronaut"}})
        assert "citizen" in str(err) and "did you mean" not in str(err)

    def test_enum_is_case_sensitive(self) -> None:
        """Enum values are exact: ``md`` is not ``MD``."""
        assert invalid({"school": {"degree": "md"}}).path == "school.degree"


class TestCountries:
    @pytest.mark.parametrize(("given", "hint"), [("UK", "GB"), ("USA", "US"), ("in", "IN"), ("usa", "US")])
    def test_country_suggestions(self, given: str, hint: str) -> None:
        """Common non-ISO country spellings are rejected with the ISO 3166-1 code suggested ('UK' → 'GB')."""
        err = invalid({"school": {"country": given}})
        assert err.path == "school.country" and f"did you mean {hint!r}?" in str(err)

    @pytest.mark.parametrize("code", ["ZZ", "IND", "", "U"])
    def test_unknown_country(self, code: str) -> None:
        """Codes that are not ISO 3166-1 alpha-2 are rejected."""
        assert "ISO 3166-1" in str(invalid({"training": [{"country": code}]}))

    @pytest.mark.parametrize("code", ["PR", "XK", "GB", "IN", "US", "CA"])
    def test_iso_codes_accepted(self, code: str) -> None:
        """ISO codes (and PR, XK) are accepted."""
        assert Applicant.from_dict({"school": {"country": code}}).school.country == code

    def test_citizenship_entry_suggestion(self) -> None:
        """A bad country inside ``citizenship`` is named by index and gets the suggestion."""
        err = invalid({"person": {"citizenship": ["IN", "UK"]}})
        assert err.path == "person.citizenship[1]" and "'GB'" in str(err)

    def test_offer_state_suggestion(self) -> None:
        """A lower-case postal code is rejected with the upper-case code suggested."""
        err = invalid({"offer": {"state": "tx"}})
        assert err.path == "offer.state" and "did you mean 'TX'?" in str(err)

    def test_interest_states_item(self) -> None:
        """An unknown state in ``interest.states`` is named by index."""
        assert invalid({"interest": {"states": ["TX", "ZZ"]}}).path == "interest.states[1]"


class TestJurisdictions:
    @pytest.mark.parametrize("code", ["US-TX", "US-NY", "US-PR", "US-DC", "US-GU", "IN", "GB", "US"])
    def test_accepted(self, code: str) -> None:
        """A license jurisdiction is an ISO country code or ``US-XX`` with a U.S. postal code."""
        a = Applicant.from_dict({"licenses": [{"jurisdiction": code}]})
        assert a.licenses[0].jurisdiction == code

    def test_bare_state_suggests_us_prefix(self) -> None:
        """A bare state code ``TX`` is rejected with ``US-TX`` suggested."""
        err = invalid({"licenses": [{"jurisdiction": "TX"}]})
        assert err.path == "licenses[0].jurisdiction" and "did you mean 'US-TX'?" in str(err)

    @pytest.mark.parametrize("code", ["US-ZZ", "US-", "us-tx", "US-TXX", "USA-TX", "Texas"])
    def test_rejected(self, code: str) -> None:
        """Unknown states after ``US-``, lower case and other spellings are rejected."""
        err = invalid({"licenses": [{"jurisdiction": code}]})
        assert err.path == "licenses[0].jurisdiction" and "US-XX" in str(err)


# --------------------------------------------------------------------------- absent, null, none


def _img(**school: Any) -> dict[str, Any]:
    return {"school": {"country": "IN", "graduated": "2020-06-30", **school}}


class TestEcfmgNote:
    def test_false_means_no_note(self) -> None:
        """``ecfmg_note = false`` is kept as False (known: the school has no sponsor note)."""
        a = Applicant.from_dict(_img(ecfmg_note=False))
        assert a.school.ecfmg_note is False
        assert a.to_dict()["school"]["ecfmg_note"] is False

    def test_absent_means_unknown(self) -> None:
        """An absent ``ecfmg_note`` is None (unknown) and omitted from ``to_dict``."""
        a = Applicant.from_dict(_img())
        assert a.school.ecfmg_note is None and "ecfmg_note" not in a.to_dict()["school"]

    def test_true_rejected(self) -> None:
        """``ecfmg_note = true`` is ambiguous and rejected: give the years covered or false."""
        err = invalid(_img(ecfmg_note=True))
        assert err.path == "school.ecfmg_note" and "false" in str(err)

    def test_table_reads_from_key(self) -> None:
        """``{ from = 1990 }`` is read into ``from_`` and written back as ``from``."""
        a = Applicant.from_dict(_img(ecfmg_note={"from": 1990}))
        assert a.school.ecfmg_note == EcfmgNote(from_=1990)
        assert a.to_dict()["school"]["ecfmg_note"] == {"from": 1990}

    def test_false_and_absent_evaluate_differently(self) -> None:
        """For an IMG, no note makes ``ecfmg_eligible`` NO while an unknown note leaves it UNKNOWN."""
        no_note = imgpath.evaluate(_img(ecfmg_note=False), as_of=AS_OF)
        unknown = imgpath.evaluate(_img(), as_of=AS_OF)
        covered = imgpath.evaluate(_img(ecfmg_note={"from": 1990}), as_of=AS_OF)
        assert no_note.verdict("ecfmg_eligible") is Verdict.NO
        assert unknown.verdict("ecfmg_eligible") is Verdict.UNKNOWN
        assert covered.verdict("ecfmg_eligible") is Verdict.YES


class TestNullAndEmpty:
    def test_null_is_absent(self) -> None:
        """A JSON null field reads exactly like an absent one, at every level."""
        with_nulls = {"as_of": None, "person": {"us_status": "none", "in_us": None}, "school": None,
                      "exams": None, "offer": {"h1b_petition": None}}
        without = {"person": {"us_status": "none"}, "offer": {}}
        assert Applicant.from_dict(with_nulls) == Applicant.from_dict(without)

    def test_null_list_entry_rejected(self) -> None:
        """A null inside a list is not an entry: it is rejected with its index."""
        assert invalid({"exams": [None]}).path == "exams[0]"

    def test_empty_list_vs_absent(self) -> None:
        """``exams = []`` (no exam ever taken) and an absent ``exams`` (unknown) stay distinct."""
        empty = Applicant.from_dict({"exams": []})
        absent = Applicant.from_dict({})
        assert empty.exams == () and absent.exams is None and empty != absent
        assert empty.to_dict() == {"schema": 1, "exams": []} and absent.to_dict() == {"schema": 1}
        assert Applicant.from_dict(empty.to_dict()) == empty

    def test_empty_list_vs_absent_verdicts(self) -> None:
        """With ``exams = []`` the exams are known not met (NO); with no ``exams`` they are UNKNOWN."""
        empty = imgpath.evaluate({**_img(), "exams": []}, as_of=AS_OF)
        absent = imgpath.evaluate(_img(), as_of=AS_OF)
        assert empty.verdict("ecfmg_exams_met") is Verdict.NO
        assert absent.verdict("ecfmg_exams_met") is Verdict.UNKNOWN

    def test_empty_section_is_present(self) -> None:
        """An empty section is present (``[ecfmg]`` with nothing: no certificate) and survives a round trip."""
        a = Applicant.from_dict({"ecfmg": {}})
        assert a.ecfmg is not None and a.ecfmg.certified is None
        assert Applicant.from_dict(a.to_dict()) == a


class TestSchemaVersion:
    @pytest.mark.parametrize("schema", [2, 0, "1", True, 1.5, math.nan])
    def test_other_versions_rejected(self, schema: Any) -> None:
        """Only schema 1 is read; other versions and types are rejected at ``schema``."""
        assert invalid({"schema": schema}).path == "schema"

    @pytest.mark.parametrize("kind", ["deep", "huge-string"])
    def test_pathological_schema_value(self, kind: str) -> None:
        """A pathological ``schema`` value is InvalidFacts at ``schema`` with a short message."""
        value: Any = "x" * 1_000_000
        if kind == "deep":
            value = 1
            for _ in range(10_000):
                value = [value]
        err = invalid({"schema": value})
        assert err.path == "schema" and len(str(err)) < 1000

    def test_default_and_explicit(self) -> None:
        """``schema`` may be omitted or given as 1."""
        assert Applicant.from_dict({"schema": 1}) == Applicant.from_dict({}) == Applicant()


# --------------------------------------------------------------------------- round trip


class TestRoundTrip:
    def test_example_document(self) -> None:
        """A document using every section round-trips through ``to_dict``/``from_dict``."""
        doc = {
            "schema": 1, "as_of": "2026-01-15",
            "person": {"citizenship": ["IN"], "us_status": "none", "in_us": False},
            "school": {"name": "Example", "country": "IN", "degree": "MBBS", "ecfmg_note": {"from": 1990},
                       "graduated": "2022-06-30", "accreditors": ["NMC"]},
            "exams": [{"exam": "step1", "date": "2023-05-10", "result": "pass", "score": 250},
                      {"exam": "oet", "date": "2023-08-01", "listening": 350, "reading": 350,
                       "writing": 350, "speaking": 350}],
            "ecfmg": {"certified": "2025-03-01", "expires": "2027-12-31",
                      "pathway": {"number": 1, "season": 2025, "accepted": "2024-09-10"}},
            "licenses": [{"jurisdiction": "IN", "kind": "full", "issued": "2022-08-01"}],
            "training": [{"country": "US", "accreditor": "ACGME", "start": "2023-07-01"}],
            "practice": [{"country": "IN", "start": "2019-01-01", "end": "2023-06-30"}],
            "match": {"season": 2026, "letters": 4},
            "offer": {"state": "NY", "visa_sponsorship": ["j1"], "h1b_petition": {"filed": "2026-02-01",
                                                                                 "kind": "new"}},
            "interest": {"states": ["NY", "TX"]},
        }
        a = Applicant.from_dict(doc)
        assert a.to_dict() == doc
        assert Applicant.from_dict(a.to_dict()) == a

    @given(ips.applicants())
    def test_round_trip_property(self, a: Applicant) -> None:
        """Round trip: ``Applicant.from_dict(a.to_dict()) == a`` for every generated applicant."""
        assert Applicant.from_dict(a.to_dict()) == a

    @given(ips.applicants())
    def test_json_round_trip_property(self, a: Applicant) -> None:
        """``to_dict`` is JSON-serialisable and survives ``json.dumps``/``json.loads`` unchanged."""
        text = json.dumps(a.to_dict(), allow_nan=False)
        assert Applicant.from_dict(json.loads(text)) == a

    @given(ips.applicants())
    def test_to_dict_is_a_fixed_point(self, a: Applicant) -> None:
        """``to_dict`` is canonical: serialising the re-read document gives the same dict."""
        assert Applicant.from_dict(a.to_dict()).to_dict() == a.to_dict()


# --------------------------------------------------------------------------- loading files


class TestLoadApplicant:
    def test_toml(self, tmp_path: Path) -> None:
        """A .toml document loads, native TOML dates included."""
        p = tmp_path / "a.toml"
        p.write_text('as_of = 2026-01-15\n[school]\ncountry = "IN"\ngraduated = 2022-06-30\n'
                     '[[exams]]\nexam = "step1"\nresult = "pass"\ndate = 2023-05-10\n')
        a = load_applicant(p)
        assert a.school.graduated == dt.date(2022, 6, 30) and a.exams[0] == Exam(
            exam="step1", result="pass", date=dt.date(2023, 5, 10))
        assert imgpath.load_applicant(str(p)) == a

    def test_json(self, tmp_path: Path) -> None:
        """A .json document loads and equals the same document given as a dict."""
        doc = {"school": {"country": "IN", "graduated": "2022-06-30"}, "exams": []}
        p = tmp_path / "a.json"
        p.write_text(json.dumps(doc))
        assert load_applicant(p) == Applicant.from_dict(doc)

    def test_suffix_is_case_insensitive(self, tmp_path: Path) -> None:
        """``A.JSON`` is read as JSON."""
        p = tmp_path / "A.JSON"
        p.write_text('{"school": {"country": "IN"}}')
        assert load_applicant(p) == Applicant.from_dict({"school": {"country": "IN"}})

    def test_bad_field_names_file_and_field(self, tmp_path: Path) -> None:
        """A schema error in a file names the file and the field path."""
        p = tmp_path / "bad.toml"
        p.write_text('[[exams]]\nexam = "step1"\n[[exams]]\nexam = "step1"\ndate = "2023-02-30"\n')
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        err = info.value
        assert err.file == str(p) and err.path == "exams[1].date"
        assert str(err).startswith(f"{p}: exams[1].date: ")

    def test_bad_json(self, tmp_path: Path) -> None:
        """Malformed JSON is InvalidFacts naming the file, not a JSONDecodeError."""
        p = tmp_path / "broken.json"
        p.write_text('{"person": {"us_status": "none",}')
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p) and "JSON" in str(info.value)
        assert not isinstance(info.value, json.JSONDecodeError)

    def test_json_duplicate_keys(self, tmp_path: Path) -> None:
        """A repeated key is refused, not silently resolved to the last value (issue 14, finding 12)."""
        p = tmp_path / "dup.json"
        p.write_text('{"person": {"us_status": "citizen", "us_status": "none"}}')
        with pytest.raises(InvalidFacts, match="appears twice") as info:
            load_applicant(p)
        assert info.value.file == str(p)

    def test_bad_toml(self, tmp_path: Path) -> None:
        """Malformed TOML (an impossible date literal) is InvalidFacts naming the file."""
        p = tmp_path / "broken.toml"
        p.write_text("as_of = 2023-02-30\n")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p) and "TOML" in str(info.value)

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_json_non_finite_constants(self, tmp_path: Path, constant: str) -> None:
        """JSON's non-standard NaN/Infinity constants are rejected, naming the file."""
        p = tmp_path / "nan.json"
        p.write_text('{"exams": [{"exam": "step1", "score": ' + constant + "}]}")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p)

    def test_toml_nan(self, tmp_path: Path) -> None:
        """TOML's ``nan`` literal is rejected at the field."""
        p = tmp_path / "nan.toml"
        p.write_text("[match]\nus_clinical_months = nan\n")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.path == "match.us_clinical_months" and info.value.file == str(p)

    def test_toml_datetime(self, tmp_path: Path) -> None:
        """A TOML datetime where a date is expected is rejected at the field."""
        p = tmp_path / "dt.toml"
        p.write_text("[ecfmg]\ncertified = 2025-03-01T10:00:00\n")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.path == "ecfmg.certified"

    @pytest.mark.parametrize("name", ["a.yaml", "a.txt", "a", "a.toml.bak"])
    def test_wrong_suffix(self, tmp_path: Path, name: str) -> None:
        """Only .toml and .json are read; another suffix is InvalidFacts naming the file."""
        p = tmp_path / name
        p.write_text("{}")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p) and ".toml or .json" in str(info.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that does not exist is InvalidFacts naming it (not FileNotFoundError)."""
        p = tmp_path / "missing.toml"
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p)

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are InvalidFacts naming the file."""
        p = tmp_path / "latin.json"
        p.write_bytes(b'{"school": {"name": "\xe9cole"}}')
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p)

    def test_json_top_level_list(self, tmp_path: Path) -> None:
        """A JSON file holding a list is rejected as not a table, naming the file."""
        p = tmp_path / "list.json"
        p.write_text("[]")
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p)

    @pytest.mark.parametrize(("name", "text"), [
        ("deep.json", '{"person": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("deep.toml", "person = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ])
    def test_deeply_nested_file(self, tmp_path: Path, name: str, text: str) -> None:
        """A pathologically nested file is InvalidFacts naming the file, not a RecursionError."""
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(InvalidFacts) as info:
            load_applicant(p)
        assert info.value.file == str(p)


# --------------------------------------------------------------------------- evolve and with_facts


class TestEvolveAndWithFacts:
    base = Applicant.from_dict({"person": {"us_status": "none", "in_us": False, "citizenship": ["IN"]},
                                "school": {"country": "IN", "graduated": "2022-06-30"},
                                "exams": [{"exam": "step1", "result": "pass", "date": "2023-05-10"}]})

    def test_evolve_with_dict_section(self) -> None:
        """``evolve`` replaces a whole section given as a dict, validating it."""
        b = self.base.evolve(person={"us_status": "citizen"})
        assert b.person.us_status == "citizen" and b.person.in_us is None
        assert b.school == self.base.school

    def test_evolve_with_list(self) -> None:
        """``evolve`` replaces a list section given as a list of dicts."""
        b = self.base.evolve(exams=[{"exam": "step2ck", "result": "fail"}])
        assert [e.exam for e in b.exams] == ["step2ck"]

    def test_evolve_none_makes_unknown(self) -> None:
        """``evolve(section=None)`` removes the section (unknown)."""
        assert self.base.evolve(exams=None).exams is None

    def test_evolve_leaves_original(self) -> None:
        """``evolve`` returns a copy; the (frozen) original is unchanged."""
        self.base.evolve(school={"country": "US"})
        assert self.base.school.country == "IN"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            self.base.school.country = "US"  # type: ignore[misc]

    def test_evolve_validates_with_path(self) -> None:
        """A bad value given to ``evolve`` is InvalidFacts with the path from the section name."""
        with pytest.raises(InvalidFacts) as info:
            self.base.evolve(exams=[{"exam": "step1"}, {"exam": "stepx"}])
        assert info.value.path == "exams[1].exam"

    def test_evolve_unknown_section(self) -> None:
        """``evolve`` with an unknown section name is InvalidFacts with a suggestion."""
        with pytest.raises(InvalidFacts) as info:
            self.base.evolve(persn={"us_status": "none"})
        assert "did you mean 'person'?" in str(info.value)

    def test_with_facts_merges_sections(self) -> None:
        """``with_facts`` merges a section key by key, keeping the others."""
        b = self.base.with_facts({"person": {"in_us": True}})
        assert (b.person.in_us, b.person.us_status, b.person.citizenship) == (True, "none", ("IN",))

    def test_with_facts_replaces_lists_whole(self) -> None:
        """``with_facts`` replaces a list section whole (lists are complete records)."""
        b = self.base.with_facts({"exams": [{"exam": "step2ck", "result": "pass"}]})
        assert [e.exam for e in b.exams] == ["step2ck"]

    def test_with_facts_null_removes_field(self) -> None:
        """A null in ``with_facts`` makes that field unknown again."""
        b = self.base.with_facts({"person": {"in_us": None}, "exams": None})
        assert b.person.in_us is None and b.exams is None and b.person.us_status == "none"

    def test_with_facts_adds_section(self) -> None:
        """``with_facts`` adds a section that was absent."""
        assert self.base.with_facts({"match": {"season": 2027}}).match.season == 2027

    def test_with_facts_validates(self) -> None:
        """``with_facts`` validates the merged document and names the field."""
        with pytest.raises(InvalidFacts) as info:
            self.base.with_facts({"school": {"graduated": "2022-02-30"}})
        assert info.value.path == "school.graduated"

    def test_evaluation_with_facts(self) -> None:
        """``Evaluation.with_facts`` re-evaluates the what-if on the same date."""
        ev = imgpath.evaluate(self.base, as_of=AS_OF)
        assert ev.verdict("ecfmg_exams_met") is Verdict.NO
        again = ev.with_facts(exams=[{"exam": "step1", "result": "pass", "date": "2023-05-10"},
                                     {"exam": "step2ck", "result": "pass", "date": "2023-09-10"}])
        assert again.as_of == AS_OF and again.verdict("ecfmg_exams_met") is Verdict.YES
