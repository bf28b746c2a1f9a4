"""Golden scenarios: applicant documents with the verdicts the law gives, stored as data next to the rules.

A scenario file (``rules/scenarios/**/*.toml``)::

    [scenario]
    title = "Indian MBBS graduate, Pathway 1, OET passed, 2026 Match"
    as_of = 2026-01-15
    digest = ["R1.1", "R2.5.1", "R2.6"]      # the digest rules it exercises

    [applicant]                               # an applicant document (contract §3)
    school = { country = "IN", graduated = 2022-06-30 }

    [[expect]]
    conclusion = "img"
    verdict = "yes"                           # yes | no | unknown
    # args = { state = "TX" }, value = ..., confidence = "primary", rules = ["img.school_abroad"],
    # assumptions = ["graduates as expected"]  (each part of some assumption the conclusion lists)

:func:`check` evaluates a scenario with an engine and returns the list of
mismatches (empty when it passes).
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from .errors import RuleError
from .evaluation import Evaluation, evaluate
from .facts import Applicant
from .rulebook import Rulebook, rules_dir

__all__ = ["Expectation", "Scenario", "check", "load_scenario", "scenario_files"]

_UNSET = object()
_EXPECT_KEYS = {"conclusion", "verdict", "args", "value", "confidence", "rules", "note", "assumptions"}


@attrs.frozen
class Expectation:
    conclusion: str
    verdict: str | None = None
    args: dict[str, Any] = attrs.field(factory=dict)
    value: Any = attrs.field(default=None)  # load_scenario sets _UNSET when the file does not check the value
    confidence: str | None = None
    rules: tuple[str, ...] = ()
    note: str = ""
    assumptions: tuple[str, ...] = ()  # each must be part of some assumption the conclusion lists


@attrs.frozen
class Scenario:
    path: str
    title: str
    as_of: _dt.date
    applicant: Applicant
    expects: tuple[Expectation, ...]
    digest: tuple[str, ...] = ()


def scenario_files(root: Path | None = None) -> list[Path]:
    """Every scenario file under ``rules/scenarios``, sorted."""
    base = (root or rules_dir()) / "scenarios"
    return sorted(base.rglob("*.toml"))


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; errors name the file."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise RuleError(f"not valid TOML: {err}", file=str(path)) from None
    meta = doc.get("scenario", {})
    if "as_of" not in meta or not isinstance(meta["as_of"], _dt.date):
        raise RuleError("[scenario] needs as_of = YYYY-MM-DD", file=str(path))
    applicant = Applicant.from_dict(doc.get("applicant", {}), file=str(path))
    expects = []
    for i, raw in enumerate(doc.get("expect", [])):
        extra = set(raw) - _EXPECT_KEYS
        if extra or "conclusion" not in raw:
            raise RuleError(f"expect #{i + 1}: needs 'conclusion'; unknown keys {sorted(extra)}", file=str(path))
        if raw.get("verdict") not in (None, "yes", "no", "unknown"):
            raise RuleError(f"expect #{i + 1}: verdict must be yes, no or unknown", file=str(path))
        value = raw.get("value", _UNSET)
        expects.append(Expectation(raw["conclusion"], raw.get("verdict"), dict(raw.get("args", {})),
                                   tuple(value) if isinstance(value, list) else value,
                                   raw.get("confidence"), tuple(raw.get("rules", ())), raw.get("note", ""),
                                   tuple(raw.get("assumptions", ()))))
    if not expects:
        raise RuleError("a scenario needs at least one [[expect]]", file=str(path))
    return Scenario(str(path), meta.get("title", path.stem), meta["as_of"], applicant, tuple(expects),
                    tuple(meta.get("digest", ())))


def check(scenario: Scenario, *, engine: str = "durable", rulebook: Rulebook | None = None
          ) -> tuple[Evaluation, list[str]]:
    """Evaluate a scenario; return the evaluation and a description of every mismatch."""
    ev = evaluate(scenario.applicant, as_of=scenario.as_of, engine=engine, rulebook=rulebook)
    problems = []
    for e in scenario.expects:
        c = ev.conclusion(e.conclusion, **e.args)
        label = c.label
        if e.verdict is not None and c.verdict.value != e.verdict:
            problems.append(f"{label}: expected {e.verdict}, got {c.verdict.value} (rules {', '.join(c.rules)})")
        if e.value is not _UNSET:
            got = ev.value(e.conclusion, **e.args)
            got = tuple(got) if isinstance(got, list) else got
            want = tuple(sorted(e.value)) if isinstance(e.value, tuple) else e.value
            if isinstance(got, tuple):
                got = tuple(sorted(got))
            if got != want:
                problems.append(f"{label}: expected value {want!r}, got {got!r}")
        if e.confidence is not None and c.confidence != e.confidence:
            problems.append(f"{label}: expected confidence {e.confidence}, got {c.confidence}")
        for rid in e.rules:
            if rid not in c.rules:
                problems.append(f"{label}: expected rule {rid} among {list(c.rules)}")
        for text in e.assumptions:
            if not any(text in a for a in c.assumptions):
                problems.append(f"{label}: expected an assumption containing {text!r} among {list(c.assumptions)}")
    return ev, problems


def iter_scenarios(root: Path | None = None) -> Iterator[Scenario]:
    for path in scenario_files(root):
        yield load_scenario(path)
