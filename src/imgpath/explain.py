"""Explanations: ``why`` a conclusion holds and ``why_not`` — each condition judged, each fact named.

``why`` returns the minimal derivation tree: for each node the rule (id,
title, effective window, confidence), the conditions with the facts they read
(field path and the applicant's value), the sub-conclusions it rested on and
its sources. ``why_not`` lists every rule that could conclude it, with each
condition three-valued: holds, fails (the value vs what the rule needs) or
unknown (the field paths that are missing), and the facts that would decide an
UNKNOWN. Both render as text (``str``), JSON (``to_dict``, format
``imgpath.explanation/1`` and ``imgpath.why_not/1``) and HTML.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Any

import attrs

from . import expressions as ex
from ._internal import views
from ._internal.judge import Condition, FactUse, Judge, Key, instances, label, plain, show
from .compiler import encode
from .evaluation import Evaluation
from .rulebook import Confidence, Rule, weakest

__all__ = ["Condition", "Derivation", "Explanation", "FactUse", "RuleCheck", "WhyNot", "applies", "closest", "reason",
           "shorten", "why", "why_not"]



def _rule_info(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "title": rule.title, "confidence": rule.confidence.value,
            "effective": rule.window.to_dict(), "file": rule.file}


@attrs.frozen
class Derivation:
    """A node of a ``why`` tree: a conclusion, the rule that gave it, its conditions and premises."""

    label: str
    verdict: str
    value: Any
    rule: Rule | None
    conditions: tuple[Condition, ...]
    premises: tuple[Derivation, ...]
    sources: tuple[tuple[str, str], ...]  # (title, url)
    confidence: Confidence = attrs.field(converter=Confidence)
    assumptions: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "conclusion": self.label,
            "verdict": self.verdict,
            "value": plain(self.value),
            "rule": _rule_info(self.rule) if self.rule else None,
            "confidence": self.confidence.value,
            "conditions": [c.to_dict() for c in self.conditions],
            "premises": [p.to_dict() for p in self.premises],
            "sources": [{"title": t, "url": u} for t, u in self.sources],
            "assumptions": list(self.assumptions),
            **({"note": self.note} if self.note else {}),
        }

    def lines(self, indent: str = "") -> Iterator[str]:
        value = f" = {show(self.value)}" if self.value is not None else ""
        yield f"{indent}{self.label}: {self.verdict.upper()}{value}  [{self.confidence}]"
        pad = indent + "  "
        if self.note:
            yield f"{pad}{self.note}"
        if self.rule is not None:
            yield f"{pad}rule {self.rule.id}: {self.rule.title} ({self.rule.window.text})"
        for c in self.conditions:
            yield f"{pad}{c.line()}"
            if c.expansion():
                yield f"{pad}    {c.expansion()}"
        for a in self.assumptions:
            yield f"{pad}assumed: {a}"
        for title, url in self.sources:
            yield f"{pad}source: {title} <{url}>"
        for p in self.premises:
            yield from p.lines(pad + "  ")

    def walk(self) -> Iterator[Derivation]:
        yield self
        for p in self.premises:
            yield from p.walk()


class Explanation:
    """The ``why`` of a conclusion: a :class:`Derivation` tree with renderings."""

    def __init__(self, root: Derivation, as_of: _dt.date, season: int) -> None:
        self.root = root
        self.as_of = as_of
        self.season = season

    @property
    def rules(self) -> list[str]:
        """The ids of the rules the derivation used, each once, from the root down."""
        return list(dict.fromkeys(d.rule.id for d in self.root.walk() if d.rule is not None))

    def facts(self) -> list[FactUse]:
        """Every fact the derivation read (the premises of the tree)."""
        seen: dict[str, FactUse] = {}
        for d in self.root.walk():
            for c in d.conditions:
                for f in c.facts:
                    seen.setdefault(f.path, f)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.explanation/1", "as_of": self.as_of.isoformat(), "season": self.season,
                "derivation": self.root.to_dict()}

    def __str__(self) -> str:
        head = f"why {self.root.label} (as of {self.as_of}, Match season {self.season})"
        return "\n".join([head, *self.root.lines("  ")])

    def __repr__(self) -> str:
        return f"<Explanation {self.root.label}: {self.root.verdict} via {', '.join(self.rules[:3])}>"

    def _repr_html_(self) -> str:
        return views.html(self)

    def html(self) -> str:
        return self._repr_html_()


@attrs.frozen
class RuleCheck:
    """One candidate rule in a ``why_not``: how each of its conditions came out."""

    rule: Rule
    status: str  # holds | fails | unknown | not_in_force
    conditions: tuple[Condition, ...]
    row: Any = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": _rule_info(self.rule), "status": self.status, "row": self.row,
                "conditions": [c.to_dict() for c in self.conditions], **({"reason": self.reason} if self.reason else {})}


class WhyNot:
    """The ``why_not`` of a NO or UNKNOWN conclusion: every candidate rule, judged condition by condition."""

    def __init__(self, label: str, verdict: str, checks: list[RuleCheck], as_of: _dt.date, season: int,
                 note: str = "", premises: tuple[WhyNot, ...] = ()) -> None:
        self.label = label
        self.verdict = verdict
        self.checks = checks
        self.as_of = as_of
        self.season = season
        self.note = note
        self.premises = premises  # the why_not of each UNKNOWN conclusion an unknown condition rests on

    @property
    def missing(self) -> list[str]:
        """Field paths whose values would decide an UNKNOWN (from rules that could still hold), including
        those of the UNKNOWN conclusions it rests on."""
        out: dict[str, None] = {}
        for check in self.checks:
            if check.status == "unknown":
                for c in check.conditions:
                    if c.status == "unknown":
                        out.update(dict.fromkeys(c.missing))
        for sub in self.premises:
            out.update(dict.fromkeys(sub.missing))
        return list(out)

    @property
    def missing_parameters(self) -> list[str]:
        """Table figures (``states.NE.img_gme_years``) nobody sourced that an UNKNOWN rests on, directly
        or through an UNKNOWN premise."""
        out: dict[str, None] = {}
        for check in self.checks:
            if check.status == "unknown":
                for c in check.conditions:
                    if c.status == "unknown":
                        out.update(dict.fromkeys(n for n, _, conf in c.params if conf == "missing"))
        for sub in self.premises:
            out.update(dict.fromkeys(sub.missing_parameters))
        return list(out)

    @property
    def decided_by(self) -> list[str]:
        """What would decide it, in words: the missing field paths, then ``figure <table.row.column>``
        for each unsourced figure."""
        return [*self.missing, *(f"figure {n}" for n in self.missing_parameters)]

    def failed(self) -> list[tuple[str, Condition]]:
        """(rule id, condition) for every condition that fails on known facts."""
        return [(ch.rule.id, c) for ch in self.checks for c in ch.conditions if c.status == "fails"]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.why_not/1", "conclusion": self.label, "verdict": self.verdict,
                "as_of": self.as_of.isoformat(), "season": self.season,
                "rules": [c.to_dict() for c in self.checks], "missing": self.missing,
                "missing_parameters": self.missing_parameters,
                "rests_on": [{"conclusion": p.label, "missing": p.missing,
                              "missing_parameters": p.missing_parameters} for p in self.premises],
                **({"note": self.note} if self.note else {})}

    def __str__(self) -> str:
        lines = [f"why not {self.label}: {self.verdict.upper()} (as of {self.as_of}, Match season {self.season})"]
        if self.note:
            lines.append(f"  {self.note}")
        for ch in self.checks:
            where = f" [{ch.row}]" if ch.row is not None else ""
            lines.append(f"  rule {ch.rule.id}{where}: {ch.status.replace('_', ' ')} — {ch.rule.title}")
            if ch.reason:
                lines.append(f"    {ch.reason}")
            for c in ch.conditions:
                lines.append(f"    {c.line()}")
                if c.expansion():
                    lines.append(f"        {c.expansion()}")
        if self.premises:
            lines.append("  rests on UNKNOWN: " + ", ".join(p.label for p in self.premises))
        if self.decided_by:
            lines.append("  would be decided by: " + ", ".join(self.decided_by))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<WhyNot {self.label}: {self.verdict}, {len(self.checks)} rules, missing {self.missing[:4]}>"

    def _repr_html_(self) -> str:
        return views.html(self)

    def html(self) -> str:
        return self._repr_html_()


# --------------------------------------------------------------------------- building


def why(ev: Evaluation, key: Key) -> Explanation:
    """The minimal derivation of a YES (or a reached UNKNOWN) conclusion; raises for a NO one."""
    c = ev.at(key)
    if c.verdict.value == "no":
        raise ValueError(f"{label(*key)} is NO: nothing derives it, so there is no 'why'; "
                         f"use why_not({key[0]!r}, ...) to see what failed")
    judge = Judge(ev)
    root = _derive(ev, judge, key, frozenset(), {})
    return Explanation(root, ev.as_of, ev.season)


def _derive(ev: Evaluation, judge: Judge, key: Key, visiting: frozenset[Key],
            memo: dict[Key, Derivation]) -> Derivation:
    if key in memo:
        return memo[key]
    conclusion = ev.at(key)
    firings = ev.firings_of(key)
    mode = "T" if any(f.mode == "T" for f in firings) else "P"
    candidates = [f for f in firings if f.mode == mode]
    if not candidates:
        node = Derivation(label(*key), conclusion.verdict.value, conclusion.value, None, (), (),
                          tuple((s.title, s.url) for s in conclusion.sources), conclusion.confidence,
                          conclusion.assumptions, note="no rule concluded it")
        memo[key] = node
        return node
    best: Derivation | None = None
    for f in sorted(candidates, key=lambda f: ev.book.order[f.rule_id]):
        rule = ev.book.rule(f.rule_id)
        conds = tuple(judge.condition(n, t, rule, f.row) for n, t in zip(rule.when, rule.when_text, strict=True))
        premises = []
        for dep in instances(rule, f.row, judge, False):
            if dep in visiting or dep == key:
                continue
            premises.append(_derive(ev, judge, dep, visiting | {key}, memo))
        for dep in instances(rule, f.row, judge, True):
            sub = ev.at(dep)
            premises.append(Derivation(label(*dep), sub.verdict.value, sub.value, None, (), (),
                                       tuple((s.title, s.url) for s in sub.sources), sub.confidence,
                                       note="read negated: this rule needs it not to hold"))
        sources = [(ev.book.sources[s].title, ev.book.sources[s].url) for s in rule.sources]
        levels = [rule.confidence, *(p.confidence for p in premises)]
        for c in conds:
            for name, _, conf in c.params:
                if conf != "missing":
                    levels.append(conf)
                table, rowkey, col = name.split(".", 2)
                view = ev.context.table(table)
                cell = view.cell(int(rowkey) if view.key_type == "int" else rowkey, col)
                if cell is not None:
                    sources.extend((ev.book.sources[s].title, ev.book.sources[s].url) for s in cell.sources)
        node = Derivation(label(*key), conclusion.verdict.value,
                          f.value if conclusion.kind == "value" else conclusion.value,
                          rule, conds, tuple(premises), tuple(dict.fromkeys(sources)), weakest(levels),
                          tuple(dict.fromkeys([*rule.assumptions, *ev.context.planned_assumptions(rule.when),
                                               *(a for p in premises for a in p.assumptions)])),
                          note="" if mode == "T" else "could hold: some conditions depend on missing facts")
        if best is None or (node.confidence, -_height(node)) > (best.confidence, -_height(best)):
            best = node
    assert best is not None
    memo[key] = best
    return best


def _height(d: Derivation) -> int:
    return 1 + max((_height(p) for p in d.premises), default=0)


def why_not(ev: Evaluation, key: Key, _seen: frozenset[Key] = frozenset()) -> WhyNot:
    """Every rule that could conclude ``key``, each condition judged; raises for a YES conclusion.

    An UNKNOWN also carries the why_not of each UNKNOWN conclusion its unknown conditions rest on, so
    ``missing`` names the facts that would decide it however deep they sit.
    """
    c = ev.at(key)
    if c.verdict.value == "yes":
        raise ValueError(f"{label(*key)} is YES; use why({key[0]!r}, ...) to see its derivation")
    judge = Judge(ev)
    name, args = key
    checks: list[RuleCheck] = []
    unknown_nodes: list[tuple[Rule, Any, ex.Node]] = []
    arg_values = dict(args)
    for rule in ev.book.rules_for(name):
        row = None
        if rule.for_var:
            table = ev.book.tables[rule.for_table]  # type: ignore[index]
            row = next((v for k, v in args if ev.book.conclusions[name].args.get(k) == table.name), None)
        elif any(not isinstance(v, ex.Const) or arg_values.get(k) != encode(v.value) for k, v in rule.args):
            continue  # a rule for another instance
        if not rule.in_force(ev.as_of):
            checks.append(RuleCheck(rule, "not_in_force", (), row, f"{rule.window.text}, not on {ev.as_of}"))
            continue
        pairs = _conditions(rule)
        conds = tuple(judge.condition(n, t, rule, row) for n, t in pairs)
        unknown_nodes.extend((rule, row, n) for (n, _), cd in zip(pairs, conds, strict=True)
                             if cd.status == "unknown" and not any(x.status == "fails" for x in conds))
        statuses = {cd.status for cd in conds}
        status = "fails" if "fails" in statuses else ("unknown" if "unknown" in statuses else "holds")
        reason = ""
        if rule.verdict == "unknown" and status == "holds":
            status, reason = "unknown", "the sources conflict: this rule makes the conclusion at most unknown"
        checks.append(RuleCheck(rule, status, conds, row, reason))
    note = c.note
    spec = ev.book.conclusions[name]
    if not checks and spec.never_yes:
        note = "no rule can conclude it: it is NO by definition"
    premises: dict[Key, WhyNot] = {}
    seen = _seen | {key}
    for rule, row, node in unknown_nodes:
        for sub in instances(rule, row, judge, None, [node]):
            if sub not in seen and sub not in premises and ev.at(sub).verdict.value == "unknown":
                premises[sub] = why_not(ev, sub, seen)
    return WhyNot(label(*key), c.verdict.value, checks, ev.as_of, ev.season, note, tuple(premises.values()))


def _conditions(rule: Rule) -> list[tuple[ex.Node, str]]:
    """A rule's conditions, plus the implicit one of a valued rule: its value must be known."""
    conds = rule.conditions()
    return [*zip(rule.when, rule.when_text, strict=True), *((n, ex.render(n)) for n in conds[len(rule.when):])]


