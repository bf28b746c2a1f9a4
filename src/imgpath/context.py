"""The context of one evaluation: the facts known at ``as_of``, the Match season and its parameters.

Both engines read facts through this module, so they agree on what every
field path means: a value, :data:`~imgpath.expressions.NONE` (known not to
exist) or :data:`~imgpath.expressions.UNKNOWN`.

Facts are those known at ``as_of`` (contract §6.4): list entries dated after
it (an exam not yet sat, a license not yet issued) are dropped, and event
dates after it (a certificate issued later) read as not yet having happened.

>>> from imgpath.facts import Applicant
>>> a = Applicant.from_dict({"ecfmg": {"certified": "2026-03-01"}, "exams": [{"exam": "step1", "date": "2026-05-01"}]})
>>> k = known_at(a, _dt.date(2026, 1, 1))
>>> k.ecfmg.certified is None, k.exams
(True, ())
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import expressions as ex
from .facts import Applicant, absent_default, field_meta, fields_by_key, key_of, section_classes
from .rulebook import Rulebook, Table

__all__ = ["Context", "known_at", "match_day", "planned_at", "season_for", "table_at"]


def known_at(applicant: Applicant, as_of: _dt.date) -> Applicant:
    """The applicant as known on ``as_of``: later entries dropped, later event dates cleared.

    What "later" means is declared by the schema (:func:`imgpath.facts._describe`): an ``anchor``
    date after ``as_of`` drops its whole entry or object, an ``event`` date after it reads as not
    yet happened (its ``planned`` field keeps it as expected), and a ``needs_event`` flag reads
    false while its event is ahead.
    """
    return _truncate(applicant, as_of)  # type: ignore[no-any-return]


@functools.cache
def _anchor(cls: type) -> str | None:
    """The field that dates an entry or object of ``cls`` (schema ``anchor``), if any."""
    return next((f.name for f in attrs.fields(cls) if field_meta(f)["anchor"]), None)


def _later(obj: Any, as_of: _dt.date) -> bool:
    anchor = _anchor(type(obj))
    return anchor is not None and getattr(obj, anchor) is not None and getattr(obj, anchor) > as_of


@functools.cache
def _plan(cls: type) -> tuple[tuple[tuple[str, str, str | None, bool], ...], tuple[tuple[str, str], ...]]:
    """What truncation looks at in an object of ``cls``, read once from the schema: per field
    (name, what it is, the field a derived one copies, whether it is an event date), then the fields
    that only hold once an event has happened (a training ``completed`` needs its ``end``)."""
    fields = attrs.fields(cls)
    by_key = {key_of(f): f.name for f in fields}
    steps = []
    for fld in fields:
        meta = field_meta(fld)
        if meta["derived"]:
            steps.append((fld.name, "derived", by_key[meta["derived"]], False))
        elif meta["kind"] == "list":
            steps.append((fld.name, "list", None, bool(meta["event"])))
        elif meta["kind"] in ("object", "note"):
            steps.append((fld.name, "object", None, bool(meta["event"])))
        elif meta["event"]:
            steps.append((fld.name, "event", None, True))
    needs = tuple((fld.name, field_meta(fld)["needs_event"]) for fld in fields if field_meta(fld)["needs_event"])
    return tuple(steps), needs


def _truncate(obj: Any, as_of: _dt.date) -> Any:
    steps, needs = _plan(type(obj))
    changes: dict[str, Any] = {}
    for name, kind, source, event in steps:
        value = getattr(obj, name)
        if kind == "derived":
            copied = getattr(obj, source)  # type: ignore[arg-type]
            if copied != value:
                changes[name] = copied  # the date itself, past or planned
            continue
        if value is None or value is False:
            continue
        if kind == "list":
            kept = tuple(_truncate(item, as_of) for item in value if not _later(item, as_of))
            if kept != value:
                changes[name] = kept
        elif kind == "object" and attrs.has(type(value)):
            if _later(value, as_of):
                changes[name] = None  # not yet there at as_of (a Pathway accepted later)
                continue
            new = _truncate(value, as_of)
            if new is not value:
                changes[name] = new
        elif event and isinstance(value, _dt.date) and value > as_of:
            changes[name] = None
    for name, needed in needs:
        if getattr(obj, name) and changes.get(needed, 1) is None:
            changes[name] = False  # e.g. a training is not completed before its end
    return attrs.evolve(obj, **changes) if changes else obj


def planned_at(applicant: Applicant, as_of: _dt.date) -> dict[str, _dt.date]:
    """Field path → date of every event the document plans after ``as_of`` (the schema's
    ``planned`` fields of its sections), keyed by the path of the field that reads it.

    >>> planned_at(Applicant.from_dict({"school": {"country": "CA", "graduated": "2024-05-30"}}),
    ...            _dt.date(2024, 1, 15))
    {'school.expected_graduation': datetime.date(2024, 5, 30)}
    """
    out: dict[str, _dt.date] = {}
    for section, fields in _planned_fields():
        obj = getattr(applicant, section, None)
        if obj is None or isinstance(obj, tuple):
            continue
        for name, path in fields:
            value = getattr(obj, name)
            if isinstance(value, _dt.date) and value > as_of:
                out[path] = value
    return out


@functools.cache
def _planned_fields() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Per section, its ``planned`` fields: (attribute, path of the field that reads the plan)."""
    out = []
    for section, cls in section_classes().items():
        fields = tuple((f.name, f"{section}.{field_meta(f)['planned']}") for f in attrs.fields(cls)
                       if field_meta(f)["planned"])
        if fields:
            out.append((section, fields))
    return tuple(out)


