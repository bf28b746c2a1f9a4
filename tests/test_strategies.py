"""The shipped hypothesis strategies (imgpath.strategies) keep the promises their docstrings make:
valid documents with realistic structure — dates in order, scores in range, attempts with
application dates — and the narrower strategies stay within their kind."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import Applicant, Verdict
from imgpath import strategies as ips

USMLE = ("step1", "step2ck", "step2cs", "step3")


def _doc(a: Applicant) -> dict:
    return a.to_dict()


@given(ips.applicants())
def test_documents_are_valid_and_round_trip(a: Applicant) -> None:
    """Every drawn applicant is schema-valid and survives to_dict / from_dict unchanged."""
    assert Applicant.from_dict(a.to_dict()) == a


@settings(max_examples=300)
@given(ips.imgs())
def test_dates_are_in_order(a: Applicant) -> None:
    """An application precedes its exam; attempts at one Step are in date order and stop at a pass;
    a certificate follows the Step 1 and Step 2 CK passes and graduation, and expires after it;
    training starts after graduation."""
    exams = list(a.exams or ())
    for e in exams:
        if e.applied is not None:
            assert e.applied <= e.date
    for step in USMLE:
        attempts = [e for e in exams if e.exam == step]
        assert [e.date for e in attempts] == sorted(e.date for e in attempts)
        assert all(e.result != "pass" for e in attempts[:-1])
    graduated = a.school.graduated if a.school else None
    if a.ecfmg is not None and a.ecfmg.certified is not None:
        # no certificate before the passes it certifies, nor before (or without) the graduation
        passes = [e.date for e in exams if e.exam in ("step1", "step2ck") and e.result == "pass"]
        assert len(passes) == 2 and a.ecfmg.certified >= max(passes)
        assert graduated is not None and a.ecfmg.certified >= graduated
        assert a.ecfmg.expires is None or a.ecfmg.expires > a.ecfmg.certified
    for t in a.training or ():
        assert graduated is None or t.start >= graduated
        assert t.end is None or t.end >= t.start


@given(ips.oet_sittings())
def test_oet_sub_scores_in_range(sitting: dict) -> None:
    """OET Medicine sub-scores lie on the 0-500 scale."""
    for part in ("listening", "reading", "writing", "speaking"):
        assert part not in sitting or 0 <= sitting[part] <= 500


@given(st.integers(2022, 2027).flatmap(lambda s: st.tuples(st.just(s), ips.oet_sittings(season=s))))
def test_oet_sittings_for_a_season(drawn: tuple[int, dict]) -> None:
    """oet_sittings(season=S) dates the sitting in the three calendar years before the Match year."""
    season, sitting = drawn
    assert dt.date(season - 3, 1, 1) <= sitting["date"] <= dt.date(season - 1, 12, 31)


@given(ips.exam_histories(start=dt.date(2019, 1, 1), end=dt.date(2024, 12, 31), img=False))
def test_exam_histories_respect_their_window(exams: list[dict]) -> None:
    """exam_histories(start, end, img=False): USMLE attempts in the window, no OET for non-IMGs."""
    assert all(e["exam"] != "oet" for e in exams)
    assert all(dt.date(2019, 1, 1) <= e["date"] <= dt.date(2024, 12, 31) for e in exams)


@given(ips.as_of_dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
def test_as_of_dates_within_bounds(d: dt.date) -> None:
    assert dt.date(2025, 1, 1) <= d <= dt.date(2025, 12, 31)


@given(st.one_of(ips.imgs().map(lambda a: ("img", a)), ips.us_graduates().map(lambda a: ("us", a)),
                 ips.canadian_graduates().map(lambda a: ("canadian", a))))
def test_narrow_strategies_stay_in_their_kind(drawn: tuple[str, Applicant]) -> None:
    """imgs() are schools abroad (so always IMGs), us_graduates() U.S. or Puerto Rico schools (never
    IMGs), canadian_graduates() Canadian schools."""
    kind, a = drawn
    country = a.school.country
    if kind == "img":
        assert country not in ("US", "PR", "CA")
        assert imgpath.evaluate(a).verdict("img") is Verdict.YES
    elif kind == "us":
        assert country in ("US", "PR")
        assert imgpath.evaluate(a).verdict("img") is Verdict.NO
    else:
        assert country == "CA"


@given(ips.applicants(complete=True))
def test_complete_documents_leave_no_record_unknown(a: Applicant) -> None:
    """complete=True: person, graduation, exams, licenses, training and practice are always present."""
    assert a.person is not None and a.school.graduated is not None
    for section in (a.exams, a.licenses, a.training, a.practice):
        assert section is not None
    if a.school.country not in ("US", "PR", "CA"):
        assert a.ecfmg is not None and a.ecfmg.application_submitted is not None
        assert a.ecfmg.credentials_verified is not None


@settings(max_examples=10, deadline=None)
@given(ips.facts_for("ecfmg_exams_met"))
def test_facts_for_steers_to_yes(a: Applicant) -> None:
    """facts_for(conclusion) only yields applicants for whom the conclusion is YES."""
    assert imgpath.evaluate(a, as_of=a.as_of).verdict("ecfmg_exams_met") is Verdict.YES


def test_importing_imgpath_does_not_import_hypothesis() -> None:
    """The strategies need the testing extra; `import imgpath` alone never imports hypothesis."""
    import subprocess
    import sys

    code = "import sys, imgpath; imgpath.evaluate({}); print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


SEASONS = imgpath.rulebook().season_table()


@settings(max_examples=300)
@given(ips.imgs())
def test_pathways_are_possible(a: Applicant) -> None:
    """No Pathway for a season before the Pathways began (the first season the rulebook holds, 2021),
    and none accepted before its season's applications opened (the season's figure where the data
    has one; ECFMG never opened a season's Pathways before June of the year before its Match)."""
    pathway = a.ecfmg.pathway if a.ecfmg is not None else None
    if pathway is None:
        return
    assert pathway.season >= min(SEASONS.rows) == 2021
    opens = SEASONS.cell(pathway.season, "pathways_application_opens")
    if opens is not None:
        assert pathway.accepted >= opens.value
    assert pathway.accepted >= dt.date(pathway.season - 1, 6, 1)


