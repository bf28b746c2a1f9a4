"""What a condition means: Kleene truth and values over an environment of facts, rows and conclusions.

Values are three-state: a value, :data:`NONE` (known not to exist, e.g. no certificate) or
:data:`UNKNOWN` (missing). Aggregates over lists whose elements are partly unknown give
:class:`Interval` bounds. The reference evaluator and the explanations evaluate with these
functions; the durable-rules path compiles the same semantics to closures and the differential
tests hold the two together.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import RuleError
from .nodes import FLIPPED_CMP, And, Arith, Cmp, Const, Field, Func, Node, Not, Or, Quant, Ref
from .values import NONE, UNKNOWN, Interval, K, add_months, day_after, months_between, years_between

__all__ = ["Env", "arith", "as_truth", "compare", "truth", "valued_ref_test", "value"]


class Env:
    """What a condition is evaluated against.

    ``lookup(field)`` resolves a :class:`Field` to a value, NONE or UNKNOWN;
    ``conclusion(ref, env)`` gives the truth (and value) of a referenced
    conclusion. ``bind`` adds quantifier variables. ``on_param`` is called with
    every parameter cell read, so callers can track confidence and sources.
    """

    __slots__ = ("as_of", "_lookup", "_conclusion", "_vars", "on_param")

    def __init__(
        self,
        *,
        as_of: _dt.date,
        lookup: Callable[[Field, Env], Any],
        conclusion: Callable[[Ref, Env, tuple[Any, ...] | None], K] | None = None,
        variables: Mapping[str, Any] | None = None,
        on_param: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.as_of = as_of
        self._lookup = lookup
        self._conclusion = conclusion
        self._vars = dict(variables or {})
        self.on_param = on_param

    def bind(self, var: str, value: Any) -> Env:
        env = Env(as_of=self.as_of, lookup=self._lookup, conclusion=self._conclusion,
                  variables=self._vars, on_param=self.on_param)
        env._vars[var] = value
        return env

    def var(self, name: str) -> Any:
        return self._vars.get(name, UNKNOWN)

    def has_var(self, name: str) -> bool:
        return name in self._vars

    def field(self, f: Field) -> Any:
        return self._lookup(f, self)

    def conclusion(self, ref: Ref, values: tuple[Any, ...] | None = None) -> K:
        """Truth of a conclusion, or of ``conclusion == one of values`` for a valued one."""
        if self._conclusion is None:
            raise RuleError(f"conclusion {ref.name} cannot be read here")
        return self._conclusion(ref, self, values)


def truth(node: Node, env: Env) -> K:
    """Kleene truth of a condition."""
    if isinstance(node, And):
        out = K.T
        for a in node.args:
            v = truth(a, env)
            if v is K.F:
                return K.F
            out = min(out, v)
        return out
    if isinstance(node, Or):
        out = K.F
        for a in node.args:
            v = truth(a, env)
            if v is K.T:
                return K.T
            out = max(out, v)
        return out
    if isinstance(node, Not):
        return ~truth(node.arg, env)
    if isinstance(node, Cmp):
        vals = valued_ref_test(node)
        if vals is not None:
            return env.conclusion(node.left, vals)  # type: ignore[arg-type]
        return compare(node.op, value(node.left, env), value(node.right, env))
    if isinstance(node, Ref):
        return env.conclusion(node)
    if isinstance(node, Quant) and node.fn in ("any", "all"):
        return _quant_truth(node, env)
    if isinstance(node, Func) and node.name == "present":
        v = value(node.args[0], env)
        return K.U if v is UNKNOWN else (K.F if v is NONE else K.T)
    if isinstance(node, Func) and node.name == "known":
        return K.F if value(node.args[0], env) is UNKNOWN else K.T
    v = value(node, env)
    return as_truth(v)


def valued_ref_test(node: Cmp) -> tuple[Any, ...] | None:
    """For ``conclusion == 'x'`` or ``conclusion in [...]``: the accepted values; otherwise None.

    A valued conclusion compared this way is true when a rule concluding one of
    those values fires, possible when such a rule could still fire.
    """
    if isinstance(node.left, Ref) and isinstance(node.right, Const):
        if node.op == "==":
            return (node.right.value,)
        if node.op == "in" and isinstance(node.right.value, tuple):
            return node.right.value
    return None


def as_truth(v: Any) -> K:
    """A value used as a condition: booleans are themselves, NONE is false, UNKNOWN is unknown."""
    if v is UNKNOWN:
        return K.U
    if v is NONE:
        return K.F
    if isinstance(v, K):
        return v
    if isinstance(v, bool):
        return K.T if v else K.F
    raise RuleError(f"expected a true/false condition, got the value {v!r}")


def value(node: Node, env: Env) -> Any:
    """The value of an expression: a Python value, an :class:`Interval`, NONE or UNKNOWN."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Field):
        return env.field(node)
    if isinstance(node, (And, Or, Not, Cmp, Ref)):
        return truth(node, env)
    if isinstance(node, Quant):
        if node.fn in ("any", "all"):
            return _quant_truth(node, env)
        return _aggregate(node, env)
    if isinstance(node, Func):
        return _func(node, env)
    if isinstance(node, Arith):
        a, b = value(node.left, env), value(node.right, env)
        return arith(node.op, a, b)
    raise TypeError(node)


def arith(op: str, a: Any, b: Any) -> Any:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    if a is NONE or b is NONE:
        return NONE
    ia = a if isinstance(a, Interval) else Interval(a, a)
    ib = b if isinstance(b, Interval) else Interval(b, b)
    if op == "+":
        out = Interval(ia.lo + ib.lo, ia.hi + ib.hi)
    else:
        out = Interval(ia.lo - ib.hi, ia.hi - ib.lo)
    if isinstance(a, Interval) or isinstance(b, Interval):
        return out
    return a + b if op == "+" else a - b


