"""The syntax of conditions: immutable nodes, their children, and their rendering back to text.

>>> render(And((Field("school", ("country",)), Not(Ref("img", ())))))
'school.country and not img'
"""

from __future__ import annotations

import datetime as _dt
import keyword
from collections.abc import Iterator
from typing import Any

import attrs

__all__ = ["AGGREGATES", "FLIPPED_CMP", "FUNCTIONS", "NEGATED_CMP", "And", "Arith", "Call", "Cmp", "Const", "Field", "Func", "Node", "Not", "Or", "Quant",
           "Ref", "children", "conclusion_refs", "render", "walk"]


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
class Call(Node):
    """``name(a, b)`` with positional arguments: a call of a definition (``passed('step1')``).

    The rulebook expands every call when it loads (:mod:`imgpath.rulebook.resolve`); no Call
    reaches an engine.
    """

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

NEGATED_CMP = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "notin",
               "notin": "in"}
FLIPPED_CMP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


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
    if isinstance(node, (Func, Call)):
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
    if isinstance(node, (Func, Call)):
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