def applies(judge: Judge, rule: Rule, row: Any) -> bool:
    """Whether a rule is for this applicant: none of its ``applies_to`` conditions fails (contract §6.10)."""
    return all(judge.condition(n, t, rule, row).status != "fails"
               for n, t in zip(rule.applies_to, rule.applies_to_text, strict=True))


def closest(ev: Evaluation, wn: WhyNot) -> tuple[RuleCheck, Condition] | None:
    """The failing candidate rule of a NO that came closest among those that apply to this applicant
    (fewest failing conditions, then file order), with its first failing condition; None without one.

    A rule whose ``applies_to`` fails (a U.S.-graduate rule for an IMG) is passed over while any
    other candidate applies.
    """
    failing = [ch for ch in wn.checks if ch.status == "fails"]
    if not failing:
        return None
    judge = Judge(ev)
    pool = [ch for ch in failing if applies(judge, ch.rule, ch.row)] or failing
    best = min(pool, key=lambda ch: (sum(c.status == "fails" for c in ch.conditions), ev.book.order[ch.rule.id]))
    return best, next(c for c in best.conditions if c.status == "fails")


def shorten(text: str, width: int = 80) -> str:
    """A condition shown whole when it fits in ``width``, else cut between words with an ellipsis,
    its open brackets closed after it.

    >>> shorten("count(e in exams, e.exam == 'step1' and e.result != 'pass') >= 4")
    "count(e in exams, e.exam == 'step1' and e.result != 'pass') >= 4"
    >>> shorten("any(l in licenses, l.kind == 'full' and l.unrestricted and l.good_standing and l.issued >= x)", 50)
    "any(l in licenses, l.kind == 'full' and …)"
    """
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    kept = ""
    for word in text.split(" "):
        if len(kept) + len(word) + 1 > width - 4 and kept:
            break
        kept = f"{kept} {word}" if kept else word
    closers = []
    quote = ""
    for ch in kept:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            closers.append(")" if ch == "(" else "]")
        elif ch in ")]" and closers:
            closers.pop()
    return f"{kept} …{''.join(reversed(closers))}"


