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

__all__ = ["ALPHA_LIMIT", "MAX_BETA", "MAX_PROPERTIES", "MAX_STACK", "MAX_TYPES", "ReadEverything", "accepted",
           "beta_overflow", "copies", "fact_types", "order_tests", "properties", "reads", "shard", "shard_by_stack",
           "stack_depth"]

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
#: Most properties one fact may carry: the engine refuses a fact past 255 (error 302,
#: ``MAX_OBJECT_PROPERTIES`` in state.h); the driver adds ``p``, ``sid`` and a nonce ``_n``.
MAX_PROPERTIES = 240
#: Most alpha nodes the engine may have pending at once for one fact: its stack holds 64
#: (``MAX_STACK_SIZE`` in events.c, error 303 at assert time); the root's own entries (the
#: fact's type and the catch-all's existence test) and a margin are kept free.
MAX_STACK = 56


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


# --------------------------------------------------------------------------- fused facts
#
# A fused fact carries many properties (atom truths, conclusion levels), so many patterns test
# one fact type. The engine shares an alpha node between patterns whose tests begin alike, and
# pushes every child node that matches on one stack; the functions below order each pattern's
# tests so common prefixes are shared, bound the stack a fact can need, and spread the patterns
# of a type over copies of its facts when that bound is past :data:`MAX_STACK`.


def _split(tests: list[Any]) -> tuple[list[Any], list[Any]]:
    """(alpha tests, correlations): a correlation must come after every alpha test."""
    alpha_tests = [t for t in tests if not _is_correlation(t)]
    return alpha_tests, [t for t in tests if _is_correlation(t)]


def _is_correlation(test: Any) -> bool:
    if not isinstance(test, dict) or len(test) != 1:
        return False
    (k, v), = test.items()
    if k.startswith("$"):
        return isinstance(v, dict) and any(isinstance(x, dict) for x in v.values())
    return isinstance(v, dict)


def _sig(test: Any) -> str:
    return json.dumps(test, sort_keys=True)


def _tkey(test: Any) -> tuple[Any, ...]:
    """A test as a hashable key: ``(property, "==", value)`` for an equality with a constant
    (such tests on one property are mutually exclusive), else ``(signature, "other")``."""
    if isinstance(test, dict) and len(test) == 1:
        (k, v), = test.items()
        if not k.startswith("$") and not isinstance(v, (dict, list)):
            return (k, "==", v, type(v).__name__)
    return (_sig(test), "other")


def order_tests(definitions: dict[str, Any], types: set[str]) -> None:
    """Order the alpha tests of every pattern on ``types`` by how many patterns use each test
    (most first), so patterns share the longest prefixes; correlations stay last. In place."""
    freq: dict[tuple[str, tuple[Any, ...]], int] = defaultdict(int)
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ is not None and typ.split("#")[0] in types:
                for t in _split(tests[1:])[0]:
                    freq[(typ, _tkey(t))] += 1
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ is None or typ.split("#")[0] not in types:
                continue
            plain, joins = _split(tests[1:])
            plain.sort(key=lambda t: (-freq[(typ, _tkey(t))], repr(_tkey(t))))
            tests[1:] = [*plain, *joins]


def stack_depth(chains: list[list[Any]]) -> int:
    """An upper bound on the alpha stack the engine needs for one fact matching these test chains.

    The engine pops a node, then pushes every child that matches; a node's children that are
    equalities on one property with different constants match at most one at a time. With ``k``
    children that may match together, the stack grows by ``k``, and the child processed first
    sits above the ``k - 1`` others: ``depth(n) = max(k, k - 1 + max depth(child))``.
    """
    trie: dict[Any, Any] = {}
    for chain in chains:
        _insert(trie, [_tkey(t) for t in chain])
    return _depth(trie)


def _insert(trie: dict[Any, Any], keys: list[tuple[Any, ...]]) -> list[tuple[dict[Any, Any], Any]]:
    """Add a chain of test keys; the (parent, key) pairs it created, to undo it."""
    created = []
    node = trie
    for k in keys:
        child = node.get(k)
        if child is None:
            child = node[k] = {}
            created.append((node, k))
        node = child
    return created


def _depth(node: dict[Any, Any]) -> int:
    if not node:
        return 0
    groups: set[Any] = set()
    others = 0
    deepest = 0
    for key, child in node.items():
        if key[1] == "==":
            groups.add(key[0])
        else:
            others += 1
        if child:
            deepest = max(deepest, _depth(child))
    k = len(groups) + others
    return max(k, k - 1 + deepest)


def shard_by_stack(definitions: dict[str, Any], types: set[str], limit: int = MAX_STACK,
                   width: int = MAX_PROPERTIES) -> None:
    """Spread the patterns on each of ``types`` over copies (``ctx#0``, ``ctx#1``...) so that no
    copy needs more than ``limit`` alpha stack entries (:func:`stack_depth`) or carries more than
    ``width`` properties (a copy carries only the properties its patterns test). In place."""
    chains: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ in types:
                plain = _split(tests[1:])[0]
                chains[typ][_sig(plain)] = plain
    for typ, by_sig in chains.items():
        every = list(by_sig.values())
        if stack_depth(every) <= limit and len(_props(every)) <= width:
            continue
        groups: list[tuple[dict[Any, Any], set[str]]] = []
        assignment: dict[str, str] = {}
        for sig, chain in sorted(by_sig.items()):
            props = _props([chain])
            keys = [_tkey(t) for t in chain]
            if stack_depth([chain]) > limit or len(props) > width:
                raise ValueError(f"one pattern on {typ} alone needs more than {limit} alpha stack entries "
                                 f"or {width} properties")
            for i, (trie, used) in enumerate(groups):
                if len(used | props) > width:
                    continue
                created = _insert(trie, keys)
                if _depth(trie) <= limit:
                    used |= props
                    assignment[sig] = f"{typ}#{i}"
                    break
                for parent, k in reversed(created):  # undo: it does not fit this copy
                    del parent[k]
            else:
                trie = {}
                _insert(trie, keys)
                groups.append((trie, set(props)))
                assignment[sig] = f"{typ}#{len(groups) - 1}"
        for definition in definitions.values():
            for pattern in definition["all"]:
                t, tests = _first_test(pattern)
                if t == typ:
                    tests[0] = {"t": assignment[_sig(_split(tests[1:])[0])]}


def _props(chains: list[list[Any]]) -> set[str]:
    """The properties some test of these chains reads (the correlations' excepted)."""
    out: set[str] = set()
    for chain in chains:
        for t in chain:
            if isinstance(t, dict) and len(t) == 1:
                (k, v), = t.items()
                if k.startswith("$") and isinstance(v, dict):
                    out.update(v)
                else:
                    out.add(k)
    return out


def properties(definitions: Mapping[str, Any], *, copies: bool = False) -> dict[str, set[str]]:
    """Base fact type (each engine type, with ``copies``) -> every property some pattern tests on
    it: alpha tests and correlations (a fact of that type needs no other property)."""
    out: dict[str, set[str]] = defaultdict(set)
    for definition in definitions.values():
        for pattern in definition["all"]:
            typ, tests = _first_test(pattern)
            if typ is None:
                continue
            name = typ if copies else typ.split("#")[0]
            for t in tests[1:]:
                if isinstance(t, dict) and len(t) == 1:
                    (k, v), = t.items()
                    if k.startswith("$") and isinstance(v, dict):
                        out[name].update(v)
                    elif not k.startswith("$"):
                        out[name].add(k)
    return out
