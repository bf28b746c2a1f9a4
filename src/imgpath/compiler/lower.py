"""Lowering a :class:`~imgpath.compiler.ir.Program` to durable-rules: atoms, engine rules, leaves.

Three-valued logic on a two-valued Rete. For each rule the lowering builds engine rules of two
modes (each possibly split into a few disjuncts):

* **T** fires when every condition is definitely true and emits a *yes* fact
  ``{"t": "c:<conclusion>", "k": "y", ...}``;
* **P** fires when every condition may hold (is true or unknown) and emits a
  *maybe* fact (``"k": "m"``).

A conclusion is YES when a yes fact exists, UNKNOWN when only maybe facts exist and NO
otherwise. Conditions are pushed into negation normal form over four polarities (true, false,
possible, not-true).

What the Rete does: it joins each rule's conditions, chains conclusions into the rules that read
them (yes/maybe facts, correlated on their arguments), joins parameter rows (a rule ``for`` each
state), and evaluates negation by strata: a rule that reads a conclusion under negation waits
behind a gate fact until the strata below are quiescent.

What Python does: conditions on the applicant's facts (and on a row's figures) are *atoms*,
computed once per evaluation (once per row) with the same three-valued semantics the reference
evaluator uses, and asserted as small facts ``{"t": "a:<n>", "v": 0|1|2}``. All of a rule's fact
conditions form one atom, so the engine tests only equalities and inequalities on atoms, joins on
keys and conclusion facts, and ``$not``. This keeps clear of three durable-rules defects measured
on this project: ``$or`` tests are not shared between rules, so a few dozen of them overflow the
64-entry alpha stack (error 303); correlated tests inside ``$or`` are mis-evaluated; and a
correlation with a missing property raises error 311. A rule that reads no conclusion is a
:class:`Leaf`: the driver fires it from its atoms without the Rete.

The **fused** form (``fused=True``, what ``evaluate`` runs) keeps all of this but changes what the
engine sees (:class:`Layout`): atom truths are 0/1/2 properties of one context fact per applicant
and of each row's fact, a conclusion only leaf rules conclude is such a property too (a
:class:`Level`), ``x in [...]`` on a derived conclusion is one membership property, the fact-only
parts of a mixed ``and``/``or`` are one atom, every pattern joins on the applicant ``p`` (a session
holds several), and a rule reading a conclusion negated reads its stratum's copy of the context
fact (``ctx@2``), asserted when the strata below are quiescent, instead of a gate fact.

The passes here, after :mod:`.ir`'s select and stratify: **atoms** (a rule's conditions as
atoms and conclusion reads), **lower** (T/P formulas in disjunctive normal form, one engine rule
per disjunct, bounded before it is built), **alpha** (:mod:`.alpha`: shard over-full fact types,
check the engine's limits) and **closures** (:mod:`.closures`: each distinct condition compiled
to a Python closure).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .. import expressions as ex
from .._internal import cache
from ..errors import RuleError
from ..rulebook import Rule, Rulebook
from ..rulebook.graph import polarized_refs
from . import alpha
from .closures import compile_truth
from .ir import Program, encode

__all__ = ["Atom", "EngineAction", "EngineProgram", "Layout", "Leaf", "Level", "lower", "lowered"]

#: Largest number of engine rules one rule may expand into.
MAX_DISJUNCTS = 48
#: Most patterns in one engine rule (the engine keeps at most 16 frames per join).
MAX_PATTERNS = 15

T, F, P, N = "T", "F", "P", "N"  # true, false, possible (not false), not true


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
    value_set: int | None = None  # fused: the value is one of a set (a membership property)


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
class Level:
    """A conclusion instance only leaf rules conclude, read by engine rules as a 0/1/2 property.

    ``table`` is None for an instance with literal arguments (a property of the context fact),
    else the table whose row facts carry it (its arguments name the row's key). The property is
    2 when a leaf rule concludes the instance definitely, 1 when only possibly, 0 otherwise;
    with ``has_value``, only firings concluding ``value`` count.
    """

    table: str | None
    name: str
    args: tuple[tuple[str, Any], ...]  # (arg, ("const", v)) | (arg, ("row", "key"))
    has_value: bool = False
    value: Any = None


@attrs.frozen
class Layout:
    """Where the fused lowering puts atom truths and leaf conclusions: the facts' properties.

    The context fact carries ``a<id>`` for each atom in ``ctx_atoms`` and ``l<i>`` for each
    level in ``levels`` whose table is None; the row fact of a table carries its ``row_atoms``
    and its levels the same way. ``ctx_types`` and ``row_types`` are the engine types each
    such fact is asserted under (several when its patterns were spread over copies). A rule
    that reads a conclusion negated reads the copy of the context fact of its stratum
    (``ctx@1``...), which the driver asserts only once the strata below are quiescent: the
    copy is the rule's gate.
    """

    ctx_atoms: tuple[int, ...]
    row_atoms: Mapping[str, tuple[int, ...]]
    levels: tuple[Level, ...]
    ctx_types: tuple[tuple[int, str], ...]  # (stratum it is asserted in, engine type)
    row_types: Mapping[str, tuple[str, ...]]
    #: conclusions only leaf rules conclude: their firings set levels, no conclusion fact is asserted
    leaf_only: frozenset[str] = frozenset()
    #: (conclusion, values) per membership property ``s<i>``: a conclusion fact whose value is one
    #: of them carries ``s<i>: 1``, so ``x in [...]`` is one test, not one engine rule per value
    value_sets: tuple[tuple[str, frozenset[Any]], ...] = ()

    def ctx_levels(self) -> list[int]:
        return [i for i, lv in enumerate(self.levels) if lv.table is None]

    def row_levels(self, table: str) -> list[int]:
        return [i for i, lv in enumerate(self.levels) if lv.table == table]


@attrs.frozen(eq=False)
class EngineProgram:
    """A :class:`~imgpath.compiler.ir.Program` lowered to durable-rules: what the driver runs."""

    program: Program
    atoms: tuple[Atom, ...]
    definitions: Mapping[str, Any]
    actions: Mapping[str, EngineAction]
    shards: Mapping[str, tuple[str, ...]]  # base fact type -> the engine types a copy is asserted under
    row_columns: Mapping[str, tuple[str, ...]]  # table -> columns the engine reads from its rows
    conditions: tuple[tuple[ex.Node, Any], ...] = attrs.field(default=(), repr=False)
    leaves: tuple[Leaf, ...] = ()  # rules that read no conclusion: fired by the driver, not the Rete
    #: base fact type some engine pattern tests -> None (any such fact may match) or, per pattern,
    #: the values each constant-tested property must hold: a fact no pattern can match (an atom
    #: read only as true, a status no rule compares with) stays out of the Rete
    reads: Mapping[str, tuple[tuple[tuple[str, frozenset[Any]], ...], ...] | None] = attrs.field(factory=dict)
    #: what the driver keeps with this program (its compiled ruleset), freed with it
    runtime: dict[str, Any] = attrs.field(factory=dict, repr=False)
    #: the fused form's properties (None for the classic form: one small fact per atom)
    layout: Layout | None = None

    _read_memo: dict[tuple[Any, ...], bool] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def book(self) -> Rulebook:
        return self.program.book

    @property
    def max_stratum(self) -> int:
        return self.program.max_stratum

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


def lowered(program: Program, *, prefire: bool = True, filter_facts: bool = True,
            fused: bool = False) -> EngineProgram:
    """The durable-rules form of ``program``, built once and kept with it.

    ``prefire`` fires rules that read no conclusion in the driver (:class:`Leaf`);
    ``filter_facts`` asserts only facts some pattern can match (:attr:`EngineProgram.reads`).
    Both change no firing; ``python -m imgpath.bench`` measures each against turning it off.
    ``fused`` gives the fused form (:class:`Layout`): atom truths and the conclusions only leaf
    rules reach become properties of a context fact and of each row's fact, and every pattern
    joins on the applicant (``p``), so one session can hold several applicants.
    """
    key = f"durable:{prefire}:{filter_facts}:{fused}"
    out = program.derived.get(key)
    if out is None:
        usual = prefire and filter_facts  # the forms evaluation uses: kept on disk too
        out = _from_disk(program, fused) if usual else None
        if out is None:
            out = lower(program, prefire=prefire, filter_facts=filter_facts, fused=fused)
            if usual:
                _to_disk(program, fused, out)
        program.derived[key] = out
    return out  # type: ignore[no-any-return]


# Lowering takes ~30 ms per program, a fifth of a cold start; the result is plain data (atoms,
# engine definitions, actions, the fused layout) that depends only on the program's rules and
# imgpath's source, so it is kept in the on-disk cache (owner-checked, checksummed: see
# _internal.cache) and read back in ~5 ms. The program itself is not stored: the entry refers to
# it, and it is given back on loading.
_NOT_STORED = ("program", "runtime", "_read_memo")


def _disk_key(program: Program, fused: bool) -> str:
    return cache.key("lowered", cache.package_source(), program.book.digest,
                     ",".join(r.id for r in program.order), str(fused))


def _from_disk(program: Program, fused: bool) -> EngineProgram | None:
    import io
    import pickle

    payload = cache.load("lowered", _disk_key(program, fused))
    if payload is None:
        return None

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            if pid != "program":
                raise pickle.UnpicklingError(f"unknown reference {pid!r}")
            return program

    try:
        state = _Unpickler(io.BytesIO(payload)).load()
        return EngineProgram(program=program, **state)
    except Exception:  # noqa: BLE001 - an unreadable entry is rebuilt, never trusted
        return None


def _to_disk(program: Program, fused: bool, engine: EngineProgram) -> None:
    import io
    import pickle

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if obj is program:
                return "program"
            if isinstance(obj, (Program, Rulebook)):
                raise pickle.PicklingError("the lowered program refers to another program")
            return None

    state = {f.name: getattr(engine, f.name) for f in attrs.fields(EngineProgram) if f.name not in _NOT_STORED}
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return  # not plain data (a reform's callable, say): kept in memory only
    cache.store("lowered", _disk_key(program, fused), buf.getvalue())


def lower(program: Program, *, prefire: bool = True, filter_facts: bool = True, fused: bool = False) -> EngineProgram:
    """Lower ``program`` to durable-rules (not cached: see :func:`lowered`)."""
    if fused and not prefire:
        raise ValueError("the fused form fires leaf rules in the driver (prefire=True)")
    out = _Lowerer(program, prefire, fused).build()
    return out if filter_facts else attrs.evolve(out, reads=alpha.ReadEverything(out.reads))


class _Lowerer:
    def __init__(self, program: Program, prefire: bool = True, fused: bool = False) -> None:
        self.program = program
        self.prefire = prefire
        self.fused = fused
        self.leaf_only: set[str] = set()  # fused: conclusions only leaf rules conclude (or none)
        self.produced: set[str] = set()  # conclusions some rule of the program concludes
        self.levels: dict[Level, int] = {}
        self.value_sets: dict[tuple[str, frozenset[Any]], int] = {}
        self.ctx_atoms: dict[int, None] = {}
        self.row_atoms: dict[str, dict[int, None]] = {}
        self.leaves: list[Leaf] = []
        self.book = program.book
        self.rules = program.rules
        self.atoms: dict[str, Atom] = {}
        self.definitions: dict[str, Any] = {}
        self.actions: dict[str, EngineAction] = {}
        self.row_columns: dict[str, set[str]] = {}
        self.rule: Rule | None = None

    def fail(self, problem: str, node: ex.Node | None = None) -> RuleError:
        r = self.rule
        return RuleError(problem, file=r.file if r else None, rule_id=r.id if r else None,
                         text=ex.render(node) if node is not None else None)

    # ------------------------------------------------------------------ build

    def build(self) -> EngineProgram:
        strata = self.program.strata
        units_of: dict[str, list[Any]] = {}
        if self.fused:  # which conclusions only leaf rules reach: read as properties, not joined
            leafy: dict[str, bool] = {}
            for rule in self.rules:
                self.rule = rule
                units = units_of[rule.id] = self.units(rule.conditions())
                is_leaf = all(isinstance(u, Atom) for u in units)
                leafy[rule.conclusion] = leafy.get(rule.conclusion, True) and is_leaf
            self.produced = set(leafy)
            self.leaf_only = {c for c, only in leafy.items() if only}
        for rule in self.rules:
            self.rule = rule
            if rule.for_var:
                self.row_columns.setdefault(rule.for_table, set())  # type: ignore[arg-type]
            conds = rule.conditions()
            units = units_of.get(rule.id) or self.units(conds)
            if self.prefire and all(isinstance(u, Atom) for u in units):
                self.leaves.append(Leaf(
                    rule.id, tuple(int(a.id) for a in units), rule.for_table,
                    self.action(rule, T) if rule.verdict == "yes" else None, self.action(rule, P)))
                continue
            # possible: every condition true or unknown (also when all are true: a maybe fact beside
            # the yes fact costs one firing, where "unknown exactly" would multiply the engine's joins)
            negated = any(neg for c in conds for _, neg in polarized_refs(c))
            gate = strata[rule.id] if negated else 0
            if rule.verdict == "yes":
                self.emit(rule, T, _and(self.pol(u, T) for u in units), gate)
            self.emit(rule, P, _and(self.pol(u, P) for u in units), gate)
        layout = None
        if self.fused:
            layout = self.fuse()
        else:
            alpha.shard(self.definitions)
        self.definitions["$begin"] = {"all": [{"m": {"$and": [{"t": "begin"}]}}]}
        self.definitions["$catch"] = {"all": [{"m": {"$ex": {"t": 1}}}, {"n": {"$and": [{"t": "never"}]}}]}
        self.rule = None
        crowded = alpha.beta_overflow(self.definitions)
        if crowded is not None:
            signature, names = crowded
            self.rule = self.program.book.rule(names[alpha.MAX_BETA].split("#")[0])  # the first one past the limit
            raise self.fail(f"{len(names)} engine rules test the same fact ({signature}; the engine allows "
                            f"{alpha.MAX_BETA}): rules {', '.join(sorted({n.split('#')[0] for n in names})[:5])}, ...; "
                            "read the shared conclusion once in a helper conclusion, or use a table and 'for'")
        types = alpha.fact_types(self.definitions)
        n_types = sum(len(ts) for ts in types.values())
        if n_types > alpha.MAX_TYPES:
            raise self.fail(f"the rules in force together need {n_types} engine fact types (limit "
                            f"{alpha.MAX_TYPES}: past about 512 the engine hangs while compiling); "
                            "fewer conclusions, or fold chains of conclusions into one rule")
        atoms, conditions = self.closures()
        return EngineProgram(
            program=self.program, atoms=atoms, definitions=self.definitions, actions=self.actions,
            shards=alpha.copies(self.definitions),
            row_columns={k: tuple(sorted(v)) for k, v in self.row_columns.items()},
            conditions=conditions, leaves=tuple(self.leaves), reads=alpha.reads(self.definitions), layout=layout)

    def fuse(self) -> Layout:
        """Order the fused facts' tests for sharing, spread crowded types over copies, check widths."""
        tables = sorted(self.row_atoms.keys() | {lv.table for lv in self.levels if lv.table}
                        | {r.for_table for r in self.rules if r.for_table})  # type: ignore[misc]
        ctx_bases = sorted(b for b in alpha.fact_types(self.definitions) if b == "ctx" or b.startswith("ctx@"))
        fused_types = {"ctx", *ctx_bases, *(f"r:{t}" for t in tables)}
        alpha.order_tests(self.definitions, fused_types)
        try:
            alpha.shard_by_stack(self.definitions, fused_types)
        except ValueError as err:
            raise self.fail(f"{err}; split the rule's conditions into helper conclusions") from None
        copies = alpha.copies(self.definitions)
        levels = tuple(sorted(self.levels, key=self.levels.__getitem__))
        layout = Layout(
            ctx_atoms=tuple(self.ctx_atoms), row_atoms={t: tuple(a) for t, a in self.row_atoms.items()},
            levels=levels,
            ctx_types=tuple((int(b.partition("@")[2] or 0), t) for b in (ctx_bases or ["ctx"]) for t in copies.get(b, (b,))),
            row_types={t: copies.get(f"r:{t}", (f"r:{t}",)) for t in tables}, leaf_only=frozenset(self.leaf_only),
            value_sets=tuple(sorted(self.value_sets, key=self.value_sets.__getitem__)))
        tested = alpha.properties(self.definitions, copies=True)
        for typ in [t for _, t in layout.ctx_types] + [t for ts in layout.row_types.values() for t in ts]:
            width = len(tested.get(typ, ())) + (3 if typ.startswith("r:") else 1)  # key, k; p
            if width > alpha.MAX_PROPERTIES:  # pragma: no cover - shard_by_stack bounds each copy
                raise self.fail(f"the rules in force need {width} properties on one engine fact ({typ}; the "
                                f"engine allows {alpha.MAX_PROPERTIES}): fewer distinct conditions on facts")
        return layout

    def closures(self) -> tuple[tuple[Atom, ...], tuple[tuple[ex.Node, Any], ...]]:
        """Each distinct condition compiled once to a closure; atoms refer to them by index."""
        index: dict[tuple[str | None, str], int] = {}
        conditions: list[tuple[ex.Node, Any]] = []
        atoms = []
        for atom in self.atoms.values():
            ids = []
            for node in atom.nodes:
                key = (atom.var, _render(node))
                if key not in index:
                    index[key] = len(conditions)
                    # the fused form computes atoms with generated code: its closures (the fallback,
                    # and what names a condition that cannot be computed) are compiled on first use
                    truth = _LazyTruth(node, atom.var) if self.fused else compile_truth(node, row_var=atom.var)
                    conditions.append((node, truth))
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


    # ------------------------------------------------------------------ polarity

    def pol(self, node: Any, pol: str) -> Any:
        """The formula for ``node`` being T (true), F (false), P (not false) or N (not true)."""
        if isinstance(node, Atom):
            return self.atom_lit(node, pol)
        if isinstance(node, ex.Not):
            return self.pol(node.arg, {T: F, F: T, P: N, N: P}[pol])
        if isinstance(node, (ex.And, ex.Or)):
            conj = isinstance(node, ex.And) == (pol in (T, P))
            args = node.args
            if self.fused:
                # the parts that read no conclusion become one atom: Kleene and/or of them is
                # computed in Python, and the engine gets one test where it would get a disjunct each
                facts = [a for a in args if self.computable(a)]
                if len(facts) > 1 and len(facts) < len(args):
                    args = (type(node)(tuple(facts)), *(a for a in args if not self.computable(a)))
            parts = (self.pol(a, pol) for a in args)
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
        if self.fused and node.name not in self.produced:  # no rule of the program concludes it
            return TRUE if negated else FALSE
        if self.fused and node.name in self.leaf_only:
            table = self.rule.for_table if any(src == "row" for _, (src, _) in args) else None  # type: ignore[union-attr]
            if vals is None:
                level = Level(table, node.name, tuple(args))
            elif len(vals) == 1:
                level = Level(table, node.name, tuple(args), True, encode(vals[0]))
            else:  # one level for the set: the highest of its members'
                members = (node.name, frozenset(encode(v) for v in vals))
                level = Level(table, node.name, tuple(args), True,
                              ("set", self.value_sets.setdefault(members, len(self.value_sets))))
            index = self.levels.setdefault(level, len(self.levels))
            return Lit("row" if table else "ctx", (_level_test(f"l{index}", pol),))
        # yes facts for T and N; maybe facts for P and F: every instance with a yes fact also gets a
        # maybe fact (a rule's P form holds whenever its T form does), so "some fact of X" is "a maybe
        # fact of X" -- one join per instance, where matching either kind would fire P rules once per
        # combination of yes and maybe facts upstream
        kind = "y" if pol in (T, N) else "m"
        if vals is None:
            return RefLit(node.name, kind, negated, tuple(args))
        if self.fused and len(vals) > 1:  # one membership test instead of an engine rule per value
            members = (node.name, frozenset(encode(v) for v in vals))
            index = self.value_sets.setdefault(members, len(self.value_sets))
            return RefLit(node.name, kind, negated, tuple(args), None, True, index)
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
        if self.fused:  # a property of the context fact, or of the row's fact
            prop = f"a{atom.id}"
            if atom.table:
                self.row_atoms.setdefault(atom.table, {})[int(atom.id)] = None
            else:
                self.ctx_atoms[int(atom.id)] = None
            return Lit("row" if atom.table else "ctx", (_level_test(prop, pol),))
        test = {T: {"v": 2}, F: {"v": 0}, P: {"$gte": {"v": 1}}, N: {"$lte": {"v": 1}}}[pol]
        if atom.table:
            return Lit(atom.type, ({"key": {"row": "key"}}, test))
        return Lit(atom.type, (test,))

    # ------------------------------------------------------------------ emit

    def emit(self, rule: Rule, mode: str, formula: Any, gate: int) -> None:
        size = _dnf_size(formula, MAX_DISJUNCTS)
        if size > MAX_DISJUNCTS:  # counted before it is built: the product can be astronomically large
            raise self.fail(f"the {mode} form of this rule expands to more than {MAX_DISJUNCTS} engine rules; "
                            "split it into several rules, or move the 'or's into one condition on facts")
        action = self.action(rule, mode)
        for i, conj in enumerate(_dnf(formula)):
            name = f"{rule.id}#{mode}{i}"
            self.definitions[name] = (self.fused_rule if self.fused else self.engine_rule)(rule, conj, gate)
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


    def fused_rule(self, rule: Rule, conj: Sequence[Any], gate: int) -> dict[str, Any]:
        """One engine rule of the fused form: tests on the context and row facts, joins on conclusion
        facts, every pattern joined on the applicant ``p`` (a session may hold several)."""
        tests: dict[str, list[Any]] = {"ctx": [], "row": []}
        refs = _normalise_refs([lit for lit in conj if isinstance(lit, RefLit)])
        for lit in conj:
            if isinstance(lit, Lit):
                tests[lit.alias].extend(lit.tests)
        patterns: list[dict[str, Any]] = []
        # a negated conclusion fact: read the context copy of this stratum, asserted once the strata
        # below are quiescent (it comes before every negated pattern, so it gates them)
        stratum = gate if gate and any(r.neg for r in refs) else 0
        if rule.for_var:
            patterns.append({"row": {"$and": [{"t": f"r:{rule.for_table}"}, *_dedupe(tests["row"])]}})
        if tests["ctx"] or stratum or (not rule.for_var and all(r.neg for r in refs)):
            ctx_type = f"ctx@{stratum}" if stratum else "ctx"
            patterns.append({"ctx": {"$and": [{"t": ctx_type}, *_dedupe(tests["ctx"])]}})
        for i, lit in enumerate(sorted(refs, key=lambda r: (r.neg, r.name, r.kind, repr(r.value), repr(r.value_set)))):
            ref_tests: list[Any] = [{"t": f"c:{lit.name}"}, {"k": lit.kind}]
            for arg, (src, v) in lit.args:
                if src == "const":
                    ref_tests.append({f"a_{arg}": v})
            if lit.value_set is not None:
                ref_tests.append({f"s{lit.value_set}": 1})
            elif lit.has_value:
                ref_tests.append({"v": lit.value})
            for arg, (src, v) in lit.args:
                if src == "row":
                    ref_tests.append({f"a_{arg}": {"row": "key"}})
            patterns.append({f"c{i}" + ("$not" if lit.neg else ""): {"$and": ref_tests}})
        anchor = next(next(iter(p)) for p in patterns if not next(iter(p)).endswith("$not"))
        for p in patterns:
            (alias, cond), = p.items()
            if alias != anchor:
                cond["$and"].append({"p": {anchor: "p"}})
        if len(patterns) > MAX_PATTERNS:
            raise self.fail(f"this rule needs {len(patterns)} engine patterns (limit {MAX_PATTERNS}); split it")
        return {"all": patterns}


def _level_test(prop: str, pol: str) -> dict[str, Any]:
    """The engine test of a 0/1/2 property for a polarity: T is 2, F is 0, P is not 0, N is not 2."""
    return {T: {prop: 2}, F: {prop: 0}, P: {"$gte": {prop: 1}}, N: {"$lte": {prop: 1}}}[pol]


@functools.cache
def _render(node: ex.Node) -> str:
    """``ex.render``, once per node (rule nodes are immutable and hash once; compiling renders each often)."""
    return ex.render(node)


@functools.cache
def _computable(node: ex.Node) -> bool:
    """A condition reads no conclusion: Python computes it (an atom)."""
    return not any(isinstance(n, ex.Ref) for n in ex.walk(node))


_MISSING = object()


class _LazyTruth:
    """A condition's closure (:func:`~.closures.compile_truth`), compiled when first called."""

    __slots__ = ("node", "row_var", "fn")

    def __init__(self, node: ex.Node, row_var: str | None) -> None:
        self.node = node
        self.row_var = row_var
        self.fn: Any = None

    def __call__(self, frame: Any) -> ex.K:
        if self.fn is None:
            self.fn = compile_truth(self.node, row_var=self.row_var)
        return self.fn(frame)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_LazyTruth, (self.node, self.row_var))  # the compiled closure is rebuilt on first call


def _normalise_refs(refs: list[RefLit]) -> list[RefLit]:
    """Drop a join that another join on the same instance implies (a yes fact implies the maybe
    fact) and duplicate joins: the engine never binds one fact to two patterns of a rule."""
    def inst(r: RefLit) -> tuple[Any, ...]:
        return (r.name, r.args, r.has_value, r.value, r.value_set)

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


def _dnf_size(f: Any, limit: int) -> int:
    """How many conjunctions :func:`_dnf` would build, counting no further than ``limit + 1``
    (so 22 conditions of two alternatives each cost 22 steps, not 2**22 lists)."""
    if isinstance(f, (Lit, RefLit)):
        return 1
    if isinstance(f, OrF):
        return min(sum(_dnf_size(p, limit) for p in f.parts), limit + 1)
    total = 1
    for p in f.parts:
        total = min(total * _dnf_size(p, limit), limit + 1)
        if total == 0:
            return 0
    return total


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


