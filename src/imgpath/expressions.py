"""The condition language of rules: Python syntax, parsed with :mod:`ast` under a whitelist, three-valued.

A condition is an expression over the applicant's facts (``school.country``),
the evaluation date (``as_of``), parameter rows (``season.oet_writing_min``,
``state.img_gme_years``) and other conclusions (``img``,
``licensable(state=state.code)``). It is never passed to ``eval``: the
parser accepts comparisons, ``and``/``or``/``not``, ``in``, field access,
literals and a fixed set of functions, and rejects everything else
(calls outside the whitelist, dunder access, lambdas, comprehensions).

Values are three-state: a value, :data:`NONE` (known not to exist, e.g. no
certificate) or :data:`UNKNOWN` (missing). Truth is Kleene's: ``K.T``,
``K.U``, ``K.F``. Aggregates over lists whose elements are partly unknown
give :class:`Interval` bounds.

>>> node = parse("school.country not in ['US', 'PR', 'CA'] and not licensable(state='TX')")
>>> sorted(conclusion_refs(node))
['licensable']
>>> parse("__import__('os')")
Traceback (most recent call last):
...
imgpath.errors.RuleError: names starting with '_' are not allowed
    in: __import__('os')
"""

from __future__ import annotations

import ast
import datetime as _dt
import enum
import io
import keyword
import math
import tokenize
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from .errors import RuleError

__all__ = [
    "AGGREGATES",
    "FUNCTIONS",
    "K",
    "NONE",
    "UNKNOWN",
    "Interval",
    "parse",
]


class K(enum.IntEnum):
    """Kleene truth: ``min`` is *and*, ``max`` is *or*, ``K(2 - v)`` is *not*."""

    F = 0
    U = 1
    T = 2

    def __invert__(self) -> K:  # type: ignore[override]
        return K(2 - self)


class _Missing:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name


#: The fact is known not to exist (no certificate, not yet graduated, training ongoing).
NONE = _Missing("NONE")
#: The fact is missing: nothing can be concluded from it.
UNKNOWN = _Missing("UNKNOWN")


@attrs.frozen
class Interval:
    """Bounds on a number that depends on unknown facts (``hi`` may be ``inf``)."""

    lo: float
    hi: float

    @property
    def exact(self) -> bool:
        return self.lo == self.hi


# --------------------------------------------------------------------------- AST


@attrs.frozen(cache_hash=True)
class Node:
    """Base class of condition nodes; ``text`` keeps the source for messages."""


@attrs.frozen(cache_hash=True)
class Const(Node):
    value: Any


@attrs.frozen(cache_hash=True)
class Field(Node):
    """``root.path...``: root is a section (``school``), ``as_of``, a table row or a quantifier variable."""

    root: str
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.path))


@attrs.frozen(cache_hash=True)
class Ref(Node):
    """A reference to a conclusion, with keyword arguments (``licensable(state=state.code)``)."""

    name: str
    args: tuple[tuple[str, Node], ...] = ()


@attrs.frozen(cache_hash=True)
class Not(Node):
    arg: Node


@attrs.frozen(cache_hash=True)
class And(Node):
    args: tuple[Node, ...]


@attrs.frozen(cache_hash=True)
class Or(Node):
    args: tuple[Node, ...]


@attrs.frozen(cache_hash=True)
class Cmp(Node):
    op: str  # == != < <= > >= in notin
    left: Node
    right: Node


@attrs.frozen(cache_hash=True)
class Func(Node):
    name: str
    args: tuple[Node, ...]


@attrs.frozen(cache_hash=True)
class Quant(Node):
    """``fn(var in source, pred, *extra)``: any, all, count, sum_years, sum_years_since, earliest, latest."""

    fn: str
    var: str
    source: Field
    pred: Node
    extra: tuple[Node, ...] = ()


@attrs.frozen(cache_hash=True)
class Arith(Node):
    op: str  # + -
    left: Node
    right: Node


