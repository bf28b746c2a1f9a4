"""Hypothesis strategies for applicant documents (needs the ``testing`` extra: ``pip install imgpath[testing]``).

For property tests of imgpath itself and of tools built on it::

    import imgpath
    from hypothesis import given
    from imgpath import strategies as ips

    @given(ips.applicants())
    def test_never_crashes(doc):
        ev = imgpath.evaluate(doc, as_of=doc.as_of)
        assert ev.verdict("img") in set(imgpath.Verdict)

Every strategy yields :class:`imgpath.Applicant` objects whose dates are in a
realistic order (school → exams → certificate → training) and whose fields
are each sometimes absent, so unknowns are exercised too. ``facts_for``
steers generation toward applicants for whom a conclusion holds.

>>> from hypothesis import find
>>> doc = find(imgs(), lambda a: a.school.country == "IN")
>>> doc.school.country
'IN'
"""

from __future__ import annotations

import datetime as _dt
import functools
from typing import Any

from hypothesis import strategies as st

from . import expressions as ex
from .context import match_day, season_for
from .errors import InvalidFacts
from .evaluation import evaluate
from .facts import Applicant
from .horizon import horizon
from .rulebook import rulebook

__all__ = [
    "ANY_DATE",
    "applicants",
    "as_of_dates",
    "canadian_graduates",
    "exam_histories",
    "facts_for",
    "graduation_boundaries",
    "imgs",
    "law_dates",
    "oet_sittings",
    "pathway_opening",
    "us_graduates",
]

#: Dates the rulebook has rules for (2019 to 2028).
ANY_DATE = (_dt.date(2019, 1, 1), _dt.date(2028, 12, 31))
_IMG_COUNTRIES = ["IN", "PK", "NG", "PH", "EG", "DM", "GD", "KN", "MX", "CN", "IR", "GB", "RU", "SY", "BR"]
_STATES = ["TX", "NY", "CA", "FL", "TN", "IL", "VA", "PA", "OH", "MI"]
_STATUSES = ["citizen", "permanent_resident", "daca", "h1b", "j1", "f1", "tn", "other", "none"]


def _maybe(strategy: st.SearchStrategy[Any], p_absent: float = 0.2) -> st.SearchStrategy[Any]:
    """The strategy's value, or None (absent: unknown) about ``p_absent`` of the time."""
    return st.one_of(st.just(None), strategy) if p_absent else strategy


def _date_between(lo: _dt.date, hi: _dt.date) -> st.SearchStrategy[_dt.date]:
    if hi < lo:
        hi = lo
    return st.dates(min_value=lo, max_value=hi)


# --------------------------------------------------------------------------- what the rulebook says
# The dates where answers change are read from the rules' data, never listed here (issue 15 #5).


@functools.cache
def _season_bounds() -> tuple[int, int]:
    """The first and last Match seasons the rulebook holds (its season table's rows)."""
    table = rulebook().season_table()
    held = sorted(table.rows) if table is not None else [ANY_DATE[0].year + 1, ANY_DATE[1].year]
    return held[0], held[-1]


@functools.cache
def law_dates() -> tuple[_dt.date, ...]:
    """Dates on which an answer can change for reasons of law or calendar, read from the rulebook:
    every day a rule enters or leaves force, every date literal in a condition (and the day after),
    every dated figure of a parameter table (a season's Match Day, rank-order-list deadline, OET
    window, Pathway cut-offs), the days after each Match Day, and the day the rulebook's horizon
    passes (:mod:`imgpath.horizon`).

    >>> _dt.date(2025, 9, 21) in law_dates(), _dt.date(2025, 6, 30) in law_dates()
    (True, True)
    """
    book = rulebook()
    out: set[_dt.date] = set(book.change_dates())
    for rule in book.rules:
        for cond in rule.when:
            for node in ex.walk(cond):
                if isinstance(node, ex.Const):
                    for v in node.value if isinstance(node.value, tuple) else (node.value,):
                        if isinstance(v, _dt.date):
                            out.update((v, v + _dt.timedelta(days=1)))
    for table in book.tables.values():
        for _, _, cell in table.cells():
            if isinstance(cell.value, _dt.date):
                out.update((cell.value, cell.value + _dt.timedelta(days=1)))
    first, last = _season_bounds()
    for year in range(first, last + 2):
        day = match_day(book, year)[0]
        out.update((day, day + _dt.timedelta(days=1)))
    h = horizon(book)
    if h.checked is not None:
        edge = ex.add_months(h.checked, h.warn_after_months)
        out.update((edge, edge + _dt.timedelta(days=1)))
    return tuple(sorted(d for d in out if ANY_DATE[0] <= d <= ANY_DATE[1]))


