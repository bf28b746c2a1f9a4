"""Shared fixtures; hypothesis profiles (select with IMGPATH_PROFILE=ci|dev|thorough).

Coverage from properties: every evaluation made inside a hypothesis test is recorded, and the
terminal summary says which rules those runs proved (fired in the *true* form), which fired only
as *possible*, and which never fired; ``IMGPATH_RULES_REPORT=path.json`` also writes the counts.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("IMGPATH_PROFILE", "ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)

_FIRED: collections.Counter[tuple[str, str]] = collections.Counter()
_EVALUATIONS = collections.Counter[str]()


@pytest.fixture(autouse=True)
def _record_property_firings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Inside hypothesis tests, count each rule's firings (by mode) for the coverage report."""
    fn = getattr(request.node, "function", None)
    if not getattr(fn, "is_hypothesis_test", False) and request.node.get_closest_marker("property") is None:
        yield
        return
    from imgpath.evaluation import Evaluation

    original = Evaluation.__init__

    import imgpath

    default = imgpath.rulebook()

    def recording(self: Any, program: Any, ctx: Any, firings: Any, engine: str, **kw: Any) -> None:
        # a test's own small rulebook says nothing of the shipped rules; lazy firings are not counted
        if program.book is not default or callable(firings):
            original(self, program, ctx, firings, engine, **kw)
            return
        _EVALUATIONS[request.node.nodeid.split("[")[0]] += 1
        for f in firings:
            _FIRED[(f.rule_id, f.mode)] += 1
        original(self, program, ctx, firings, engine, **kw)

    monkeypatch.setattr(Evaluation, "__init__", recording)
    yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIRED:
        return
    import imgpath

    rules = sorted({r.id for r in imgpath.rulebook().rules})
    proved = {rid for (rid, mode) in _FIRED if mode == "T"}
    fired = {rid for (rid, _) in _FIRED}
    never = [r for r in rules if r not in fired]
    only_possible = [r for r in rules if r in fired and r not in proved]
    tr = terminalreporter
    tr.write_sep("-", "rules fired during property runs")
    tr.write_line(f"{sum(_EVALUATIONS.values()):,} evaluations in {len(_EVALUATIONS)} property tests "
                  f"(profile {PROFILE}); {len(proved)}/{len(rules)} rules proved something, "
                  f"{len(fired)}/{len(rules)} fired at all")
    if only_possible:
        tr.write_line("fired only as possible (never proved): " + ", ".join(only_possible))
    if never:
        tr.write_line("never fired: " + ", ".join(never))
    path = os.environ.get("IMGPATH_RULES_REPORT")
    if path:
        report = {"profile": PROFILE, "evaluations": dict(_EVALUATIONS),
                  "rules": {r: {"proved": _FIRED[(r, "T")], "possible": _FIRED[(r, "P")]} for r in rules}}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
        tr.write_line(f"rule firing counts written to {path}")


def replay(doc: dict[str, Any], steps: Any, ev: Any) -> dict[str, Any]:
    """A copy of ``doc`` with each of a plan's ``steps`` applied by the planner's own patcher (the
    plan property tests replay every option this way, independently of ``option.document``)."""
    import copy

    from imgpath.plan import _Action, _apply, _params_of

    out = copy.deepcopy(doc)
    catalog = ev.book.extras["actions"]["actions"]
    for step in steps:
        base = step.id.split("[")[0]
        _apply(out, _Action(base, catalog[base], _params_of(step.id)), ev)
    return out
