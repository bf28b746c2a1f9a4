"""The rulebook: rules, sources, parameter tables and the conclusion vocabulary, loaded from ``rules/``.

Rules are data. Each ``rules/*.toml`` file holds ``[[rule]]`` entries::

    [[rule]]
    id = "img.school_abroad"
    title = "A graduate of a school outside the U.S., Puerto Rico and Canada is an IMG"
    when = ["school.country not in ['US', 'PR', 'CA']"]
    then = { conclusion = "img" }
    effective = { from = 1950-01-01 }
    sources = ["ecfmg-ib-certification"]
    confidence = "primary"

``rules/sources.toml`` maps source ids to URLs, ``rules/conclusions.toml``
declares the conclusions, and ``rules/data/*.toml`` holds parameter tables
(seasons, states) whose cells carry their own sources and confidence. A bad
file fails to load with the file, the rule id and the offending text.

>>> book = rulebook()
>>> book.rule("img.school_abroad").conclusion
'img'
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from . import expressions as ex
from .errors import RuleError
from .facts import fields_by_key, section_classes

__all__ = [
    "CONFIDENCE",
    "Cell",
    "ConclusionSpec",
    "LintIssue",
    "Rule",
    "Rulebook",
    "Source",
    "Table",
    "load_rulebook",
    "rulebook",
    "rules_dir",
    "weakest",
]

#: Confidence levels, weakest first.
CONFIDENCE = ("unconfirmed", "secondary", "primary")
_ID = re.compile(r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9_]+)*$")
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9\-_.]*$")
BEGINNING = _dt.date(1900, 1, 1)
END_OF_TIME = _dt.date(9999, 12, 31)


def weakest(levels: Iterable[str]) -> str:
    """The weakest confidence of several (``primary`` when there are none).

    >>> weakest(["primary", "secondary"])
    'secondary'
    """
    out = "primary"
    for level in levels:
        if CONFIDENCE.index(level) < CONFIDENCE.index(out):
            out = level
    return out


@attrs.frozen
class Source:
    """A document a rule or figure rests on."""

    id: str
    url: str
    title: str
    publisher: str
    kind: str  # primary | secondary
    retrieved: _dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "title": self.title, "publisher": self.publisher,
                "kind": self.kind, "retrieved": self.retrieved.isoformat() if self.retrieved else None}


@attrs.frozen
class Cell:
    """One figure of a parameter table, with what it rests on."""

    value: Any
    confidence: str = "primary"
    sources: tuple[str, ...] = ()
    note: str = ""


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

    def cell(self, key: Any, column: str) -> Cell | None:
        row = self.rows.get(key)
        return None if row is None else row.get(column)


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
    confidence: str = "primary"


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
    confidence: str = "primary"
    for_var: str | None = None
    for_table: str | None = None
    assumptions: tuple[str, ...] = ()
    digest: tuple[str, ...] = ()
    group: str = ""
    notes: str = ""
    file: str = ""
    advisory: bool = False

    @property
    def effective(self) -> tuple[_dt.date, _dt.date | None]:
        return (self.effective_from, None if self.effective_until == END_OF_TIME else self.effective_until)

    def in_force(self, as_of: _dt.date) -> bool:
        return self.effective_from <= as_of <= self.effective_until

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "conclusion": self.conclusion,
            "args": {k: ex.render(v) for k, v in self.args},
            "value": ex.render(self.value) if self.value is not None else None,
            "verdict": self.verdict,
            "when": list(self.when_text),
            "effective": {"from": self.effective_from.isoformat(),
                          "until": None if self.effective_until == END_OF_TIME
                          else self.effective_until.isoformat()},
            "sources": list(self.sources),
            "confidence": self.confidence,
            "for": {self.for_var: self.for_table} if self.for_var else None,
            "assumptions": list(self.assumptions),
            "digest": list(self.digest),
            "file": self.file,
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


class Rulebook:
    """Rules, sources, tables and conclusions, checked for consistency when built.

    Build one with :func:`load_rulebook` (any folder laid out like ``rules/``)
    or take the cached default with :func:`rulebook`.
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
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.sources: Mapping[str, Source] = dict(sources)
        self.tables: Mapping[str, Table] = dict(tables)
        self.conclusions: Mapping[str, ConclusionSpec] = dict(conclusions)
        self.path = path
        self.extras: Mapping[str, Any] = dict(extras or {})
        self._by_id = {r.id: r for r in self.rules}
        self.order = {r.id: i for i, r in enumerate(self.rules)}
        self._by_conclusion: dict[str, list[Rule]] = {}
        for r in self.rules:
            self._by_conclusion.setdefault(r.conclusion, []).append(r)
        self._check()
        self._programs: dict[frozenset[str], Any] = {}
        self._by_date: dict[tuple[_dt.date, frozenset[str] | None], Any] = {}
        self._cones: dict[frozenset[str], frozenset[str]] = {}

    # ------------------------------------------------------------------ access

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; a :class:`KeyError` with a suggestion otherwise."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            hint = difflib.get_close_matches(rule_id, list(self._by_id), n=1)
            raise KeyError(f"no rule {rule_id!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")) from None

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
        return sorted(dates)

    def source(self, source_id: str) -> Source:
        return self.sources[source_id]

    def conclusion(self, name: str) -> ConclusionSpec:
        try:
            return self.conclusions[name]
        except KeyError:
            hint = difflib.get_close_matches(name, list(self.conclusions), n=1)
            raise KeyError(f"no conclusion {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")) from None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_programs"] = {}  # compiled programs hold closures and engine handles: rebuilt on demand
        state["_by_date"] = {}
        return state

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return (f"<Rulebook {len(self.rules)} rules, {len(self.conclusions)} conclusions, "
                f"{len(self.sources)} sources, tables {sorted(self.tables)}>")

    def _repr_html_(self) -> str:
        from .render import rulebook_html

        return rulebook_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules],
                "sources": {k: s.to_dict() for k, s in sorted(self.sources.items())}}

    # ------------------------------------------------------------------ checks

    def _check(self) -> None:
        for r in self.rules:
            if r.conclusion not in self.conclusions:
                raise RuleError(f"unknown conclusion {r.conclusion!r}{_hint(r.conclusion, self.conclusions)}",
                                file=r.file, rule_id=r.id)
            for sid in r.sources:
                if sid not in self.sources:
                    raise RuleError(f"unknown source {sid!r}{_hint(sid, self.sources)}; add it to "
                                    "rules/sources.toml", file=r.file, rule_id=r.id)
            spec = self.conclusions[r.conclusion]
            got = {k for k, _ in r.args}
            if got != set(spec.args):
                raise RuleError(f"conclusion {r.conclusion} takes arguments {sorted(spec.args) or 'none'}, "
                                f"the rule gives {sorted(got) or 'none'}", file=r.file, rule_id=r.id)
            if spec.kind == "boolean" and r.value is not None:
                raise RuleError(f"{r.conclusion} is yes/no; remove 'value'", file=r.file, rule_id=r.id)
            if spec.kind != "boolean" and r.value is None:
                raise RuleError(f"{r.conclusion} is a {spec.kind} conclusion; give 'value' or 'value_expr'",
                                file=r.file, rule_id=r.id)
            if spec.values and isinstance(r.value, ex.Const) and r.value.value not in spec.values:
                raise RuleError(f"value {r.value.value!r} is not one of {list(spec.values)}",
                                file=r.file, rule_id=r.id)
            if r.for_table is not None:
                table = self.tables.get(r.for_table)
                if table is None or table.bind != "for":
                    raise RuleError(f"'for' names {r.for_table!r}, which is not a table rules can range over",
                                    file=r.file, rule_id=r.id)
            checker = _NameChecker(self, r)
            for node, text in zip(r.when, r.when_text, strict=True):
                checker.check(node, text)
            for _, node in r.args:
                checker.check(node, ex.render(node))
            if r.value is not None:
                checker.check(r.value, ex.render(r.value))
        from .compiler import check_strata

        check_strata(self)
        for spec in self.conclusions.values():
            for sid in spec.sources:
                if sid not in self.sources:
                    raise RuleError(f"conclusion {spec.name}: unknown source {sid!r}{_hint(sid, self.sources)}")
        for sid, src in self.sources.items():
            if src.kind not in ("primary", "secondary"):
                raise RuleError(f"source {sid}: kind must be primary or secondary, got {src.kind!r}")
        for table in self.tables.values():
            for key, row in table.rows.items():
                for col, cell in row.items():
                    for sid in cell.sources:
                        if sid not in self.sources:
                            raise RuleError(f"table {table.name} row {key} column {col}: unknown source {sid!r}",
                                            file=table.file)

    def cone(self, goals: Iterable[str]) -> frozenset[str]:
        """The conclusions ``goals`` depend on, transitively (themselves included)."""
        key = frozenset(goals)
        cached = self._cones.get(key)
        if cached is None:
            cached = self._cones[key] = self._cone(key)
        return cached

    def _cone(self, goals: Iterable[str]) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(goals)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for rule in self._by_conclusion.get(name, ()):
                for node in rule.when:
                    todo.extend(ex.conclusion_refs(node))
        return frozenset(seen)

    def program(self, as_of: _dt.date, goals: Iterable[str] | None = None) -> Any:
        """The compiled program for the rules in force on ``as_of`` (cached per set of rules).

        With ``goals``, only the rules those conclusions depend on (planning re-evaluates a
        goal many times; other conclusions of such a program are not evaluated).
        """
        from .compiler import compile_program

        fast = (as_of, None if goals is None else frozenset(goals))
        prog = self._by_date.get(fast)
        if prog is not None:
            return prog
        rules = self.in_force(as_of)
        if goals is not None:
            cone = self.cone(goals)
            rules = tuple(r for r in rules if r.conclusion in cone)
        key = frozenset(r.id for r in rules)
        prog = self._programs.get(key)
        if prog is None:
            prog = compile_program(self, rules)
            self._programs[key] = prog
        if len(self._by_date) > 4096:  # a bounded cache: many dates share a few programs
            self._by_date.clear()
        self._by_date[fast] = prog
        return prog

    def lint(self) -> list[LintIssue]:
        """Everything worth fixing: see :func:`imgpath.lint.lint_rulebook`."""
        from .lint import lint_rulebook

        return lint_rulebook(self)


