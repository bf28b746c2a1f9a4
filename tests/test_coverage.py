"""Coverage from properties: the Rete and the reference agree where random documents rarely go.

``applicants()`` seldom produces a certified IMG with a state license in reach, so the rules
behind ``ecfmg_certified``, ``licensable`` and the H-1B conclusions are proved by few of the
differential test's examples (see the "rules fired during property runs" summary). These tests
draw from :func:`imgpath.strategies.facts_for`, which steers generation until the conclusion is
YES, and check the two engines on those applicants. Each example may run a planning search, so
the counts are small: 2 per conclusion in dev and CI, 200 with ``IMGPATH_PROFILE=thorough``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

import imgpath
from imgpath import strategies as ips

_PROFILE = os.environ.get("IMGPATH_PROFILE", "ci" if os.environ.get("CI") else "dev")
EXAMPLES = 200 if _PROFILE == "thorough" else 2

THIN = [("ecfmg_certified", {}), ("licensable", {"state": "TX"}), ("h1b_eligible", {})]


@pytest.mark.property
@pytest.mark.parametrize(("conclusion", "args"), THIN, ids=[c for c, _ in THIN])
def test_engines_agree_where_the_conclusion_holds(conclusion: str, args: dict[str, str]) -> None:
    """For applicants steered to ``conclusion`` = YES, both engines fire the same rules and say YES."""

    @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(ips.facts_for(conclusion, **args))
    def check(doc: imgpath.Applicant) -> None:
        durable = imgpath.evaluate(doc, as_of=doc.as_of)
        reference = imgpath.evaluate(doc, as_of=doc.as_of, engine="reference")
        assert durable.verdict(conclusion, **args) is imgpath.Verdict.YES
        assert {(f.rule_id, f.mode, f.args, f.value, f.row) for f in durable.firings} == \
            {(f.rule_id, f.mode, f.args, f.value, f.row) for f in reference.firings}

    check()
