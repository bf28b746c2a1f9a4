"""Reforms on a population: the conclusions whose verdict or value differ between two rulebooks.

``base`` and ``reform`` are any two rulebooks: the default one and a what-if built from it
(:meth:`Rulebook.with_parameters`, :meth:`Rulebook.with_rules`), or two releases of the rules
(:func:`imgpath.load_rulebook` on each folder). Every applicant is evaluated under both, on the
same date, and each conclusion instance that differs is listed with the rules behind each side.
A conclusion that exists in one rulebook only (a release added it) is listed with the verdict
``absent`` on the other side.

>>> import imgpath, datetime as dt
>>> base = imgpath.rulebook()
>>> reform = base.with_parameters({"states.TX.img_gme_years": 3})
>>> doc = {"school": {"country": "IN", "graduated": "2020-06-30"}, "interest": {"states": ["TX"]}}
>>> result = imgpath.compare([doc], base, reform, as_of=dt.date(2026, 12, 1))
>>> [(d.label, d.value_before, d.value_after) for d in result]
[("gme_years_required(state='TX')", 2, 3)]
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._internal import html as _html
from ._internal import views
from ._internal.version import VERSION
from .errors import InvalidFacts, QueryError
from .evaluation import Conclusion, Evaluation, as_applicant, evaluate
from .facts import Applicant, section_classes
from .rulebook import Rulebook, load_rulebook

__all__ = ["Comparison", "Difference", "compare"]

#: The verdict shown for a conclusion the other rulebook does not have.
ABSENT = "absent"


@attrs.frozen
class Difference:
    """One conclusion of one applicant that differs between the two rulebooks."""

    applicant: str
    label: str
    name: str
    args: Mapping[str, Any]
    before: str
    after: str
    value_before: Any
    value_after: Any
    rules_before: tuple[str, ...]
    rules_after: tuple[str, ...]
    kind: str = "boolean"

    @property
    def flips(self) -> bool:
        """True when the verdict itself changes (not only a value)."""
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        return {"applicant": self.applicant, "conclusion": self.label, "name": self.name,
                "args": dict(sorted(self.args.items())), "before": self.before, "after": self.after,
                "value_before": _plain(self.value_before), "value_after": _plain(self.value_after),
                "rules_before": list(self.rules_before), "rules_after": list(self.rules_after)}

    def __str__(self) -> str:
        return f"{self.applicant}  {self.label}: {self.answer_before} -> {self.answer_after}"

    @property
    def answer_before(self) -> str:
        """The answer before as people read it: a verdict, a value, a set's members."""
        return _answer(self.before, self.value_before, self.kind)

    @property
    def answer_after(self) -> str:
        return _answer(self.after, self.value_after, self.kind)


