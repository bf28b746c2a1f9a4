"""Compile rules into a :class:`Program`: durable-rules ruleset definitions plus what both engines share.

Three-valued logic on a two-valued Rete. For each rule the compiler builds
engine rules of two modes (each possibly split into a few disjuncts):

* **T** fires when every condition is definitely true and emits a *yes* fact
  ``{"t": "c:<conclusion>", "k": "y", ...}``;
* **P** fires when every condition may hold (is true or unknown) and emits a
  *maybe* fact (``"k": "m"``).

A conclusion is YES when a yes fact exists, UNKNOWN when only maybe facts
exist and NO otherwise. Conditions are pushed into negation normal form over
four polarities (true, false, possible, not-true).

What the Rete does: it joins each rule's conditions, chains conclusions into
the rules that read them (yes/maybe facts, correlated on their arguments),
joins parameter rows (a rule ``for`` each state), and evaluates negation by
strata: a rule that reads a conclusion under negation waits behind a gate
fact until the strata below are quiescent; a cycle through negation is a
load error.

What Python does: conditions on the applicant's facts (and on a row's
figures) are *atoms*, computed once per evaluation (once per row) with the
same three-valued semantics the reference evaluator uses, and asserted as
small facts ``{"t": "a:<n>", "v": 0|1|2}``. All of a rule's fact conditions
form one atom, so the engine tests only equalities and inequalities on atoms,
joins on keys and conclusion facts, and ``$not``. This keeps clear of three
durable-rules defects measured on this project: ``$or`` tests are not shared
between rules, so a few dozen of them overflow the 64-entry alpha stack
(error 303); correlated tests inside ``$or`` are mis-evaluated; and a
correlation with a missing property raises error 311. Engine limits
(engine-notes §7.3) are still checked here.
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from . import expressions as ex
from .errors import RuleError
from .rulebook import Rule, Rulebook

__all__ = ["Atom", "EngineAction", "Program", "compile_program", "encode"]

#: Distinct tests below one fact type (mutually exclusive equalities counted once) before it is
#: asserted under several shard types (the engine's alpha stack holds 64 entries).
ALPHA_LIMIT = 30
#: Largest number of engine rules one rule may expand into.
MAX_DISJUNCTS = 48
#: Most patterns in one engine rule (the engine keeps at most 16 frames per join).
MAX_PATTERNS = 15
#: Encoding of an unbounded number (JSON has no infinity; an int, see :func:`encode`).
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
    """Tests on the fact bound to ``alias`` (plain durable-rules tests, never ``$or``)."""

    alias: str
    tests: tuple[Any, ...]


@attrs.frozen
class RefLit:
    """A join on conclusion facts: ``kind`` y (yes facts) or m (maybe facts); ``neg`` for no such fact."""

    name: str
    kind: str
    neg: bool
    args: tuple[tuple[str, Any], ...]  # (arg, ("const", v)) | (arg, ("row", column))
    value: Any = None  # a valued conclusion's value to match, or None
    has_value: bool = False


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


# --------------------------------------------------------------------------- atoms


@attrs.frozen
class Atom:
    """Conditions computed in Python with the three-valued semantics (their Kleene conjunction).

    ``table``/``var`` are set for conditions reading a ``for`` row: one fact per row, keyed.
    """

    id: str
    nodes: tuple[ex.Node, ...]
    table: str | None = None
    var: str | None = None
    conditions: tuple[int, ...] = ()  # indices into Program.conditions

    @property
    def type(self) -> str:
        return f"ra:{self.id}" if self.table else f"a:{self.id}"

    @property
    def node(self) -> ex.Node:
        return self.nodes[0] if len(self.nodes) == 1 else ex.And(self.nodes)

    def fact(self, result: ex.K, key: Any = None) -> dict[str, Any]:
        """The engine fact for this atom's truth."""
        out = {"t": self.type, "v": int(result)}
        if self.table:
            out["key"] = key
        return out


