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

from ..errors import RuleError
from .nodes import (AGGREGATES, FLIPPED_CMP, FUNCTIONS, NEGATED_CMP, And, Arith, Call, Cmp, Const, Field, Func, Node, Not,
                    Or, Quant, Ref, children, conclusion_refs, render, walk)
from .parser import parse
from .semantics import Env, arith, as_truth, compare, truth, valued_ref_test, value
from .values import NONE, UNKNOWN, Interval, K, add_months, day_after, months_between, years_between

__all__ = [
    "AGGREGATES", "FLIPPED_CMP", "FUNCTIONS", "NEGATED_CMP", "NONE", "UNKNOWN", "And", "Arith", "Call", "Cmp", "Const", "Env",
    "Field", "Func", "Interval", "K", "Node", "Not", "Or", "Quant", "Ref", "RuleError", "add_months", "arith",
    "as_truth", "children", "compare", "conclusion_refs", "day_after", "months_between", "parse", "render", "truth",
    "valued_ref_test", "value", "walk", "years_between",
]
