"""Compile rules into a :class:`Program`: durable-rules ruleset definitions plus what both engines share.

Three-valued logic on a two-valued Rete. For each rule the compiler builds
two engine rules (each possibly split into a few disjuncts):

* **T** fires when every condition is definitely true and emits a *yes* fact
  ``{"t": "c:<conclusion>", "k": "y", ...}``;
* **P** fires when no condition is definitely false and emits a *maybe* fact
  (``"k": "m"``).

A conclusion is YES when a yes fact exists, UNKNOWN when only maybe facts
exist and NO otherwise. Conditions are pushed into negation normal form over
four polarities (true, false, possible, not-true); a missing field is a
``$nex`` test, a field known not to exist carries the marker ``"~field"``.
Reading a conclusion under negation needs its facts complete, so such rules
sit in a higher *stratum*, behind a gate fact the driver asserts once the
strata below are quiescent; a cycle through negation is a load error.

Sub-expressions the Rete cannot test (aggregates over lists, date
arithmetic, comparisons between two facts of the applicant) become *atoms*:
computed once per evaluation with the same three-valued semantics the
reference evaluator uses, and asserted as small facts ``{"t": "a:<n>", ...}``.
Parameter rows (states) are asserted as facts and *joined*, not expanded
into rules. Engine limits (engine-notes §7.3) are checked here; fact types
whose alpha subtree could overflow the engine's 64-entry stack are sharded.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from . import expressions as ex
from .errors import RuleError
from .facts import fields_by_key, section_classes
from .rulebook import Rule, Rulebook, Table

__all__ = ["Atom", "EngineAction", "Program", "compile_program", "encode"]

#: Largest number of distinct tests below one fact type before it is sharded (the engine's stack is 64).
ALPHA_LIMIT = 40
#: Largest number of engine rules one rule may expand into.
MAX_DISJUNCTS = 48
#: Most patterns in one engine rule (the engine keeps at most 16 frames per join).
MAX_PATTERNS = 15
#: Encoding of an unbounded interval end (JSON has no infinity; an int, see :func:`encode`).
INF = 10**15

T, F, P, N = "T", "F", "P", "N"  # true, false, possible (not false), not true


def encode(value: Any) -> Any:
    """A fact value as the engine sees it: dates become day numbers, floats never use exponents.

    durable-rules' JSON parser misreads exponent notation (``1e+18``, ``1e-05``) and then
    silently drops the facts after it in the same batch, so every float is written as an
    integer or a plain decimal.

    >>> encode(_dt.date(2026, 1, 15)), encode(3.0), encode(1e-7), encode(float("inf"))
    (739631, 3, 0, 1000000000000000)
    """
    if isinstance(value, _dt.date):
        return value.toordinal()
    if isinstance(value, float):
        if math.isinf(value):
            return INF if value > 0 else -INF
        if value.is_integer():
            return int(value) if abs(value) < INF else int(math.copysign(INF, value))
        value = round(value, 6)
        return 0 if abs(value) < 1e-4 else value  # below 1e-4 Python writes an exponent
    return value


# --------------------------------------------------------------------------- formulas


@attrs.frozen
class Lit:
    """A test on the fact bound to ``alias`` (a durable-rules test expression)."""

    alias: str
    test: Any  # JSON-able durable test

    def key(self) -> str:
        return self.alias + json.dumps(self.test, sort_keys=True)


@attrs.frozen
class RefLit:
    """A join on conclusion facts: ``kind`` y (yes) or m (maybe); ``neg`` for no such fact."""

    name: str
    kind: str
    neg: bool
    args: tuple[tuple[str, Any], ...]  # (arg, ("const", v)) | (arg, ("row", column))
    vals: tuple[Any, ...] | None = None


@attrs.frozen
class AndF:
    parts: tuple[Any, ...]


@attrs.frozen
class OrF:
    parts: tuple[Any, ...]


TRUE = AndF(())
FALSE = OrF(())


def _and(parts: Iterable[Any]) -> Any:
    out: list[Any] = []
    for p in parts:
        if p == FALSE:
            return FALSE
        if p == TRUE:
            continue
        out.extend(p.parts if isinstance(p, AndF) else [p])
    return out[0] if len(out) == 1 else AndF(tuple(out))


def _or(parts: Iterable[Any]) -> Any:
    out: list[Any] = []
    for p in parts:
        if p == TRUE:
            return TRUE
        if p == FALSE:
            continue
        out.extend(p.parts if isinstance(p, OrF) else [p])
    return out[0] if len(out) == 1 else OrF(tuple(out))


# --------------------------------------------------------------------------- atoms and terms


@attrs.frozen
class Atom:
    """A condition computed in Python with the three-valued semantics, asserted as a small fact.

    ``table``/``var`` are set for conditions reading a 'for' row: one fact per row, keyed.
    """

    id: str
    node: ex.Node
    kind: str
    table: str | None = None
    var: str | None = None

    @property
    def type(self) -> str:
        return f"ra:{self.id}" if self.table else f"a:{self.id}"

    def fact(self, result: Any, key: Any = None) -> dict[str, Any]:
        """The engine fact for this atom's result (a Kleene truth value)."""
        out = {"t": self.type, "v": int(result)}
        if self.table:
            out["key"] = key
        return out


