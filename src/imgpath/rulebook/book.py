"""The :class:`Rulebook`: rules, sources, tables and conclusions, checked together when built.

A rulebook is immutable once built: a reform (:meth:`Rulebook.with_parameters`,
:meth:`Rulebook.with_rules`) builds a new one. Compiled programs are cached by the compiler,
keyed by the rulebook, and die with it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._internal import cache as _cache
from .._internal import views
from ..errors import RuleError, UnknownConclusion, UnknownRule
from . import graph
from .load import Names, cell_from, hint, read_folder, read_rule_file
from .model import BEGINNING, END_OF_TIME, ConclusionSpec, Definition, LintIssue, Rule, Source, Table
from .resolve import check_rules

__all__ = ["Rulebook", "load_rulebook"]


class Rulebook:
    """Rules, sources, tables and conclusions, checked for consistency when built.

    Build one with :func:`load_rulebook` (any folder laid out like ``rules/``) or take the
    cached default with :func:`imgpath.rulebook`.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        sources: Mapping[str, Source],
        tables: Mapping[str, Table],
        conclusions: Mapping[str, ConclusionSpec],
        *,
        path: Path | None = None,
        extras: Mapping[str, Any] | None = None,
        name: str = "",
        definitions: Mapping[str, Definition] | None = None,
        law: Mapping[str, str] | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.sources: Mapping[str, Source] = dict(sources)
        self.tables: Mapping[str, Table] = dict(tables)
        self.conclusions: Mapping[str, ConclusionSpec] = dict(conclusions)
        self.path = path
        self.name = name or (str(path) if path else "rulebook")
        self.extras: Mapping[str, Any] = dict(extras or {})
        #: the rule language's named predicates, groups and values (rules/definitions.toml)
        self.definitions: Mapping[str, Definition] = dict(definitions or {})
        #: the IMG rules digest by id (rules/digest.md): the law the rules cite in ``digest = [...]``
        self.law: Mapping[str, str] = dict(law or {})
        self._by_id = {r.id: r for r in self.rules}
        if len(self._by_id) != len(self.rules):
            dup = next(r for r in self.rules if sum(x.id == r.id for x in self.rules) > 1)
            raise RuleError("duplicate rule id", file=dup.file, rule_id=dup.id)
        self.order = {r.id: i for i, r in enumerate(self.rules)}
        self._by_conclusion: dict[str, list[Rule]] = {}
        for r in self.rules:
            self._by_conclusion.setdefault(r.conclusion, []).append(r)
        check_rules(self.rules, self.sources, self.tables, self.conclusions, self.definitions)
        graph.check_acyclic(self.rules)
        self._cones: dict[frozenset[str], frozenset[str]] = {}
        self._digest: str | None = None
        #: what later layers derive from this rulebook and keep for its lifetime (the compiler's
        #: programs); never pickled
        self.derived: dict[str, Any] = {}

    # ------------------------------------------------------------------ access

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; :class:`~imgpath.UnknownRule` (a KeyError) with a suggestion otherwise."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise UnknownRule(rule_id, hint(rule_id, self._by_id)) from None

    def rules_for(self, conclusion: str) -> tuple[Rule, ...]:
        return tuple(self._by_conclusion.get(conclusion, ()))

    def in_force(self, as_of: _dt.date) -> tuple[Rule, ...]:
        """The rules in force on ``as_of``, in file order."""
        return tuple(r for r in self.rules if r.in_force(as_of))

    def change_dates(self) -> list[_dt.date]:
        """Every date on which some rule enters or leaves force (the day it changes)."""
        dates = set()
        for r in self.rules:
            if r.effective_from > BEGINNING:
                dates.add(r.effective_from)
            if r.effective_until < END_OF_TIME:
                dates.add(r.effective_until + _dt.timedelta(days=1))
        for table in self.tables.values():
            for _, _, series in table.series():
                dates.update(series.dates())
        return sorted(dates)

    def source(self, source_id: str) -> Source:
        return self.sources[source_id]

    def conclusion(self, name: str) -> ConclusionSpec:
        """The vocabulary entry of a conclusion; :class:`~imgpath.UnknownConclusion` (a KeyError) otherwise."""
        try:
            return self.conclusions[name]
        except KeyError:
            raise UnknownConclusion(name, hint(name, self.conclusions)) from None

    def season_table(self) -> Table | None:
        """The table bound to the evaluation's Match season, if the rulebook has one."""
        return next((t for t in self.tables.values() if t.bind == "season"), None)

    def cone(self, goals: Iterable[str]) -> frozenset[str]:
        """The conclusions ``goals`` depend on, transitively (themselves included)."""
        key = frozenset(goals)
        cached = self._cones.get(key)
        if cached is None:
            cached = self._cones[key] = graph.cone(self.rules, key)
        return cached

    @property
    def digest(self) -> str:
        """A hash of the rulebook's content: rules, sources, tables, vocabulary and data files.

        Stamped on every evaluation's JSON, so a stored answer says which law produced it.
        """
        if self._digest is None:
            h = hashlib.sha256()
            for part in (self.rules, sorted(self.sources.items()), sorted(self.tables.items()),
                         sorted(self.conclusions.items()), sorted(self.extras.items(), key=lambda kv: kv[0])):
                h.update(repr(part).encode())
            self._digest = h.hexdigest()[:16]
        return self._digest

    # ------------------------------------------------------------------ reforms

    def with_rules(self, rules: str | Path | Iterable[Rule], *, name: str = "") -> Rulebook:
        """A new rulebook where these rules replace those with the same id (others are added).

        ``rules`` is a rule file (``.toml`` with ``[[rule]]`` entries) or :class:`Rule` objects.
        """
        if isinstance(rules, (str, Path)):
            new = read_rule_file(Path(rules), None, Names(self.conclusions, self.tables, self.definitions))
        else:
            new = list(rules)
        replaced = {r.id: r for r in new}
        kept = [replaced.pop(r.id, r) for r in self.rules]
        return self._evolve(rules=[*kept, *replaced.values()], name=name or f"{self.name} + rules")

    def with_parameters(self, changes: Mapping[str, Any], *, name: str = "", add_rows: bool = False) -> Rulebook:
        """A new rulebook with some table figures replaced: ``{"states.TX.img_gme_years": 3}``.

        A value may be a plain value or a mapping ``{value, confidence, sources, note}``; the
        changed cells keep the old cell's confidence and sources unless given, and are marked as a
        reform in their note. Unknown tables, rows or columns are errors (with a suggestion), as
        are values of the wrong type; ``add_rows=True`` lets a change add a row the table lacks
        (a season the data does not hold yet).
        """
        tables = dict(self.tables)
        for path, change in changes.items():
            parts = str(path).split(".")
            if len(parts) != 3:
                raise RuleError(f"parameter {path!r}: write table.row.column, e.g. states.TX.img_gme_years")
            tname, raw_key, col = parts
            table = tables.get(tname)
            if table is None:
                raise RuleError(f"parameter {path!r}: no table {tname!r}{hint(tname, tables)}")
            if table.key_type == "int" and not raw_key.lstrip("-").isdigit():
                raise RuleError(f"parameter {path!r}: the rows of table {tname} are whole numbers")
            key: Any = int(raw_key) if table.key_type == "int" else raw_key
            if key not in table.rows and not add_rows:
                raise RuleError(f"parameter {path!r}: table {tname} has no row {raw_key!r}"
                                f"{hint(raw_key, map(str, table.rows))} (add_rows=True adds one)")
            if col not in table.columns:
                raise RuleError(f"parameter {path!r}: table {tname} has no column {col!r}{hint(col, table.columns)}")
            raw = dict(change) if isinstance(change, Mapping) else {"value": change}
            raw.setdefault("note", "reform")
            old = table.cell(key, col)
            if old is not None:
                raw.setdefault("confidence", old.confidence.value)
                raw.setdefault("sources", list(old.sources))
            cell = cell_from(raw, table.columns[col], path, table.file)
            rows = {k: dict(v) for k, v in table.rows.items()}
            rows.setdefault(key, {})[col] = cell
            tables[tname] = attrs.evolve(table, rows=rows)
        return self._evolve(tables=tables, name=name or f"{self.name} + parameters")

    def _evolve(self, **changes: Any) -> Rulebook:
        parts: dict[str, Any] = {"rules": self.rules, "sources": self.sources, "tables": self.tables,
                                 "conclusions": self.conclusions, "path": self.path, "extras": self.extras,
                                 "name": self.name, "definitions": self.definitions,
                                 "law": self.law}
        parts.update(changes)
        return Rulebook(parts.pop("rules"), parts.pop("sources"), parts.pop("tables"), parts.pop("conclusions"),
                        **parts)

    # ------------------------------------------------------------------ protocol

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cones"] = {}
        state["derived"] = {}
        return state

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return (f"<Rulebook {len(self.rules)} rules, {len(self.conclusions)} conclusions, "
                f"{len(self.sources)} sources, tables {sorted(self.tables)}>")

    def _repr_html_(self) -> str:
        return views.html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules],
                "sources": {k: s.to_dict() for k, s in sorted(self.sources.items())}}

    def lint(self, *, today: _dt.date | None = None) -> list[LintIssue]:
        """Everything worth fixing, errors first (:func:`imgpath.lint.lint_rulebook`): sources never cited
        or checked too long ago, figures without a source, engine limits on every window..."""
        return views.call("lint", self, today=today)  # type: ignore[no-any-return]


