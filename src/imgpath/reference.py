"""The reference evaluator: an obviously-correct, pure-Python fixpoint over the same compiled program.

It is the oracle the durable-rules path is tested against. Strata are taken
in order; within one, every rule is evaluated for every binding with
Kleene's three-valued logic until nothing changes. A rule that is true fires
in modes T and P, one that is unknown in mode P only — exactly the firings the
Rete path records.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from . import expressions as ex
from .compiler.ir import Firing, Program, encode
from .context import Context, RowRef

__all__ = ["run"]

Key = tuple[str, tuple[tuple[str, Any], ...]]


def run(program: Program, ctx: Context) -> list[Firing]:
    """Evaluate ``ctx`` with ``program``; returns the firings in a canonical order."""
    # per conclusion instance: per value (None for yes/no conclusions) the best truth so far
    known: dict[Key, dict[Any, ex.K]] = defaultdict(dict)
    results: dict[tuple[str, Any], tuple[ex.K, Key, Any]] = {}

    def conclusion(ref: ex.Ref, env: ex.Env, values: tuple[Any, ...] | None) -> ex.K:
        args = tuple((k, encode(ex.value(v, env))) for k, v in ref.args)
        seen = known.get((ref.name, args), {})
        if values is None:
            return max(seen.values(), default=ex.K.F)
        wanted = {encode(v) for v in values}
        return max((k for v, k in seen.items() if v in wanted), default=ex.K.F)

    strata = sorted({program.strata[r.id] for r in program.rules})
    for stratum in strata:
        rules = [r for r in program.rules if program.strata[r.id] == stratum]
        changed = True
        while changed:
            changed = False
            for rule in rules:
                bindings: tuple[Any, ...] = (None,)
                if rule.for_table:
                    table = ctx.table(rule.for_table)
                    bindings = tuple(RowRef(table, k) for k in ctx.rows(rule.for_table))
                for binding in bindings:
                    variables = {rule.for_var: binding} if binding is not None else {}
                    env = ex.Env(as_of=ctx.as_of, lookup=ctx.lookup, conclusion=conclusion, variables=variables)
                    k = ex.K.T
                    for cond in rule.when:
                        k = min(k, ex.truth(cond, env))
                        if k is ex.K.F:
                            break
                    value: Any = None
                    if rule.value is not None and k is not ex.K.F:
                        v = ex.value(rule.value, env)
                        if v is ex.NONE:
                            k = ex.K.F
                        elif v is ex.UNKNOWN:
                            k = min(k, ex.K.U)
                        else:
                            value = encode(v)
                    if rule.verdict == "unknown":
                        k = min(k, ex.K.U)
                    args = tuple((name, encode(ex.value(node, env))) for name, node in rule.args)
                    slot = (rule.id, binding.key if binding is not None else None)
                    previous = results.get(slot)
                    if previous is not None and previous[0] >= k:
                        continue
                    results[slot] = (k, (rule.conclusion, args), value)
                    if k is not ex.K.F:
                        per_value = known[(rule.conclusion, args)]
                        if per_value.get(value, ex.K.F) < k:
                            per_value[value] = k
                        changed = True
    firings: list[Firing] = []
    for (rule_id, row), (k, (name, args), value) in results.items():
        if k is ex.K.T:
            firings.append(Firing(rule_id, "T", name, args, value, row))
        if k is not ex.K.F:
            firings.append(Firing(rule_id, "P", name, args, value, row))
    return firings
