"""Laws every evaluation obeys, checked over generated applicants (``imgpath.strategies``).

Example counts follow the active hypothesis profile (tests/conftest.py). Properties that evaluate
several times per example, or compute every conclusion, run a fraction of the profile's count
(see ``scaled``), so the ci profile stays fast and the thorough profile still scales them up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import attrs
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import Applicant, Verdict
from imgpath import expressions as ex
from imgpath import strategies as ips
from imgpath.context import match_day
from imgpath.facts import Ecfmg, Exam, Training, fields_by_key
from imgpath.horizon import horizon

RANK = {Verdict.NO: 0, Verdict.UNKNOWN: 1, Verdict.YES: 2}
DAY = dt.timedelta(days=1)


def scaled(fraction: float) -> settings:
    """A fraction of the active profile's example count (never more than the profile, at least 10)."""
    return settings(max_examples=max(10, int(settings.default.max_examples * fraction)))


def evaluate(a: Applicant, as_of: dt.date | None = None) -> imgpath.Evaluation:
    return imgpath.evaluate(a, as_of=as_of or a.as_of)


def verdicts(ev: imgpath.Evaluation) -> dict[str, tuple[Verdict, Any]]:
    return {c.label: (c.verdict, c.value) for c in ev.conclusions}


# --------------------------------------------------------------------------- isolation and determinism


@scaled(0.25)
@given(ips.applicants(), ips.applicants())
def test_isolation_and_determinism(a: Applicant, b: Applicant) -> None:
    """Isolation: evaluating A, then B, then A again gives the same A (no state leaks between evaluations)."""
    first = evaluate(a).to_dict()
    evaluate(b).to_dict()
    again = evaluate(a).to_dict()
    assert first == again


@scaled(0.5)
@given(ips.applicants(), st.data())
def test_order_of_list_entries_is_irrelevant(a: Applicant, data: st.DataObject) -> None:
    """Lists are sets of records: shuffling ``exams``, ``licenses``, ``training`` and ``practice`` changes no verdict."""
    changes = {}
    for name in ("exams", "licenses", "training", "practice"):
        items = getattr(a, name)
        if items and len(items) > 1:
            changes[name] = tuple(data.draw(st.permutations(items), label=name))
    assume(changes)
    shuffled = attrs.evolve(a, **changes)
    assert verdicts(evaluate(shuffled)) == verdicts(evaluate(a))


# --------------------------------------------------------------------------- monotonicity


@given(ips.applicants(), st.sampled_from(["step1", "step2ck"]), st.data())
def test_passing_attempt_never_hurts_exams_met(a: Applicant, exam: str, data: st.DataObject) -> None:
    """Monotonicity: adding a passing Step 1 / Step 2 CK attempt never lowers ``ecfmg_exams_met`` (NO < UNKNOWN < YES)."""
    assume(a.exams is not None)  # adding to an unknown list would also assert the list complete
    when = data.draw(st.one_of(st.none(), st.dates(a.as_of - dt.timedelta(days=3000), a.as_of)), label="date")
    where = data.draw(st.integers(0, len(a.exams)), label="position")
    attempt = Exam(exam=exam, result="pass", date=when)
    more = a.evolve(exams=(*a.exams[:where], attempt, *a.exams[where:]))
    before, after = evaluate(a).verdict("ecfmg_exams_met"), evaluate(more).verdict("ecfmg_exams_met")
    event(f"ecfmg_exams_met {before.value} -> {after.value}")
    assert RANK[after] >= RANK[before]


def toward_licensable(a: Applicant, months: int) -> Applicant:
    """The generated applicant with the exams, certificate and ``months`` of ACGME training a full license needs.

    Generated applicants are almost never licensable (no YES in 300 draws), so without this the YES side
    of the law would go untested. Everything else about the applicant (school, person, state of interest,
    dates) stays as generated, so the verdict still varies (the state's figures, unknown facts, IMG or not).
    """
    d = a.as_of
    steps = tuple(Exam(exam=s, result="pass", date=d - (900 - 200 * i) * DAY)
                  for i, s in enumerate(["step1", "step2ck", "step3"]))
    exams = (*steps, Exam(exam="texas_jp", result="pass", date=d - 100 * DAY))
    ecfmg = attrs.evolve(a.ecfmg or Ecfmg(), certified=d - 800 * DAY, expires=None)
    extra = ()
    if months:
        start = ex.add_months(d, -months)
        extra = (Training(country="US", accreditor="ACGME", kind="residency", start=start, end=d - DAY, completed=True),)
    return attrs.evolve(a, exams=exams, ecfmg=ecfmg, training=(*(a.training or ()), *extra))