def _compared_dates(fields: frozenset[str]) -> tuple[_dt.date, ...]:
    """Date literals the rules compare one of ``fields`` (dotted paths) with, each with the day after."""
    out: set[_dt.date] = set()
    for rule in rulebook().rules:
        for cond in rule.when:
            for node in ex.walk(cond):
                if isinstance(node, ex.Cmp) and any(isinstance(x, ex.Field) and x.dotted in fields
                                                    for x in (node.left, node.right)):
                    for x in (node.left, node.right):
                        if isinstance(x, ex.Const) and isinstance(x.value, _dt.date):
                            out.update((x.value, x.value + _dt.timedelta(days=1)))
    return tuple(sorted(out))


@functools.cache
def graduation_boundaries() -> tuple[_dt.date, ...]:
    """The graduation dates the rules compare with (the end of LCME accreditation of Canadian schools,
    2025-06-30, and the day after), read from the conditions on ``school.graduated`` and
    ``school.expected_graduation`` with a literal date.

    >>> _dt.date(2025, 6, 30) in graduation_boundaries(), _dt.date(2025, 7, 1) in graduation_boundaries()
    (True, True)
    """
    return _compared_dates(frozenset({"school.graduated", "school.expected_graduation"}))


@functools.cache
def _pathways_era() -> _dt.date:
    """The first day of the Pathways era, when certificates began to carry an expiry: the date the
    rules compare ``ecfmg.certified`` with (certificates issued before it are permanent)."""
    return min(_compared_dates(frozenset({"ecfmg.certified"})), default=ANY_DATE[0])


def pathway_opening(season: int) -> _dt.date:
    """The first day a Pathway application for ``season`` could be accepted: the season's
    ``pathways_application_opens`` figure, else the earliest opening the data records, in the year
    before the Match (ECFMG opens each season's Pathways in the summer or autumn before it).

    >>> pathway_opening(2026), pathway_opening(2024)
    (datetime.date(2025, 8, 19), datetime.date(2023, 8, 19))
    """
    table = rulebook().season_table()
    cell = table.cell(season, "pathways_application_opens") if table is not None else None
    if cell is not None:
        return cell.value  # type: ignore[no-any-return]
    known = [row["pathways_application_opens"].value for row in (table.rows.values() if table else ())
             if "pathways_application_opens" in row]
    month, day = min(((d.month, d.day) for d in known), default=(8, 1))
    return _dt.date(season - 1, month, day)


@functools.cache
def _first_revalidation_season() -> int:
    """The first season a Pathways Revalidation can be for: that of the first day a rule reading
    ``ecfmg.revalidated`` is in force."""
    book = rulebook()
    starts = [r.effective_from for r in book.rules
              if any(isinstance(n, ex.Field) and n.dotted == "ecfmg.revalidated"
                     for c in r.when for n in ex.walk(c))]
    return season_for(book, Applicant(), min(starts)) if starts else _season_bounds()[1] + 1


def as_of_dates(lo: _dt.date = ANY_DATE[0], hi: _dt.date = ANY_DATE[1]) -> st.SearchStrategy[_dt.date]:
    """Evaluation dates, biased toward the dates on which the law or the season changes
    (:func:`law_dates`, read from the rulebook): about half the draws fall on one of them."""
    key_dates = [d for d in law_dates() if lo <= d <= hi]
    return st.one_of(st.sampled_from(key_dates or [lo]), st.dates(lo, hi))