def load_rulebook(path: str | Path, *, cache: bool = False) -> Rulebook:
    """Load and check a rules folder (``*.toml`` rule files, ``sources.toml``, ``conclusions.toml``, ``data/``).

    With ``cache``, a parsed copy is kept in imgpath's per-user cache (:mod:`imgpath._internal.cache`:
    ``$IMGPATH_CACHE_DIR``, else ``~/.cache/imgpath``) keyed by the files' content, so later
    processes start faster. A cache entry is read only from a private directory the user owns
    and only when its checksum matches; anything else is rebuilt.
    """
    import pickle

    root = Path(path)
    entry = None
    if cache and root.is_dir():
        try:
            entry = cache_key(root)
            payload = _cache.load("rulebook", entry)
            if payload is not None:
                book = pickle.loads(payload)
                if isinstance(book, Rulebook):
                    book.path = root
                    return book
        except Exception:  # noqa: BLE001 - an unreadable entry is rebuilt, never trusted
            entry = entry if entry is not None else None
    folder = read_folder(root)
    book = Rulebook(folder.rules, folder.sources, folder.tables, folder.conclusions, path=root,
                    extras=folder.extras, definitions=folder.definitions, law=folder.law)
    if entry is not None:
        book.digest  # noqa: B018 - computed once and kept in the cached copy (later processes key caches by it)
        _cache.store("rulebook", entry, pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL))
    return book


def cache_key(root: Path) -> str:
    """Key of a parsed rulebook: every rules file's name and content, and imgpath's own source
    (the cache holds instances of its classes)."""
    parts: list[bytes | str] = []
    for f in sorted(root.rglob("*.toml")):
        if "scenarios" in f.parts:
            continue
        parts += [str(f.relative_to(root)), f.read_bytes()]
    return _cache.key(*parts, _cache.package_source())