def compare(op: str, a: Any, b: Any) -> K:
    """Three-valued comparison. NONE compares false (``!=`` and ``not in`` true)."""
    if a is UNKNOWN or b is UNKNOWN:
        return K.U
    if a is NONE or b is NONE:
        return K.T if op in ("!=", "notin") else K.F
    if isinstance(a, K):
        a = a is K.T if a is not K.U else UNKNOWN
        if a is UNKNOWN:
            return K.U
    if isinstance(b, K):
        b = b is K.T if b is not K.U else UNKNOWN
        if b is UNKNOWN:
            return K.U
    if op in ("in", "notin"):
        if isinstance(b, Interval) or not isinstance(b, (tuple, list)):
            raise RuleError(f"'in' needs a list on its right, got {b!r}")
        found = any(_eq(a, x) for x in b)
        return K.T if found == (op == "in") else K.F
    if isinstance(a, Interval) or isinstance(b, Interval):
        ia = a if isinstance(a, Interval) else Interval(a, a)
        ib = b if isinstance(b, Interval) else Interval(b, b)
        return _interval_cmp(op, ia, ib)
    try:
        return K.T if _OPS[op](a, b) else K.F
    except TypeError:
        raise RuleError(f"cannot compare {a!r} {op} {b!r}") from None


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _interval_cmp(op: str, a: Interval, b: Interval) -> K:
    if op == "==":
        if a.exact and b.exact:
            return K.T if a.lo == b.lo else K.F
        return K.F if a.hi < b.lo or b.hi < a.lo else K.U
    if op == "!=":
        return ~_interval_cmp("==", a, b)
    if op in (">", ">="):
        return _interval_cmp(FLIPPED_CMP[op], b, a)
    strict = op == "<"
    if (a.hi < b.lo) or (not strict and a.hi <= b.lo):
        return K.T
    if (a.lo >= b.hi) if strict else (a.lo > b.hi):
        return K.F
    return K.U


def _quant_truth(node: Quant, env: Env) -> K:
    items = value(node.source, env)
    if items is UNKNOWN:
        return K.U
    if items is NONE:
        items = ()
    if node.fn == "any":
        out = K.F
        for item in items:
            v = truth(node.pred, env.bind(node.var, item))
            if v is K.T:
                return K.T
            out = max(out, v)
        return out
    out = K.T
    for item in items:
        v = truth(node.pred, env.bind(node.var, item))
        if v is K.F:
            return K.F
        out = min(out, v)
    return out


def _aggregate(node: Quant, env: Env) -> Any:
    items = value(node.source, env)
    fn = node.fn
    if items is UNKNOWN:
        if fn in ("earliest", "latest"):
            return UNKNOWN
        return Interval(0, math.inf)
    if items is NONE:
        items = ()
    if fn == "count":
        lo = hi = 0
        for item in items:
            v = truth(node.pred, env.bind(node.var, item))
            lo += v is K.T
            hi += v is not K.F
        return Interval(lo, hi)
    if fn in ("earliest", "latest"):
        best: Any = NONE
        for item in items:
            sub = env.bind(node.var, item)
            v = truth(node.pred, sub)
            if v is K.F:
                continue
            when = value(node.extra[0], sub)
            if v is K.U or when is UNKNOWN:
                return UNKNOWN
            if when is NONE:
                continue
            if best is NONE or (when < best if fn == "earliest" else when > best):
                best = when
        return best
    # sum_years / sum_years_since
    since = None
    if fn == "sum_years_since":
        since = value(node.extra[0], env)
        if since is UNKNOWN:
            return Interval(0, math.inf)
        if since is NONE:
            since = None
    lo = hi = 0.0
    for item in items:
        sub = env.bind(node.var, item)
        v = truth(node.pred, sub)
        if v is K.F:
            continue
        start = getattr(item, "start", None)
        end = getattr(item, "end", None)
        if start is None:
            hi = math.inf
            continue
        stop = day_after(env.as_of) if end is None else min(day_after(end), day_after(env.as_of))
        if since is not None and start < since:
            start = since
        years = max(0, months_between(start, stop)) / 12
        hi += years
        if v is K.T:
            lo += years
    return Interval(round(lo, 6), hi if hi == math.inf else round(hi, 6))


def _func(node: Func, env: Env) -> Any:
    name = node.name
    if name in ("present", "known"):
        return truth(node, env)
    if name == "first_known":
        for a in node.args:
            v = value(a, env)
            if v is not NONE and v is not UNKNOWN:
                return v
        return UNKNOWN
    args = [value(a, env) for a in node.args]
    if any(a is UNKNOWN for a in args):
        return UNKNOWN
    if any(a is NONE for a in args):
        return NONE
    if any(isinstance(a, Interval) for a in args):
        raise RuleError(f"{name}() cannot take a count or sum")
    try:
        if name == "years_between":
            return years_between(args[0], args[1])
        if name == "year":
            return args[0].year
        if name == "add_years":
            return add_months(args[0], 12 * int(args[1]))
        if name == "add_months":
            return add_months(args[0], int(args[1]))
        if name == "add_days":
            return args[0] + _dt.timedelta(days=int(args[1]))
    except (TypeError, AttributeError, OverflowError, ValueError) as err:
        raise RuleError(f"{name}() got unsuitable arguments: {err}") from None
    raise RuleError(f"unknown function {name}()")  # pragma: no cover
