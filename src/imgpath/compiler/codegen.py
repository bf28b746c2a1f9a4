"""Generated Python for a program's atoms: one function computes every atom of one applicant.

The closures of :mod:`.closures` evaluate one condition each, through a call per node; the
function generated here evaluates all of a program's atoms in one pass, in straight-line code
with local variables:

* every field path is resolved once per applicant (with the same absent / none / unknown
  meaning as :meth:`Context.lookup <imgpath.context.Context.lookup>`);
* a sub-expression used more than once is computed once (on first need: evaluation stays lazy
  where Kleene ``and``/``or`` decide early, as in the closures), and a sub-expression of a
  row's condition that does not read the row is computed once per applicant, not once per row;
* quantifiers and aggregates become small loops, ``earliest``/``latest``/``first_known``
  included (the closures hand those to the interpreter);
* the leaf rules' firings come out as integer codes, the atoms as tuples of 0/1/2.

The semantics are those of :mod:`imgpath.expressions.semantics` (three-valued, intervals for
partly unknown sums); the differential tests hold the generated code, the closures and the
reference evaluator together. The source depends only on the program, so it is cached on disk
(:mod:`imgpath._internal.cache`) and only ``compile()``'d on later runs.

>>> import datetime
>>> from imgpath import expressions as ex
>>> spec = Spec(conditions=((ex.parse("school.country in ['US', 'CA']"), None, None),),
...             app_atoms=((0, (0,)),), ctx_out=(0,))
>>> fn = load(generate(spec))
>>> class Ctx:  # what the function reads of a Context
...     as_of = datetime.date(2026, 1, 15)
...     class applicant:
...         class school:
...             country = "IN"
>>> fn(Ctx, {})[0]
(0,)
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

import attrs

from .. import expressions as ex
from ..facts import fields_by_key, section_classes
from .closures import apply_func

__all__ = ["CODEGEN_VERSION", "CodegenError", "Spec", "generate", "load", "namespace"]

#: Bumped whenever the generated code changes shape: part of the on-disk cache key.
CODEGEN_VERSION = 7


class CodegenError(Exception):
    """A condition the generator does not compile (the caller falls back to the closures)."""


@attrs.frozen
class Spec:
    """What the generated function computes (plain data: indices, nodes, names).

    ``conditions``: (node, row variable or None, table or None) per condition index;
    ``app_atoms``: (atom id, condition indices) for atoms that read no row;
    ``row_atoms``: per table, (atom id, condition indices) for atoms computed per row;
    ``ctx_out`` / ``row_out``: which atoms the function returns, in this order;
    ``leaves``: (applicant atom ids, row atom ids, table or None, T code or None, P code) -- a
    leaf fires T when its atoms are all true and P when none is false, with code + row slot;
    ``row_cols``: per table, the columns each row tuple holds (``RowRef.get`` values);
    ``season``: (name the season row is bound to, its key column) or None.
    """

    conditions: tuple[tuple[ex.Node, str | None, str | None], ...]
    app_atoms: tuple[tuple[int, tuple[int, ...]], ...] = ()
    row_atoms: Mapping[str, tuple[tuple[int, tuple[int, ...]], ...]] = attrs.field(factory=dict)
    ctx_out: tuple[int, ...] = ()
    row_out: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    leaves: tuple[tuple[tuple[int, ...], tuple[int, ...], str | None, int | None, int], ...] = ()
    row_cols: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    season: tuple[str, str] | None = None


def namespace() -> dict[str, Any]:
    """The names generated code may use besides builtins (nothing else is reachable from it)."""
    return {
        "_U": ex.UNKNOWN, "_N": ex.NONE, "_X": _UNSET, "_KS": (ex.K.F, ex.K.U, ex.K.T),
        "_Interval": ex.Interval, "_inf": math.inf, "_date": _dt.date, "_str": str, "_int": int,
        "_cmp": ex.compare, "_as_truth": ex.as_truth, "_arith": ex.arith, "_apply_func": apply_func,
        "_day_after": ex.day_after, "_months": ex.months_between, "_cell": _cell, "_section": _section,
        "_SIMPLE": frozenset({str, int, _dt.date}), **_interval_helpers(), **_CLASSES,
    }


def _cell(cell: Any) -> Any:
    """A season cell's value (``Context.lookup``): UNKNOWN when the row has no such cell."""
    return ex.UNKNOWN if cell is None else cell.value


