"""Static checks of a rulebook: what to fix before the rules are trusted.

Loading already rejects malformed files, unknown names (with did-you-mean)
and negation cycles. The linter adds what needs the whole book: sources never
cited, rules resting only on sources weaker than they claim, versions of one
rule whose effective windows overlap, conclusions no rule can reach, table
figures without a source, sources not checked for more than a year, and the
engine's limits on every rule set that is in force on some date.

>>> from imgpath.rulebook import rulebook
>>> [i for i in rulebook().lint() if i.level == "error"]
[]
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from typing import Any

import attrs

from . import expressions as ex
from ._internal import views
from .compiler import lowered, program
from .errors import RuleError
from .horizon import horizon
from .rulebook import LintIssue, Rulebook
from .rulebook.load import hint as _suggest
from .rulebook.model import END_OF_TIME

__all__ = ["STALE_AFTER_DAYS", "Share", "lint_rulebook", "primary_share", "stale_sources"]

#: A source whose ``retrieved`` date is older than this (at the lint's "today") is stale.
STALE_AFTER_DAYS = 365


@attrs.frozen
class Share:
    """How many of a file's rules rest on primary sources (a dated table counts one per step)."""

    file: str
    primary: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.primary / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.file}: {self.primary}/{self.total} primary ({self.percent:.0f} %)"