def _nth_weekday(year: int, rule: Mapping[str, Any]) -> _dt.date:
    """The ``nth`` ``weekday`` of ``month`` in ``year`` (a rule like the seasons table's ``default_match_day``)."""
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    first = _dt.date(year, int(rule["month"]), 1)
    offset = (weekdays.index(rule["weekday"]) - first.weekday()) % 7
    return first + _dt.timedelta(days=offset + 7 * (int(rule["nth"]) - 1))


def table_at(book: Rulebook, name: str, day: _dt.date) -> Table:
    """``book.tables[name].at(day)``, kept on the rulebook (a bounded cache: a few thousand dates)."""
    cache = book.derived.get("tables_at")
    if cache is None:
        cache = book.derived["tables_at"] = {}
    key = (name, day)
    out = cache.get(key)
    if out is None:
        table = book.tables[name]
        plain = cache.get(name)  # whether the table has dated cells, looked at once
        if plain is None:
            plain = cache[name] = not table.dated
        if plain:
            return table
        if len(cache) > 4096:
            cache.clear()
        out = cache[key] = table.at(day)
    return out  # type: ignore[no-any-return]


def match_day(book: Rulebook, year: int) -> tuple[_dt.date, bool]:
    """Match Day of ``year`` and whether it comes from the data (else the seasons table's declared
    ``default_match_day``, contract §6.9: the third Friday of March; a rulebook declaring neither has
    seasons that follow the calendar year).

    >>> from imgpath.rulebook import rulebook
    >>> match_day(rulebook(), 2031)
    (datetime.date(2031, 3, 21), False)
    """
    seasons = book.season_table()
    cell = seasons.cell(year, "match_day") if seasons else None
    if cell is not None:
        return cell.value, True
    rule = seasons.meta.get("default_match_day") if seasons else None
    if not rule:  # a rulebook that declares no Match Day: seasons follow the calendar year
        return _dt.date(year, 12, 31), False
    return _nth_weekday(year, rule), False


def season_for(book: Rulebook, applicant: Applicant, as_of: _dt.date) -> int:
    """The Match season: ``match.season`` when given, else the first Match Day on or after ``as_of``.

    >>> from imgpath.rulebook import rulebook
    >>> season_for(rulebook(), Applicant(), _dt.date(2026, 3, 21))
    2027
    """
    if applicant.match is not None and applicant.match.season is not None:
        return applicant.match.season
    year = as_of.year
    return year if match_day(book, year)[0] >= as_of else year + 1