@attrs.frozen
class Leaf:
    """A rule that reads no conclusion: its T and P forms are its atoms' truth, nothing to join.

    The driver fires it from the atom values it has just computed (per row for a ``for`` rule)
    and asserts the conclusion facts other rules read, saving the engine a fact, a match and an
    action round trip per firing; every rule that reads a conclusion runs in the Rete.
    """

    rule_id: str
    atoms: tuple[int, ...]  # indices into Program.atoms: the applicant atom and/or the row atom
    table: str | None
    t_action: EngineAction | None
    p_action: EngineAction


@attrs.frozen
class EngineAction:
    """What an engine rule emits: the source rule, T or P, and where args and value come from."""

    rule_id: str
    mode: str  # T | P
    conclusion: str
    args: tuple[tuple[str, Any], ...]  # (arg, ("const", v)) | (arg, ("row", column))
    value: Any  # None | ("const", v) | ("row", column)
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
    row_columns: Mapping[str, tuple[str, ...]]  # table -> columns the engine reads from its rows
    order: tuple[Rule, ...]  # rules sorted by stratum
    conditions: tuple[tuple[ex.Node, Any], ...] = attrs.field(default=(), eq=False, repr=False)
    leaves: tuple[Leaf, ...] = ()  # rules that read no conclusion: fired by the driver, not the Rete
    #: base fact type some engine pattern tests -> None (any such fact may match) or, per pattern,
    #: the values each constant-tested property must hold: a fact no pattern can match (an atom
    #: read only as true, a status no rule compares with) stays out of the Rete
    reads: Mapping[str, tuple[tuple[tuple[str, frozenset[Any]], ...], ...] | None] = attrs.field(factory=dict)

    _read_memo: dict[tuple[Any, ...], bool] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def read(self, fact: Mapping[str, Any]) -> bool:
        """Whether some engine pattern can match ``fact`` (else it need not be asserted)."""
        key = tuple(fact.items())  # facts of one type are built with their properties in one order
        known = self._read_memo.get(key)
        if known is None:
            known = self._read_memo[key] = self._read(fact)
        return known

    def _read(self, fact: Mapping[str, Any]) -> bool:
        patterns = self.reads.get(fact["t"], False)
        if patterns is None:
            return True
        if patterns is False:
            return False
        return any(all(fact.get(k, _MISSING) in ok for k, ok in p) for p in patterns)  # type: ignore[union-attr]

    @property
    def row_tables(self) -> tuple[str, ...]:
        return tuple(self.row_columns)

    def rule(self, rule_id: str) -> Rule:
        return self.book.rule(rule_id)


# --------------------------------------------------------------------------- compiler


def compile_program(book: Rulebook, rules: Sequence[Rule], *, prefire: bool = True,
                    filter_facts: bool = True) -> Program:
    """Compile the given rules (those in force on some date) of ``book``.

    ``prefire`` fires rules that read no conclusion in the driver (:class:`Leaf`);
    ``filter_facts`` asserts only facts some pattern can match (:attr:`Program.reads`). Both
    change no firing; ``python -m imgpath.bench`` measures each against turning it off.
    """
    program = _Compiler(book, rules, prefire).build()
    return program if filter_facts else attrs.evolve(program, reads=_ReadEverything(program.reads))