@given(ips.applicants(), st.data())
def test_more_acgme_training_never_hurts_licensable(a: Applicant, data: st.DataObject) -> None:
    """Monotonicity: more ACGME training never turns ``licensable(state=...)`` from YES to NO (nor lowers it,
    when the training record was already known)."""
    assert a.interest is not None and a.interest.states  # the strategy always names states of interest
    state = data.draw(st.sampled_from(a.interest.states), label="state")
    if data.draw(st.booleans(), label="toward licensable"):
        a = toward_licensable(a, data.draw(st.sampled_from([0, 6, 12, 24, 36, 48]), label="months"))
    start = data.draw(st.dates(a.as_of - dt.timedelta(days=3650), a.as_of), label="start")
    end = data.draw(st.one_of(st.none(), st.dates(start, a.as_of)), label="end")
    training = Training(country="US", accreditor="ACGME", kind=data.draw(st.sampled_from(["residency", "fellowship"])),
                        start=start, end=end, completed=data.draw(st.sampled_from([None, True, False])) if end else None,
                        visa=data.draw(st.sampled_from([None, "j1", "h1b", "citizen", "permanent_resident"])))
    more = a.evolve(training=(*(a.training or ()), training))
    before = evaluate(a).verdict("licensable", state=state)
    after = evaluate(more).verdict("licensable", state=state)
    event(f"licensable {before.value} -> {after.value}")
    if before is Verdict.YES:
        assert after is Verdict.YES
    if a.training is not None:
        assert RANK[after] >= RANK[before]


# --------------------------------------------------------------------------- unknown is not false

#: Fields whose absence is not "unknown": it has a documented meaning (contract §2, §3, §6.2, §6.4).
MEANINGFUL_ABSENCE = {("as_of",), ("match", "season"), ("interest",), ("interest", "states"), ("offer",)}


