"""The records a rulebook is made of: rules, sources, parameter tables and the conclusion vocabulary.

Plain immutable data; loading (:mod:`.load`), name resolution (:mod:`.resolve`) and the
dependency graph (:mod:`.graph`) work on these.

>>> min(Confidence.PRIMARY, Confidence.UNCONFIRMED, Confidence.SECONDARY)
<Confidence.UNCONFIRMED: 'unconfirmed'>
>>> Window(_dt.date(2021, 7, 1), _dt.date(2026, 9, 20)).text
'in force from 2021-07-01 until 2026-09-20'
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from .. import expressions as ex

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "Cell",
    "ConclusionSpec",
    "Confidence",
    "Definition",
    "Series",
    "Step",
    "LintIssue",
    "Rule",
    "Source",
    "Table",
    "Window",
    "weakest",
]

#: The start of a window with no start date, and the end of one with no end date.
BEGINNING = _dt.date(1900, 1, 1)
END_OF_TIME = _dt.date(9999, 12, 31)


class Confidence(str, enum.Enum):
    """How well a rule or figure is sourced, ordered weakest first: ``min`` of several is the weakest.

    It is a ``str`` (``Confidence.PRIMARY == "primary"``) so JSON and comparisons with the
    words of the rules' files keep working.
    """

    UNCONFIRMED = "unconfirmed"
    SECONDARY = "secondary"
    PRIMARY = "primary"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        return self.rank < Confidence(other).rank  # type: ignore[arg-type]

    def __le__(self, other: object) -> bool:
        return self.rank <= Confidence(other).rank  # type: ignore[arg-type]

    def __gt__(self, other: object) -> bool:
        return self.rank > Confidence(other).rank  # type: ignore[arg-type]

    def __ge__(self, other: object) -> bool:
        return self.rank >= Confidence(other).rank  # type: ignore[arg-type]

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value


_RANK = {Confidence.UNCONFIRMED: 0, Confidence.SECONDARY: 1, Confidence.PRIMARY: 2}


def weakest(levels: Iterable[str | Confidence]) -> Confidence:
    """The weakest confidence of several (``primary`` when there are none).

    >>> weakest(["primary", "secondary"])
    <Confidence.SECONDARY: 'secondary'>
    """
    return min((Confidence(level) for level in levels), default=Confidence.PRIMARY)


@attrs.frozen
class Window:
    """An effective window: in force from ``start`` to ``end``, both days included."""

    start: _dt.date = BEGINNING
    end: _dt.date = END_OF_TIME

    def __contains__(self, day: _dt.date) -> bool:
        return self.start <= day <= self.end

    @property
    def until(self) -> _dt.date | None:
        """The last day, or None for an open window."""
        return None if self.end == END_OF_TIME else self.end

    @property
    def text(self) -> str:
        """'in force from 2021-07-01 until 2026-09-21', or 'long-standing' without a start date."""
        start = "long-standing" if self.start == BEGINNING else f"in force from {self.start}"
        return start + ("" if self.end == END_OF_TIME else f" until {self.end}")

    @property
    def span(self) -> str:
        """'2021-07-01 – 2026-09-21' or '… – open' (tables and listings)."""
        return f"{self.start} – {self.until or 'open'}"

    def to_dict(self) -> dict[str, str | None]:
        return {"from": self.start.isoformat(), "until": self.until.isoformat() if self.until else None}


@attrs.frozen
class Source:
    """A document a rule or figure rests on; ``retrieved`` is the day it was last checked."""

    id: str
    url: str
    title: str
    publisher: str
    kind: str  # primary | secondary
    retrieved: _dt.date | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "title": self.title, "publisher": self.publisher,
                "kind": self.kind, "retrieved": self.retrieved.isoformat() if self.retrieved else None}


@attrs.frozen
class Cell:
    """One figure of a parameter table, with what it rests on."""

    value: Any
    confidence: Confidence = attrs.field(default=Confidence.PRIMARY, converter=Confidence)
    sources: tuple[str, ...] = ()
    note: str = ""


@attrs.frozen
class Step:
    """One dated value of a :class:`Series`: in force from ``start`` until the next step.

    ``expected`` marks a milestone known only as announced or planned: it is listed (the
    parameters' history shows it) but never counts as reached (contract §6.5), as OpenFisca's
    parameter files mark expected values.
    """

    start: _dt.date
    cell: Cell
    expected: bool = False
    kind: str = ""  # what happened on that day, in words: enacted, effective, rules final, ...


@attrs.frozen
class Series:
    """A figure that changes over time: dated :class:`Step` values (a dated cell of a table).

    >>> s = Series((Step(BEGINNING, Cell("none")), Step(_dt.date(2025, 1, 1), Cell("in_force")),
    ...             Step(_dt.date(2026, 1, 1), Cell("x"), expected=True)))
    >>> s.at(_dt.date(2024, 12, 31)).value, s.at(_dt.date(2026, 6, 1)).value
    ('none', 'in_force')
    """

    steps: tuple[Step, ...]

    def at(self, day: _dt.date) -> Cell | None:
        """The cell in force on ``day`` (expected steps never count), or None before the first step."""
        found = None
        for step in self.steps:
            if step.start > day:
                break
            if not step.expected:
                found = step.cell
        return found

    def dates(self) -> list[_dt.date]:
        """The days a reached step starts (when the figure changes)."""
        return [s.start for s in self.steps if not s.expected and s.start > BEGINNING]


@attrs.frozen
class Table:
    """A parameter table (``rules/data/<name>.toml``): rows of cells keyed by ``key``.

    ``bind = "season"`` binds the row of the evaluation's Match season to the
    name ``season``; ``bind = "for"`` lets rules range over the rows with
    ``for = { state = "states" }``. ``scope`` names an applicant field that,
    when present, restricts the rows considered (``interest.states``).
    """

    name: str
    key: str
    key_type: str
    bind: str
    columns: Mapping[str, str]
    rows: Mapping[Any, Mapping[str, Cell]]
    scope: str | None = None
    file: str = ""
    description: str = ""
    meta: Mapping[str, Any] = attrs.field(factory=dict)  # further declared settings of the table

    @property
    def dated(self) -> bool:
        """Whether some cell is a dated :class:`Series` (read it through :meth:`at`)."""
        return any(isinstance(c, Series) for row in self.rows.values() for c in row.values())

    def cell(self, key: Any, column: str) -> Cell | None:
        """A plain cell; for a dated cell use :meth:`at` first (this gives None for a Series)."""
        row = self.rows.get(key)
        cell = None if row is None else row.get(column)
        return cell if isinstance(cell, Cell) else None

    def at(self, day: _dt.date) -> Table:
        """The table as it reads on ``day``: each dated cell replaced by the cell in force then."""
        if not self.dated:
            return self
        rows: dict[Any, dict[str, Cell]] = {}
        for key, row in self.rows.items():
            out: dict[str, Cell] = {}
            for col, cell in row.items():
                if isinstance(cell, Series):
                    cell = cell.at(day)  # type: ignore[assignment]
                if cell is not None:
                    out[col] = cell
            rows[key] = out
        return attrs.evolve(self, rows=rows)

    def cells(self) -> Iterator[tuple[Any, str, Cell]]:
        """Every figure: (row key, column, cell), each step of a dated cell included."""
        for key, row in self.rows.items():
            for col, cell in row.items():
                if isinstance(cell, Series):
                    for step in cell.steps:
                        yield key, col, step.cell
                else:
                    yield key, col, cell

    def series(self) -> list[tuple[Any, str, Series]]:
        """Every dated cell: (row key, column, series)."""
        return [(k, c, s) for k, row in self.rows.items() for c, s in row.items() if isinstance(s, Series)]


@attrs.frozen
class Definition:
    """A named piece of the rule language (``rules/definitions.toml``), expanded where it is used.

    ``kind`` is ``expr`` (a predicate or value, with ``params``), ``when`` (a group of
    conditions spliced into a rule's ``when``) or ``value`` (a named constant such as a list of
    codes). ``body`` holds the parsed expression(s); ``text`` the source as written.
    """

    name: str
    kind: str
    params: tuple[str, ...] = ()
    body: tuple[ex.Node, ...] = ()
    text: tuple[str, ...] = ()
    value: Any = None
    title: str = ""
    file: str = ""
    sources: tuple[str, ...] = ()  # what the definition restates (ids in rules/sources.toml)


@attrs.frozen
class ConclusionSpec:
    """A conclusion of the vocabulary: its kind (boolean, value, set) and arguments."""

    name: str
    kind: str
    description: str
    args: Mapping[str, Any] = attrs.field(factory=dict)  # arg -> table name or tuple of allowed values
    values: tuple[Any, ...] = ()
    digest: tuple[str, ...] = ()
    internal: bool = False
    judged: str = ""
    never_yes: bool = False
    sources: tuple[str, ...] = ()
    confidence: Confidence = attrs.field(default=Confidence.PRIMARY, converter=Confidence)


@attrs.frozen
class Rule:
    """One rule: IF every condition in ``when`` holds THEN ``conclusion`` (with args and value)."""

    id: str
    title: str
    conclusion: str
    when: tuple[ex.Node, ...]
    when_text: tuple[str, ...]
    args: tuple[tuple[str, ex.Node], ...] = ()
    value: ex.Node | None = None
    verdict: str = "yes"  # yes | unknown (the sources conflict: the conclusion is at most unknown)
    effective_from: _dt.date = BEGINNING
    effective_until: _dt.date = END_OF_TIME
    sources: tuple[str, ...] = ()
    confidence: Confidence = attrs.field(default=Confidence.PRIMARY, converter=Confidence)
    for_var: str | None = None
    for_table: str | None = None
    assumptions: tuple[str, ...] = ()
    digest: tuple[str, ...] = ()
    group: str = ""
    notes: str = ""
    file: str = ""
    advisory: bool = False
    #: per condition of ``when``, the definitions it uses (their names), for explanations
    defined: tuple[tuple[str, ...], ...] = ()
    #: conditions saying whom the rule is for (``img``, ``nrmp_category in [...]``): a rule whose
    #: ``applies_to`` fails for an applicant never gives that applicant's reason (contract §6.10)
    applies_to: tuple[ex.Node, ...] = ()
    applies_to_text: tuple[str, ...] = ()

    @property
    def window(self) -> Window:
        """The effective window (:class:`Window`): when the rule is in force."""
        return Window(self.effective_from, self.effective_until)

    @property
    def effective(self) -> tuple[_dt.date, _dt.date | None]:
        return (self.effective_from, self.window.until)

    def in_force(self, as_of: _dt.date) -> bool:
        return self.effective_from <= as_of <= self.effective_until

    def conditions(self) -> list[ex.Node]:
        """The conditions that must hold: ``when``, and for a rule whose value is an expression, that
        the value is known (``present(value)``) — the implicit condition both engines and the
        explanations judge."""
        out = list(self.when)
        if self.value is not None and not isinstance(self.value, ex.Const):
            out.append(ex.Func("present", (self.value,)))
        return out

    def nodes(self) -> Iterator[ex.Node]:
        """Every expression the rule evaluates: its conditions, its conclusion's arguments and value."""
        yield from self.when
        for _, node in self.args:
            yield node
        if self.value is not None:
            yield self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "conclusion": self.conclusion,
            "args": {k: ex.render(v) for k, v in self.args},
            "value": ex.render(self.value) if self.value is not None else None,
            "verdict": self.verdict,
            "when": list(self.when_text),
            "effective": self.window.to_dict(),
            "sources": list(self.sources),
            "confidence": self.confidence.value,
            "for": {self.for_var: self.for_table} if self.for_var else None,
            "assumptions": list(self.assumptions),
            "digest": list(self.digest),
            "file": self.file,
            **({"applies_to": list(self.applies_to_text)} if self.applies_to else {}),
        }


@attrs.frozen
class LintIssue:
    """A problem ``Rulebook.lint()`` found; ``level`` is ``error`` or ``warning``."""

    level: str
    code: str
    message: str
    file: str = ""
    rule_id: str = ""

    def __str__(self) -> str:
        where = ":".join(p for p in (self.file, self.rule_id) if p)
        return f"{self.level}: {self.code}: {where + ': ' if where else ''}{self.message}"