@st.composite
def oet_sittings(draw: st.DrawFn, season: int | None = None, *, after: _dt.date | None = None,
                 before: _dt.date | None = None) -> dict[str, Any]:
    """One OET Medicine sitting (sub-scores 0-500), dated for ``season`` when given."""
    lo = after or (_dt.date(season - 3, 1, 1) if season else _dt.date(2018, 1, 1))
    hi = before or (_dt.date(season - 1, 12, 31) if season else _dt.date(2027, 12, 31))
    score = st.one_of(st.integers(250, 500), st.sampled_from([290, 300, 340, 350, 360]))
    out: dict[str, Any] = {"exam": "oet", "date": draw(_date_between(lo, hi))}
    for part in ("listening", "reading", "writing", "speaking"):
        value = draw(_maybe(score, 0.1))
        if value is not None:
            out[part] = value
    return out


@st.composite
def exam_histories(draw: st.DrawFn, *, start: _dt.date = _dt.date(2016, 1, 1),
                   end: _dt.date = _dt.date(2027, 12, 31), img: bool = True) -> list[dict[str, Any]]:
    """Attempts at the USMLE Steps (and OET for IMGs), in date order, with application dates."""
    exams: list[dict[str, Any]] = []
    cursor = draw(_date_between(start, min(end, start + _dt.timedelta(days=1500))))
    steps = ["step1", "step2ck"] + (["step2cs"] if draw(st.booleans()) and cursor < _dt.date(2020, 3, 1) else [])
    if draw(st.booleans()):
        steps.append("step3")
    for step in steps:
        for _ in range(draw(st.integers(0, 5))):
            if cursor > end:
                break
            result = draw(st.sampled_from(["pass", "pass", "pass", "fail", "fail", "incomplete", "invalidated"]))
            exam: dict[str, Any] = {"exam": step, "date": cursor, "result": result}
            if draw(st.booleans()):
                exam["applied"] = cursor - _dt.timedelta(days=draw(st.integers(20, 200)))
            if step in ("step1",) and cursor < _dt.date(2022, 1, 26) and result != "incomplete":
                exam["score"] = draw(st.integers(180, 270))
            exams.append(exam)
            cursor += _dt.timedelta(days=draw(st.integers(30, 400)))
            if result == "pass":
                break
    if img:
        for _ in range(draw(st.integers(0, 2))):
            exams.append(draw(oet_sittings(after=_dt.date(2018, 1, 1), before=end)))
    if draw(st.integers(0, 9)) == 0:
        exams.append({"exam": "texas_jp", "date": min(cursor, end), "result": "pass"})
    return exams


@st.composite
def _person(draw: st.DrawFn, citizenship: list[str], complete: bool = False) -> dict[str, Any]:
    status = draw(st.sampled_from(_STATUSES))
    if "US" in citizenship:
        status = "citizen"
    person: dict[str, Any] = {"citizenship": citizenship, "us_status": status}
    for key in ("in_us", "work_authorized", "us_family"):
        value = draw(_maybe(st.booleans(), 0.0 if complete else 0.3))
        if value is not None:
            person[key] = value
    return {k: v for k, v in person.items() if complete or draw(st.integers(0, 9)) > 0 or k == "citizenship"}