def _section(section: Any) -> Any:
    return ex.UNKNOWN if section is None else section


def _fact_classes() -> dict[str, type]:
    """Every class of the applicant model by ``_cls_<Name>`` (for absent sections with a default)."""
    out: dict[str, type] = {}
    todo = list(section_classes().values())
    while todo:
        cls = todo.pop()
        if not attrs.has(cls) or f"_cls_{cls.__name__}" in out:
            continue
        out[f"_cls_{cls.__name__}"] = cls
        todo.extend(f.metadata["imgpath"]["cls"] for f in attrs.fields(cls)
                    if f.metadata.get("imgpath", {}).get("cls") is not None)
    return out


_CLASSES = _fact_classes()


def load(source: str | CodeType, filename: str = "<imgpath atoms>") -> Callable[..., Any]:
    """Run generated source (or its compiled code) and return its ``compute`` function.

    Only code this module generated runs here: freshly generated, or read back from imgpath's
    private cache, which refuses files it did not write (owner, permissions, checksum).
    """
    ns = namespace()
    code = source if isinstance(source, CodeType) else compile(source, filename, "exec")
    exec(code, ns)  # noqa: S102 - generated here, see above
    return ns["compute"]  # type: ignore[no-any-return]


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "_X"


_UNSET = _Unset()
_FAST = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPNAME = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def _is_aggregate(node: ex.Node) -> bool:
    return isinstance(node, ex.Quant) and node.fn in ("count", "sum_years", "sum_years_since")