#: Scalar functions and their arities.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "present": (1, 1),
    "known": (1, 1),
    "years_between": (2, 2),
    "year": (1, 1),
    "add_years": (2, 2),
    "add_months": (2, 2),
    "add_days": (2, 2),
    "first_known": (1, 8),
}
#: Aggregates over a list: ``fn(var in list, predicate, *extra)`` and their extra arity.
AGGREGATES: dict[str, int] = {
    "any": 0,
    "all": 0,
    "count": 0,
    "sum_years": 0,
    "sum_years_since": 1,
    "earliest": 1,
    "latest": 1,
}

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "notin"}
NEGATED_CMP = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "notin",
               "notin": "in"}
FLIPPED_CMP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _wrap_lines(text: str) -> str:
    """Parenthesise ``text`` so a condition may span lines, with comments on any line.

    The closing parenthesis sits on its own line so a trailing comment cannot hide it; brackets
    in ``text`` must balance on their own (``a) or (b`` is not a condition).
    """
    if not text.strip() or all(not line.strip() or line.strip().startswith("#") for line in text.splitlines()):
        raise SyntaxError("empty condition")
    wrapped = "(" + text.strip() + "\n)"
    depth = 0
    tokens = list(tokenize.generate_tokens(io.StringIO(wrapped).readline))
    closing = [t for t in tokens if t.type == tokenize.OP and t.string in ")]}"][-1]
    for tok in tokens:
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
            if depth <= 0 and tok is not closing:
                raise SyntaxError("unmatched closing bracket")
    return wrapped


def parse(text: str) -> Node:
    """Parse one condition; raises :class:`RuleError` quoting the text on anything outside the language."""
    if not isinstance(text, str):
        raise RuleError(f"a condition must be a string, got {type(text).__name__}")
    if len(text) > 4000:
        raise RuleError("a condition may be at most 4000 characters", text=text[:80] + "...")
    try:
        tree = ast.parse(_wrap_lines(text), mode="eval")
    except SyntaxError as err:
        raise RuleError(f"not a valid expression: {err.msg}", text=text) from None
    except tokenize.TokenError as err:
        problem = "brackets do not balance" if "statement" in str(err.args[0]) else err.args[0]
        raise RuleError(f"not a valid expression: {problem}", text=text) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise RuleError(f"not a valid expression: {type(err).__name__}", text=text) from None
    try:
        return _Parser(text).node(tree.body, depth=0)
    except RecursionError:
        raise RuleError("expression nested too deeply", text=text) from None


