"""Parsing a condition: Python syntax read with :mod:`ast` under a whitelist, never evaluated.

It accepts comparisons, ``and``/``or``/``not``, ``in``, field access, literals and a fixed set
of functions (:data:`~imgpath.expressions.nodes.FUNCTIONS`, aggregates over the applicant's
lists), and rejects everything else: calls outside the whitelist, dunder access, lambdas,
comprehensions, keyword-less conclusion calls. Errors are :class:`~imgpath.RuleError`s quoting
the text.

>>> parse("school.country not in ['US', 'PR']")
Cmp(op='notin', left=Field(root='school', path=('country',)), right=Const(value=('US', 'PR')))
"""

from __future__ import annotations

import ast
import datetime as _dt
import io
import keyword
import math
import tokenize
from typing import Any

from ..errors import RuleError
from .nodes import AGGREGATES, FUNCTIONS, And, Arith, Call, Cmp, Const, Field, Func, Node, Not, Or, Quant, Ref

__all__ = ["parse"]

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "notin"}

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
        # anything else is a conclusion (keyword arguments) or a definition (either); the rulebook
        # resolves the name
        if n.args:
            if n.keywords:
                raise self.fail(f"{name}(): give every argument by position or every one by name, not both")
            return Call(name, tuple(self.node(a, d) for a in n.args))
        args = []
        for kw in n.keywords:
            assert kw.arg is not None
            self.check_name(kw.arg)
            args.append((kw.arg, self.node(kw.value, d)))
        return Ref(name, tuple(sorted(args)))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------- traversal