def _interval_helpers() -> dict[str, Callable[[Any, Any], Any]]:
    """``_icmp_<op>(a, b)``: ``ex.compare`` for an Interval against a plain number, inline;
    anything else (unknown, none, a bool, another interval) is left to ``ex.compare``."""
    K, compare, Interval = ex.K, ex.compare, ex.Interval
    T, U, F = K.T, K.U, K.F

    def lt(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            return T if a.hi < b else (F if a.lo >= b else U)
        return compare("<", a, b)

    def le(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            return T if a.hi <= b else (F if a.lo > b else U)
        return compare("<=", a, b)

    def gt(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            return T if b < a.lo else (F if b >= a.hi else U)
        return compare(">", a, b)

    def ge(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            return T if b <= a.lo else (F if b > a.hi else U)
        return compare(">=", a, b)

    def eq(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            if a.lo == a.hi:
                return T if a.lo == b else F
            return F if a.hi < b or b < a.lo else U
        return compare("==", a, b)

    def ne(a: Any, b: Any) -> Any:
        if type(a) is Interval and type(b) in (int, float):
            return K(2 - eq(a, b))
        return compare("!=", a, b)

    return {"_icmp_lt": lt, "_icmp_le": le, "_icmp_gt": gt, "_icmp_ge": ge, "_icmp_eq": eq, "_icmp_ne": ne}


def generate(spec: Spec) -> str:
    """Python source defining ``compute(ctx, rows) -> (ctx atoms, {table: [(key, slot, atoms)]}, codes)``.

    ``rows[table]`` is the list of ``(key, slot, values)`` for the rows in scope, ``values``
    holding ``spec.row_cols[table]`` in order. Raises :class:`CodegenError` for a node it does
    not know.
    """
    return _Gen(spec).module()


# --------------------------------------------------------------------------- scopes


class _Scope:
    """Names visible where code is generated: the function body or a loop helper."""

    def __init__(self, gen: _Gen, parent: _Scope | None, qvars: dict[str, tuple[str, type]],
                 row: tuple[str, str] | None) -> None:
        self.gen = gen
        self.parent = parent
        self.qvars = qvars  # quantifier variable -> (local name, element class)
        self.row = row  # (row variable, table) when generating inside a row's loop
        self.own: set[str] = set()  # names defined here (helper: its item variable)
        #: how element fields are read: as the closures walk them, or as the interpreter resolves them
        self.style = parent.style if parent is not None else "walk"
        self.free: dict[str, None] = {}  # helper: outer names it reads (its parameters)

    @property
    def is_helper(self) -> bool:
        return self.parent is not None

    def use(self, name: str) -> str:
        """Read a local defined in this scope or an enclosing one (helpers receive it as a parameter)."""
        scope: _Scope | None = self
        while scope is not None and scope.is_helper and name not in scope.own:
            scope.free[name] = None
            scope = scope.parent
        return name


# --------------------------------------------------------------------------- the generator


class _Gen:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.sections = section_classes()
        self.helpers: list[str] = []
        self.helper_names: set[str] = set()
        self.n = 0
        self.fields: dict[tuple[str, tuple[str, ...]], str] = {}  # applicant/season field -> local
        self.field_code: list[str] = []
        self.row_fields: dict[tuple[str, str], str] = {}  # (table, column) -> local
        #: memoised sub-expression (with the row it reads, if any: (variable, table)) -> local
        self.memo: dict[tuple[ex.Node, tuple[str, str] | None], str] = {}
        self.memo_scope: dict[str, str] = {}  # memo local -> "app" | table
        self.uses: dict[tuple[ex.Node, tuple[str, str] | None], int] = {}
        self.app_in_row: set[ex.Node] = set()

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # ------------------------------------------------------------------ analysis

    def count(self, node: ex.Node, row: tuple[str, str] | None) -> None:
        """Count uses of sub-expressions outside loops: those used twice (or a row condition's
        parts that read no row) are memoised."""
        key = _memo_key(node, row)
        self.uses[key] = self.uses.get(key, 0) + 1
        if row is not None and key[1] is None:
            self.app_in_row.add(node)
        if self.uses[key] > 1:
            return  # its children are counted already
        if isinstance(node, ex.Quant):
            self.count(node.source, row)
            return  # predicates and extras run inside a loop helper
        for child in ex.children(node):
            self.count(child, row)

    def memoised(self, node: ex.Node, row: tuple[str, str] | None) -> bool:
        if isinstance(node, (ex.Const, ex.Field)):
            return False
        key = _memo_key(node, row)
        return self.uses.get(key, 0) > 1 or (key[1] is None and node in self.app_in_row)

    # ------------------------------------------------------------------ module

    def module(self) -> str:
        spec = self.spec
        for node, var, table in spec.conditions:
            self.count(node, (var, table) if var and table else None)
        body: list[str] = []
        main = _Scope(self, None, {}, None)
        # atoms that read no row
        cond_users: dict[int, int] = {}
        for _, conds in (*spec.app_atoms, *(a for atoms in spec.row_atoms.values() for a in atoms)):
            for c in conds:
                cond_users[c] = cond_users.get(c, 0) + 1
        atom_code: list[str] = []
        for atom_id, conds in spec.app_atoms:
            expr = self.conjunction(conds, main, cond_users)
            atom_code.append(f"    x{atom_id} = {expr}")
        leaf_code = [line for leaf in spec.leaves if leaf[2] is None for line in self.leaf(leaf, "    ")]
        loops: list[str] = []
        for table in sorted(set(spec.row_atoms) | {leaf[2] for leaf in spec.leaves if leaf[2]} | set(spec.row_out)):
            loops.extend(self.row_loop(table, cond_users))
        app_memos = [m for m, s in self.memo_scope.items() if s == "app"]
        body.append("    as_of = ctx.as_of")
        body.append("    app = ctx.applicant")
        if self.spec.season is not None:
            body.append("    season_row = ctx.season_row")
        body.extend(self.field_code)
        body.append("    codes = []")
        body.extend(_init(app_memos, "    "))
        body.extend(atom_code)
        body.extend(leaf_code)
        body.append("    out_rows = {}")
        body.extend(loops)
        ctx_out = "".join(f"x{a}, " for a in spec.ctx_out)
        body.append(f"    return ({ctx_out}), out_rows, codes")
        head = ["# generated by imgpath.compiler.codegen: the atoms of one compiled program",
                f"# codegen version {CODEGEN_VERSION}", ""]
        return "\n".join([*head, *self.helpers, "def compute(ctx, rows):", *body, ""])

    def row_loop(self, table: str, cond_users: dict[int, int]) -> list[str]:
        spec = self.spec
        cols = spec.row_cols.get(table, ())
        names = [f"rv_{_ident(table)}_{i}" for i in range(len(cols))]
        for col, name in zip(cols, names, strict=True):
            self.row_fields[(table, col)] = name
        scope = _Scope(self, None, {}, None)  # each condition is read with its own row variable
        before = set(self.memo_scope)
        atoms = []
        for atom_id, conds in spec.row_atoms.get(table, ()):
            atoms.append(f"        x{atom_id} = {self.conjunction(conds, scope, cond_users)}")
        leaves = [line for leaf in spec.leaves if leaf[2] == table for line in self.leaf(leaf, "        ")]
        row_memos = [m for m in self.memo_scope if m not in before and self.memo_scope[m] == table]
        unpack = "(" + "".join(f"{n}, " for n in names) + ")"
        out = "".join(f"x{a}, " for a in spec.row_out.get(table, ()))
        return [
            f"    done = out_rows[{table!r}] = []",
            f"    for key, slot, {unpack} in rows.get({table!r}, ()):",
            *_init(row_memos, "        "),
            *atoms,
            *leaves,
            f"        done.append((key, slot, ({out})))",
        ]

    def conjunction(self, conds: tuple[int, ...], scope: _Scope, cond_users: dict[int, int]) -> str:
        """An atom: the Kleene conjunction of its conditions, each memoised when atoms share it."""
        parts = []
        for c in conds:
            node, var, table = self.spec.conditions[c]
            where = _Scope(self, None, {}, (var, table)) if var and table else scope
            expr = self.truth(node, where)
            if cond_users.get(c, 0) > 1 and not self.memoised(node, where.row):
                expr = self.memo_wrap(node, where, expr)
            parts.append(expr)
        return self.junction(parts, and_=True)

    def leaf(self, leaf: tuple[Any, ...], indent: str) -> list[str]:
        app, row, table, t_code, p_code = leaf
        atoms = [f"x{a}" for a in (*app, *row)]
        truth = atoms[0] if len(atoms) == 1 else ("2" if not atoms else f"min({', '.join(atoms)})")
        slot = " + slot" if table else ""
        t = self.fresh("_l")
        lines = [f"{indent}{t} = {truth}", f"{indent}if {t}:"]
        lines.append(f"{indent}    codes.append({p_code}{slot})")
        if t_code is not None:
            lines.append(f"{indent}    if {t} == 2:")
            lines.append(f"{indent}        codes.append({t_code}{slot})")
        return lines

    # ------------------------------------------------------------------ memo

    def memo_wrap(self, node: ex.Node, scope: _Scope, expr: str) -> str:
        """``expr`` computed on first need and kept: per applicant, or per row when it reads one."""
        key = _memo_key(node, scope.row)
        name = self.memo.get(key)
        if name is None:
            name = self.memo[key] = self.fresh("m")
            self.memo_scope[name] = key[1][1] if key[1] is not None else "app"
        return f"({name} if {name} is not _X else ({name} := {expr}))"

    def maybe_memo(self, node: ex.Node, scope: _Scope, expr: str) -> str:
        if scope.is_helper or scope.qvars or not self.memoised(node, scope.row):
            return expr
        return self.memo_wrap(node, scope, expr)

    # ------------------------------------------------------------------ truth (0/1/2)

    def truth(self, node: ex.Node, scope: _Scope) -> str:
        return self.maybe_memo(node, scope, self._truth(node, scope))

    def junction(self, parts: list[str], and_: bool) -> str:
        """Kleene and/or with early exit: the decisive value (0 for and, 2 for or) at once."""
        if not parts:
            return "2" if and_ else "0"
        if len(parts) == 1:
            return parts[0]
        decisive, identity = ("0", "2") if and_ else ("2", "0")
        temps = [self.fresh("_t") for _ in parts]
        tail = f"(1 if 1 in ({', '.join(temps)}) else {identity})"
        expr = tail
        for temp, part in reversed(list(zip(temps, parts, strict=True))):
            expr = f"({decisive} if ({temp} := {part}) == {decisive} else {expr})"
        return expr

    def _truth(self, node: ex.Node, scope: _Scope) -> str:
        if isinstance(node, (ex.And, ex.Or)):
            return self.junction([self.truth(a, scope) for a in node.args], isinstance(node, ex.And))
        if isinstance(node, ex.Not):
            return f"(2 - {self.truth(node.arg, scope)})"
        if isinstance(node, ex.Cmp):
            if ex.valued_ref_test(node) is not None:
                raise CodegenError("a conclusion inside an atom")
            return self.compare(node, scope)
        if isinstance(node, ex.Quant) and node.fn in ("any", "all"):
            return self.quant(node, scope)
        if isinstance(node, ex.Func) and node.name == "present":
            v = self.fresh("_v")
            return f"(1 if ({v} := {self.value(node.args[0], scope)}) is _U else (0 if {v} is _N else 2))"
        if isinstance(node, ex.Func) and node.name == "known":
            return f"(0 if {self.value(node.args[0], scope)} is _U else 2)"
        if isinstance(node, ex.Ref):
            raise CodegenError("a conclusion inside an atom")
        v = self.fresh("_v")
        return f"(2 if ({v} := {self.value(node, scope)}) is True else (0 if {v} is False else _as_truth({v})))"

    def compare(self, node: ex.Cmp, scope: _Scope) -> str:
        """``ex.compare``, with fast paths where the operands have the exact types the comparison
        expects (the same answers: anything else takes ``ex.compare``)."""
        op = node.op
        if _is_aggregate(node.left) and op in _FAST:
            # a count or a sum (an Interval) against a number: the interval comparison inline
            return f"_icmp_{_OPNAME[op]}({self.value(node.left, scope)}, {self.value(node.right, scope)})"
        left = self.value(node.left, scope)
        a = self.fresh("_a")
        if isinstance(node.right, ex.Const):
            c = node.right.value
            if op in ("in", "notin") and isinstance(c, tuple) and c and len({type(x) for x in c}) == 1 \
                    and type(c[0]) in (str, int):
                hit, miss = ("2", "0") if op == "in" else ("0", "2")
                members = "{" + ", ".join(repr(x) for x in sorted(c)) + "}"  # a constant frozenset in an 'in' test
                ctype = "_str" if type(c[0]) is str else "_int"
                return (f"(({hit} if {a} in {members} else {miss}) if type({a} := {left}) is {ctype} "
                        f"else _cmp({op!r}, {a}, {_literal(c)}))")
            if type(c) in (str, int, _dt.date) and op in _FAST:
                ctype = {str: "_str", int: "_int", _dt.date: "_date"}[type(c)]
                lit = _literal(c)
                return (f"((2 if {a} {_FAST[op]} {lit} else 0) if type({a} := {left}) is {ctype} "
                        f"else _cmp({op!r}, {a}, {lit}))")
        right = self.value(node.right, scope)
        b = self.fresh("_b")
        if op in ("in", "notin") and isinstance(node.left, ex.Const) and type(node.left.value) is str:
            # a string in a list of strings: 'US' in person.citizenship
            hit, miss = ("2", "0") if op == "in" else ("0", "2")
            return (f"(({hit} if {left} in {b} else {miss}) if type({b} := {right}) is tuple "
                    f"else _cmp({op!r}, {left}, {b}))")
        if op in _FAST:
            return (f"((2 if {a} {_FAST[op]} {b} else 0) if type({a} := {left}) is type({b} := {right}) "
                    f"and type({a}) in _SIMPLE else _cmp({op!r}, {a}, {b}))")
        return f"_cmp({op!r}, {left}, {right})"

    # ------------------------------------------------------------------ values

    def value(self, node: ex.Node, scope: _Scope) -> str:
        if isinstance(node, ex.Const):
            return _literal(node.value)
        if isinstance(node, ex.Field):
            return self.field(node, scope)
        return self.maybe_memo(node, scope, self._value(node, scope))

    def _value(self, node: ex.Node, scope: _Scope) -> str:
        if isinstance(node, (ex.And, ex.Or, ex.Not, ex.Cmp)) or (
                isinstance(node, ex.Quant) and node.fn in ("any", "all")) or (
                isinstance(node, ex.Func) and node.name in ("present", "known")):
            return f"_KS[{self._truth(node, scope)}]"  # a truth used as a value is a K, as in the closures
        if isinstance(node, ex.Quant):
            return self.quant(node, scope)
        if isinstance(node, ex.Func) and node.name == "first_known":
            expr = "_U"
            for arg in reversed(node.args):
                v = self.fresh("_v")
                expr = f"({v} if ({v} := {self.value(arg, scope)}) is not _N and {v} is not _U else {expr})"
            return expr
        if isinstance(node, ex.Func):
            if node.name not in ex.FUNCTIONS:
                raise CodegenError(f"unknown function {node.name}()")
            args = ", ".join(self.value(a, scope) for a in node.args)
            return f"_apply_func({node.name!r}, [{args}])"
        if isinstance(node, ex.Arith):
            return f"_arith({node.op!r}, {self.value(node.left, scope)}, {self.value(node.right, scope)})"
        raise CodegenError(f"cannot compile {type(node).__name__}")

    # ------------------------------------------------------------------ fields

    def field(self, node: ex.Field, scope: _Scope) -> str:
        root = node.root
        if self._qvar(root, scope):
            return self.element_field(node, scope)
        if scope.row is not None and root == scope.row[0]:
            table = scope.row[1]
            name = self.row_fields.get((table, node.path[0]))
            if name is None:
                raise CodegenError(f"row column {node.path[0]} not provided")
            return scope.use(name)
        if root == "as_of":
            return scope.use("as_of")
        key = (root, node.path)
        name = self.fields.get(key)
        if name is None:
            name = self.fields[key] = self.fresh("f")
            self.field_code.append(f"    {name} = {self.resolve(node)}")
        return scope.use(name)

    def _qvar(self, root: str, scope: _Scope) -> bool:
        s: _Scope | None = scope
        while s is not None:
            if root in s.qvars:
                return True
            s = s.parent
        return False

    def resolve(self, node: ex.Field) -> str:
        """An expression resolving an applicant or season field as ``Context.lookup`` does."""
        root, path = node.root, node.path
        season = self.spec.season
        if season is not None and root == season[0]:
            if path[0] == season[1]:
                return "ctx.season"
            return f"_cell(season_row.get({path[0]!r}))"
        if root not in self.sections:
            raise CodegenError(f"unknown name {root}")
        section = f"app.{_attr(root)}"
        if not path:
            return f"_section({section})"
        return f"{self.path_helper(self.sections[root], path, 'resolve')}({section}, ctx)"

    def element_field(self, node: ex.Field, scope: _Scope) -> str:
        """A field of a quantifier's element: as the closures walk it (``closures._walk``), or as
        the interpreter resolves it (``style="resolve"``: ``Context._resolve``)."""
        s: _Scope | None = scope
        while s is not None and node.root not in s.qvars:
            s = s.parent
        local, cls = s.qvars[node.root]  # type: ignore[union-attr]
        obj = scope.use(local)
        if not node.path:
            return obj
        if len(node.path) == 1:  # one plain step (the usual e.exam): inline, as the helper would do
            fields = fields_by_key(cls)
            fld = fields.get(node.path[0])
            if fld is not None:
                meta = fld.metadata["imgpath"]
                if meta["absent"] in ("none", "unknown") and meta["kind"] != "note" and not meta.get("none_when"):
                    absent = "_N" if meta["absent"] == "none" else "_U"
                    v = self.fresh("_v")
                    return f"(_U if {obj} is None else ({absent} if ({v} := {obj}.{fld.name}) is None else {v}))"
        return f"{self.path_helper(cls, node.path, scope.style)}({obj}, {scope.use('ctx')})"

    def path_helper(self, cls: type, path: tuple[str, ...], style: str) -> str:
        """A module-level function following ``path`` from an object of class ``cls``.

        ``resolve`` is ``Context._resolve`` (a note that is ``false`` makes its fields NONE,
        checked before each step and at the end); ``walk`` is ``closures._walk`` (checked after
        each step). An absent field gives NONE, a default section or UNKNOWN by its kind.
        """
        name = f"_{style[:2]}_{cls.__name__}_" + "_".join(_ident(p) for p in path)
        if name in self.helper_names:
            return name
        lines = [f"def {name}(cur, ctx):"]
        current: Any = cls
        kind = ""
        for part in path:
            fields = fields_by_key(current)
            if part not in fields:
                raise CodegenError(f"{current.__name__} has no field {part}")
            fld = fields[part]
            meta = fld.metadata["imgpath"]
            lines += ["    if cur is None:", "        return _U"]
            if style == "resolve" and kind == "note":
                lines += ["    if cur is False:", "        return _N"]
            lines += [f"    val = cur.{fld.name}", "    if val is None:"]
            none_when = meta.get("none_when")  # absent reads NONE while a sibling flag is true
            if meta["absent"] == "none":
                lines.append("        return _N")
            else:
                if none_when:
                    lines += [f"        if cur.{_attr(none_when)} is True:", "            return _N"]
                if meta["absent"] == "default":
                    lines.append(f"        val = ctx.default({self.class_name(meta['cls'])})")
                else:
                    lines.append("        return _U")
            lines.append("    cur = val")
            kind = meta["kind"]
            if style == "walk" and kind == "note":
                lines += ["    if cur is False:", "        return _N"]
            current = meta["cls"]
        if style == "resolve" and kind == "note":
            lines += ["    if cur is False:", "        return _N"]
        lines.append("    return cur")
        self.helper_names.add(name)
        self.helpers.append("\n".join(lines) + "\n")
        return name

    def class_name(self, cls: type) -> str:
        name = f"_cls_{cls.__name__}"
        if name not in _CLASSES:
            raise CodegenError(f"no default for {cls.__name__}")
        return name

    # ------------------------------------------------------------------ loops

    def quant(self, node: ex.Quant, scope: _Scope) -> str:
        """A quantifier or aggregate: a module-level helper looping over the elements."""
        if node.fn not in ex.AGGREGATES:
            raise CodegenError(f"unknown aggregate {node.fn}")
        source = self.value(node.source, scope)
        cls = self.sections.get(node.source.root)
        if cls is None:
            raise CodegenError(f"cannot loop over {ex.render(node.source)}")
        name = self.fresh("_q")
        item = self.fresh("e")
        inner = _Scope(self, scope, {node.var: (item, cls)}, scope.row)
        inner.own.add(item)
        if node.fn in ("earliest", "latest"):
            inner.style = "resolve"  # the closures hand these to the interpreter: read as it does
        pred = self.truth(node.pred, inner)
        fn = node.fn
        if fn == "any":
            body = ["    if items is _U:", "        return 1", "    if items is _N:", "        items = ()",
                    "    out = 0", f"    for {item} in items:", f"        v = {pred}", "        if v == 2:",
                    "            return 2", "        if v == 1:", "            out = 1", "    return out"]
        elif fn == "all":
            body = ["    if items is _U:", "        return 1", "    if items is _N:", "        items = ()",
                    "    out = 2", f"    for {item} in items:", f"        v = {pred}", "        if v == 0:",
                    "            return 0", "        if v == 1:", "            out = 1", "    return out"]
        elif fn == "count":
            body = ["    if items is _U:", "        return _Interval(0, _inf)", "    if items is _N:",
                    "        items = ()", "    lo = hi = 0", f"    for {item} in items:", f"        v = {pred}",
                    "        lo += v == 2", "        hi += v != 0", "    return _Interval(lo, hi)"]
        elif fn in ("sum_years", "sum_years_since"):
            since = []
            if fn == "sum_years_since":  # the start date reads no element: evaluated once, in the helper
                since = [f"    since = {self.value(node.extra[0], inner)}", "    if since is _U:",
                         "        return _Interval(0, _inf)", "    if since is _N:", "        since = None"]
            else:
                since = ["    since = None"]
            body = ["    if items is _U:", "        return _Interval(0, _inf)", "    if items is _N:",
                    "        items = ()", *since, "    lo_y = hi_y = 0.0",
                    f"    stop_default = _day_after({inner.use('as_of')})",
                    f"    for {item} in items:", f"        v = {pred}", "        if v == 0:", "            continue",
                    f"        start, end = {item}.start, {item}.end", "        if start is None:",
                    "            hi_y = _inf", "            continue",
                    "        stop = stop_default if end is None else min(_day_after(end), stop_default)",
                    "        if since is not None and start < since:", "            start = since",
                    "        years = max(0, _months(start, stop)) / 12", "        hi_y += years",
                    "        if v == 2:", "            lo_y += years",
                    "    return _Interval(round(lo_y, 6), hi_y if hi_y == _inf else round(hi_y, 6))"]
        else:  # earliest / latest, as the interpreter computes them
            when = self.value(node.extra[0], inner)
            better = "<" if fn == "earliest" else ">"
            body = ["    if items is _U:", "        return _U", "    if items is _N:", "        items = ()",
                    "    best = _N", f"    for {item} in items:", f"        v = {pred}", "        if v == 0:",
                    "            continue", f"        when = {when}", "        if v == 1 or when is _U:",
                    "            return _U", "        if when is _N:", "            continue",
                    f"        if best is _N or when {better} best:", "            best = when", "    return best"]
        params = [p for p in inner.free if p != item]
        self.helpers.append("\n".join([f"def {name}(items{''.join(', ' + p for p in params)}):", *body]) + "\n")
        call_args = "".join(", " + scope.use(p) for p in params)
        return f"{name}({source}{call_args})"

def _init(names: list[str], indent: str) -> list[str]:
    out = []
    for i in range(0, len(names), 16):
        out.append(indent + " = ".join(names[i:i + 16]) + " = _X")
    return out


def _reads(node: ex.Node, var: str) -> bool:
    return any(isinstance(n, ex.Field) and n.root == var for n in ex.walk(node))


def _memo_key(node: ex.Node, row: tuple[str, str] | None) -> tuple[ex.Node, tuple[str, str] | None]:
    """A sub-expression's memo key: with its row (variable, table) only when it reads the row, so
    what a row's condition computes without the row is shared by every row and every rule."""
    return (node, row if row is not None and _reads(node, row[0]) else None)


def _attr(name: str) -> str:
    if not name.isidentifier():
        raise CodegenError(f"not an identifier: {name!r}")
    return name


def _ident(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def _literal(value: Any) -> str:
    """Python source for a rule literal (str, int, float, bool, None, date, tuples of them)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"float({repr(value)!r})"
        return repr(value)
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return f"_date({value.year}, {value.month}, {value.day})"
    if isinstance(value, tuple):
        return "(" + "".join(_literal(v) + ", " for v in value) + ")"
    raise CodegenError(f"cannot write the literal {value!r}")
