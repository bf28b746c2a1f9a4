"""The compiler: a rulebook's rules in force on a date, turned into what the engines run.

Named passes, each a function returning its result (as OPA's compiler keeps a list of stages):

================  ==========================================  ========================
pass              does                                        module
================  ==========================================  ========================
load, parse       files → records, conditions → syntax trees  :mod:`imgpath.rulebook.load`
resolve           every name checked; conclusions → ``Ref``   :mod:`imgpath.rulebook.resolve`
select            the rules in force on ``as_of`` (a cone)    :mod:`.ir`
stratify          negation strata                             :mod:`imgpath.rulebook.graph`
lower             atoms, T/P rules, leaves; fused facts      :mod:`.lower`
alpha             shards, fact filters, engine limits         :mod:`.alpha`
closures          each condition → a Python closure           :mod:`.closures`
codegen           all atoms → one generated Python function   :mod:`.codegen`
fused             the fused program the driver runs           :mod:`.fused`
================  ==========================================  ========================

The first four run when a rulebook loads; :func:`program` gives the result of *select* and
*stratify* (what the reference evaluator reads); :func:`fused` the rest (what the durable-rules
driver runs; :func:`lowered` the previous release's form). All are cached with the rulebook.
"""

from __future__ import annotations

from .fused import FusedProgram, fused
from .ir import INF, Firing, Program, encode, program, select
from .lower import Atom, EngineAction, EngineProgram, Leaf, lower, lowered

__all__ = ["INF", "Atom", "EngineAction", "EngineProgram", "Firing", "FusedProgram", "Leaf", "Program", "encode",
           "fused", "lower", "lowered", "program", "select"]
