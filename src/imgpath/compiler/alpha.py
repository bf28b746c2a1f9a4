"""The engine's alpha network: fact types, shard copies, and which facts some pattern can match.

durable-rules tests every fact against the first test (``t == <type>``) of every pattern, then
against the tests below it. Its limits (engine-notes §7.3, §8) are checked here, before the C
engine sees a definition: too many distinct tests below one type overflow a 64-entry stack (error
303 at assert time), so over-full types are spread over copies (``c:img#1``...); more than about
512 children of one node hang ``create_ruleset`` while holding the GIL, so the number of fact
types is bounded; and a fact no pattern can match need not be asserted at all (:func:`reads`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

__all__ = ["ALPHA_LIMIT", "MAX_BETA", "MAX_TYPES", "ReadEverything", "accepted", "beta_overflow", "copies",
           "fact_types", "reads", "shard"]

#: Distinct tests below one fact type (mutually exclusive equalities counted once) before it is
#: asserted under several shard types (the engine's alpha stack holds 64 entries).
ALPHA_LIMIT = 30
#: Most distinct fact types one compiled program may use: ``create_ruleset`` hangs in C, holding
#: the GIL, a little past 512 children of the alpha root (engine-notes §8: 531 hung, 481 compiled).
MAX_TYPES = 450
#: Most patterns that may end on one alpha node (the same fact type and tests): the engine keeps
#: 256 beta children per alpha node and refuses the ruleset past that (error 108,
#: ``BETA_LIST_LENGTH`` in durable-rules' rules.h); a margin is kept for the driver's own rules.
MAX_BETA = 250


def _first_test(pattern: Mapping[str, Any]) -> tuple[str | None, list[Any]]:
    (_, cond), = pattern.items()
    tests = cond.get("$and", []) if isinstance(cond, dict) else []
    if tests and isinstance(tests[0], dict) and isinstance(tests[0].get("t"), str):
        return tests[0]["t"], tests
    return None, tests


def fact_types(definitions: Mapping[str, Any]) -> dict[str, set[str]]:
    """Base fact type -> the engine types patterns test for it (itself, or shards ``#k``)."""
    types: dict[str, set[str]] = defaultdict(set)
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, _ = _first_test(pattern)
            if typ is not None:
                types[typ.split("#")[0]].add(typ)
    return types


def reads(definitions: Mapping[str, Any]) -> dict[str, Any]:
    """Base fact type -> per pattern, the values each constant-tested property must hold (None:
    some pattern accepts every fact of the type)."""
    found: dict[str, set[Any] | None] = {}
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ is None:
                continue
            base = typ.split("#")[0]
            ok = accepted(tests[1:])
            if not ok:
                found[base] = None
            elif base not in found or found[base] is not None:
                found.setdefault(base, set()).add(ok)  # type: ignore[union-attr]
    return {base: None if sel is None else tuple(sorted(sel, key=repr)) for base, sel in found.items()}


def copies(definitions: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Base fact type -> every engine type patterns use for it, where sharded."""
    return {base: tuple(sorted(ts)) for base, ts in fact_types(definitions).items() if ts != {base}}


def shard(definitions: dict[str, Any]) -> None:
    """Spread the patterns of over-full fact types over copies (``c:img#1``...) of those facts.

    Equality tests on one property with different constants can never match together, so each
    such group weighs one; everything else weighs one per test. Rewrites ``definitions`` in place.
    """
    sigs: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ is not None:
                sigs[typ][json.dumps(tests[1:], sort_keys=True)] = tests[1:]
    for typ, by_sig in sigs.items():
        if _weight(list(by_sig.values())) <= ALPHA_LIMIT:
            continue
        assignment: dict[str, str] = {}
        groups: list[list[list[Any]]] = []
        for sig, tests in sorted(by_sig.items()):
            for i, group in enumerate(groups):
                if _weight([*group, tests]) <= ALPHA_LIMIT:
                    group.append(tests)
                    assignment[sig] = f"{typ}#{i}"
                    break
            else:
                groups.append([tests])
                assignment[sig] = f"{typ}#{len(groups) - 1}"
        for definition in definitions.values():
            for pattern in definition["all"]:
                t, tests = _first_test(pattern)
                if t == typ:
                    tests[0] = {"t": assignment[json.dumps(tests[1:], sort_keys=True)]}


def beta_overflow(definitions: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """The first alpha node more than :data:`MAX_BETA` patterns end on, with the engine rules
    using it, or None when every node is within the engine's limit."""
    users: dict[str, list[str]] = defaultdict(list)
    for name, definition in definitions.items():
        for pattern in definition["all"]:
            (_, cond), = pattern.items()
            users[json.dumps(cond, sort_keys=True)].append(name)
    for signature, names in users.items():
        if len(names) > MAX_BETA:
            return signature, names
    return None


class ReadEverything(dict):  # type: ignore[type-arg]
    """A ``reads`` map that accepts every fact (the unfiltered baseline the benchmark measures)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return None


_DOMAINS = {"v": (0, 1, 2), "k": ("y", "m")}  # atom truth; conclusion kind
_RANGE = {"$gte": lambda x, b: x >= b, "$lte": lambda x, b: x <= b, "$gt": lambda x, b: x > b,
          "$lt": lambda x, b: x < b, "$neq": lambda x, b: x != b}


def accepted(tests: list[Any]) -> tuple[tuple[str, frozenset[Any]], ...]:
    """Per property a pattern tests against a constant, the values it accepts (joins accept anything)."""
    ok: dict[str, set[Any]] = {}
    for t in tests:
        if not isinstance(t, dict) or len(t) != 1:
            continue
        (op, arg), = t.items()
        if not op.startswith("$") and not isinstance(arg, dict) and not isinstance(arg, list):
            ok[op] = ok.get(op, {arg}) & {arg}
        elif op in _RANGE and isinstance(arg, dict) and len(arg) == 1:
            (field, bound), = arg.items()
            if field in _DOMAINS and not isinstance(bound, dict):
                ok[field] = {x for x in ok.get(field, set(_DOMAINS[field])) if _RANGE[op](x, bound)}
    return tuple(sorted((k, frozenset(v)) for k, v in ok.items()))


def _weight(signatures: list[list[Any]]) -> int:
    """How many alpha nodes below a type could be pushed at once for these test lists."""
    exclusive: set[tuple[str, str]] = set()
    other: set[str] = set()
    for tests in signatures:
        for t in tests:
            if isinstance(t, dict) and len(t) == 1:
                (k, v), = t.items()
                if not k.startswith("$") and not isinstance(v, dict):
                    exclusive.add((k, "=="))
                    continue
            other.add(json.dumps(t, sort_keys=True))
    return len(exclusive) + len(other)
