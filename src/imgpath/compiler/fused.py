"""The fused program: the fused lowering, its generated atom function and what the driver prebuilds.

:func:`fused` gives, for a :class:`~imgpath.compiler.ir.Program`, everything the durable-rules
driver needs that does not depend on the applicant:

* the fused lowering (:func:`~imgpath.compiler.lower.lowered` with ``fused=True``): atom truths
  and leaf conclusions as properties of a few facts, every pattern joined on the applicant;
* the generated function computing every atom and leaf firing in one pass
  (:mod:`.codegen`), its source cached on disk, or the closures when generation fails;
* every action a firing can record, numbered: a firing is the integer ``action * stride + slot``
  (``slot`` is the row's position in its table plus one, 0 without a row), so a worker can send
  firings as integers and the parent rebuild them from its own copy of the program;
* the facts' serialised shapes (format strings), so an applicant's facts are written without
  building dictionaries or calling a JSON encoder.

Built once per program and kept on it (``program.derived``), so it dies with the rulebook.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from .. import expressions as ex
from .._internal import cache, forksafe
from . import alpha, codegen
from .closures import Frame
from .ir import Program
from .lower import EngineAction, EngineProgram, lowered

__all__ = ["FusedProgram", "fused"]

_lock = forksafe.Lock()  # a worker forked while another thread builds must not inherit it held


@attrs.frozen(eq=False)
class FusedProgram:
    """What the fused driver runs for one program (see the module docstring)."""

    engine: EngineProgram
    actions: tuple[EngineAction, ...]  # by action number
    rule_action: Mapping[str, int]  # engine rule name -> action number
    row_table: Mapping[str, str]  # engine rule name -> its rule's table (rules with a row)
    rule_code: Mapping[str, tuple[int, bool]]  # engine rule name -> (action number * stride, reads a row)
    action_table: tuple[str | None, ...]  # by action number: the rule's 'for' table, if any
    stride: int
    slots: Mapping[str, Mapping[Any, int]]  # table -> row key -> slot (position + 1)
    keys: Mapping[str, tuple[Any, ...]]  # table -> row keys by position
    row_cols: Mapping[str, tuple[str, ...]]  # table -> the columns the atoms read, in order
    compute: Callable[..., Any] = attrs.field(repr=False)
    source: str | None = attrs.field(repr=False)  # None when the closures compute the atoms
    #: per context fact copy: (the stratum it is asserted in, '{"p":%d,"t":"ctx#0"' + its properties
    #: ',"a0":%d,...', which of the values (atoms, then levels) they are): only what its patterns test
    ctx_copies: tuple[tuple[int, str, Callable[[tuple[Any, ...]], tuple[Any, ...]]], ...] = ()
    #: per table, per row fact copy: ('{"p":%d,"k":%d,"key":%s,"t":"r:states"' + properties, values)
    row_copies: Mapping[str, tuple[tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]], ...]] = \
        attrs.field(factory=dict)
    #: what the driver keeps with this program (its ruleset, per-table-version firing records)
    runtime: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def program(self) -> Program:
        return self.engine.program

    def action_of(self, code: int) -> tuple[EngineAction, int]:
        """(action, slot) of a firing code."""
        return self.actions[code // self.stride], code % self.stride


def fused(program: Program, *, generated: bool = True) -> FusedProgram:
    """The fused form of ``program``, built once and kept with it.

    ``generated=False`` computes the atoms with the closures instead of generated code (the
    same results; the tests compare the two).
    """
    key = f"fused:{generated}"
    out = program.derived.get(key)
    if out is None:
        with _lock:
            out = program.derived.get(key)
            if out is None:
                out = program.derived[key] = _build(program, generated)
    return out  # type: ignore[no-any-return]


def _build(program: Program, generated: bool) -> FusedProgram:
    engine = lowered(program, fused=True)
    layout = engine.layout
    assert layout is not None
    book = program.book
    atoms = engine.atoms

    # every action a firing can record, numbered
    numbers: dict[EngineAction, int] = {}
    for leaf in engine.leaves:
        for action in (leaf.t_action, leaf.p_action):
            if action is not None:
                numbers.setdefault(action, len(numbers))
    rule_action = {}
    for name, action in engine.actions.items():
        rule_action[name] = numbers.setdefault(action, len(numbers))
    actions = tuple(numbers)
    tables = sorted({r.for_table for r in program.rules if r.for_table})  # type: ignore[type-var]
    keys = {t: tuple(book.tables[t].rows) for t in tables}
    stride = 1 + max((len(k) for k in keys.values()), default=0)
    slots = {t: {k: i + 1 for i, k in enumerate(ks)} for t, ks in keys.items()}
    rule_table = {r.id: r.for_table for r in program.rules}
    action_table = tuple(rule_table[a.rule_id] for a in actions)
    row_table = {name: rule_table[a.rule_id] for name, a in engine.actions.items() if rule_table[a.rule_id]}

    # the generated function's spec
    cond_var: dict[int, tuple[str | None, str | None]] = {}
    for atom in atoms:
        for c in atom.conditions:
            cond_var[c] = (atom.var, atom.table)
    conditions = tuple((node, *cond_var.get(i, (None, None))) for i, (node, _) in enumerate(engine.conditions))
    row_cols: dict[str, set[str]] = {t: set() for t in tables}
    for node, var, table in conditions:
        if var is not None and table is not None:
            for n in ex.walk(node):
                if isinstance(n, ex.Field) and n.root == var:
                    row_cols[table].add(n.path[0])
    cols = {t: tuple(sorted(c)) for t, c in row_cols.items()}
    season = book.season_table()
    leaves = []
    for leaf in engine.leaves:
        app = tuple(i for i in leaf.atoms if atoms[i].table is None)
        row = tuple(i for i in leaf.atoms if atoms[i].table is not None)
        t_code = None if leaf.t_action is None else numbers[leaf.t_action] * stride
        leaves.append((app, row, leaf.table, t_code, numbers[leaf.p_action] * stride))
    spec = codegen.Spec(
        conditions=conditions,
        app_atoms=tuple((int(a.id), a.conditions) for a in atoms if a.table is None),
        row_atoms={t: tuple((int(a.id), a.conditions) for a in atoms if a.table == t) for t in tables},
        ctx_out=layout.ctx_atoms, row_out=dict(layout.row_atoms), leaves=tuple(leaves), row_cols=cols,
        season=(season.bind, season.key) if season is not None else None)
    source, compute = _generated(program, spec) if generated else (None, None)
    if compute is None:
        compute = _closure_compute(engine, spec)

    # the facts' serialised shapes: each copy carries the properties its patterns test
    tested = alpha.properties(engine.definitions, copies=True)
    ctx_names = [f"a{a}" for a in layout.ctx_atoms] + [f"l{i}" for i in layout.ctx_levels()]
    ctx_copies = tuple((stratum, '{"p":%d,"t":' + orjson.dumps(t).decode(), *_shape(ctx_names, tested.get(t, set())))
                       for stratum, t in layout.ctx_types)
    row_copies = {}
    for t in tables:
        names = [f"a{a}" for a in layout.row_atoms.get(t, ())] + [f"l{i}" for i in layout.row_levels(t)]
        row_copies[t] = tuple(('{"p":%d,"k":%d,"key":%s,"t":' + orjson.dumps(rt).decode(), *_shape(names, tested.get(rt, set())))
                              for rt in layout.row_types.get(t, (f"r:{t}",)))
    return FusedProgram(
        engine=engine, actions=actions, rule_action=rule_action, row_table=row_table, action_table=action_table,
        rule_code={name: (number * stride, name in row_table) for name, number in rule_action.items()},
        stride=stride, slots=slots, keys=keys, row_cols=cols, compute=compute, source=source,
        ctx_copies=tuple((k, prefix + props, pick) for k, prefix, props, pick in ctx_copies),
        row_copies={t: tuple((prefix + props, pick) for prefix, props, pick in copies)
                    for t, copies in row_copies.items()})


def _shape(names: list[str], tested: set[str]) -> tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    """The properties of one fact copy (those its patterns test) and which values they take."""
    idx = [i for i, n in enumerate(names) if n in tested]
    props = "".join(f',"{names[i]}":%d' for i in idx)
    if not idx:
        return props, _none
    if len(idx) == 1:
        return props, operator.itemgetter(slice(idx[0], idx[0] + 1))
    return props, operator.itemgetter(*idx)


def _none(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return ()


def _generated(program: Program, spec: codegen.Spec) -> tuple[str | None, Callable[..., Any] | None]:
    """The generated source and its function, from the on-disk cache when it holds them (keyed by
    the rulebook's content, the program's rules, the source of the modules the code mirrors and
    imgpath's and Python's versions; the cache checks owner, permissions and a checksum before
    anything is read); (None, None) if generation fails. The compiled code is cached beside the
    source: compiling costs ~0.1 s."""
    h = hashlib.sha256()
    h.update(program.book.digest.encode())
    h.update(",".join(sorted(r.id for r in program.rules)).encode())
    entry = cache.key("atoms", str(codegen.CODEGEN_VERSION), _mirrored_sources(), h.hexdigest())
    stored, code = cache.load("atoms", entry), cache.load("atoms-code", entry)
    if stored is not None and code is not None:
        try:
            return stored.decode(), codegen.load(marshal.loads(code))
        except (ValueError, EOFError, TypeError, UnicodeDecodeError):
            pass  # an entry this Python cannot read: rebuilt below
    try:
        source = codegen.generate(spec)
        compiled = compile(source, "<imgpath atoms>", "exec")
    except (codegen.CodegenError, SyntaxError, RecursionError, MemoryError):
        return None, None  # the closures compute the same atoms
    cache.store("atoms", entry, source.encode())
    cache.store("atoms-code", entry, marshal.dumps(compiled))
    return source, codegen.load(compiled)


#: The modules whose semantics generated code mirrors (field resolution, three-valued values, the
#: closures it must agree with): their source is part of the cache key, so an edit to any of them
#: never runs code generated before it.
_MIRRORED = ("compiler/codegen.py", "compiler/closures.py", "compiler/lower.py", "compiler/fused.py", "context.py",
             "facts.py", "expressions/nodes.py", "expressions/semantics.py", "expressions/values.py")


@functools.cache
def _mirrored_sources() -> str:
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for rel in _MIRRORED:
        path = package / rel
        h.update(rel.encode())
        h.update(path.read_bytes() if path.exists() else b"(absent)")
    return h.hexdigest()


def _closure_compute(engine: EngineProgram, spec: codegen.Spec) -> Callable[..., Any]:
    """The generated function's contract, computed with the closures (the fallback and the tests'
    second opinion): ``compute(ctx, rows) -> (ctx atoms, {table: [(key, slot, atoms)]}, codes)``."""
    atoms = engine.atoms
    conditions = engine.conditions
    app_atoms = [a for a in atoms if a.table is None]
    by_table: dict[str, list[Any]] = {}
    for a in atoms:
        if a.table is not None:
            by_table.setdefault(a.table, []).append(a)

    def compute(ctx: Any, rows: Mapping[str, list[tuple[Any, int, tuple[Any, ...]]]]) -> Any:
        frame = Frame(ctx)
        results: dict[tuple[int, Any], ex.K] = {}

        def conjunction(atom: Any, key: Any) -> ex.K:
            out = ex.K.T
            for i in atom.conditions:
                value = results.get((i, key))
                if value is None:
                    value = results[(i, key)] = conditions[i][1](frame)
                if value is ex.K.F:
                    return ex.K.F
                if value is ex.K.U:
                    out = ex.K.U
            return out

        values: dict[int, Any] = {}
        frame.vars = {}
        for atom in app_atoms:
            values[int(atom.id)] = conjunction(atom, None)
        codes: list[int] = []
        for app, row, table, t_code, p_code in spec.leaves:
            if table is None:
                _fire(min([values[i] for i in app], default=ex.K.T), 0, t_code, p_code, codes)
        out_rows: dict[str, list[Any]] = {}
        for table, table_rows in rows.items():
            done = out_rows[table] = []
            resolved = ctx.table(table)
            for key, slot, _ in table_rows:
                row_values = dict(values)
                for atom in by_table.get(table, ()):
                    frame.vars = {atom.var: _Row(resolved, key)}
                    row_values[int(atom.id)] = conjunction(atom, key)
                for app, row, leaf_table, t_code, p_code in spec.leaves:
                    if leaf_table == table:
                        _fire(min([row_values[i] for i in (*app, *row)], default=ex.K.T), slot, t_code, p_code, codes)
                done.append((key, slot, tuple(row_values[a] for a in spec.row_out.get(table, ()))))
        return tuple(values[a] for a in spec.ctx_out), out_rows, codes

    return compute


class _Row:
    """A row bound to a rule's variable, read as ``context.RowRef`` reads it (the closures call ``get``)."""

    __slots__ = ("table", "key")

    def __init__(self, table: Any, key: Any) -> None:
        self.table = table
        self.key = key

    def get(self, column: str) -> Any:
        if column == self.table.key:
            return self.key
        cell = self.table.cell(self.key, column)
        return ex.UNKNOWN if cell is None else cell.value


def _fire(truth: ex.K, slot: int, t_code: int | None, p_code: int, codes: list[int]) -> None:
    if truth is not ex.K.F:
        codes.append(p_code + slot)
        if truth is ex.K.T and t_code is not None:
            codes.append(t_code + slot)