@st.composite
def _school(draw: st.DrawFn, country: str, graduated: _dt.date | None, complete: bool = False) -> dict[str, Any]:
    school: dict[str, Any] = {"country": country}
    if country in ("US", "PR"):
        degree = draw(st.sampled_from(["MD", "DO"])) if country == "US" else "MD"
        school["accreditors"] = ["LCME"] if degree == "MD" else ["COCA"]
        if complete or draw(st.booleans()):
            school["degree"] = degree
    elif country == "CA":
        school["degree"] = "MD"
        school["accreditors"] = draw(st.sampled_from([["LCME", "CACMS"], ["CACMS"]]))
    else:
        school["degree"] = draw(st.sampled_from(["MBBS", "MD", "other"]))
        school["wdoms_listed"] = True
        note = draw(st.sampled_from([{"from": 1980}, {"from": 1990, "to": 2030}, {"from": 2023}, False,
                                     *([] if complete else [None])]))
        if note is not None:
            school["ecfmg_note"] = note
        for key in ("wfme_recognized", "ncfmea_comparable", "joint_lcme_degree", "osce_for_licensure"):
            value = draw(_maybe(st.booleans(), 0.0 if complete else 0.3))
            if value is not None:
                school[key] = value
    fifth = draw(_maybe(st.just(False), 0.0 if complete else 0.4))
    if fifth is not None:
        school["fifth_pathway"] = fifth
    if graduated is not None:
        school["graduated"] = graduated
    return school


@st.composite
def applicants(draw: st.DrawFn, *, kind: str | None = None,
               as_of: st.SearchStrategy[_dt.date] | None = None, complete: bool = False) -> Applicant:
    """Applicants across the whole schema: ``kind`` is ``img``, ``us`` or ``canadian`` (default any).

    By default sections and fields are often absent (unknown), to exercise three-valued answers.
    ``complete=True`` draws documents whose records are complete — person, graduation date, exams,
    licenses, training, practice and (for IMGs) the ECFMG section always present, with the
    application and verification flags known — as an advisor's intake form would have them.
    """
    when = draw(as_of if as_of is not None else as_of_dates())
    kind = kind or draw(st.sampled_from(["img", "img", "img", "us", "canadian"]))
    if kind == "img":
        country = draw(st.sampled_from(_IMG_COUNTRIES))
    elif kind == "us":
        country = draw(st.sampled_from(["US", "US", "PR"]))
    else:
        country = "CA"
    citizenship = draw(st.sampled_from([[country if country not in ("PR",) else "US"], ["US"],
                                        [country if country != "PR" else "US", "US"], ["IN"]]))
    # graduation: any date up to a planned one 500 days ahead, and a third of the time a date the rules
    # compare graduation with (for Canadian schools: the last LCME day and the day after)
    boundaries = [d for d in graduation_boundaries() if d <= when + _dt.timedelta(days=500)]
    when_graduated = _date_between(_dt.date(2005, 5, 1), when + _dt.timedelta(days=500))
    if boundaries and kind == "canadian":
        when_graduated = st.one_of(when_graduated, st.sampled_from(boundaries))
    graduated = draw(_maybe(when_graduated, 0.0 if complete else 0.15))
    doc: dict[str, Any] = {"as_of": when}
    if complete or draw(st.integers(0, 9)):
        doc["person"] = draw(_person(sorted(set(citizenship)), complete))
    doc["school"] = draw(_school(country, graduated, complete))
    if complete or draw(st.integers(0, 9)):
        start = (graduated or when) - _dt.timedelta(days=draw(st.integers(0, 900)))
        doc["exams"] = draw(exam_histories(start=start, end=when + _dt.timedelta(days=200), img=kind == "img"))
    passes = {e["exam"] for e in doc.get("exams", []) if e.get("result") == "pass"}
    if kind == "img" and (complete or draw(st.integers(0, 3))):
        ecfmg: dict[str, Any] = {}
        for key in ("application_submitted", "credentials_verified"):
            value = draw(_maybe(st.booleans(), 0.0 if complete else 0.2))
            if value is not None:
                ecfmg[key] = value
        first, last = _season_bounds()
        season = draw(st.integers(first, last))
        if draw(st.booleans()):
            # accepted once its season's applications opened (never for a season before the Pathways)
            opens = pathway_opening(season)
            ecfmg["pathway"] = {"number": draw(st.integers(1, 6)), "season": season,
                                "accepted": draw(_date_between(opens, opens + _dt.timedelta(days=240)))}
        if {"step1", "step2ck"} <= passes and graduated is not None and draw(st.booleans()):
            # a certificate follows the Step 1 and Step 2 CK passes and the graduation it certifies
            earliest = max([e["date"] for e in doc["exams"] if e["exam"] in ("step1", "step2ck")
                            and e.get("result") == "pass"] + [graduated])
            certified = draw(_date_between(earliest, max(earliest, when + _dt.timedelta(days=300))))
            ecfmg["certified"] = certified
            if "pathway" in ecfmg or certified >= _pathways_era():
                ecfmg["expires"] = certified + _dt.timedelta(days=draw(st.integers(300, 1200)))
        # a revalidation is of an accepted Pathway, for a later season already open by as_of
        seasons = range(max(_first_revalidation_season(), season + 1), season_for(rulebook(), Applicant(), when) + 1)
        if "pathway" in ecfmg and ecfmg["pathway"]["accepted"] <= when and seasons and draw(st.integers(0, 5)) == 0:
            ecfmg["revalidated"] = draw(st.sampled_from(list(seasons)))
        doc["ecfmg"] = ecfmg
    if complete or draw(st.integers(0, 3)):
        doc["licenses"] = draw(st.lists(st.fixed_dictionaries({
            "jurisdiction": st.just(country if country not in ("US", "PR") else "US-NY"),
            "kind": st.sampled_from(["full", "full", "training", "provisional", "limited"]),
            "unrestricted": st.booleans(),
            "issued": _date_between(_dt.date(2010, 1, 1), when),
            "good_standing": st.booleans(),
        }), max_size=2))
    if complete or draw(st.integers(0, 3)):
        doc["training"] = draw(st.lists(_training(graduated or _dt.date(2015, 7, 1), when), max_size=3))
    if complete and not draw(st.integers(0, 2)):
        doc["practice"] = []
    elif complete or draw(st.integers(0, 3)):
        start = draw(_date_between(_dt.date(2008, 1, 1), when))
        doc["practice"] = [{"country": country if country != "PR" else "US", "start": start,
                            "unsupervised": draw(st.booleans())}]
    if draw(st.integers(0, 2)):
        doc["match"] = {k: v for k, v in {
            "season": draw(_maybe(st.integers(2021, 2028), 0.4)),
            "eras_submitted": draw(_maybe(st.booleans())),
            "personal_statement": draw(_maybe(st.booleans())),
            "mspe_and_transcript": draw(_maybe(st.booleans())),
            "nrmp_registered": draw(_maybe(st.booleans())),
            "rank_list_certified": draw(_maybe(st.booleans())),
            "letters": draw(_maybe(st.integers(0, 6))),
            "us_letters": draw(_maybe(st.integers(0, 4))),
            "us_clinical_months": draw(_maybe(st.integers(0, 12))),
            "interviews": draw(_maybe(st.integers(0, 20))),
        }.items() if v is not None}
    if draw(st.integers(0, 2)):
        doc["offer"] = draw(_offer(when))
    if draw(st.integers(0, 3)):
        doc["interest"] = {"states": draw(st.lists(st.sampled_from(_STATES), min_size=1, max_size=3, unique=True))}
    else:
        doc["interest"] = {"states": [draw(st.sampled_from(_STATES))]}
    return Applicant.from_dict(doc)