def _hint(name: str, options: Iterable[str]) -> str:
    found = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


class _NameChecker:
    """Checks every name in a rule's conditions against facts, tables and conclusions."""

    CONTEXT = ("as_of",)

    def __init__(self, book: Rulebook, rule: Rule) -> None:
        self.book = book
        self.rule = rule
        self.sections = section_classes()
        self.bound = {t.bind if t.bind != "for" else None: t for t in book.tables.values()}
        self.bound.pop(None, None)
        if rule.for_var:
            self.bound[rule.for_var] = book.tables[rule.for_table]  # type: ignore[index]

    def fail(self, problem: str, text: str) -> RuleError:
        return RuleError(problem, file=self.rule.file, rule_id=self.rule.id, text=text)

    def check(self, node: ex.Node, text: str, scope: Mapping[str, type] | None = None) -> None:
        scope = dict(scope or {})
        if isinstance(node, ex.Field):
            self.field(node, text, scope)
            return
        if isinstance(node, ex.Ref):
            if scope:
                raise self.fail("conclusions cannot be read inside any()/count()/...; "
                                "move the conclusion out of the aggregate", text)
            spec = self.book.conclusions.get(node.name)
            if spec is None:
                raise self.fail(f"unknown name {node.name!r}"
                                f"{_hint(node.name, [*self.book.conclusions, *self.sections])}", text)
            if {k for k, _ in node.args} != set(spec.args):
                raise self.fail(f"{node.name} takes arguments {sorted(spec.args) or 'none'}", text)
            for _, arg in node.args:
                self.check(arg, text, scope)
            return
        if isinstance(node, ex.Quant):
            src = node.source
            if src.path or src.root not in self.sections or not _is_list_section(src.root):
                raise self.fail(f"{node.fn}() ranges over exams, licenses, training or practice, "
                                f"got {src.dotted}", text)
            if node.var in self.sections or node.var in self.bound or node.var in scope:
                raise self.fail(f"the variable {node.var!r} hides another name; pick another", text)
            inner = {**scope, node.var: self.sections[src.root]}
            self.check(node.pred, text, inner)
            for e in node.extra:
                self.check(e, text, inner if node.fn in ("earliest", "latest") else scope)
            return
        if isinstance(node, ex.Cmp):
            self.check(node.left, text, scope)
            self.check(node.right, text, scope)
            self.enum_literal(node, text, scope)
            if isinstance(node.right, ex.Ref) or (isinstance(node.left, ex.Ref) and ex.valued_ref_test(node) is None
                                                  and self.book.conclusions[node.left.name].kind != "boolean"):
                raise self.fail("compare a valued conclusion only as 'name == literal' or "
                                "'name in [literals]'", text)
            return
        for child in ex.children(node):
            self.check(child, text, scope)

    def field(self, node: ex.Field, text: str, scope: Mapping[str, type]) -> None:
        root = node.root
        if root in scope:
            self.path(scope[root], node.path, node, text)
            return
        if root in self.CONTEXT:
            if node.path:
                raise self.fail(f"{root} has no fields", text)
            return
        if root in self.bound:
            table = self.bound[root]
            if len(node.path) != 1:
                raise self.fail(f"{root} is a row of table {table.name}: write {root}.<column>", text)
            col = node.path[0]
            if col != table.key and col not in table.columns:
                raise self.fail(f"table {table.name} has no column {col!r}"
                                f"{_hint(col, [table.key, *table.columns])}", text)
            return
        if root in self.sections:
            if _is_list_section(root):
                raise self.fail(f"{root} is a list; use any({root[0]} in {root}, ...) or count(...)", text)
            self.path(self.sections[root], node.path, node, text)
            return
        if root in self.book.conclusions and not node.path:
            return  # unreachable: bare names of conclusions parse as Field; handled in _bare_refs
        raise self.fail(f"unknown name {node.dotted!r}"
                        f"{_hint(root, [*self.sections, *self.bound, *self.CONTEXT, *self.book.conclusions])}",
                        text)

    def path(self, cls: type, path: tuple[str, ...], node: ex.Field, text: str) -> None:
        if not path:
            raise self.fail(f"{node.dotted} is a section; name one of its fields", text)
        current: Any = cls
        for i, part in enumerate(path):
            known = fields_by_key(current)
            if part not in known:
                raise self.fail(f"{'.'.join((node.root, *path[:i]))} has no field {part!r}"
                                f"{_hint(part, known)}", text)
            meta = known[part].metadata["imgpath"]
            if i < len(path) - 1:
                if meta["cls"] is None or meta["kind"] == "list":
                    raise self.fail(f"{'.'.join((node.root, *path[: i + 1]))} has no fields", text)
                current = meta["cls"]

    def enum_literal(self, node: ex.Cmp, text: str, scope: Mapping[str, type]) -> None:
        """``exam == 'step1'``: the literal must be one of the field's choices (catches typos)."""
        for fld, lit in ((node.left, node.right), (node.right, node.left)):
            if not (isinstance(fld, ex.Field) and isinstance(lit, ex.Const)):
                continue
            meta = self.field_meta(fld, scope)
            if not meta or not meta["choices"]:
                continue
            values = lit.value if isinstance(lit.value, tuple) else (lit.value,)
            for v in values:
                if v not in meta["choices"]:
                    raise self.fail(f"{fld.dotted} is one of {', '.join(meta['choices'])}; "
                                    f"{v!r} can never match{_hint(str(v), meta['choices'])}", text)

    def field_meta(self, fld: ex.Field, scope: Mapping[str, type]) -> dict[str, Any] | None:
        cls = scope.get(fld.root) or (self.sections.get(fld.root) if not _is_list_section(fld.root) else None)
        if cls is None or not fld.path:
            return None
        current: Any = cls
        meta = None
        for part in fld.path:
            meta = fields_by_key(current)[part].metadata["imgpath"]
            current = meta["cls"]
        return meta