class Comparison:
    """The differences between two rulebooks over a population; a sequence of :class:`Difference`.

    ``errors`` lists the applicants that could not be evaluated (invalid documents), by id, as
    ``imgpath batch`` does. Renders as text (``str``), JSON (``to_dict``), a DataFrame
    (``to_frame``, one row per difference) and HTML; :meth:`summary` counts them per conclusion.
    """

    def __init__(self, base: Rulebook, reform: Rulebook, differences: list[Difference], evaluated: int,
                 errors: list[tuple[str, str]], as_of: _dt.date | None) -> None:
        self.base = base
        self.reform = reform
        self.differences = tuple(differences)
        self.evaluated = evaluated
        self.errors = tuple(errors)
        self.as_of = as_of

    def __iter__(self) -> Iterator[Difference]:
        return iter(self.differences)

    def __len__(self) -> int:
        return len(self.differences)

    def __getitem__(self, i: int) -> Difference:
        return self.differences[i]

    @property
    def flips(self) -> tuple[Difference, ...]:
        """The differences where the verdict changes (value-only changes left out)."""
        return tuple(d for d in self.differences if d.flips)

    def applicants(self) -> list[str]:
        """The ids of the applicants with at least one difference, in input order."""
        return list(dict.fromkeys(d.applicant for d in self.differences))

    def summary(self) -> list[tuple[str, str, int]]:
        """(conclusion, 'before -> after', how many applicants), most frequent first."""
        counts = Counter((d.label, f"{d.answer_before} -> {d.answer_after}") for d in self.differences)
        return [(label, change, n) for (label, change), n in counts.most_common()]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.compare/1", "imgpath": VERSION,
                "base": {"name": self.base.name, "digest": self.base.digest},
                "reform": {"name": self.reform.name, "digest": self.reform.digest},
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "evaluated": self.evaluated, "errors": [{"applicant": i, "error": e} for i, e in self.errors],
                "differences": [d.to_dict() for d in self.differences]}

    def to_frame(self) -> Any:
        """A ``pandas.DataFrame``: one row per difference (applicant, conclusion, before, after...)."""
        rows = [{"applicant": d.applicant, "conclusion": d.label, "before": d.before, "after": d.after,
                 "value_before": _plain(d.value_before), "value_after": _plain(d.value_after),
                 "flips": d.flips, "rules_before": ";".join(d.rules_before), "rules_after": ";".join(d.rules_after)}
                for d in self.differences]
        return views.call("records_frame", rows, columns=["applicant", "conclusion", "before", "after",
                                                           "value_before", "value_after", "flips",
                                                           "rules_before", "rules_after"])

    def _head(self) -> str:
        when = f" on {self.as_of}" if self.as_of else ""
        bad = f" ({len(self.errors)} could not be evaluated)" if self.errors else ""
        return (f"{self.evaluated} applicant(s){bad}{when}, rulebook {self.base.digest} -> {self.reform.digest}: "
                f"{len(self.differences)} difference(s) in {len(self.applicants())} applicant(s), "
                f"{len(self.flips)} verdict flip(s)")

    def __str__(self) -> str:
        lines = [self._head()]
        width = max((len(d.applicant) for d in self.differences), default=0)
        for d in self.differences:
            lines.append(f"  {d.applicant:<{width}}  {d.label}: {d.answer_before} -> {d.answer_after}")
        for applicant, error in self.errors:
            lines.append(f"  {applicant}: not evaluated: {error}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Comparison {len(self.differences)} difference(s) over {self.evaluated} applicant(s)>"

    def _repr_html_(self) -> str:
        rows = [[_html.esc(d.applicant), f"<code>{_html.esc(d.label)}</code>",
                 _verdict_html(d.before, d.answer_before), _verdict_html(d.after, d.answer_after),
                 f"<span class='c'>{_html.esc(', '.join(d.rules_after or d.rules_before)[:120])}</span>"]
                for d in self.differences]
        errors = "".join(f"<div class='c'>{_html.esc(i)}: not evaluated: {_html.esc(e)}</div>" for i, e in self.errors)
        return _html.wrap(f"<b>reform comparison</b> <span class='c'>{_html.esc(self._head())}</span>"
                          + _html.table(["applicant", "conclusion", "before", "after", "rules"], rows) + errors)


# --------------------------------------------------------------------------- the comparison


def compare(applicants: Iterable[Any] | Mapping[str, Any] | str | Path, base: Rulebook | str | Path,
            reform: Rulebook | str | Path, *, as_of: _dt.date | None = None,
            conclusions: Iterable[str] | None = None, engine: str = "durable",
            include_internal: bool = False) -> Comparison:
    """Per applicant, the conclusions whose verdict or value differ between ``base`` and ``reform``.

    ``applicants`` is an iterable of documents (:class:`~imgpath.Applicant` or mappings, named
    by position), a mapping ``id -> document``, or a cohort file (``.csv`` or ``.jsonl``, as
    ``imgpath batch`` reads it, named by its ``id`` column). ``base`` and ``reform`` are
    rulebooks or rules folders. ``as_of`` defaults to each document's own date, else today;
    ``conclusions`` restricts the comparison to some conclusion names. An invalid document is
    reported in ``errors`` and the others are still compared.
    """
    books = [_book(b) for b in (base, reform)]
    wanted = None if conclusions is None else set(conclusions)
    if wanted is not None:
        unknown = sorted(n for n in wanted if all(n not in b.conclusions for b in books))
        if unknown:
            books[0].conclusion(unknown[0])  # raises UnknownConclusion with a suggestion
    differences: list[Difference] = []
    errors: list[tuple[str, str]] = []
    evaluated = 0
    for ident, doc in _population(applicants, errors):
        try:
            app = as_applicant(doc)
        except InvalidFacts as err:
            errors.append((ident, str(err)))
            continue
        evaluated += 1
        a, b = (evaluate(app, as_of=as_of, rulebook=book, engine=engine) for book in books)
        differences.extend(_differences(ident, a, b, wanted, include_internal))
    return Comparison(books[0], books[1], differences, evaluated, errors, as_of)


def _book(book: Rulebook | str | Path) -> Rulebook:
    if isinstance(book, Rulebook):
        return book
    if isinstance(book, (str, Path)):
        return load_rulebook(book)
    raise QueryError(f"compare: expected a Rulebook or a rules folder, got {type(book).__name__}")


def _population(applicants: Any, errors: list[tuple[str, str]]) -> Iterator[tuple[str, Any]]:
    if isinstance(applicants, (str, Path)):
        from .batch import read_cohort  # imported on first use: a cold start does not pay for batch

        for row in read_cohort(Path(applicants)):
            if row.doc is None or row.problems:  # every problem of the row, as the batch error file
                errors.append((row.id, row.error))
            else:
                yield row.id, row.doc
        return
    if isinstance(applicants, Mapping) and not _is_document(applicants):
        yield from ((str(k), v) for k, v in applicants.items())
        return
    if _is_document(applicants):
        raise QueryError("compare: pass a list of applicants (or a mapping id -> applicant), not one document")
    for i, doc in enumerate(applicants):
        yield str(i), doc


def _is_document(obj: Any) -> bool:
    """An applicant document (rather than a mapping of documents): its keys are the schema's sections."""
    return isinstance(obj, Applicant) or (isinstance(obj, Mapping) and bool(obj) and all(
        k in ("schema", "as_of") or k in section_classes() for k in obj))


def _differences(ident: str, a: Evaluation, b: Evaluation, wanted: set[str] | None,
                 include_internal: bool) -> Iterator[Difference]:
    keys = list(dict.fromkeys([*a.instances(), *b.instances()]))
    for key in keys:
        name, args = key
        if wanted is not None and name not in wanted:
            continue
        sides = [_side(ev, key, include_internal) for ev in (a, b)]
        if all(s is None for s in sides) or any(s is False for s in sides):
            continue  # internal on a side (and not asked for)
        before, after = sides
        vb = (before.verdict.value, before.value) if before else (ABSENT, None)
        va = (after.verdict.value, after.value) if after else (ABSENT, None)
        if vb == va:
            continue
        label = (before or after).label  # type: ignore[union-attr]
        yield Difference(ident, label, name, dict(args), vb[0], va[0], vb[1], va[1],
                         before.rules if before else (), after.rules if after else (),
                         (before or after).kind)  # type: ignore[union-attr]


def _side(ev: Evaluation, key: Any, include_internal: bool) -> Conclusion | None | bool:
    """The conclusion on one side; None when that rulebook or scope does not have it; False when internal."""
    spec = ev.book.conclusions.get(key[0])
    if spec is None or key not in ev.instances():
        return None
    if spec.internal and not include_internal:
        return False
    return ev.at(key)


def _answer(verdict: str, value: Any, kind: str) -> str:
    return ABSENT if verdict == ABSENT else _html.answer(verdict, value, kind)


def _verdict_html(verdict: str, shown: str) -> str:
    if verdict == ABSENT:
        return "<span class='c'>absent</span>"
    return _html.badge(verdict) + ("" if shown == verdict.upper() else f" {_html.esc(shown)}")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
