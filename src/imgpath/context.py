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
from collections.abc import Mapping
from typing import Any

import attrs

from . import expressions as ex
from .facts import Applicant, H1bPetition, fields_by_key, section_classes
from .rulebook import Rulebook, Table

__all__ = ["Context", "known_at", "match_day", "season_for", "table_at"]

#: The entry field that dates each list entry; entries dated after as_of are not yet known.
_ANCHORS = {"Exam": "date", "License": "issued", "Training": "start", "Practice": "start"}


def known_at(applicant: Applicant, as_of: _dt.date) -> Applicant:
    """The applicant as known on ``as_of``: later entries dropped, later event dates cleared."""
    return _truncate(applicant, as_of)  # type: ignore[no-any-return]


def _truncate(obj: Any, as_of: _dt.date) -> Any:
    changes: dict[str, Any] = {}
    for fld in attrs.fields(type(obj)):
        value = getattr(obj, fld.name)
        if value is None or value is False:
            continue
        meta = fld.metadata["imgpath"]
        if meta["kind"] == "list":
            anchor = _ANCHORS.get(meta["cls"].__name__)
            kept = tuple(_truncate(item, as_of) for item in value
                         if not (anchor and getattr(item, anchor) is not None and getattr(item, anchor) > as_of))
            if kept != value:
                changes[fld.name] = kept
        elif meta["kind"] in ("object", "note") and attrs.has(type(value)):
            if type(value).__name__ == "Pathway" and value.accepted is not None and value.accepted > as_of:
                changes[fld.name] = None  # not yet accepted at as_of
                continue
            new = _truncate(value, as_of)
            if new is not value:
                changes[fld.name] = new
        elif meta["event"] and isinstance(value, _dt.date) and value > as_of:
            changes[fld.name] = None
    if type(obj).__name__ == "Training" and changes.get("end", 1) is None and obj.completed:
        changes["completed"] = False  # not completed yet at as_of
    return attrs.evolve(obj, **changes) if changes else obj


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


def _third_friday_of_march(year: int) -> _dt.date:
    first = _dt.date(year, 3, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + _dt.timedelta(days=offset + 14)


def match_day(book: Rulebook, year: int) -> tuple[_dt.date, bool]:
    """Match Day of ``year`` and whether it comes from the data (else the third Friday of March, §6.9)."""
    seasons = book.season_table()
    cell = seasons.cell(year, "match_day") if seasons else None
    if cell is not None:
        return cell.value, True
    return _third_friday_of_march(year), False


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
        if not items:
            return []
        anchor = _ANCHORS.get(type(items[0]).__name__)
        return [i for i, item in enumerate(items)
                if not (anchor and getattr(item, anchor) is not None and getattr(item, anchor) > self.as_of)]

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
                if meta["absent"] == "none":
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
        """The documented default of a section that is absent (contract §6.2)."""
        if cls is H1bPetition:
            return H1bPetition(filed=self.as_of, kind="new")
        raise KeyError(cls)  # pragma: no cover

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