def _is_list_section(name: str) -> bool:
    return name in ("exams", "licenses", "training", "practice")


def _bare_refs(node: ex.Node, conclusions: Mapping[str, ConclusionSpec], sections: Iterable[str],
               bound: Iterable[str], local: frozenset[str] = frozenset()) -> ex.Node:
    """Turn bare names that are conclusions (``img``) into :class:`Ref` nodes."""
    if isinstance(node, ex.Field):
        if (not node.path and node.root in conclusions and node.root not in local
                and node.root not in sections and node.root not in bound and node.root != "as_of"):
            return ex.Ref(node.root, ())
        return node
    if isinstance(node, ex.Quant):
        inner = local | {node.var}
        return attrs.evolve(node, pred=_bare_refs(node.pred, conclusions, sections, bound, inner),
                            extra=tuple(_bare_refs(e, conclusions, sections, bound, inner) for e in node.extra))
    if isinstance(node, (ex.And, ex.Or)):
        return type(node)(tuple(_bare_refs(a, conclusions, sections, bound, local) for a in node.args))
    if isinstance(node, ex.Not):
        return ex.Not(_bare_refs(node.arg, conclusions, sections, bound, local))
    if isinstance(node, (ex.Cmp, ex.Arith)):
        return attrs.evolve(node, left=_bare_refs(node.left, conclusions, sections, bound, local),
                            right=_bare_refs(node.right, conclusions, sections, bound, local))
    if isinstance(node, ex.Func):
        return ex.Func(node.name, tuple(_bare_refs(a, conclusions, sections, bound, local) for a in node.args))
    if isinstance(node, ex.Ref):
        return ex.Ref(node.name, tuple((k, _bare_refs(v, conclusions, sections, bound, local))
                                       for k, v in node.args))
    return node


