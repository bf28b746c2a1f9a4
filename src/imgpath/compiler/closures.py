"""Conditions compiled to Python closures, for the Rete path's atoms.

The reference evaluator interprets the condition tree (obviously correct, slow);
the durable-rules path computes its atoms with closures built once per
compiled program, with the same three-valued semantics. The differential
tests compare the two, so a divergence here is caught. Anything not compiled
falls back to the interpreter.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
from collections.abc import Callable
from typing import Any

from .. import expressions as ex
from ..facts import fields_by_key, section_classes

__all__ = ["Frame", "apply_func", "compile_truth"]

_NONE, _UNKNOWN = ex.NONE, ex.UNKNOWN
_T, _U, _F = ex.K.T, ex.K.U, ex.K.F


class Frame:
    """One evaluation's state for compiled conditions: the context, bound variables, a memo of fields."""

    __slots__ = ("ctx", "as_of", "vars", "memo")

    def __init__(self, ctx: Any, variables: dict[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.as_of = ctx.as_of
        self.vars = variables or {}
        self.memo: dict[Any, Any] = {}

    def env(self) -> ex.Env:
        return ex.Env(as_of=self.as_of, lookup=self.ctx.lookup, variables=self.vars)


Fn = Callable[[Frame], Any]


def compile_truth(node: ex.Node, scope: dict[str, type] | None = None, row_var: str | None = None) -> Fn:
    """A closure computing the Kleene truth of ``node`` (quantifier variables typed by ``scope``)."""
    return _Builder(scope or {}, row_var).truth(node)


class _Builder:
    def __init__(self, scope: dict[str, type], row_var: str | None) -> None:
        self.scope = scope
        self.row_var = row_var
        self.sections = section_classes()

    # ------------------------------------------------------------------ truth

    def truth(self, node: ex.Node) -> Fn:
        if isinstance(node, (ex.And, ex.Or)):
            # Kleene and/or: the decisive value (F for and, T for or) wins at once, else U if any
            # part is unknown, else the identity (T for and, F for or)
            parts = [self.truth(a) for a in node.args]
            decisive, identity = (_F, _T) if isinstance(node, ex.And) else (_T, _F)

            def f_junction(fr: Frame) -> ex.K:
                out = identity
                for p in parts:
                    v = p(fr)
                    if v is decisive:
                        return decisive
                    if v is _U:
                        out = _U
                return out
            return f_junction
        if isinstance(node, ex.Not):
            inner = self.truth(node.arg)
            return lambda fr: ex.K(2 - inner(fr))
        if isinstance(node, ex.Cmp) and ex.valued_ref_test(node) is None:
            fast = self.const_compare(node)
            if fast is not None:
                return fast
            left, right, op = self.value(node.left), self.value(node.right), node.op
            compare = ex.compare
            return lambda fr: compare(op, left(fr), right(fr))
        if isinstance(node, ex.Quant) and node.fn in ("any", "all"):
            return self.quant_truth(node)
        if isinstance(node, ex.Func) and node.name in ("present", "known"):
            arg = self.value(node.args[0])
            if node.name == "present":
                return lambda fr: (lambda v: _U if v is _UNKNOWN else (_F if v is _NONE else _T))(arg(fr))
            return lambda fr: _F if arg(fr) is _UNKNOWN else _T
        if isinstance(node, (ex.Field, ex.Const, ex.Func, ex.Arith)):
            val = self.value(node)
            return lambda fr: ex.as_truth(val(fr))
        return self.fallback_truth(node)

    def const_compare(self, node: ex.Cmp) -> Fn | None:
        """``x op constant`` with a fast path when ``x`` has the constant's exact type (str, int, date).

        Anything else (unknown, none, intervals, booleans, other types) takes ``ex.compare``, so
        the semantics are the same; most conditions compare a fact with a literal.
        """
        if not isinstance(node.right, ex.Const):
            return None
        c, op, compare = node.right.value, node.op, ex.compare
        left = self.value(node.left)
        if op in ("in", "notin") and isinstance(c, tuple) and c and all(type(x) is str for x in c):
            members = frozenset(c)
            hit, miss = (_T, _F) if op == "in" else (_F, _T)

            def f_in(fr: Frame) -> ex.K:
                a = left(fr)
                if type(a) is str:
                    return hit if a in members else miss
                return compare(op, a, c)
            return f_in
        ctype = type(c)
        if ctype not in (str, int, _dt.date) or op not in _FAST_OPS:
            return None
        fn = _FAST_OPS[op]

        def f_cmp(fr: Frame) -> ex.K:
            a = left(fr)
            if type(a) is ctype:
                return _T if fn(a, c) else _F
            return compare(op, a, c)
        return f_cmp

    def quant_truth(self, node: ex.Quant) -> Fn:
        source = self.value(node.source)
        var = node.var
        cls = self.sections[node.source.root]
        pred = _Builder({**self.scope, var: cls}, self.row_var).truth(node.pred)
        is_any = node.fn == "any"

        def f_quant(fr: Frame) -> ex.K:
            items = source(fr)
            if items is _UNKNOWN:
                return _U
            if items is _NONE:
                items = ()
            saved = fr.vars.get(var, _MISSING)
            out = _F if is_any else _T
            try:
                for item in items:
                    fr.vars[var] = item
                    v = pred(fr)
                    if is_any:
                        if v is _T:
                            return _T
                        if v is _U:
                            out = _U
                    else:
                        if v is _F:
                            return _F
                        if v is _U:
                            out = _U
                return out
            finally:
                _restore(fr, var, saved)
        return f_quant

    def fallback_truth(self, node: ex.Node) -> Fn:
        return lambda fr: ex.truth(node, fr.env())

    # ------------------------------------------------------------------ values

    def value(self, node: ex.Node) -> Fn:
        if isinstance(node, ex.Const):
            v = node.value
            return lambda fr: v
        if isinstance(node, ex.Field):
            return self.field(node)
        if isinstance(node, (ex.And, ex.Or, ex.Not, ex.Cmp)) or (
                isinstance(node, ex.Quant) and node.fn in ("any", "all")):
            return self.truth(node)
        if isinstance(node, ex.Quant) and node.fn in ("count", "sum_years", "sum_years_since"):
            return self.aggregate(node)
        if isinstance(node, ex.Func) and node.name in ("present", "known"):
            return self.truth(node)
        if isinstance(node, ex.Func) and node.name not in ("first_known",):
            args = [self.value(a) for a in node.args]
            name = node.name
            return lambda fr: apply_func(name, [a(fr) for a in args])
        if isinstance(node, ex.Arith):
            left, right, op = self.value(node.left), self.value(node.right), node.op
            return lambda fr: ex.arith(op, left(fr), right(fr))
        return lambda fr: ex.value(node, fr.env())

    def field(self, node: ex.Field) -> Fn:
        root = node.root
        if root in self.scope:
            steps = _steps(self.scope[root], node.path)

            def f_elem(fr: Frame) -> Any:
                return _walk(fr.vars[root], steps, fr.ctx)
            return f_elem
        if root == "as_of":
            return lambda fr: fr.as_of
        if root == self.row_var:
            col = node.path[0]
            return lambda fr: fr.vars[root].get(col)

        def f_memo(fr: Frame) -> Any:
            try:
                return fr.memo[node]
            except KeyError:
                v = fr.memo[node] = fr.ctx.lookup(node, None)
                return v
        return f_memo

    def aggregate(self, node: ex.Quant) -> Fn:
        source = self.value(node.source)
        var = node.var
        cls = self.sections[node.source.root]
        pred = _Builder({**self.scope, var: cls}, self.row_var).truth(node.pred)
        fn = node.fn
        since_fn = self.value(node.extra[0]) if fn == "sum_years_since" else None
        months = ex.months_between

        def f_agg(fr: Frame) -> Any:
            items = source(fr)
            if items is _UNKNOWN:
                return ex.Interval(0, math.inf)
            if items is _NONE:
                items = ()
            saved = fr.vars.get(var, _MISSING)
            try:
                if fn == "count":
                    lo = hi = 0
                    for item in items:
                        fr.vars[var] = item
                        v = pred(fr)
                        lo += v is _T
                        hi += v is not _F
                    return ex.Interval(lo, hi)
                since = None
                if since_fn is not None:
                    since = since_fn(fr)
                    if since is _UNKNOWN:
                        return ex.Interval(0, math.inf)
                    if since is _NONE:
                        since = None
                lo_y = hi_y = 0.0
                stop_default = ex.day_after(fr.as_of)
                for item in items:
                    fr.vars[var] = item
                    v = pred(fr)
                    if v is _F:
                        continue
                    start, end = item.start, item.end
                    if start is None:
                        hi_y = math.inf
                        continue
                    stop = stop_default if end is None else min(ex.day_after(end), stop_default)
                    if since is not None and start < since:
                        start = since
                    years = max(0, months(start, stop)) / 12
                    hi_y += years
                    if v is _T:
                        lo_y += years
                return ex.Interval(round(lo_y, 6), hi_y if hi_y == math.inf else round(hi_y, 6))
            finally:
                _restore(fr, var, saved)
        return f_agg


_MISSING = object()
_FAST_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _restore(fr: Frame, var: str, saved: Any) -> None:
    if saved is _MISSING:
        fr.vars.pop(var, None)
    else:
        fr.vars[var] = saved


def _steps(cls: type, path: tuple[str, ...]) -> list[tuple[str, str, str, Any, str]]:
    out = []
    current: Any = cls
    for part in path:
        fld = fields_by_key(current)[part]
        meta = fld.metadata["imgpath"]
        out.append((fld.name, meta["absent"], meta["kind"], meta["cls"], meta["none_when"]))
        current = meta["cls"]
    return out


def _walk(obj: Any, steps: list[tuple[str, str, str, Any, str]], ctx: Any) -> Any:
    """Context._resolve for a list element, with the path steps precomputed."""
    cur = obj
    kind = ""
    for attr, absent, kind, cls, none_when in steps:
        if cur is None:
            return _UNKNOWN
        val = getattr(cur, attr)
        if val is None:
            if absent == "none" or (none_when and getattr(cur, none_when) is True):
                return _NONE
            if absent == "default":
                val = ctx.default(cls)
            else:
                return _UNKNOWN
        cur = val
        if cur is False and kind == "note":
            return _NONE
    return cur


def apply_func(name: str, args: list[Any]) -> Any:
    if any(a is _UNKNOWN for a in args):
        return _UNKNOWN
    if any(a is _NONE for a in args):
        return _NONE
    if any(isinstance(a, ex.Interval) for a in args):
        raise ex.RuleError(f"{name}() cannot take a count or sum")
    try:
        return _compute(name, args)
    except (TypeError, AttributeError, OverflowError, ValueError) as err:
        raise ex.RuleError(f"{name}() got unsuitable arguments: {err}") from None


def _compute(name: str, args: list[Any]) -> Any:
    if name == "years_between":
        return ex.years_between(args[0], args[1])
    if name == "year":
        return args[0].year
    if name == "add_years":
        return ex.add_months(args[0], 12 * int(args[1]))
    if name == "add_months":
        return ex.add_months(args[0], int(args[1]))
    if name == "add_days":
        return args[0] + _dt.timedelta(days=int(args[1]))
    raise ex.RuleError(f"unknown function {name}()")
