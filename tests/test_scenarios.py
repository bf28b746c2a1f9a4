"""Golden scenarios (rules/scenarios): each is evaluated on both engines; fired rules are collected for coverage."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from imgpath.rulebook import rulebook
from imgpath.scenarios import check, load_scenario, scenario_files

FILES = scenario_files()
FIRED: Counter[str] = Counter()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(p.parents[1])) for p in FILES])
@pytest.mark.parametrize("engine", ["durable", "reference"])
def test_scenario(path: Path, engine: str) -> None:
    """The rules give the verdicts the law gives for this scenario."""
    scenario = load_scenario(path)
    ev, problems = check(scenario, engine=engine)
    if engine == "durable":
        book = rulebook()
        FIRED.update({f.rule_id for f in ev.firings
                      if f.mode == "T" or book.rule(f.rule_id).verdict == "unknown"})
    assert not problems, f"{scenario.title} ({path.name}):\n  " + "\n  ".join(problems)


def test_every_rule_fires_in_some_scenario() -> None:
    """Rule coverage: every rule concludes YES in at least one golden scenario."""
    if not FIRED:
        pytest.skip("run together with the scenarios")
    book = rulebook()
    never = sorted(r.id for r in book.rules if r.id not in FIRED)
    report = Path(os.environ.get("IMGPATH_COVERAGE_REPORT", "rule-coverage.json"))
    report.write_text(json.dumps({"fired": dict(sorted(FIRED.items())), "never_fired": never}, indent=1))
    print(f"\nrule coverage: {len(book.rules) - len(never)}/{len(book.rules)} rules fired (report: {report})")
    assert not never, f"{len(never)} rules never fire in the golden scenarios: {never}"