class Context:
    """Everything one evaluation reads: facts at ``as_of``, the season row, the rows in scope.

    ``env()`` gives the :class:`~imgpath.expressions.Env` conditions are
    evaluated in; ``rows(table)`` the keys of a ``for`` table in scope.
    """

    def __init__(self, book: Rulebook, applicant: Applicant, as_of: _dt.date) -> None:
        self.book = book
        self.original = applicant
        self.as_of = as_of
        self.applicant = known_at(applicant, as_of)
        #: field path -> date of the events the document plans after as_of (the expected graduation)
        self.planned = planned_at(applicant, as_of)
        self.season = season_for(book, applicant, as_of)
        self.season_table = book.season_table()
        self.season_row: Mapping[str, Any] = (
            self.season_table.rows.get(self.season, {}) if self.season_table else {})
        self._sections = section_classes()
        self._scoped: dict[str, tuple[Any, ...]] = {}
        self._tables: dict[str, Table] = {}

    def table(self, name: str) -> Table:
        """A table as it reads on ``as_of`` (dated cells resolved: :meth:`Table.at`).

        Resolved tables are kept on the rulebook per table and date, so evaluations on one date
        share one object (the driver keeps what it derives from a table with it).
        """
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = table_at(self.book, name, self.as_of)
        return table

    def original_indices(self, section: str) -> list[int]:
        """Positions in the original document of the list entries known at ``as_of``."""
        items = getattr(self.original, section, None) or ()
        return [i for i, item in enumerate(items) if not _later(item, self.as_of)]

    def planned_assumptions(self, nodes: Iterable[ex.Node]) -> list[str]:
        """The assumptions a condition makes by reading a planned fact (contract §6.4): for each field
        among ``nodes`` that reads an event still ahead at ``as_of``, its schema ``assumption``."""
        if not self.planned:
            return []
        out = []
        for node in nodes:
            for f in ex.walk(node):
                if isinstance(f, ex.Field) and f.path and f.dotted in self.planned:
                    fld = fields_by_key(self._sections[f.root])[f.path[-1]]
                    out.append(field_meta(fld)["assumption"].format(value=self.planned[f.dotted].isoformat()))
        return list(dict.fromkeys(out))

    # ------------------------------------------------------------------ rows

    def rows(self, table_name: str) -> tuple[Any, ...]:
        """Keys of a ``for`` table's rows in scope for this applicant (``interest.states`` when given)."""
        cached = self._scoped.get(table_name)
        if cached is not None:
            return cached
        table = self.book.tables[table_name]
        keys = tuple(table.rows)
        if table.scope:
            root, *path = table.scope.split(".")
            chosen = self.lookup(ex.Field(root, tuple(path)), None)
            if isinstance(chosen, tuple):
                keys = tuple(k for k in keys if k in chosen)
        self._scoped[table_name] = keys
        return keys

    # ------------------------------------------------------------------ lookup

    def env(self, variables: Mapping[str, Any] | None = None) -> ex.Env:
        return ex.Env(as_of=self.as_of, lookup=self.lookup, variables=variables)

    def lookup(self, f: ex.Field, env: ex.Env | None) -> Any:
        """Resolve a field path to a value, NONE or UNKNOWN."""
        root = f.root
        if env is not None and env.has_var(root):
            bound = env.var(root)
            if isinstance(bound, RowRef):
                return bound.get(f.path[0])
            return self._resolve(bound, f.path)
        if root == "as_of":
            return self.as_of
        if self.season_table is not None and root == self.season_table.bind:
            col = f.path[0]
            if col == self.season_table.key:
                return self.season
            cell = self.season_row.get(col)
            return ex.UNKNOWN if cell is None else cell.value
        section = getattr(self.applicant, root, None) if root in self._sections else None
        if root not in self._sections:
            raise KeyError(f"unknown name {root}")
        if not f.path:
            return ex.UNKNOWN if section is None else section
        return self._resolve(section, f.path)

    def _resolve(self, obj: Any, path: tuple[str, ...]) -> Any:
        cur = obj
        meta: dict[str, Any] = {}
        for part in path:
            if cur is None:
                return ex.UNKNOWN
            if cur is False and meta.get("kind") == "note":
                return ex.NONE  # ecfmg_note = false: no note, so none of its fields
            fld = fields_by_key(type(cur))[part]
            meta = fld.metadata["imgpath"]
            val = getattr(cur, fld.name)
            if val is None:
                if meta["absent"] == "none" or (meta["none_when"] and getattr(cur, meta["none_when"]) is True):
                    return ex.NONE
                if meta["absent"] == "default":
                    val = self.default(meta["cls"])
                else:
                    return ex.UNKNOWN
            cur = val
        if cur is False and meta.get("kind") == "note":
            return ex.NONE
        return cur

    def default(self, cls: type) -> Any:
        """The documented default of a section that is absent (contract §6.2), as the schema declares it."""
        values = {k: self.as_of if v == "as_of" else v for k, v in absent_default(cls).items()}
        return cls(**values)

    def cells_used(self, table: Table, key: Any, columns: Any) -> list[tuple[str, Any, str, Any]]:
        """(table, key, column, cell) for the cells of ``columns`` that exist in a row."""
        row = table.rows.get(key, {})
        return [(table.name, key, c, row[c]) for c in columns if c in row]


@attrs.frozen
class RowRef:
    """A row of a ``for`` table bound to a rule's variable."""

    table: Table
    key: Any

    def get(self, column: str) -> Any:
        if column == self.table.key:
            return self.key
        cell = self.table.cell(self.key, column)
        return ex.UNKNOWN if cell is None else cell.value