# --------------------------------------------------------------------------- loading


def rules_dir() -> Path:
    """Where the default rules live: inside the installed package, or ``rules/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_rules"
    if packaged.is_dir():
        return packaged
    checkout = here.parent.parent / "rules"
    if checkout.is_dir():
        return checkout
    raise RuleError(f"cannot find the rules folder (looked in {packaged} and {checkout}); reinstall imgpath")


@functools.cache
def rulebook() -> Rulebook:
    """The default rulebook, loaded once per process (and cached on disk between processes).

    >>> rulebook() is rulebook()
    True
    """
    return load_rulebook(rules_dir(), cache=True)


def _cache_key(root: Path) -> str:
    """Key of a parsed rulebook: every rules file's name and content, and imgpath's own source
    (the cache holds instances of its classes)."""
    from . import _cache

    parts: list[bytes | str] = []
    for f in sorted(root.rglob("*.toml")):
        if "scenarios" in f.parts:
            continue
        parts += [str(f.relative_to(root)), f.read_bytes()]
    here = Path(__file__).resolve().parent
    for module in sorted(here.glob("*.py")):
        parts += [module.name, module.read_bytes()]
    return _cache.key(*parts)


def load_rulebook(path: str | Path, *, cache: bool = False) -> Rulebook:
    """Load and check a rules folder (``*.toml`` rule files, ``sources.toml``, ``conclusions.toml``, ``data/``).

    With ``cache``, a parsed copy is kept in imgpath's per-user cache (:mod:`imgpath._cache`:
    ``$IMGPATH_CACHE_DIR``, else ``~/.cache/imgpath``) keyed by the files' content, so later
    processes start faster. A cache entry is read only from a private directory the user owns
    and only when its checksum matches; anything else is rebuilt.
    """
    import pickle

    from . import _cache

    root = Path(path)
    if not root.is_dir():
        raise RuleError(f"{root} is not a folder of rules")
    entry = None
    if cache:
        try:
            entry = _cache_key(root)
            payload = _cache.load("rulebook", entry)
            if payload is not None:
                book = pickle.loads(payload)
                if isinstance(book, Rulebook):
                    book.path = root
                    return book
        except Exception:  # noqa: BLE001 - an unreadable entry is rebuilt, never trusted
            pass
    book = _load(root)
    if entry is not None:
        _cache.store("rulebook", entry, pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL))
    return book


def _load(root: Path) -> Rulebook:
    sources = _load_sources(root / "sources.toml")
    conclusions = _load_conclusions(root / "conclusions.toml")
    tables: dict[str, Table] = {}
    extras: dict[str, Any] = {}
    data_dir = root / "data"
    if data_dir.is_dir():
        for f in sorted(data_dir.glob("*.toml")):
            doc = _read_toml(f)
            if "table" in doc:
                table = _load_table(f, doc)
                if table.name in tables:
                    raise RuleError(f"table {table.name!r} defined twice", file=str(f))
                tables[table.name] = table
            else:
                extras[f.stem] = doc
    sections = set(section_classes())
    bound = {t.bind for t in tables.values() if t.bind != "for"}
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for f in sorted(root.glob("*.toml")):
        if f.name in ("sources.toml", "conclusions.toml"):
            continue
        doc = _read_toml(f)
        unknown = set(doc) - {"rule", "schema", "about"}
        if unknown:
            raise RuleError(f"unexpected top-level keys {sorted(unknown)}; rule files hold [[rule]] entries",
                            file=_rel(f, root))
        for i, raw in enumerate(doc.get("rule", [])):
            rule = _load_rule(raw, _rel(f, root), i, conclusions, sections, bound)
            if rule.id in seen:
                raise RuleError(f"duplicate rule id (also in {seen[rule.id]})", file=rule.file, rule_id=rule.id)
            seen[rule.id] = rule.file
            rules.append(rule)
    return Rulebook(rules, sources, tables, conclusions, path=root, extras=extras)


def _rel(f: Path, root: Path) -> str:
    try:
        return str(Path("rules") / f.relative_to(root))
    except ValueError:  # pragma: no cover
        return str(f)


def _read_toml(f: Path) -> dict[str, Any]:
    try:
        with f.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RuleError("file not found", file=str(f)) from None
    except tomllib.TOMLDecodeError as err:
        raise RuleError(f"not valid TOML: {err}", file=str(f)) from None


def _load_sources(f: Path) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for sid, raw in _read_toml(f).items():
        if sid == "schema":
            continue
        if not isinstance(raw, dict) or not _SOURCE_ID.match(sid):
            raise RuleError(f"source {sid!r}: expected a table with url, title, publisher, kind", file=str(f))
        missing = {"url", "title", "publisher", "kind"} - set(raw)
        if missing:
            raise RuleError(f"source {sid}: missing {sorted(missing)}", file=str(f))
        extra = set(raw) - {"url", "title", "publisher", "kind", "retrieved", "note"}
        if extra:
            raise RuleError(f"source {sid}: unknown keys {sorted(extra)}", file=str(f))
        retrieved = raw.get("retrieved")
        if retrieved is not None and not isinstance(retrieved, _dt.date):
            raise RuleError(f"source {sid}: retrieved must be a date", file=str(f))
        out[sid] = Source(sid, raw["url"], raw["title"], raw["publisher"], raw["kind"], retrieved)
    return out


def _load_conclusions(f: Path) -> dict[str, ConclusionSpec]:
    out: dict[str, ConclusionSpec] = {}
    for name, raw in _read_toml(f).items():
        if name == "schema":
            continue
        if not isinstance(raw, dict):
            raise RuleError(f"conclusion {name}: expected a table", file=str(f))
        extra = set(raw) - {"kind", "description", "args", "values", "digest", "internal", "judged",
                            "never_yes", "sources", "confidence"}
        if extra:
            raise RuleError(f"conclusion {name}: unknown keys {sorted(extra)}", file=str(f))
        kind = raw.get("kind", "boolean")
        if kind not in ("boolean", "value", "set"):
            raise RuleError(f"conclusion {name}: kind must be boolean, value or set", file=str(f))
        args = {}
        for arg, domain in (raw.get("args") or {}).items():
            args[arg] = tuple(domain) if isinstance(domain, list) else domain
        out[name] = ConclusionSpec(name, kind, raw.get("description", ""), args, tuple(raw.get("values", ())),
                                   tuple(raw.get("digest", ())), bool(raw.get("internal", False)),
                                   raw.get("judged", ""), bool(raw.get("never_yes", False)),
                                   tuple(raw.get("sources", ())), raw.get("confidence", "primary"))
    return out


_COLUMN_TYPES = ("str", "int", "number", "bool", "date", "list")


def _load_table(f: Path, doc: dict[str, Any]) -> Table:
    meta = doc["table"]
    file = str(f)
    for key in ("name", "key", "bind"):
        if key not in meta:
            raise RuleError(f"[table] needs {key!r}", file=file)
    name = meta["name"]
    columns = dict(meta.get("columns", {}))
    for col, typ in columns.items():
        if typ not in _COLUMN_TYPES:
            raise RuleError(f"column {col}: type must be one of {_COLUMN_TYPES}", file=file)
    key_type = meta.get("key_type", "str")
    rows: dict[Any, dict[str, Cell]] = {}
    for raw_key, raw_row in (doc.get(name) or {}).items():
        key: Any = int(raw_key) if key_type == "int" else raw_key
        row: dict[str, Cell] = {}
        for col, raw in raw_row.items():
            if col not in columns:
                raise RuleError(f"{name}.{raw_key}: unknown column {col!r}{_hint(col, columns)}; declare it "
                                "in [table.columns]", file=file)
            if isinstance(raw, dict):
                extra = set(raw) - {"value", "confidence", "sources", "note"}
                if extra or "value" not in raw:
                    raise RuleError(f"{name}.{raw_key}.{col}: a cell is {{ value, confidence, sources, note }}",
                                    file=file)
                conf = raw.get("confidence", "primary")
                if conf not in CONFIDENCE:
                    raise RuleError(f"{name}.{raw_key}.{col}: confidence must be one of {CONFIDENCE}", file=file)
                cell = Cell(_check_cell(raw["value"], columns[col], f"{name}.{raw_key}.{col}", file), conf,
                            tuple(raw.get("sources", ())), raw.get("note", ""))
            else:
                cell = Cell(_check_cell(raw, columns[col], f"{name}.{raw_key}.{col}", file))
            row[col] = cell
        for col, default in (meta.get("defaults") or {}).items():
            if col not in columns:
                raise RuleError(f"[table.defaults] names unknown column {col!r}", file=file)
            row.setdefault(col, Cell(_check_cell(default, columns[col], f"{name}.defaults.{col}", file),
                                     "primary", (), "default: absence has this meaning"))
        rows[key] = row
    bind = meta["bind"]
    return Table(name, meta["key"], key_type, bind, columns, rows, meta.get("scope"), file,
                 meta.get("description", ""))


def _check_cell(value: Any, typ: str, where: str, file: str) -> Any:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "date": isinstance(value, _dt.date) and not isinstance(value, _dt.datetime),
        "list": isinstance(value, list),
    }[typ]
    if not ok:
        raise RuleError(f"{where}: expected a {typ}, got {value!r}", file=file)
    return tuple(value) if isinstance(value, list) else value


_RULE_KEYS = {"id", "title", "when", "then", "effective", "sources", "confidence", "notes", "for",
              "assumptions", "digest", "group", "advisory"}


def _load_rule(raw: Any, file: str, index: int, conclusions: Mapping[str, ConclusionSpec],
               sections: set[str], bound: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"rule #{index + 1}: expected a table", file=file)
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleError(f"rule #{index + 1}: 'id' must be a dotted lowercase name like 'ecfmg.exams_met'",
                        file=file, rule_id=str(rid) if rid else None)

    def fail(problem: str, text: str | None = None) -> RuleError:
        return RuleError(problem, file=file, rule_id=rid, text=text)

    extra = set(raw) - _RULE_KEYS
    if extra:
        bad = sorted(extra)[0]
        raise fail(f"unknown key {bad!r}{_hint(bad, _RULE_KEYS)}")
    for key in ("title", "when", "then", "sources", "confidence"):
        if key not in raw:
            raise fail(f"missing {key!r}")
    when_raw = raw["when"]
    if not isinstance(when_raw, list) or not all(isinstance(w, str) for w in when_raw):
        raise fail("'when' must be a list of condition strings")
    then = raw["then"]
    if not isinstance(then, dict) or "conclusion" not in then:
        raise fail("'then' must be a table with 'conclusion'")
    extra_then = set(then) - {"conclusion", "args", "value", "value_expr", "verdict"}
    if extra_then:
        raise fail(f"'then' has unknown keys {sorted(extra_then)}")
    confidence = raw["confidence"]
    if confidence not in CONFIDENCE:
        raise fail(f"confidence must be one of {', '.join(CONFIDENCE)}")
    srcs = raw["sources"]
    if not isinstance(srcs, list) or not all(isinstance(s, str) for s in srcs):
        raise fail("'sources' must be a list of source ids")
    effective = raw.get("effective", {})
    if not isinstance(effective, dict) or set(effective) - {"from", "until"}:
        raise fail("'effective' is { from = DATE, until = DATE }")
    start = effective.get("from", BEGINNING)
    until = effective.get("until", END_OF_TIME)
    for d in (start, until):
        if not isinstance(d, _dt.date) or isinstance(d, _dt.datetime):
            raise fail(f"effective dates must be dates, got {d!r}")
    if until < start:
        raise fail(f"effective window ends ({until}) before it starts ({start})")
    for_var = for_table = None
    if "for" in raw:
        f = raw["for"]
        if not isinstance(f, dict) or len(f) != 1:
            raise fail("'for' is { var = \"table\" }, e.g. { state = \"states\" }")
        ((for_var, for_table),) = f.items()
    local_bound = bound | ({for_var} if for_var else set())

    def parse(text: str) -> ex.Node:
        try:
            node = ex.parse(text)
        except RuleError as err:
            raise fail(err.problem, text) from None
        return _bare_refs(node, conclusions, sections, local_bound)

    when = tuple(parse(w) for w in when_raw)
    args = []
    for k, v in sorted((then.get("args") or {}).items()):
        args.append((k, parse(v) if isinstance(v, str) else ex.Const(v)))
    value: ex.Node | None = None
    if "value" in then:
        v = then["value"]
        value = ex.Const(tuple(v) if isinstance(v, list) else v)
    if "value_expr" in then:
        value = parse(then["value_expr"])
    verdict = then.get("verdict", "yes")
    if verdict not in ("yes", "unknown"):
        raise fail("'then.verdict' is 'yes' (the default) or 'unknown' (sources conflict)")
    assumptions = raw.get("assumptions", [])
    if not isinstance(assumptions, list) or not all(isinstance(a, str) for a in assumptions):
        raise fail("'assumptions' must be a list of strings")
    return Rule(
        id=rid, title=str(raw["title"]), conclusion=then["conclusion"], when=when,
        when_text=tuple(when_raw), args=tuple(args), value=value, verdict=verdict,
        effective_from=start, effective_until=until, sources=tuple(srcs), confidence=confidence,
        for_var=for_var, for_table=for_table, assumptions=tuple(assumptions),
        digest=tuple(raw.get("digest", ())), group=str(raw.get("group", "")), notes=str(raw.get("notes", "")),
        file=file, advisory=bool(raw.get("advisory", False)),
    )