class _Parser:
    MAX_DEPTH = 60

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, problem: str) -> RuleError:
        return RuleError(problem, text=self.text)

    def node(self, n: ast.AST, depth: int) -> Node:
        if depth > self.MAX_DEPTH:
            raise self.fail("expression nested too deeply")
        d = depth + 1
        if isinstance(n, ast.BoolOp):
            args = tuple(self.node(v, d) for v in n.values)
            return And(args) if isinstance(n.op, ast.And) else Or(args)
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, ast.Not):
                return Not(self.node(n.operand, d))
            if isinstance(n.op, ast.USub):
                inner = self.node(n.operand, d)
                if isinstance(inner, Const) and _is_number(inner.value):
                    return Const(-inner.value)
            raise self.fail("only 'not' and a minus sign before a number are allowed as unary operators")
        if isinstance(n, ast.Compare):
            parts = []
            left = self.node(n.left, d)
            for op, comp in zip(n.ops, n.comparators, strict=True):
                if type(op) not in _CMP:
                    raise self.fail(f"the comparison {type(op).__name__} is not allowed (use == != < <= > >= in)")
                right = self.node(comp, d)
                parts.append(Cmp(_CMP[type(op)], left, right))
                left = right
            return parts[0] if len(parts) == 1 else And(tuple(parts))
        if isinstance(n, ast.Constant):
            if n.value is None or isinstance(n.value, (bytes, complex)) or n.value is Ellipsis:
                raise self.fail(f"the literal {n.value!r} is not allowed")
            if isinstance(n.value, float) and not math.isfinite(n.value):
                raise self.fail("non-finite numbers are not allowed")
            if isinstance(n.value, str) and len(n.value) > 200:
                raise self.fail("string literals may be at most 200 characters")
            return Const(n.value)
        if isinstance(n, (ast.List, ast.Tuple)):
            items = [self.node(e, d) for e in n.elts]
            if not all(isinstance(i, Const) and not isinstance(i.value, tuple) for i in items):
                raise self.fail("a list literal may hold only literal strings, numbers and dates")
            return Const(tuple(i.value for i in items))  # type: ignore[union-attr]
        if isinstance(n, ast.Name):
            self.check_name(n.id)
            if n.id in ("True", "False"):
                return Const(n.id == "True")
            return Field(n.id, ())
        if isinstance(n, ast.Attribute):
            self.check_name(n.attr)
            base = self.node(n.value, d)
            if not isinstance(base, Field):
                raise self.fail("field access is allowed only on names (like school.country)")
            attr = n.attr
            if attr.endswith("_") and keyword.iskeyword(attr[:-1]):
                attr = attr[:-1]  # school.ecfmg_note.from_ reads the key 'from'
            return Field(base.root, (*base.path, attr))
        if isinstance(n, ast.Call):
            return self.call(n, d)
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, (ast.Add, ast.Sub)):
                return Arith("+" if isinstance(n.op, ast.Add) else "-", self.node(n.left, d), self.node(n.right, d))
            raise self.fail(f"the operator {type(n.op).__name__} is not allowed (only + and -)")
        if isinstance(n, ast.Lambda):
            raise self.fail("lambdas are not allowed")
        if isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            raise self.fail("comprehensions are not allowed; use any(x in list, condition)")
        raise self.fail(f"{type(n).__name__} is not part of the condition language")

    def check_name(self, name: str) -> None:
        if name.startswith("_"):
            raise self.fail("names starting with '_' are not allowed")

    def call(self, n: ast.Call, d: int) -> Node:
        if not isinstance(n.func, ast.Name):
            raise self.fail("only named functions and conclusions may be called (no methods)")
        name = n.func.id
        self.check_name(name)
        if any(isinstance(a, ast.Starred) for a in n.args) or any(k.arg is None for k in n.keywords):
            raise self.fail("* and ** arguments are not allowed")
        if name == "date":
            if n.keywords or len(n.args) not in (1, 3):
                raise self.fail("date() takes date('YYYY-MM-DD') or date(year, month, day)")
            vals = [self.node(a, d) for a in n.args]
            if not all(isinstance(v, Const) for v in vals):
                raise self.fail("date() takes literal arguments")
            try:
                if len(vals) == 1:
                    return Const(_dt.date.fromisoformat(vals[0].value))  # type: ignore[union-attr,arg-type]
                return Const(_dt.date(*(v.value for v in vals)))  # type: ignore[union-attr,misc]
            except (TypeError, ValueError, OverflowError) as err:
                raise self.fail(f"invalid date: {err}") from None
        if name in AGGREGATES:
            if n.keywords:
                raise self.fail(f"{name}() takes no keyword arguments")
            want = 2 + AGGREGATES[name]
            if len(n.args) != want:
                shape = {"sum_years_since": "var in list, since, condition",
                         "earliest": "var in list, condition, value", "latest": "var in list, condition, value"}
                raise self.fail(f"{name}() takes ({shape.get(name, 'var in list, condition')})")
            head = n.args[0]
            if not (isinstance(head, ast.Compare) and len(head.ops) == 1 and isinstance(head.ops[0], ast.In)
                    and isinstance(head.left, ast.Name)):
                raise self.fail(f"the first argument of {name}() must be 'var in list', e.g. e in exams")
            var = head.left.id
            self.check_name(var)
            source = self.node(head.comparators[0], d)
            if not isinstance(source, Field):
                raise self.fail(f"{name}() ranges over a list of the applicant, e.g. exams")
            rest = list(n.args[1:])
            if name == "sum_years_since":  # sum_years_since(p in practice, since, condition)
                rest = [rest[1], rest[0]]
            pred = self.node(rest[0], d)
            extra = tuple(self.node(a, d) for a in rest[1:])
            return Quant(name, var, source, pred, extra)
        if name in FUNCTIONS:
            if n.keywords:
                raise self.fail(f"{name}() takes no keyword arguments")
            lo, hi = FUNCTIONS[name]
            if not lo <= len(n.args) <= hi:
                raise self.fail(f"{name}() takes {lo}{'' if lo == hi else f' to {hi}'} arguments")
            return Func(name, tuple(self.node(a, d) for a in n.args))
        # anything else must be a conclusion; the rulebook checks the name
        if n.args:
            raise self.fail(f"conclusion {name}() takes keyword arguments only, e.g. {name}(state='TX')")
        args = []
        for kw in n.keywords:
            assert kw.arg is not None
            self.check_name(kw.arg)
            args.append((kw.arg, self.node(kw.value, d)))
        return Ref(name, tuple(sorted(args)))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------- traversal


