"""The program both engines run: the rules in force on a date, ordered into negation strata.

The first passes of the compiler, each a function that returns its result:

1. :func:`select` — the rules in force on ``as_of`` (only those a goal depends on, if asked);
2. :func:`stratify <imgpath.rulebook.graph.stratify>` — the stratum of each rule (a rule that
   reads a conclusion negated runs after every rule that could conclude it).

The result, a :class:`Program`, is all the reference evaluator reads; the durable-rules path
lowers it further (:mod:`.lower`). Programs are cached per rulebook and date
(:func:`program`), and the cache dies with the rulebook.

>>> from imgpath.rulebook import rulebook
>>> import datetime
>>> p = program(rulebook(), datetime.date(2026, 1, 15))
>>> program(rulebook(), datetime.date(2026, 1, 16)) is p
True
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..rulebook import Rule, Rulebook
from ..rulebook.graph import stratify

__all__ = ["INF", "Firing", "Program", "encode", "program", "select"]

#: Encoding of an unbounded number (JSON has no infinity; an int, see :func:`encode`).
INF = 10**15


def encode(value: Any) -> Any:
    """A value as conclusions and engine facts hold it: dates become day numbers, floats never use exponents.

    durable-rules' JSON parser misreads exponent notation (``1e+18``, ``1e-05``) and then
    silently drops the facts after it in the same batch, so every float is written as an
    integer or a plain decimal (the loader refuses rule numbers this would change).

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


@attrs.frozen
class Firing:
    """One rule firing: rule id, mode (T: definitely, P: possibly), the instance it concluded.

    ``matched`` maps engine aliases to the facts the engine matched (empty for
    the reference evaluator); ``row`` is the key of the ``for`` row, if any.
    """

    rule_id: str
    mode: str
    conclusion: str
    args: tuple[tuple[str, Any], ...]
    value: Any
    row: Any = None
    matched: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        return (self.conclusion, self.args)


@attrs.frozen(eq=False)
class Program:
    """The rules in force on some date, with their strata: what both engines evaluate."""

    book: Rulebook
    rules: tuple[Rule, ...]
    strata: Mapping[str, int]  # rule id -> stratum
    max_stratum: int
    order: tuple[Rule, ...]  # rules sorted by stratum
    #: what later passes derive from this program (the durable-rules lowering), kept with it
    derived: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def rule(self, rule_id: str) -> Rule:
        return self.book.rule(rule_id)


def select(book: Rulebook, as_of: _dt.date, goals: Iterable[str] | None = None) -> tuple[Rule, ...]:
    """Pass 1: the rules in force on ``as_of``, restricted to the cone of ``goals`` when given."""
    rules = book.in_force(as_of)
    if goals is not None:
        cone = book.cone(goals)
        rules = tuple(r for r in rules if r.conclusion in cone)
    return rules


def build(book: Rulebook, rules: tuple[Rule, ...]) -> Program:
    """Pass 2 on selected rules: strata, and the rules in stratum order."""
    strata = stratify(rules)
    order = tuple(sorted(rules, key=lambda r: strata[r.id]))
    return Program(book, rules, strata, max(strata.values(), default=0), order)


@attrs.define
class _Cache:
    by_rules: dict[frozenset[str], Program] = attrs.field(factory=dict)
    by_date: dict[tuple[_dt.date, frozenset[str] | None], Program] = attrs.field(factory=dict)


def program(book: Rulebook, as_of: _dt.date, goals: Iterable[str] | None = None) -> Program:
    """The program for the rules in force on ``as_of`` (cached per rulebook and set of rules).

    With ``goals``, only the rules those conclusions depend on (planning re-evaluates a goal
    many times; other conclusions of such a program are not evaluated). The cache is kept on
    the rulebook, so it is freed with it.
    """
    cache = book.derived.get("programs")
    if cache is None:
        cache = book.derived["programs"] = _Cache()
    fast = (as_of, None if goals is None else frozenset(goals))
    prog = cache.by_date.get(fast)
    if prog is not None:
        return prog
    rules = select(book, as_of, goals)
    key = frozenset(r.id for r in rules)
    prog = cache.by_rules.get(key)
    if prog is None:
        prog = cache.by_rules[key] = build(book, rules)
    if len(cache.by_date) > 4096:  # a bounded cache: many dates share a few programs
        cache.by_date.clear()
    cache.by_date[fast] = prog
    return prog