@st.composite
def _training(draw: st.DrawFn, after: _dt.date, before: _dt.date) -> dict[str, Any]:
    start = draw(_date_between(after, before))
    years = draw(st.integers(1, 5))
    end = _dt.date(start.year + years, start.month, 1) - _dt.timedelta(days=1)
    out: dict[str, Any] = {
        "country": draw(st.sampled_from(["US", "US", "CA", "IN", "GB"])),
        "kind": draw(st.sampled_from(["residency", "residency", "fellowship", "internship"])),
        "start": start,
        "visa": draw(st.sampled_from(["j1", "h1b", "citizen", "permanent_resident", "none"])),
    }
    out["accreditor"] = {"US": draw(st.sampled_from(["ACGME", "ACGME", "AOA"])), "CA": "RCPSC"}.get(
        out["country"], "other")
    if draw(st.booleans()):
        out["end"] = end
        out["completed"] = draw(st.booleans())
    return out


@st.composite
def _offer(draw: st.DrawFn, when: _dt.date) -> dict[str, Any]:
    kind = draw(st.sampled_from(["residency", "residency", "employment"]))
    offer: dict[str, Any] = {
        "kind": kind,
        "state": draw(st.sampled_from(_STATES)),
        "start": draw(_date_between(when - _dt.timedelta(days=200), when + _dt.timedelta(days=400))),
        "visa_sponsorship": draw(st.lists(st.sampled_from(["j1", "h1b"]), unique=True)),
    }
    for key in ("acgme_accredited", "statement_of_need", "cap_exempt", "full_time", "hospital_owned",
                "employer_has_acgme_programs", "assessment_program", "supervisor_board_certified",
                "underserved_area"):
        value = draw(_maybe(st.booleans(), 0.3))
        if value is not None:
            offer[key] = value
    if draw(st.booleans()):
        offer["employer_type"] = draw(st.sampled_from(
            ["hospital", "academic_health_system", "fqhc", "clinic", "group", "other"]))
    if draw(st.booleans()):
        offer["h1b_petition"] = {
            "filed": draw(_date_between(_dt.date(2025, 6, 1), when + _dt.timedelta(days=100))),
            "kind": draw(st.sampled_from(["new", "change_of_status", "extension", "amendment"]))}
    return offer