def walk(node: Node) -> Iterator[Node]:
    """Every node of a condition, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (And, Or)):
        return node.args
    if isinstance(node, Not):
        return (node.arg,)
    if isinstance(node, (Cmp, Arith)):
        return (node.left, node.right)
    if isinstance(node, Func):
        return node.args
    if isinstance(node, Quant):
        return (node.source, node.pred, *node.extra)
    if isinstance(node, Ref):
        return tuple(v for _, v in node.args)
    return ()


def conclusion_refs(node: Node) -> set[str]:
    """Names of the conclusions a condition reads."""
    return {n.name for n in walk(node) if isinstance(n, Ref)}


def render(node: Node) -> str:
    """The condition back in source form (normalised)."""
    if isinstance(node, Const):
        v = node.value
        if isinstance(v, _dt.date):
            return f"date({v.isoformat()!r})"
        if isinstance(v, tuple):
            return "[" + ", ".join(render(Const(x)) for x in v) + "]"
        return repr(v)
    if isinstance(node, Field):
        return ".".join((node.root, *(p + "_" if keyword.iskeyword(p) else p for p in node.path)))
    if isinstance(node, Ref):
        if not node.args:
            return node.name
        return f"{node.name}(" + ", ".join(f"{k}={render(v)}" for k, v in node.args) + ")"
    if isinstance(node, Not):
        return f"not {_paren(node.arg)}"
    if isinstance(node, And):
        return " and ".join(_paren(a) for a in node.args)
    if isinstance(node, Or):
        return " or ".join(_paren(a) for a in node.args)
    if isinstance(node, Cmp):
        op = "not in" if node.op == "notin" else node.op
        return f"{_operand(node.left)} {op} {_operand(node.right)}"
    if isinstance(node, Arith):
        right = _operand(node.right, Arith)
        return f"{_operand(node.left)} {node.op} {right}"
    if isinstance(node, Func):
        return f"{node.name}(" + ", ".join(render(a) for a in node.args) + ")"
    if isinstance(node, Quant):
        if node.fn == "sum_years_since":
            return f"{node.fn}({node.var} in {render(node.source)}, {render(node.extra[0])}, {render(node.pred)})"
        extra = "".join(", " + render(e) for e in node.extra)
        return f"{node.fn}({node.var} in {render(node.source)}, {render(node.pred)}{extra})"
    raise TypeError(node)


def _operand(node: Node, also: type | None = None) -> str:
    """An operand of a comparison or sum, parenthesised when it is itself an operator expression."""
    text = render(node)
    kinds: tuple[type, ...] = (And, Or, Not, Cmp) + ((also,) if also else ())
    return f"({text})" if isinstance(node, kinds) else text


def _paren(node: Node) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, (And, Or)) else text


# --------------------------------------------------------------------------- evaluation


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


def day_after(d: _dt.date) -> _dt.date:
    """The next day (the last representable date stays itself)."""
    return d if d == _dt.date.max else d + _dt.timedelta(days=1)


def months_between(a: _dt.date, b: _dt.date) -> int:
    """Whole calendar months from ``a`` to ``b`` (``b`` exclusive).

    >>> months_between(_dt.date(2023, 7, 1), _dt.date(2026, 7, 1))
    36
    >>> months_between(_dt.date(2023, 7, 15), _dt.date(2023, 8, 14))
    0
    """
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if b.day < a.day:
        months -= 1
    return months


def years_between(a: _dt.date, b: _dt.date) -> int:
    """Whole years from ``a`` to ``b`` (anniversaries passed).

    >>> years_between(_dt.date(2019, 3, 1), _dt.date(2026, 2, 28))
    6
    """
    return months_between(a, b) // 12 if b >= a else -(months_between(b, a) // 12)


def add_months(d: _dt.date, n: int) -> _dt.date:
    """``d`` plus ``n`` calendar months, clamped to the month's last day."""
    m = d.month - 1 + n
    year, month = d.year + m // 12, m % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return _dt.date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover


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