@attrs.frozen
class Merged(ex.Node):
    """Several conditions computed as one atom (see ``merge_atoms``)."""

    node: ex.Node


@attrs.frozen
class Term:
    """A value the Rete can read directly: ``alias.key`` (states has/none/unknown) or a constant."""

    alias: str | None
    key: str | None = None
    const: Any = None
    can_none: bool = False

    @property
    def is_const(self) -> bool:
        return self.alias is None


@attrs.frozen
class EngineAction:
    """What an engine rule emits: the source rule, T or P, and where args and value come from."""

    rule_id: str
    mode: str  # T | P
    conclusion: str
    args: tuple[tuple[str, Any], ...]  # (arg, ("const", v)) | (arg, ("row", column))
    value: Any  # None | ("const", v) | ("field", alias, key)
    verdict: str = "yes"


@attrs.frozen
class Program:
    """Everything both engines need to evaluate the rules in force on some date."""

    book: Rulebook
    rules: tuple[Rule, ...]
    strata: Mapping[str, int]  # rule id -> stratum
    max_stratum: int
    atoms: tuple[Atom, ...]
    definitions: Mapping[str, Any]
    actions: Mapping[str, EngineAction]
    shards: Mapping[str, tuple[str, ...]]  # base fact type -> the engine types a copy is asserted under
    sections: tuple[str, ...]
    row_tables: tuple[str, ...]
    order: tuple[Rule, ...]  # rules sorted by stratum of their conclusion

    def rule(self, rule_id: str) -> Rule:
        return self.book.rule(rule_id)


# --------------------------------------------------------------------------- compiler


def compile_program(book: Rulebook, rules: Sequence[Rule]) -> Program:
    """Compile the given rules (those in force on some date) of ``book``."""
    c = _Compiler(book, rules)
    return c.build()