def primary_share(book: Rulebook) -> list[Share]:
    """Primary rules per file, then the total (decisions: a rule that only ranges over a dated table
    is counted as that table's reached steps, each with its own confidence)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    dated = {t.name: t for t in book.tables.values() if t.dated}
    for rule in book.rules:
        if rule.for_table in dated and not rule.when and rule.value is not None and not isinstance(
                rule.value, ex.Const):
            table = dated[rule.for_table]
            for _, _, series in table.series():
                for step in series.steps:
                    if not step.expected:
                        counts[table.file][0] += step.cell.confidence == "primary"
                        counts[table.file][1] += 1
            continue
        counts[rule.file][0] += rule.confidence == "primary"
        counts[rule.file][1] += 1
    out = [Share(f, p, t) for f, (p, t) in sorted(counts.items())]
    out.append(Share("all rules", sum(s.primary for s in out), sum(s.total for s in out)))
    return out


def stale_sources(book: Rulebook, today: _dt.date | None = None) -> list[tuple[str, _dt.date | None, int | None]]:
    """(source id, last checked, age in days) for every source not checked within a year of ``today``
    (never checked counts as stale), oldest first."""
    today = today or _dt.date.today()
    out = []
    for sid, src in book.sources.items():
        age = (today - src.retrieved).days if src.retrieved else None
        if age is None or age > STALE_AFTER_DAYS:
            out.append((sid, src.retrieved, age))
    return sorted(out, key=lambda x: (x[1] or _dt.date.min, x[0]))


def lint_rulebook(book: Rulebook, *, today: _dt.date | None = None) -> list[LintIssue]:
    """Every problem found, errors first; an empty list means the rulebook is clean."""
    issues: list[LintIssue] = []

    def add(level: str, code: str, message: str, file: str = "", rule_id: str = "") -> None:
        issues.append(LintIssue(level, code, message, file, rule_id))

    used: set[str] = set()
    for rule in book.rules:
        used.update(rule.sources)
        if not rule.sources:
            add("error", "no-source", "every rule needs at least one source", rule.file, rule.id)
        kinds = {book.sources[s].kind for s in rule.sources if s in book.sources}
        if rule.confidence == "primary" and kinds and "primary" not in kinds:
            add("warning", "confidence-above-sources",
                "marked primary but every source is secondary; mark it secondary", rule.file, rule.id)
        if not rule.digest:
            add("warning", "no-digest-reference", "name the digest rules this rule encodes (digest = [...])",
                rule.file, rule.id)
    for spec in book.conclusions.values():
        used.update(spec.sources)
    for d in book.definitions.values():
        used.update(d.sources)
    for table in book.tables.values():
        for key, col, cell in table.cells():
            used.update(cell.sources)
            if not cell.sources and cell.note != "default: absence has this meaning" and (
                    table.columns.get(col) not in ("str",) or col in table.meta.get("dated", ())):
                add("warning", "figure-without-source", f"{table.name}.{key}.{col} cites no source", table.file)
    for extra in book.extras.values():
        used.update(_cited(extra))
    for sid in sorted(set(book.sources) - used):
        add("error", "unused-source", f"source {sid!r} is never cited; cite it or remove it", "rules/sources.toml")

    # versions of one rule must not overlap in time
    groups: dict[str, list] = defaultdict(list)
    for rule in book.rules:
        if rule.group:
            groups[rule.group].append(rule)
    for group, rules in groups.items():
        rules.sort(key=lambda r: r.effective_from)
        for a, b in zip(rules, rules[1:]):
            if b.effective_from <= a.effective_until:
                add("error", "overlapping-versions",
                    f"versions of {group} overlap: {a.id} runs to "
                    f"{'open' if a.effective_until == END_OF_TIME else a.effective_until}, {b.id} starts "
                    f"{b.effective_from}", b.file, b.id)

    # every conclusion reachable
    concluded = {r.conclusion for r in book.rules}
    referenced = {n for r in book.rules for n in _refs(r)}
    for name, spec in book.conclusions.items():
        if name not in concluded and not spec.never_yes:
            add("error", "unreachable-conclusion",
                f"no rule concludes {name}; add one, or mark it never_yes with sources", "rules/conclusions.toml")
        if spec.never_yes and not spec.sources:
            add("error", "no-source", f"{name} is NO by definition but cites no source", "rules/conclusions.toml")
        if spec.internal and name not in referenced:
            add("warning", "unused-internal", f"internal conclusion {name} is read by no rule",
                "rules/conclusions.toml")

    _lint_planning(book, add)
    _lint_horizon(book, add)
    for name in (book.extras.get("display", {}).get("summary") or {}).get("conclusions", ()):
        spec = book.conclusions.get(name)
        if spec is None or spec.args:
            add("error", "unknown-conclusion", f"summary.conclusions names {name!r}, which is not a conclusion "
                "without arguments" + _suggest(str(name), book.conclusions), "rules/data/display.toml")

    # engine limits, on every set of rules in force on some date
    windows = [_dt.date(1999, 1, 1), *book.change_dates()]
    compiled: set[frozenset[str]] = set()
    for day in windows:
        key = frozenset(r.id for r in book.in_force(day))
        if key in compiled:
            continue
        compiled.add(key)
        for fused in (True, False):  # the form evaluate() runs, and the previous one (still selectable)
            form = "" if fused else " (previous engine form)"
            try:
                engine_program = lowered(program(book, day), fused=fused)
            except RuleError as err:
                add("error", "engine-limit", f"rules in force on {day}{form}: {err.problem}", err.file or "",
                    err.rule_id or "")
                continue
            big = {t: len(c) for t, c in engine_program.shards.items() if len(c) > 6}
            for typ, n in big.items():
                add("warning", "many-fact-copies", f"facts of type {typ} are asserted {n} times (rules in force on "
                    f"{day}{form}); simplify the rules testing them")
    if book.law:
        for where, ids, file, rid in [*((r.id, r.digest, r.file, r.id) for r in book.rules),
                                      *((n, s.digest, "rules/conclusions.toml", "") for n, s in book.conclusions.items())]:
            for did in ids:
                if did not in book.law:
                    add("warning", "unknown-digest-id", f"{where} cites {did!r}, which rules/digest.md does not hold"
                        + _suggest(did, book.law), file, rid)
    for sid, checked, age in stale_sources(book, today):
        when = f"last checked {checked}, {age} days ago" if checked else "never checked (no retrieved date)"
        add("warning", "stale-source", f"source {sid!r}: {when}; re-read it and update 'retrieved'",
            "rules/sources.toml")
    issues.sort(key=lambda i: (i.level != "error", i.code, i.file, i.rule_id))
    return issues


def _lint_planning(book: Rulebook, add: Any) -> None:
    """rules/data/actions.toml: goals, advice and the conclusions actions require name real things."""
    spec = book.extras.get("actions", {})
    file = "rules/data/actions.toml"
    names = set(book.conclusions)

    def known(name: Any, where: str) -> None:
        if name not in names:
            add("error", "unknown-conclusion", f"{where} names {name!r}, which is not a conclusion"
                + _suggest(str(name), names), file)

    for aid, action in (spec.get("actions") or {}).items():
        for key in ("requires",):
            if action.get(key):
                known(action[key], f"actions.{aid}.{key}")
        for source in action.get("sources", ()):
            if source not in book.sources:
                add("error", "unknown-source", f"actions.{aid} cites unknown source {source!r}", file)
    advice = spec.get("advice")
    if advice:
        known(advice.get("conclusion"), "advice.conclusion")
        for goal in advice.get("goals", ()):
            known(goal, "advice.goals")
        target = book.conclusions.get(advice.get("conclusion", ""))
        values = set(getattr(target, "values", ()) or ())
        for kind in advice.get("text", {}):
            if values and kind not in values:
                add("error", "unknown-value", f"advice.text.{kind} is not a value of {advice['conclusion']}"
                    + _suggest(kind, values), file)


def _lint_horizon(book: Rulebook, add: Any) -> None:
    """rules/data/horizon.toml (contract §2): no data past the declared last season, a check date no
    older than the newest source, and the season table's declared Match Day default well formed."""
    file = "rules/data/horizon.toml"
    table = book.season_table()
    declared = book.extras.get("horizon")
    if table is not None:
        rule = table.meta.get("default_match_day")
        weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        if rule is not None and not (isinstance(rule, dict) and set(rule) == {"month", "weekday", "nth"}
                                     and rule["month"] in range(1, 13) and rule["weekday"] in weekdays
                                     and rule["nth"] in range(1, 6)):
            add("error", "bad-default-match-day", "default_match_day is { month = 1-12, weekday = 'friday', "
                f"nth = 1-5 }}, got {rule!r}", table.file)
    if declared is None:
        if table is not None:
            add("warning", "no-horizon", "the rulebook has a season table but declares no horizon "
                "(rules/data/horizon.toml: last_season, checked)", file)
        return
    h = horizon(book)
    last = h.last_season
    if last is not None:
        seasons = set(table.rows) if table is not None else set()
        seasons |= {int(k) for k in (book.extras.get("calendar", {}).get("seasons") or {}) if str(k).isdigit()}
        for season in sorted(x for x in seasons if x > last):
            add("error", "data-beyond-horizon", f"season {season} has data but the horizon's last_season is "
                f"{last}; raise last_season (and re-check the sources) or remove the data", file)
    for key in declared.get("unpublished") or {}:
        if not str(key).isdigit() or (last is not None and int(key) <= last):
            add("error", "bad-unpublished-season", f"unpublished.{key}: a season after last_season ({last})", file)
    newest = max((src.retrieved for src in book.sources.values() if src.retrieved is not None), default=None)
    if h.checked is None:
        add("error", "no-check-date", "the horizon needs checked = DATE (when the rulebook was last checked)", file)
    elif newest is not None and h.checked < newest:
        add("error", "horizon-older-than-sources", f"checked = {h.checked} is older than the newest source "
            f"retrieved ({newest}); re-check the rulebook as a whole and move the date", file)
    column = (declared.get("season_deadline") or {}).get("column")
    if column and (table is None or column not in table.columns):
        add("error", "unknown-column", f"season_deadline.column {column!r} is not a column of the season table",
            file)


def _refs(rule: object) -> set[str]:
    out: set[str] = set()
    for node in rule.when:  # type: ignore[attr-defined]
        out |= ex.conclusion_refs(node)
    return out


def _cited(doc: object) -> set[str]:
    """Source ids cited anywhere in an extra data file (``sources = [...]`` lists)."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "sources" and isinstance(v, list):
                found.update(x for x in v if isinstance(x, str))
            else:
                found |= _cited(v)
    elif isinstance(doc, list):
        for v in doc:
            found |= _cited(v)
    return found


views.provide("lint", lint_rulebook)