def reason(ev: Evaluation, key: Key) -> str:
    """The one-line reason of a conclusion (contract §6.10; CLI ``check``, ``Conclusion.reason``).

    YES: the title of the rule that gave it. NO: the title of the closest candidate rule that applies
    to this applicant (:func:`closest`) and the condition it fails, whole or shortened with "…".
    UNKNOWN: the facts or figures that would decide it, or that the sources conflict.
    """
    c = ev.at(key)
    if c.verdict.value == "yes":
        return ev.book.rule(c.rules[0]).title if c.rules else ""
    wn = why_not(ev, key)
    if c.verdict.value == "unknown":
        if wn.decided_by:
            shown = wn.decided_by[:4]
            return "missing: " + ", ".join(shown) + (", …" if len(wn.decided_by) > 4 else "")
        if any(ch.reason for ch in wn.checks if ch.status == "unknown"):
            return "the sources conflict"
        return c.note or "depends on conclusions that are unknown"
    found = closest(ev, wn)
    if found is None:
        return wn.note or "no rule concludes it for these arguments"
    check, condition = found
    return f"{check.rule.title} — not met: {_failure_chain(ev, check, condition)}"


def _failure_chain(ev: Evaluation, check: RuleCheck, condition: Condition, depth: int = 0,
                   seen: frozenset[Key] = frozenset()) -> str:
    """The failing condition (of a conjunction, the part that fails); when it only names a conclusion
    that is NO, followed down to the fact that decides it (``ecfmg_certificate_valid_at_start ← … ←
    present(ecfmg.certified)``)."""
    index = check.conditions.index(condition)
    node = _conditions(check.rule)[index][0]
    judge = Judge(ev)
    text = condition.text
    while isinstance(node, ex.And):  # of a conjunction, the part that fails
        part = next((a for a in node.args
                     if judge.condition(a, ex.render(a), check.rule, check.row).status == "fails"), None)
        if part is None:
            break
        node, text = part, ex.render(part)
    text = shorten(text)
    if not isinstance(node, ex.Ref) or depth >= 6:
        return text
    deps = instances(check.rule, check.row, judge, False, [node])
    if len(deps) != 1 or deps[0] in seen or ev.at(deps[0]).verdict.value != "no":
        return text
    found = closest(ev, why_not(ev, deps[0]))
    if found is None:
        return text
    below = _failure_chain(ev, *found, depth=depth + 1, seen=seen | {deps[0]})
    if depth == 0:
        leaf = below.rsplit(" ← ", 1)[-1]
        return f"{text} ← {leaf}" if below == leaf else f"{text} ← … ← {leaf}"
    return f"{text} ← {below}"


views.provide("why", why)
views.provide("why_not", why_not)
views.provide("reason", reason)