class _Compiler:
    def __init__(self, book: Rulebook, rules: Sequence[Rule]) -> None:
        self.book = book
        self.rules = tuple(rules)
        self.sections = section_classes()
        self.season_bind = next((t.bind for t in book.tables.values() if t.bind == "season"), None)
        self.season_table = next((t for t in book.tables.values() if t.bind == "season"), None)
        self.atoms: dict[str, Atom] = {}
        self.definitions: dict[str, Any] = {}
        self.actions: dict[str, EngineAction] = {}
        self.used_sections: set[str] = set()
        self.row_tables: set[str] = set()
        self.rule: Rule | None = None
        self.negated_refs: set[tuple[str, Any]] = set()
        self.alias_names: dict[str, str] = {}  # engine alias -> fact alias

    def fail(self, problem: str, node: ex.Node | None = None) -> RuleError:
        r = self.rule
        return RuleError(problem, file=r.file if r else None, rule_id=r.id if r else None,
                         text=ex.render(node) if node is not None else None)

    # ------------------------------------------------------------------ build

    def build(self) -> Program:
        formulas: list[tuple[Rule, Any, Any, bool]] = []
        deps: dict[str, list[tuple[tuple[str, Any], bool]]] = {}
        for rule in self.rules:
            self.rule = rule
            self.negated_refs = set()
            conds = self.merge_atoms(list(rule.when))
            if rule.value is not None and not isinstance(rule.value, ex.Const):
                conds.append(ex.Func("present", (rule.value,)))
            t_form = _and(self.pol(c, T) for c in conds)
            p_form = _and(self.pol(c, P) for c in conds)
            deps[rule.id] = [(_instance(r), _instance(r) in self.negated_refs)
                             for c in conds for r in ex.walk(c) if isinstance(r, ex.Ref)]
            formulas.append((rule, t_form, p_form, bool(self.negated_refs)))
        strata = self.stratify(deps)
        for rule, t_form, p_form, negated in formulas:
            self.rule = rule
            gate = strata[rule.id] if negated else 0
            if rule.verdict == "yes":
                self.emit(rule, T, t_form, gate)
            self.emit(rule, P, p_form, gate)
        self.shard()
        shards = self.copies()
        self.definitions["$begin"] = {"all": [{"m": {"$and": [{"t": "begin"}]}}]}
        self.definitions["$catch"] = {"all": [{"m": {"$ex": {"t": 1}}}, {"n": {"$and": [{"t": "never"}]}}]}
        order = tuple(sorted(self.rules, key=lambda r: strata[r.id]))
        return Program(
            book=self.book, rules=self.rules, strata=strata,
            max_stratum=max(strata.values(), default=0), atoms=tuple(self.atoms.values()),
            definitions=self.definitions, actions=self.actions, shards=shards,
            sections=tuple(sorted(self.used_sections)), row_tables=tuple(sorted(self.row_tables)), order=order)

    def stratify(self, deps: Mapping[str, list[tuple[tuple[str, Any], bool]]]) -> dict[str, int]:
        """Stratum of every rule: at least that of each conclusion instance it reads, one more when negated.

        Instances are (name, literal args) or (name, '*') for args from a 'for' row, so
        ``pathway_eligible(pathway=2)`` may read ``not pathway_eligible(pathway=1)``.
        """
        heads = {r.id: _head(r) for r in self.rules}
        by_name: dict[str, list[Rule]] = defaultdict(list)
        for r in self.rules:
            by_name[r.conclusion].append(r)
        stratum = dict.fromkeys(heads, 0)

        def level(inst: tuple[str, Any]) -> int:
            name, key = inst
            return max((stratum[r.id] for r in by_name.get(name, ())
                        if key == "*" or heads[r.id][1] in ("*", key)), default=0)

        for _ in range(len(self.rules) + 2):
            changed = False
            for rid, ds in deps.items():
                need = max((level(d) + (1 if neg else 0) for d, neg in ds), default=0)
                if need > stratum[rid]:
                    if need > len(self.rules):
                        break
                    stratum[rid] = need
                    changed = True
            if not changed:
                return stratum
        cyclic = sorted(rid for rid, ds in deps.items() if any(n for _, n in ds) and stratum[rid] >= len(self.rules) // 2)
        raise RuleError("a cycle through negation: these rules depend on the negation of their own "
                        f"conclusion (directly or through others): {', '.join(cyclic[:8]) or 'see rules with not'}")

    # ------------------------------------------------------------------ polarity

    def pol(self, node: ex.Node, pol: str) -> Any:
        """The formula for ``node`` being T (true), F (false), P (not false) or N (not true)."""
        if isinstance(node, Merged):
            return self.truth_atom(node.node, pol)
        if isinstance(node, ex.Not):
            return self.pol(node.arg, {T: F, F: T, P: N, N: P}[pol])
        if isinstance(node, (ex.And, ex.Or)):
            conj = isinstance(node, ex.And) == (pol in (T, P))
            parts = (self.pol(a, pol) for a in node.args)
            return _and(parts) if conj else _or(parts)
        if isinstance(node, ex.Ref):
            return self.ref(node, None, pol)
        if isinstance(node, ex.Cmp):
            vals = ex.valued_ref_test(node)
            if vals is not None:
                return self.ref(node.left, vals, pol)  # type: ignore[arg-type]
            return self.cmp(node, pol)
        if isinstance(node, ex.Const):
            k = ex.as_truth(node.value)
            return TRUE if _holds(k, pol) else FALSE
        if isinstance(node, ex.Func) and node.name in ("present", "known"):
            term = self.term(node.args[0])
            if term is not None and not term.is_const:
                return self.presence(term, node.name, pol)
        if isinstance(node, ex.Field):
            term = self.term(node)
            if term is not None and not term.is_const:
                return self.boolean_field(term, pol)
        return self.truth_atom(node, pol)

    def ref(self, node: ex.Ref, vals: tuple[Any, ...] | None, pol: str) -> Any:
        args = []
        for k, v in node.args:
            if isinstance(v, ex.Const):
                args.append((k, ("const", encode(v.value))))
            elif isinstance(v, ex.Field) and self.rule and v.root == self.rule.for_var:
                args.append((k, ("row", v.path[0])))
            else:
                raise self.fail("conclusion arguments must be literals or columns of the 'for' row", node)
        if pol in (F, N):
            self.negated_refs.add(_instance(node))
        kind = "y" if pol in (T, N) else "m"
        return RefLit(node.name, kind, pol in (F, N), tuple(args), vals)

    # ------------------------------------------------------------------ terms

    def term(self, node: ex.Node) -> Term | None:
        """A term the Rete reads directly, or None when the node must be computed."""
        if isinstance(node, ex.Const):
            if isinstance(node.value, tuple):
                return None
            return Term(None, const=encode(node.value))
        if not isinstance(node, ex.Field):
            return None
        root = node.root
        r = self.rule
        if r is not None and root == r.for_var:
            table = self.book.tables[r.for_table]  # type: ignore[index]
            col = node.path[0]
            self.row_tables.add(table.name)
            if col == table.key:
                return Term("row", "key")
            if table.columns.get(col) == "list":
                return None
            return Term("row", col)
        if root == "as_of":
            return Term("ctx", "as_of")
        if self.season_bind is not None and root == self.season_bind:
            col = node.path[0]
            if col == self.season_table.key:  # type: ignore[union-attr]
                return Term("ctx", "season")
            if self.season_table.columns.get(col) == "list":  # type: ignore[union-attr]
                return None
            return Term("season", col)
        if root in self.sections and node.path and root not in ("exams", "licenses", "training", "practice"):
            current: Any = self.sections[root]
            meta: dict[str, Any] = {}
            can_none = False
            for part in node.path:
                fld = fields_by_key(current)[part]
                meta = fld.metadata["imgpath"]
                can_none = can_none or meta["absent"] in ("none",) or meta["kind"] == "note"
                current = meta["cls"]
            if meta["kind"] in ("object", "note", "list", "countries", "strings", "states"):
                return None
            self.used_sections.add(root)
            return Term(root, "__".join(node.path), can_none=can_none)
        return None

    def has(self, t: Term) -> Any:
        return Lit(t.alias, {"$ex": {t.key: 1}})  # type: ignore[arg-type]

    def none(self, t: Term) -> Any:
        return Lit(t.alias, {"~" + t.key: 1}) if t.can_none else FALSE  # type: ignore[arg-type,operator]

    def unk(self, t: Term) -> Any:
        lits = [Lit(t.alias, {"$nex": {t.key: 1}})]  # type: ignore[arg-type]
        if t.can_none:
            lits.append(Lit(t.alias, {"$nex": {"~" + t.key: 1}}))  # type: ignore[arg-type,operator]
        return _and(lits)

    def presence(self, t: Term, fn: str, pol: str) -> Any:
        if fn == "known":  # two-valued: known (a value or known none) vs unknown
            yes = _or([self.has(t), self.none(t)])
            return yes if pol in (T, P) else self.unk(t)
        return {T: self.has(t), F: self.none(t), P: _or([self.has(t), self.unk(t)]),
                N: _or([self.none(t), self.unk(t)])}[pol]

    def boolean_field(self, t: Term, pol: str) -> Any:
        true = _and([self.has(t), Lit(t.alias, {t.key: True})])  # type: ignore[dict-item]
        false = _or([_and([self.has(t), Lit(t.alias, {t.key: False})]), self.none(t)])  # type: ignore[dict-item]
        return {T: true, F: false, P: _or([true, self.unk(t)]), N: _or([false, self.unk(t)])}[pol]

    # ------------------------------------------------------------------ comparisons

    def cmp(self, node: ex.Cmp, pol: str) -> Any:
        left, right = self.term(node.left), self.term(node.right)
        op = node.op
        if left is not None and right is not None:
            if left.is_const and right.is_const:
                k = ex.compare(op, node.left.value, node.right.value)  # type: ignore[attr-defined]
                return TRUE if _holds(k, pol) else FALSE
            if left.is_const:
                left, right, op = right, left, ex.FLIPPED_CMP.get(op, op)
            if right.is_const:
                return self.cmp_const(left, op, right.const, pol)
        if op in ("in", "notin") and left is not None and not left.is_const and isinstance(node.right, ex.Const):
            return self.cmp_const(left, op, tuple(encode(v) for v in node.right.value), pol)
        return self.truth_atom(node, pol)

    def cmp_const(self, t: Term, op: str, const: Any, pol: str) -> Any:
        if op in ("in", "notin"):
            values = const if isinstance(const, tuple) else (const,)
            match = _or(Lit(t.alias, {t.key: v}) for v in values)  # type: ignore[dict-item]
            miss = _and(Lit(t.alias, {"$neq": {t.key: v}}) for v in values)  # type: ignore[dict-item]
            positive = op == "in"
        else:
            base = op if op != "!=" else "=="
            match = Lit(t.alias, _test(base, t.key, const))  # type: ignore[arg-type]
            miss = Lit(t.alias, _test(ex.NEGATED_CMP[base], t.key, const))  # type: ignore[arg-type]
            positive = op != "!="
        has = self.has(t)
        yes = _and([has, match])
        no = _and([has, miss])
        true, false = (yes, _or([no, self.none(t)])) if positive else (_or([no, self.none(t)]), yes)
        return {T: true, F: false, P: _or([true, self.unk(t)]), N: _or([false, self.unk(t)])}[pol]

    # ------------------------------------------------------------------ atoms

    def computable(self, node: ex.Node) -> bool:
        """True when a node reads only the applicant, as_of, the season and the 'for' row (no conclusions)."""
        return not any(isinstance(n, ex.Ref) for n in ex.walk(node))

    def reads_row(self, node: ex.Node) -> bool:
        r = self.rule
        return r is not None and r.for_var is not None and any(
            isinstance(n, ex.Field) and n.root == r.for_var for n in ex.walk(node))

    def _atom(self, node: ex.Node, kind: str, table: str | None = None) -> Atom:
        key = f"{kind}:{table or ''}:{ex.render(node)}"
        atom = self.atoms.get(key)
        if atom is None:
            var = self.rule.for_var if table else None  # type: ignore[union-attr]
            atom = Atom(str(len(self.atoms)), node, kind, table, var)
            self.atoms[key] = atom
            self.alias_names[_alias(atom.type)] = atom.type
        return atom

    def merge_atoms(self, conds: list[ex.Node]) -> list[ex.Node]:
        """Conditions that would each become an atom are computed as one (their Kleene conjunction).

        One fact (per row, for conditions reading the 'for' row) and one pattern instead
        of many: the engine's joins stay short (at most 16 patterns per rule) and fewer
        facts are asserted.
        """
        atomic = [c for c in conds if self.computable(c) and self._is_atom(c)]
        groups = [[c for c in atomic if not self.reads_row(c)], [c for c in atomic if self.reads_row(c)]]
        out = [c for c in conds if not any(c is a for a in atomic)]
        for group in groups:
            if len(group) == 1:
                out.append(group[0])
            elif group:
                out.append(Merged(ex.And(tuple(group))))
        return out

    def _is_atom(self, node: ex.Node) -> bool:
        saved = dict(self.atoms), set(self.used_sections), set(self.row_tables)
        try:
            form = self.pol(node, T)
        finally:
            self.atoms, self.used_sections, self.row_tables = saved[0], saved[1], saved[2]
        return _mentions_atom(form)

    def truth_atom(self, node: ex.Node, pol: str) -> Any:
        """A condition computed in Python: once per evaluation, or once per row when it reads the row.

        Comparisons between a row's figure and the applicant's facts are computed here rather
        than joined in the engine: durable-rules mis-evaluates correlated tests inside $or.
        """
        if not self.computable(node):
            raise self.fail("a conclusion cannot be read inside an aggregate or function; "
                            "move it to its own condition", node)
        table = self.rule.for_table if self.reads_row(node) else None  # type: ignore[union-attr]
        atom = self._atom(node, "truth", table)
        test = {T: {"v": 2}, F: {"v": 0}, P: {"$gte": {"v": 1}}, N: {"$lte": {"v": 1}}}[pol]
        if table:
            self.row_tables.add(table)
            return Lit(atom.type, {"$and": [{"key": {"row": "key"}}, test]})
        return Lit(atom.type, test)

    # ------------------------------------------------------------------ emit

    def emit(self, rule: Rule, mode: str, formula: Any, gate: int) -> None:
        disjuncts = _dnf(formula)
        if len(disjuncts) > MAX_DISJUNCTS:
            raise self.fail(f"the {mode} form of this rule expands to {len(disjuncts)} engine rules (limit "
                            f"{MAX_DISJUNCTS}); split it into several rules")
        value: Any = None
        if rule.value is not None:
            if isinstance(rule.value, ex.Const):
                value = ("const", encode(rule.value.value))
            else:
                t = self.term(rule.value)
                if t is None or t.is_const:
                    raise self.fail("'value_expr' must be a field of the applicant, the season or the 'for' row",
                                    rule.value)
                value = ("field", t.alias, t.key)
        args = []
        for k, v in rule.args:
            if isinstance(v, ex.Const):
                args.append((k, ("const", encode(v.value))))
            elif isinstance(v, ex.Field) and v.root == rule.for_var:
                table = self.book.tables[rule.for_table]  # type: ignore[index]
                args.append((k, ("row", "key" if v.path[0] == table.key else v.path[0])))
            else:
                raise self.fail("'then.args' must be literals or columns of the 'for' row", v)
        action = EngineAction(rule.id, mode, rule.conclusion, tuple(args), value, rule.verdict)
        for i, conj in enumerate(disjuncts):
            name = f"{rule.id}#{mode}{i}"
            self.definitions[name] = self.engine_rule(rule, conj, gate, value)
            self.actions[name] = action

    def engine_rule(self, rule: Rule, conj: Sequence[Any], gate: int, value: Any) -> dict[str, Any]:
        by_alias: dict[str, list[Any]] = defaultdict(list)
        refs: list[RefLit] = []
        for lit in conj:
            if isinstance(lit, RefLit):
                refs.append(lit)
            else:
                by_alias[lit.alias].append(lit.test)
        if rule.for_var:
            by_alias.setdefault("row", [])
        # a test that reads another fact (a correlation) needs that fact's pattern, even without tests of its own
        for tests in list(by_alias.values()):
            for alias in _correlated(tests):
                if alias != "row":
                    by_alias.setdefault(self.alias_names.get(alias, alias), [])
        if value is not None and value[0] == "field":
            by_alias.setdefault(value[1], [])
        for k, v in rule.args:
            if isinstance(v, ex.Field) and v.root == rule.for_var:
                by_alias.setdefault("row", [])
        patterns: list[dict[str, Any]] = []
        if gate:
            patterns.append({"g": {"$and": [{"t": "gate"}, {"s": gate}]}})
        for alias in sorted(by_alias, key=lambda a: (a.startswith("ra:") * 2 + (a == "row"), a)):
            typ = {"t": self.fact_type(alias, rule)}
            for i, chunk in enumerate(_chunks(_dedupe(by_alias[alias]))):
                if i == 0:
                    patterns.append({_alias(alias): {"$and": [typ, *chunk]}})
                else:
                    # one pattern holds at most 31 expressions: the rest go on a copy of the same fact
                    # (asserted under its own type; the engine never binds one fact to two patterns),
                    # rows joined to the first pattern on their key
                    copy = {"t": f"{typ['t']}@{i}"}
                    join = [{"key": {"row": "key"}}] if alias == "row" else []
                    patterns.append({f"{_alias(alias)}_{i}": {"$and": [copy, *join, *chunk]}})
        for i, lit in enumerate(sorted(refs, key=lambda r: (r.neg, r.name, r.kind))):
            tests: list[Any] = [{"t": f"c:{lit.name}"}, {"k": lit.kind}]
            for arg, (src, v) in lit.args:
                tests.append({f"a_{arg}": v} if src == "const" else {f"a_{arg}": {"row": "key"}})
            if lit.vals is not None:
                tests.append(_or_json([{"v": encode(v)} for v in lit.vals]))
            patterns.append({f"c{i}" + ("$not" if lit.neg else ""): {"$and": tests}})
        if not any(not next(iter(p)).endswith("$not") for p in patterns):
            patterns.insert(0, {"ctx": {"$and": [{"t": "ctx"}]}})
        if len(patterns) > MAX_PATTERNS:
            raise self.fail(f"this rule needs {len(patterns)} engine patterns (limit {MAX_PATTERNS}); split it")
        return {"all": patterns}

    def fact_type(self, alias: str, rule: Rule) -> str:
        if alias == "row":
            return f"r:{rule.for_table}"
        if alias == "season":
            return "season"
        if alias == "ctx":
            return "ctx"
        if alias.startswith("a:"):
            return alias
        return alias  # a section

    # ------------------------------------------------------------------ limits

    def copies(self) -> dict[str, tuple[str, ...]]:
        """Base fact type -> every engine type patterns use for it (shards ``#k``, split copies ``@i``)."""
        types: dict[str, set[str]] = defaultdict(set)
        for definition in self.definitions.values():
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", []) if isinstance(cond, dict) else []
                if tests and isinstance(tests[0], dict) and isinstance(tests[0].get("t"), str):
                    typ = tests[0]["t"]
                    base = typ.split("@")[0].split("#")[0]
                    types[base].add(typ)
        return {base: tuple(sorted(ts)) for base, ts in types.items() if ts != {base}}

    def shard(self) -> None:
        """Spread the patterns of over-full fact types over copies (``school#1``...) of those facts."""
        weight: dict[str, dict[str, int]] = defaultdict(dict)
        for definition in self.definitions.values():
            for pattern in definition["all"]:
                (alias, cond), = pattern.items()
                tests = cond.get("$and", [])
                if not tests or "t" not in tests[0]:
                    continue
                typ = tests[0]["t"]
                sig = json.dumps(tests[1:], sort_keys=True)
                weight[typ][sig] = max(1, sum(_count_tests(t) for t in tests[1:]))
        for typ, sigs in weight.items():
            total = sum(sigs.values())
            if total <= ALPHA_LIMIT:
                continue
            if any(w > ALPHA_LIMIT for w in sigs.values()):
                raise RuleError(f"a single pattern on {typ} has more than {ALPHA_LIMIT} tests; split the rule")
            assignment: dict[str, str] = {}
            names: list[str] = []
            load: list[int] = []
            for sig, w in sorted(sigs.items(), key=lambda kv: -kv[1]):
                for i, used in enumerate(load):
                    if used + w <= ALPHA_LIMIT:
                        load[i] += w
                        assignment[sig] = names[i]
                        break
                else:
                    names.append(f"{typ}#{len(names)}")
                    load.append(w)
                    assignment[sig] = names[-1]
            for definition in self.definitions.values():
                for pattern in definition["all"]:
                    (alias, cond), = pattern.items()
                    tests = cond.get("$and", [])
                    if tests and tests[0].get("t") == typ:
                        tests[0] = {"t": assignment[json.dumps(tests[1:], sort_keys=True)]}


def _instance(ref: ex.Ref) -> tuple[str, Any]:
    """A reference's conclusion instance for stratification: literal args, or '*' when read from a row."""
    if all(isinstance(v, ex.Const) for _, v in ref.args):
        return (ref.name, tuple((k, v.value) for k, v in ref.args))  # type: ignore[attr-defined]
    return (ref.name, "*")


def _head(rule: Rule) -> tuple[str, Any]:
    if all(isinstance(v, ex.Const) for _, v in rule.args):
        return (rule.conclusion, tuple((k, v.value) for k, v in rule.args))  # type: ignore[attr-defined]
    return (rule.conclusion, "*")


def _mentions_atom(form: Any) -> bool:
    """Whether a formula needs a computed atom (then the whole condition is computed as one)."""
    if isinstance(form, Lit):
        return form.alias.startswith(("a:", "ra:"))
    if isinstance(form, (AndF, OrF)):
        return any(_mentions_atom(p) for p in form.parts)
    return False


def _alias(alias: str) -> str:
    return alias.replace(":", "_")


def _correlated(tests: Any) -> set[str]:
    """Engine aliases that tests refer to (``{"field": {"alias": "other_field"}}``)."""
    found: set[str] = set()
    if isinstance(tests, list):
        for t in tests:
            found |= _correlated(t)
    elif isinstance(tests, dict):
        for k, v in tests.items():
            if k.startswith("$"):
                found |= _correlated(v)
            elif isinstance(v, dict) and len(v) == 1:
                (alias, field), = v.items()
                if not alias.startswith("$") and isinstance(field, str):
                    found.add(alias)
    return found


def _test(op: str, key: str, value: Any) -> dict[str, Any]:
    names = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
    if names[op] is None:
        return {key: value}
    return {names[op]: {key: value}}


def _or_json(tests: list[Any]) -> Any:
    return tests[0] if len(tests) == 1 else {"$or": tests}


#: Expressions one pattern may hold (the engine stops at 32, counting $and/$or and their ends).
MAX_EXPRESSIONS = 28


def _expressions(test: Any) -> int:
    if isinstance(test, dict) and len(test) == 1:
        (k, v), = test.items()
        if k in ("$and", "$or"):
            return 2 + sum(_expressions(t) for t in v)
    return 1


def _chunks(tests: list[Any]) -> list[list[Any]]:
    """Split a pattern's tests so each pattern stays under the engine's expression limit."""
    out: list[list[Any]] = [[]]
    used = 3  # the pattern's own $and, its end and the type test
    for t in tests:
        n = _expressions(t)
        if n + 4 > MAX_EXPRESSIONS:
            raise RuleError(f"a condition needs {n} engine expressions (limit {MAX_EXPRESSIONS - 4}); "
                            f"split it: {json.dumps(t)[:200]}")
        if used + n > MAX_EXPRESSIONS and out[-1]:
            out.append([])
            used = 4
        out[-1].append(t)
        used += n
    return out


def _count_tests(test: Any) -> int:
    if isinstance(test, dict) and len(test) == 1:
        (k, v), = test.items()
        if k in ("$and", "$or"):
            return sum(_count_tests(t) for t in v)
    return 1


def _dedupe(tests: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for t in tests:
        k = json.dumps(t, sort_keys=True)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


def _holds(k: ex.K, pol: str) -> bool:
    return {T: k is ex.K.T, F: k is ex.K.F, P: k is not ex.K.F, N: k is not ex.K.T}[pol]


def _single_alias(f: Any) -> str | None:
    """The one alias all literals of ``f`` test, or None (also for conclusion joins)."""
    if isinstance(f, Lit):
        return f.alias
    if isinstance(f, RefLit):
        return None
    aliases = {_single_alias(p) for p in f.parts}
    if len(aliases) == 1:
        return aliases.pop()
    return None


def _to_test(f: Any) -> Any:
    if isinstance(f, Lit):
        return f.test
    tests = _dedupe([_to_test(p) for p in f.parts])
    if len(tests) == 1:
        return tests[0]
    return {"$and" if isinstance(f, AndF) else "$or": tests}


def _dnf(f: Any) -> list[list[Any]]:
    """Disjunctive normal form; a disjunction over one fact stays one compound ``$or`` test."""
    if isinstance(f, (Lit, RefLit)):
        return [[f]]
    if isinstance(f, OrF):
        if not f.parts:
            return []
        alias = _single_alias(f)
        if alias is not None:
            return [[Lit(alias, _to_test(f))]]
        # alternatives that test one and the same fact merge into one compound test
        groups: dict[str, list[Any]] = {}
        rest: list[Any] = []
        for p in f.parts:
            a = _single_alias(p)
            if a is None:
                rest.append(p)
            else:
                groups.setdefault(a, []).append(p)
        out: list[list[Any]] = []
        for a, parts in groups.items():
            out.append([Lit(a, _to_test(OrF(tuple(parts))) if len(parts) > 1 else _to_test(parts[0]))])
        for p in rest:
            out.extend(_dnf(p))
        return out
    # AndF
    product: list[list[Any]] = [[]]
    for p in f.parts:
        sub = _dnf(p)
        product = [a + b for a, b in itertools.product(product, sub)]
    return product
