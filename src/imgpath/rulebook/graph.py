"""The dependency graph of conclusions: what each rule reads, the cone of a goal, strata for negation.

A rule *reads* a conclusion instance positively (``img``) or negated (``not usmle_barred``). The
engine evaluates negation by strata: a rule that reads a conclusion negated runs only once every
rule that could conclude it has run. Deciding UNKNOWN reads every conclusion a rule uses as "not
definitely true", so the rulebook refuses any cycle between conclusions (:func:`check_acyclic`).

>>> from imgpath.rulebook import rulebook
>>> sorted(cone(rulebook().rules, ["match_eligible"]))[:3]
['clinical_skills_met_by_rol', 'communication_met_by_rol', 'ecfmg_certificate_issued']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .. import expressions as ex
from ..errors import RuleError
from .model import Rule

__all__ = ["Instance", "check_acyclic", "cone", "reads", "stratify"]

#: A conclusion instance for stratification: (name, literal args) or (name, "*") for args read from a row.
Instance = tuple[str, Any]


def polarized_refs(node: ex.Node, negated: bool = False) -> Iterator[tuple[ex.Ref, bool]]:
    """The conclusion references of a condition, each with whether it is read under negation."""
    if isinstance(node, ex.Not):
        yield from polarized_refs(node.arg, not negated)
        return
    if isinstance(node, ex.Ref):
        yield node, negated
        return
    if isinstance(node, ex.Cmp) and ex.valued_ref_test(node) is not None and isinstance(node.left, ex.Ref):
        yield node.left, negated
        return
    for child in ex.children(node):
        yield from polarized_refs(child, negated)


def instance(ref: ex.Ref) -> Instance:
    """A reference's conclusion instance: literal args, or '*' when read from a row."""
    if all(isinstance(v, ex.Const) for _, v in ref.args):
        return (ref.name, tuple((k, v.value) for k, v in ref.args))  # type: ignore[attr-defined]
    return (ref.name, "*")


def head(rule: Rule) -> Instance:
    """The instance a rule concludes ('*' for one per row)."""
    if all(isinstance(v, ex.Const) for _, v in rule.args):
        return (rule.conclusion, tuple((k, v.value) for k, v in rule.args))  # type: ignore[attr-defined]
    return (rule.conclusion, "*")


def reads(rule: Rule) -> list[tuple[Instance, bool]]:
    """Every conclusion instance ``rule`` reads, with whether it reads it negated."""
    return [(instance(ref), neg) for cond in rule.when for ref, neg in polarized_refs(cond)]


def cone(rules: Iterable[Rule], goals: Iterable[str]) -> frozenset[str]:
    """The conclusions ``goals`` depend on, transitively (themselves included)."""
    by_conclusion: dict[str, list[Rule]] = defaultdict(list)
    for r in rules:
        by_conclusion[r.conclusion].append(r)
    seen: set[str] = set()
    todo = list(goals)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for rule in by_conclusion.get(name, ()):
            for node in rule.when:
                todo.extend(ex.conclusion_refs(node))
    return frozenset(seen)


def stratify(rules: Sequence[Rule], deps: Mapping[str, Sequence[tuple[Instance, bool]]] | None = None) -> dict[str, int]:
    """Stratum of every rule: at least that of each instance it reads, one more when negated.

    ``deps`` defaults to :func:`reads`. Instances are matched by literal args or '*', so
    ``pathway_eligible(pathway=2)`` may read ``not pathway_eligible(pathway=1)``. A cycle through
    negation is a RuleError naming the rules on it.
    """
    if deps is None:
        deps = {r.id: reads(r) for r in rules}
    heads = {r.id: head(r) for r in rules}
    by_name: dict[str, list[Rule]] = defaultdict(list)
    for r in rules:
        by_name[r.conclusion].append(r)
    stratum = dict.fromkeys(heads, 0)

    def level(inst: Instance) -> int:
        name, key = inst
        return max((stratum[r.id] for r in by_name.get(name, ())
                    if key == "*" or heads[r.id][1] in ("*", key)), default=0)

    for _ in range(len(rules) + 2):
        changed = False
        for rid, ds in deps.items():
            need = max((level(d) + (1 if neg else 0) for d, neg in ds), default=0)
            if need > stratum[rid]:
                stratum[rid] = need
                changed = True
        if not changed:
            return stratum
        if max(stratum.values(), default=0) > len(rules):
            break
    cyclic = sorted(rid for rid in deps if stratum[rid] > len(rules) // 2) or sorted(deps)
    first = next(r for r in rules if r.id == cyclic[0])
    raise RuleError("a cycle through negation: these rules read their own conclusion negated, or read "
                    f"it to decide it is unknown (directly or through others): {', '.join(cyclic[:8])}",
                    file=first.file, rule_id=first.id)


def check_acyclic(rules: Sequence[Rule]) -> None:
    """Raise RuleError if the rules' conclusions depend on themselves (every read counts as negated)."""
    stratify(rules, {r.id: [(inst, True) for inst, _ in reads(r)] for r in rules})