@settings(max_examples=300)
@given(ips.imgs())
def test_no_revalidation_after_as_of(a: Applicant) -> None:
    """A revalidation is of an accepted Pathway, for a later season, and no later than the Match
    season of as_of (its application is open by then): never one that happens after as_of."""
    if a.ecfmg is None or a.ecfmg.revalidated is None:
        return
    pathway = a.ecfmg.pathway
    assert pathway is not None and pathway.accepted <= a.as_of
    assert pathway.season < a.ecfmg.revalidated <= imgpath.evaluate({"school": {"country": "IN"}}, as_of=a.as_of).season


def test_canadian_graduations_sample_the_end_of_lcme_accreditation() -> None:
    """Canadian graduates are drawn on the last LCME day (2025-06-30) and the day after on purpose, and
    evaluation dates on Match Day and the day after (season boundaries) and on law-change days."""
    from hypothesis import find

    for day in (dt.date(2025, 6, 30), dt.date(2025, 7, 1)):
        found = find(ips.canadian_graduates(), lambda a, day=day: a.school.graduated == day,
                     settings=settings(max_examples=500, database=None))
        assert found.school.country == "CA"
    assert dt.date(2025, 6, 30) in ips.graduation_boundaries()
    for day in (dt.date(2026, 3, 20), dt.date(2026, 3, 21), dt.date(2025, 9, 21)):
        assert day in ips.law_dates()
        find(ips.as_of_dates(), lambda d, day=day: d == day, settings=settings(max_examples=500, database=None))


def test_no_certificate_without_the_graduation_it_certifies() -> None:
    """A search for a drawn IMG holding a certificate but no graduation date finds none."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    with pytest.raises(NoSuchExample):
        find(ips.imgs(), lambda a: a.ecfmg is not None and a.ecfmg.certified is not None
             and a.school.graduated is None, settings=settings(max_examples=1000, database=None))