def imgs(**kwargs: Any) -> st.SearchStrategy[Applicant]:
    """Graduates (or students) of schools outside the U.S., Puerto Rico and Canada."""
    return applicants(kind="img", **kwargs)


def us_graduates(**kwargs: Any) -> st.SearchStrategy[Applicant]:
    """Graduates (or students) of U.S. and Puerto Rico MD and DO schools."""
    return applicants(kind="us", **kwargs)


def canadian_graduates(**kwargs: Any) -> st.SearchStrategy[Applicant]:
    """Graduates (or students) of Canadian schools, before and after LCME accreditation ended."""
    return applicants(kind="canadian", **kwargs)


def facts_for(conclusion: str, *, base: st.SearchStrategy[Applicant] | None = None,
              **args: Any) -> st.SearchStrategy[Applicant]:
    """Applicants for whom ``conclusion`` (with ``args``) is YES, found by steering generation.

    A drawn applicant for whom it is not YES is moved along one of the options
    :func:`imgpath.next_steps` finds (its steps applied to the document: exams passed, a
    certificate issued, training added), so conclusions that random documents rarely reach
    (a license in a given state, an alternative route) are still generated; generation is also
    steered with :func:`hypothesis.target` (YES scores 2, UNKNOWN 1, NO 0) and filtered to YES.
    A ``state`` argument is added to the generated ``interest.states``. Each draw may run a
    planning search, so expect tens of milliseconds per example.
    """
    from hypothesis import assume, target

    @st.composite
    def _steered(draw: st.DrawFn) -> Applicant:
        doc = draw(base if base is not None else applicants())
        state = args.get("state")
        if state is not None and doc.interest is not None and doc.interest.states is not None \
                and state not in doc.interest.states:
            doc = doc.evolve(interest={"states": [*doc.interest.states, state]})
        ev = evaluate(doc, as_of=doc.as_of)
        verdict = ev.verdict(conclusion, **args).value
        if verdict != "yes" and draw(st.booleans(), label="follow a plan"):
            options = ev.next_steps(conclusion, **args).options
            if options:
                chosen = options[draw(st.integers(0, len(options) - 1), label="option")]
                try:
                    moved = Applicant.from_dict(chosen.document)
                except InvalidFacts:  # pragma: no cover - plans only apply schema-valid patches
                    moved = None
                if moved is not None:
                    doc = moved
                    verdict = evaluate(doc, as_of=doc.as_of).verdict(conclusion, **args).value
        target({"yes": 2.0, "unknown": 1.0, "no": 0.0}[verdict], label=f"facts_for:{conclusion}")
        assume(verdict == "yes")
        return doc

    return _steered()