class _Compiler:
    def __init__(self, book: Rulebook, rules: Sequence[Rule], prefire: bool = True) -> None:
        self.prefire = prefire
        self.leaves: list[Leaf] = []
        self.book = book
        self.rules = tuple(rules)
        self.atoms: dict[str, Atom] = {}
        self.definitions: dict[str, Any] = {}
        self.actions: dict[str, EngineAction] = {}
        self.row_columns: dict[str, set[str]] = {}
        self.rule: Rule | None = None
        self.negated_refs: set[tuple[str, Any]] = set()

    def fail(self, problem: str, node: ex.Node | None = None) -> RuleError:
        r = self.rule
        return RuleError(problem, file=r.file if r else None, rule_id=r.id if r else None,
                         text=ex.render(node) if node is not None else None)

    # ------------------------------------------------------------------ build

    def build(self) -> Program:
        formulas: list[tuple[Rule, Any, Any, bool, bool]] = []
        leaf_units: dict[str, list[Atom]] = {}
        deps: dict[str, list[tuple[tuple[str, Any], bool]]] = {}
        for rule in self.rules:
            self.rule = rule
            if rule.for_var:
                self.row_columns.setdefault(rule.for_table, set())  # type: ignore[arg-type]
            conds = list(rule.when)
            if rule.value is not None and not isinstance(rule.value, ex.Const):
                conds.append(ex.Func("present", (rule.value,)))
            units = self.units(conds)
            if self.prefire and all(isinstance(u, Atom) for u in units):
                leaf_units[rule.id] = units
            self.negated_refs = set()
            t_form = _and(self.pol(u, T) for u in units)
            t_negated = set(self.negated_refs)
            self.negated_refs = set()
            # possible: every condition true or unknown (also when all are true: a maybe fact beside
            # the yes fact costs one firing, where "unknown exactly" would multiply the engine's joins)
            p_form = _and(self.pol(u, P) for u in units)
            p_negated = set(self.negated_refs)
            negated = t_negated | p_negated
            deps[rule.id] = [(_instance(r), _instance(r) in negated)
                             for c in conds for r in ex.walk(c) if isinstance(r, ex.Ref)]
            formulas.append((rule, t_form, p_form, bool(t_negated), bool(p_negated)))
        strata = self.stratify(deps)
        for rule, t_form, p_form, t_gated, p_gated in formulas:
            self.rule = rule
            if rule.id in leaf_units:
                self.leaves.append(Leaf(
                    rule.id, tuple(int(a.id) for a in leaf_units[rule.id]), rule.for_table,
                    self.action(rule, T) if rule.verdict == "yes" else None, self.action(rule, P)))
                continue
            if rule.verdict == "yes":
                self.emit(rule, T, t_form, strata[rule.id] if t_gated else 0)
            self.emit(rule, P, p_form, strata[rule.id] if p_gated else 0)
        self.shard()
        self.definitions["$begin"] = {"all": [{"m": {"$and": [{"t": "begin"}]}}]}
        self.definitions["$catch"] = {"all": [{"m": {"$ex": {"t": 1}}}, {"n": {"$and": [{"t": "never"}]}}]}
        order = tuple(sorted(self.rules, key=lambda r: strata[r.id]))
        atoms, conditions = self.closures()
        return Program(
            book=self.book, rules=self.rules, strata=strata, max_stratum=max(strata.values(), default=0),
            atoms=atoms, definitions=self.definitions, actions=self.actions,
            shards=self.copies(), row_columns={k: tuple(sorted(v)) for k, v in self.row_columns.items()},
            order=order, conditions=conditions, leaves=tuple(self.leaves), reads=self.reads())

    def closures(self) -> tuple[tuple[Atom, ...], tuple[tuple[ex.Node, Any], ...]]:
        """Each distinct condition compiled once to a closure; atoms refer to them by index."""
        from ._closures import compile_truth

        index: dict[tuple[str | None, str], int] = {}
        conditions: list[tuple[ex.Node, Any]] = []
        atoms = []
        for atom in self.atoms.values():
            ids = []
            for node in atom.nodes:
                key = (atom.var, _render(node))
                if key not in index:
                    index[key] = len(conditions)
                    conditions.append((node, compile_truth(node, row_var=atom.var)))
                ids.append(index[key])
            atoms.append(attrs.evolve(atom, conditions=tuple(ids)))
        return tuple(atoms), tuple(conditions)

    def units(self, conds: list[ex.Node]) -> list[Any]:
        """A rule's conditions as engine units: one atom for its fact conditions (one more for
        those reading the 'for' row), and each condition that reads a conclusion."""
        facts = [c for c in conds if self.computable(c)]
        out: list[Any] = []
        for group, reads_row in (([c for c in facts if not self.reads_row(c)], False),
                                 ([c for c in facts if self.reads_row(c)], True)):
            if group:
                out.append(self.atom(tuple(group), reads_row))
        out.extend(c for c in conds if not self.computable(c))
        return out

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
                    stratum[rid] = need
                    changed = True
            if not changed:
                return stratum
            if max(stratum.values(), default=0) > len(self.rules):
                break
        cyclic = sorted(rid for rid in deps if stratum[rid] > len(self.rules) // 2)
        raise RuleError("a cycle through negation: these rules read their own conclusion negated, or read "
                        "it to decide it is unknown (directly or through others): "
                        f"{', '.join(cyclic[:8]) or 'see the rules with not'}")


    # ------------------------------------------------------------------ polarity

    def pol(self, node: Any, pol: str) -> Any:
        """The formula for ``node`` being T (true), F (false), P (not false) or N (not true)."""
        if isinstance(node, Atom):
            return self.atom_lit(node, pol)
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
        if isinstance(node, ex.Const):
            k = ex.as_truth(node.value)
            return TRUE if _holds(k, pol) else FALSE
        if not self.computable(node):
            raise self.fail("a conclusion cannot be read inside a comparison, aggregate or function; "
                            "give it a condition of its own", node)
        return self.atom_lit(self.atom((node,), self.reads_row(node)), pol)

    def ref(self, node: ex.Ref, vals: tuple[Any, ...] | None, pol: str) -> Any:
        args = []
        for k, v in node.args:
            if isinstance(v, ex.Const):
                args.append((k, ("const", encode(v.value))))
            elif isinstance(v, ex.Field) and self.rule and v.root == self.rule.for_var:
                table = self.book.tables[self.rule.for_table]  # type: ignore[index]
                if v.path[0] != table.key:
                    raise self.fail("a conclusion's row argument must be the row's key", node)
                args.append((k, ("row", "key")))
            else:
                raise self.fail("conclusion arguments must be literals or the 'for' row's key", node)
        negated = pol in (F, N)
        if negated:
            self.negated_refs.add(_instance(node))
        # yes facts for T and N; maybe facts for P and F: every instance with a yes fact also gets a
        # maybe fact (a rule's P form holds whenever its T form does), so "some fact of X" is "a maybe
        # fact of X" -- one join per instance, where matching either kind would fire P rules once per
        # combination of yes and maybe facts upstream
        kind = "y" if pol in (T, N) else "m"
        if vals is None:
            return RefLit(node.name, kind, negated, tuple(args))
        lits = [RefLit(node.name, kind, negated, tuple(args), encode(v), True) for v in vals]
        return _and(lits) if negated else _or(lits)

    # ------------------------------------------------------------------ atoms

    def computable(self, node: ex.Node) -> bool:
        """True when a condition reads only facts, as_of, the season and the 'for' row (no conclusions)."""
        return _computable(node)

    def reads_row(self, node: ex.Node) -> bool:
        r = self.rule
        return r is not None and r.for_var is not None and any(
            isinstance(n, ex.Field) and n.root == r.for_var for n in ex.walk(node))

    def atom(self, nodes: tuple[ex.Node, ...], reads_row: bool) -> Atom:
        table = self.rule.for_table if reads_row else None  # type: ignore[union-attr]
        key = f"{table or ''}:{self.rule.for_var if table else ''}:" + " && ".join(  # type: ignore[union-attr]
            _render(n) for n in nodes)
        atom = self.atoms.get(key)
        if atom is None:
            atom = Atom(str(len(self.atoms)), nodes, table, self.rule.for_var if table else None)  # type: ignore[union-attr]
            self.atoms[key] = atom
        return atom

    def atom_lit(self, atom: Atom, pol: str) -> Lit:
        test = {T: {"v": 2}, F: {"v": 0}, P: {"$gte": {"v": 1}}, N: {"$lte": {"v": 1}}}[pol]
        if atom.table:
            return Lit(atom.type, ({"key": {"row": "key"}}, test))
        return Lit(atom.type, (test,))

    # ------------------------------------------------------------------ emit

    def emit(self, rule: Rule, mode: str, formula: Any, gate: int) -> None:
        disjuncts = _dnf(formula)
        if len(disjuncts) > MAX_DISJUNCTS:
            raise self.fail(f"the {mode} form of this rule expands to {len(disjuncts)} engine rules (limit "
                            f"{MAX_DISJUNCTS}); split it into several rules")
        action = self.action(rule, mode)
        for i, conj in enumerate(disjuncts):
            name = f"{rule.id}#{mode}{i}"
            self.definitions[name] = self.engine_rule(rule, conj, gate)
            self.actions[name] = action

    def action(self, rule: Rule, mode: str) -> EngineAction:
        """What a firing of ``rule`` in ``mode`` emits (and the row columns it reads)."""
        value: Any = None
        if rule.value is not None:
            if isinstance(rule.value, ex.Const):
                value = ("const", encode(rule.value.value))
            elif isinstance(rule.value, ex.Field) and rule.value.root == rule.for_var:
                value = ("row", rule.value.path[0])
                self.row_columns[rule.for_table].add(rule.value.path[0])  # type: ignore[index]
            else:
                raise self.fail("'value_expr' must be a column of the 'for' row (or use a literal 'value')",
                                rule.value)
        args = []
        for k, v in rule.args:
            if isinstance(v, ex.Const):
                args.append((k, ("const", encode(v.value))))
            elif isinstance(v, ex.Field) and v.root == rule.for_var:
                table = self.book.tables[rule.for_table]  # type: ignore[index]
                col = v.path[0]
                if col != table.key:
                    self.row_columns[rule.for_table].add(col)  # type: ignore[index]
                args.append((k, ("row", "key" if col == table.key else col)))
            else:
                raise self.fail("'then.args' must be literals or columns of the 'for' row", v)
        return EngineAction(rule.id, mode, rule.conclusion, tuple(args), value, rule.verdict)

    def engine_rule(self, rule: Rule, conj: Sequence[Any], gate: int) -> dict[str, Any]:
        by_alias: dict[str, list[Any]] = defaultdict(list)
        refs = _normalise_refs([lit for lit in conj if isinstance(lit, RefLit)])
        for lit in conj:
            if not isinstance(lit, RefLit):
                by_alias[lit.alias].extend(lit.tests)
        patterns: list[dict[str, Any]] = []
        if gate:
            patterns.append({"g": {"$and": [{"t": "gate"}, {"s": gate}]}})
        if rule.for_var:  # the row first: atoms and conclusions join on its key
            patterns.append({"row": {"$and": [{"t": f"r:{rule.for_table}"}]}})
        for alias in sorted(by_alias, key=lambda a: (a.startswith("ra:"), a)):
            # alpha tests first, the key join last (a correlation before them breaks the chain)
            tests = sorted(_dedupe(by_alias[alias]), key=_is_join)
            patterns.append({_alias(alias): {"$and": [{"t": alias}, *tests]}})
        for i, lit in enumerate(sorted(refs, key=lambda r: (r.neg, r.name, r.kind, repr(r.value)))):
            tests: list[Any] = [{"t": f"c:{lit.name}"}, {"k": lit.kind}]
            for arg, (src, v) in lit.args:
                if src == "const":
                    tests.append({f"a_{arg}": v})
            if lit.has_value:
                tests.append({"v": lit.value})
            for arg, (src, v) in lit.args:
                if src == "row":
                    tests.append({f"a_{arg}": {"row": "key"}})
            patterns.append({f"c{i}" + ("$not" if lit.neg else ""): {"$and": tests}})
        if not any(not next(iter(p)).endswith("$not") for p in patterns):
            patterns.insert(0, {"ctx": {"$and": [{"t": "ctx"}]}})
        if len(patterns) > MAX_PATTERNS:
            raise self.fail(f"this rule needs {len(patterns)} engine patterns (limit {MAX_PATTERNS}); split it")
        return {"all": patterns}

    # ------------------------------------------------------------------ limits

    def types(self) -> dict[str, set[str]]:
        """Base fact type -> the engine types patterns test for it (itself, or shards ``#k``)."""
        types: dict[str, set[str]] = defaultdict(set)
        for definition in self.definitions.values():
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", []) if isinstance(cond, dict) else []
                if tests and isinstance(tests[0], dict) and isinstance(tests[0].get("t"), str):
                    typ = tests[0]["t"]
                    types[typ.split("#")[0]].add(typ)
        return types

    def reads(self) -> dict[str, Any]:
        """Base fact type -> the property values some pattern accepts (see :attr:`Program.reads`)."""
        found: dict[str, set[Any] | None] = {}
        for definition in self.definitions.values():
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", []) if isinstance(cond, dict) else []
                if not (tests and isinstance(tests[0], dict) and isinstance(tests[0].get("t"), str)):
                    continue
                base = tests[0]["t"].split("#")[0]
                accepted = _accepted(tests[1:])
                if not accepted:
                    found[base] = None
                elif base not in found or found[base] is not None:
                    found.setdefault(base, set()).add(accepted)  # type: ignore[union-attr]
        return {base: None if sel is None else tuple(sorted(sel, key=repr)) for base, sel in found.items()}

    def copies(self) -> dict[str, tuple[str, ...]]:
        """Base fact type -> every engine type patterns use for it, where sharded."""
        return {base: tuple(sorted(ts)) for base, ts in self.types().items() if ts != {base}}

    def shard(self) -> None:
        """Spread the patterns of over-full fact types over copies (``c:img#1``...) of those facts.

        Equality tests on one property with different constants can never match together, so each
        such group weighs one; everything else weighs one per test.
        """
        sigs: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        for definition in self.definitions.values():
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", [])
                if not tests or "t" not in tests[0]:
                    continue
                sigs[tests[0]["t"]][json.dumps(tests[1:], sort_keys=True)] = tests[1:]
        for typ, by_sig in sigs.items():
            if _weight(list(by_sig.values())) <= ALPHA_LIMIT:
                continue
            assignment: dict[str, str] = {}
            groups: list[list[list[Any]]] = []
            for sig, tests in sorted(by_sig.items()):
                for i, group in enumerate(groups):
                    if _weight([*group, tests]) <= ALPHA_LIMIT:
                        group.append(tests)
                        assignment[sig] = f"{typ}#{i}"
                        break
                else:
                    groups.append([tests])
                    assignment[sig] = f"{typ}#{len(groups) - 1}"
            for definition in self.definitions.values():
                for pattern in definition["all"]:
                    (_, cond), = pattern.items()
                    tests = cond.get("$and", [])
                    if tests and tests[0].get("t") == typ:
                        tests[0] = {"t": assignment[json.dumps(tests[1:], sort_keys=True)]}


@functools.cache
def _render(node: ex.Node) -> str:
    """``ex.render``, once per node (rule nodes are immutable and hash once; compiling renders each often)."""
    return ex.render(node)


@functools.cache
def _computable(node: ex.Node) -> bool:
    """A condition reads no conclusion: Python computes it (an atom)."""
    return not any(isinstance(n, ex.Ref) for n in ex.walk(node))


class _ReadEverything(dict):  # type: ignore[type-arg]
    """``Program.reads`` that accepts every fact (the unfiltered baseline the benchmark measures)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return None


_MISSING = object()
_DOMAINS = {"v": (0, 1, 2), "k": ("y", "m")}  # atom truth; conclusion kind
_RANGE = {"$gte": lambda x, b: x >= b, "$lte": lambda x, b: x <= b, "$gt": lambda x, b: x > b,
          "$lt": lambda x, b: x < b, "$neq": lambda x, b: x != b}


def _accepted(tests: list[Any]) -> tuple[tuple[str, frozenset[Any]], ...]:
    """Per property a pattern tests against a constant, the values it accepts (joins accept anything)."""
    ok: dict[str, set[Any]] = {}
    for t in tests:
        if not isinstance(t, dict) or len(t) != 1:
            continue
        (op, arg), = t.items()
        if not op.startswith("$") and not isinstance(arg, dict) and not isinstance(arg, list):
            ok[op] = ok.get(op, {arg}) & {arg}
        elif op in _RANGE and isinstance(arg, dict) and len(arg) == 1:
            (field, bound), = arg.items()
            if field in _DOMAINS and not isinstance(bound, dict):
                ok[field] = {x for x in ok.get(field, set(_DOMAINS[field])) if _RANGE[op](x, bound)}
    return tuple(sorted((k, frozenset(v)) for k, v in ok.items()))


def _weight(signatures: list[list[Any]]) -> int:
    """How many alpha nodes below a type could be pushed at once for these test lists."""
    exclusive: set[tuple[str, str]] = set()
    other: set[str] = set()
    for tests in signatures:
        for t in tests:
            if isinstance(t, dict) and len(t) == 1:
                (k, v), = t.items()
                if not k.startswith("$") and not isinstance(v, dict):
                    exclusive.add((k, "=="))
                    continue
            other.add(json.dumps(t, sort_keys=True))
    return len(exclusive) + len(other)


def _instance(ref: ex.Ref) -> tuple[str, Any]:
    """A reference's conclusion instance for stratification: literal args, or '*' when read from a row."""
    if all(isinstance(v, ex.Const) for _, v in ref.args):
        return (ref.name, tuple((k, v.value) for k, v in ref.args))  # type: ignore[attr-defined]
    return (ref.name, "*")


def _head(rule: Rule) -> tuple[str, Any]:
    if all(isinstance(v, ex.Const) for _, v in rule.args):
        return (rule.conclusion, tuple((k, v.value) for k, v in rule.args))  # type: ignore[attr-defined]
    return (rule.conclusion, "*")


def _normalise_refs(refs: list[RefLit]) -> list[RefLit]:
    """Drop a join that another join on the same instance implies (a yes fact implies the maybe
    fact) and duplicate joins: the engine never binds one fact to two patterns of a rule."""
    def inst(r: RefLit) -> tuple[Any, ...]:
        return (r.name, r.args, r.has_value, r.value)

    positive_yes = {inst(r) for r in refs if not r.neg and r.kind == "y"}
    out: list[RefLit] = []
    seen: set[tuple[Any, ...]] = set()
    for r in refs:
        if not r.neg and r.kind == "m" and inst(r) in positive_yes:
            continue  # a yes fact comes with a maybe fact
        key = (*inst(r), r.kind, r.neg)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _is_join(test: Any) -> bool:
    """A correlation test (a property compared with another pattern's property)."""
    return isinstance(test, dict) and len(test) == 1 and isinstance(next(iter(test.values())), dict) \
        and not next(iter(test)).startswith("$")


def _alias(alias: str) -> str:
    return alias.replace(":", "_")


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


def _dnf(f: Any) -> list[list[Any]]:
    """Disjunctive normal form: each conjunction becomes one engine rule."""
    if isinstance(f, (Lit, RefLit)):
        return [[f]]
    if isinstance(f, OrF):
        out: list[list[Any]] = []
        for p in f.parts:
            out.extend(_dnf(p))
        return out
    product: list[list[Any]] = [[]]
    for p in f.parts:
        product = [a + b for a, b in itertools.product(product, _dnf(p))]
    return product


def check_strata(book: Rulebook) -> None:
    """Raise RuleError if the rules' conclusions depend on themselves through negation.

    Deciding UNKNOWN reads every conclusion a rule uses as "not definitely true", so any cycle
    between conclusions is a cycle through negation.
    """
    c = _Compiler(book, book.rules)
    deps = {r.id: [(_instance(n), True) for node in r.when for n in ex.walk(node) if isinstance(n, ex.Ref)]
            for r in book.rules}
    c.stratify(deps)