def removable(doc: dict[str, Any], cls: type = Applicant, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of the optional facts whose absence means unknown (absent = none / default ones are skipped)."""
    for key, value in doc.items():
        if key == "schema":
            continue
        meta = fields_by_key(cls)[key].metadata["imgpath"]
        path = (*prefix, key)
        shape = tuple(p for p in path if not isinstance(p, int))
        if meta["absent"] != "unknown" or shape in MEANINGFUL_ABSENCE:
            continue
        yield path
        if meta["kind"] in ("object", "note") and isinstance(value, dict):
            yield from removable(value, meta["cls"], path)
        elif meta["kind"] == "list":
            for i, item in enumerate(value):
                yield from removable(item, meta["cls"], (*path, i))


MONOTONE = ("img", "ecfmg_exams_met", "visa_needed")


@given(ips.applicants(), st.data())
def test_unknown_is_not_false(a: Applicant, data: st.DataObject) -> None:
    """Unknown is not false: removing one optional fact never turns YES into NO for ``img``,
    ``ecfmg_exams_met`` or ``visa_needed`` (it may become UNKNOWN)."""
    doc = a.to_dict()
    paths = list(removable(doc))
    assume(paths)
    # half the time remove a fact those conclusions read (school, person, exams), else any optional fact
    relevant = [p for p in paths if p[0] in ("school", "person", "exams")]
    pool = relevant if relevant and data.draw(st.booleans(), label="relevant") else paths
    path = data.draw(st.sampled_from(pool), label="removed")
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = None  # JSON null: the same as absent
    fewer = Applicant.from_dict(doc)
    before, after = evaluate(a), evaluate(fewer, a.as_of)
    for name in MONOTONE:
        event(f"{name} {before.verdict(name).value} -> {after.verdict(name).value}")
        if before.verdict(name) is Verdict.YES:
            assert after.verdict(name) is not Verdict.NO, (name, path)


# --------------------------------------------------------------------------- provenance


def _http(url: str) -> bool:
    parts = urlparse(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@scaled(0.5)
@given(ips.applicants())
def test_yes_carries_rules_and_sources(a: Applicant) -> None:
    """Provenance (contract §4): every YES conclusion names at least one rule and one source, and every
    source of every conclusion has an http(s) URL."""
    ev = evaluate(a)
    for c in ev.conclusions:
        if c.verdict is Verdict.YES:
            assert c.rules, c.label
            assert c.sources, c.label
            assert all(r in {rule.id for rule in ev.book.rules} for r in c.rules)
        for s in c.sources:
            assert _http(s.url), (c.label, s.id, s.url)


# --------------------------------------------------------------------------- dated law

BOOK = imgpath.rulebook()
CHANGES = BOOK.change_dates()
FIRST, LAST = dt.date(2010, 1, 1), dt.date(2030, 12, 31)
#: Windows of constant law [from, to]: between consecutive change dates (a change date starts a window).
WINDOWS = [(lo, hi - DAY) for lo, hi in zip([FIRST, *CHANGES], [*CHANGES, LAST + DAY], strict=True)
           if (hi - lo).days >= 5]


def _rule_nodes() -> Iterator[ex.Node]:
    for rule in BOOK.rules:
        for node in (*rule.when, *(n for _, n in rule.args), *([rule.value] if rule.value is not None else [])):
            yield from ex.walk(node)


def _law_dates() -> set[dt.date]:
    """Dates the law itself compares as_of with: date literals in rules, dated table cells, Match Days."""
    out: set[dt.date] = set(CHANGES)
    for node in _rule_nodes():
        if isinstance(node, ex.Const):
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            out.update(v for v in values if isinstance(v, dt.date))
    for table in BOOK.tables.values():
        for _, _, cell in table.cells():
            values = cell.value if isinstance(cell.value, tuple) else (cell.value,)
            out.update(v for v in values if isinstance(v, dt.date))
    for year in range(FIRST.year - 1, LAST.year + 2):
        out.add(match_day(BOOK, year)[0])
    h = horizon(BOOK)  # as_of past the checked date by more than warn_after_months warns (contract §2)
    if h.checked is not None:
        out.add(ex.add_months(h.checked, h.warn_after_months))
    return out


def _as_of_offsets() -> set[int]:
    """Month offsets applied to as_of in the rules (``add_years(as_of, -5)`` is -60)."""
    out = {0}
    for node in _rule_nodes():
        if (isinstance(node, ex.Func) and node.name in ("add_years", "add_months")
                and node.args[0] == ex.Field("as_of", ()) and isinstance(node.args[1], ex.Const)):
            out.add(node.args[1].value * (12 if node.name == "add_years" else 1))
    return out


LAW_DATES = _law_dates()
OFFSETS = _as_of_offsets()


def _dates_in(obj: Any) -> Iterator[dt.date]:
    if isinstance(obj, dt.date):
        yield obj
    elif isinstance(obj, tuple):
        for item in obj:
            yield from _dates_in(item)
    elif attrs.has(type(obj)):
        for fld in attrs.fields(type(obj)):
            if fld.name != "as_of":
                yield from _dates_in(getattr(obj, fld.name))


def _settled(a: Applicant, cut: dt.date) -> Applicant:
    """Training and practice as finished periods ending before ``cut`` (ongoing time grows with as_of)."""
    changes = {}
    for name in ("training", "practice"):
        items = getattr(a, name)
        if not items:
            continue
        kept = []
        for item in items:
            if item.end is not None and item.end < cut:
                kept.append(item)
            elif item.start is None or item.start < cut - DAY:
                kept.append(attrs.evolve(item, end=cut - DAY) if item.start is not None else item)
        changes[name] = tuple(kept)
    return attrs.evolve(a, **changes) if changes else a


def _forbidden(a: Applicant) -> list[tuple[dt.date, dt.date]]:
    """Date ranges in which moving as_of can change a result although no rule changes."""
    out = []
    points = set(LAW_DATES) | set(_dates_in(a))
    for x in points:
        for months in OFFSETS:
            try:
                y = ex.add_months(x, -months)
            except (ValueError, OverflowError):
                continue
            out.append((y - 2 * DAY, y + 2 * DAY))
    for p in a.practice or ():  # sum_years_since(p in practice, add_years(as_of, -n), ...)
        if p.start is not None and p.end is not None:
            for months in OFFSETS:
                out.append((ex.add_months(p.start, -months) - 2 * DAY, ex.add_months(p.end, -months) + 3 * DAY))
    return sorted(out)


def _gaps(lo: dt.date, hi: dt.date, forbidden: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    gaps, cursor = [], lo
    for f_lo, f_hi in forbidden:
        if f_hi < cursor or f_lo > hi:
            continue
        if f_lo > cursor:
            gaps.append((cursor, min(hi, f_lo - DAY)))
        cursor = max(cursor, f_hi + DAY)
    if cursor <= hi:
        gaps.append((cursor, hi))
    return [(g_lo, g_hi) for g_lo, g_hi in gaps if g_lo < g_hi]


@scaled(0.5)
@given(ips.applicants(), st.sampled_from(WINDOWS), st.data())
def test_results_constant_while_law_and_facts_are(a: Applicant, window: tuple[dt.date, dt.date],
                                                  data: st.DataObject) -> None:
    """Dated law: on two dates strictly inside one window of ``rulebook().change_dates()``, in the same Match
    season, with no dated fact, rule date or as_of-relative period between them, every result is identical."""
    w_lo, w_hi = window[0] + DAY, window[1] - DAY  # strictly inside
    a = _settled(a, w_lo)
    gaps = _gaps(w_lo, w_hi, _forbidden(a))
    assume(gaps)
    g_lo, g_hi = data.draw(st.sampled_from(gaps), label="gap")
    # two independent draws, sorted: drawing d2 after d1 would put them a day apart nearly every time
    d1, d2 = data.draw(st.lists(st.dates(g_lo, g_hi), min_size=2, max_size=2, unique=True).map(sorted),
                       label="dates")
    event(f"dates {min((d2 - d1).days // 30, 12)} months apart")
    ev1, ev2 = evaluate(a, d1), evaluate(a, d2)
    assert ev1.season == ev2.season
    one, two = ev1.to_dict(), ev2.to_dict()
    assert one.pop("as_of") == d1.isoformat() and two.pop("as_of") == d2.isoformat()
    # a warning's message names as_of; which warnings apply does not change inside a window
    assert [w["code"] for w in one.pop("warnings")] == [w["code"] for w in two.pop("warnings")]
    assert one == two
