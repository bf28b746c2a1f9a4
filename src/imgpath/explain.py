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
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from . import expressions as ex
from .compiler import encode
from .context import RowRef
from .rulebook import BEGINNING, END_OF_TIME, Rule, weakest

if TYPE_CHECKING:
    from .evaluation import Evaluation

__all__ = ["Condition", "Derivation", "Explanation", "FactUse", "RuleCheck", "WhyNot", "why", "why_not"]

Key = tuple[str, tuple[tuple[str, Any], ...]]
_MARK = {"holds": "✔", "fails": "✘", "unknown": "?"}
_MISSES = 8  # entries of a false 'any' shown under a failing condition


@attrs.frozen
class FactUse:
    """One fact a condition read: its field path, the applicant's value, and whether it is known."""

    path: str
    value: Any
    status: str  # known | none | unknown

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": _plain(self.value), "status": self.status}

    def __str__(self) -> str:
        if self.status == "unknown":
            return f"{self.path} is missing"
        if self.status == "none":
            return f"{self.path}: none"
        return f"{self.path} = {_show(self.value)}"


@attrs.frozen
class Condition:
    """A condition of a rule, judged three-valued on the applicant's facts."""

    text: str
    status: str  # holds | fails | unknown
    facts: tuple[FactUse, ...] = ()
    params: tuple[tuple[str, Any, str], ...] = ()  # (table.row.column, value, confidence)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.facts if f.status == "unknown")

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.text, "status": self.status, "facts": [f.to_dict() for f in self.facts],
                "parameters": [{"name": n, "value": _plain(v), "confidence": c} for n, v, c in self.params],
                "missing": list(self.missing)}

    def line(self) -> str:
        facts = "; ".join(str(f) for f in self.facts[:6]) + ("; ..." if len(self.facts) > 6 else "")
        params = "; ".join(f"{n} = {_show(v)} ({c})" for n, v, c in self.params)
        extra = " | ".join(p for p in (facts, params) if p)
        return f"{_MARK[self.status]} {self.text}" + (f"    [{extra}]" if extra else "")


def _window(rule: Rule) -> str:
    """'in force from 2021-07-01 until 2026-09-21', or 'long-standing' for rules with no start date."""
    start = "long-standing" if rule.effective_from == BEGINNING else f"in force from {rule.effective_from}"
    return start + ("" if rule.effective_until == END_OF_TIME else f" until {rule.effective_until}")


def _rule_info(rule: Rule) -> dict[str, Any]:
    until = None if rule.effective_until == END_OF_TIME else rule.effective_until.isoformat()
    return {"id": rule.id, "title": rule.title, "confidence": rule.confidence,
            "effective": {"from": rule.effective_from.isoformat(), "until": until}, "file": rule.file}


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
    confidence: str
    assumptions: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "conclusion": self.label,
            "verdict": self.verdict,
            "value": _plain(self.value),
            "rule": _rule_info(self.rule) if self.rule else None,
            "confidence": self.confidence,
            "conditions": [c.to_dict() for c in self.conditions],
            "premises": [p.to_dict() for p in self.premises],
            "sources": [{"title": t, "url": u} for t, u in self.sources],
            "assumptions": list(self.assumptions),
            **({"note": self.note} if self.note else {}),
        }

    def lines(self, indent: str = "") -> Iterator[str]:
        value = f" = {_show(self.value)}" if self.value is not None else ""
        yield f"{indent}{self.label}: {self.verdict.upper()}{value}  [{self.confidence}]"
        pad = indent + "  "
        if self.note:
            yield f"{pad}{self.note}"
        if self.rule is not None:
            yield f"{pad}rule {self.rule.id}: {self.rule.title} ({_window(self.rule)})"
        for c in self.conditions:
            yield f"{pad}{c.line()}"
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
        from .render import explanation_html

        return explanation_html(self)

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
        if self.premises:
            lines.append("  rests on UNKNOWN: " + ", ".join(p.label for p in self.premises))
        if self.decided_by:
            lines.append("  would be decided by: " + ", ".join(self.decided_by))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<WhyNot {self.label}: {self.verdict}, {len(self.checks)} rules, missing {self.missing[:4]}>"

    def _repr_html_(self) -> str:
        from .render import why_not_html

        return why_not_html(self)

    def html(self) -> str:
        return self._repr_html_()


# --------------------------------------------------------------------------- building


class _Judge:
    """Evaluates a rule's conditions like the reference does, collecting the facts they read."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev
        self.ctx = ev.context
        self.book = ev.book

    def conclusion_truth(self, ref: ex.Ref, env: ex.Env, values: tuple[Any, ...] | None) -> ex.K:
        args = tuple((k, encode(ex.value(v, env))) for k, v in ref.args)
        firings = self.ev._by_key.get((ref.name, tuple(sorted(args))), [])
        wanted = None if values is None else {encode(v) for v in values}
        best = ex.K.F
        for f in firings:
            if wanted is not None and f.value not in wanted:
                continue
            best = max(best, ex.K.T if f.mode == "T" else ex.K.U)
        return best

    def env(self, rule: Rule, row: Any) -> ex.Env:
        variables = {}
        if rule.for_var and row is not None:
            variables[rule.for_var] = RowRef(self.book.tables[rule.for_table], row)  # type: ignore[index]
        return ex.Env(as_of=self.ctx.as_of, lookup=self.ctx.lookup, conclusion=self.conclusion_truth,
                      variables=variables)

    def condition(self, node: ex.Node, text: str, rule: Rule, row: Any) -> Condition:
        env = self.env(rule, row)
        k = ex.truth(node, env)
        status = {ex.K.T: "holds", ex.K.F: "fails", ex.K.U: "unknown"}[k]
        facts: dict[str, FactUse] = {}
        params: dict[str, tuple[str, Any, str]] = {}
        # a failing condition also shows the entries a false 'any' looked at (what is there instead)
        self._collect(node, env, rule, row, facts, params, {}, misses=k is ex.K.F)
        return Condition(" ".join(text.split()), status, tuple(facts.values()), tuple(params.values()))

    def _collect(self, node: ex.Node, env: ex.Env, rule: Rule, row: Any, facts: dict[str, FactUse],
                 params: dict[str, tuple[str, Any, str]], elems: dict[str, str], misses: bool = False) -> None:
        if isinstance(node, (ex.And, ex.Or)):
            # only the parts that decided it: the first false part of a false 'and', the first true
            # part of a true 'or'; otherwise every part
            decisive = ex.K.F if isinstance(node, ex.And) else ex.K.T
            parts = node.args
            if ex.truth(node, env) is decisive:
                parts = tuple(a for a in node.args if ex.truth(a, env) is decisive)[:1]
            for a in parts:
                self._collect(a, env, rule, row, facts, params, elems, misses)
            return
        if isinstance(node, ex.Quant):
            items = ex.value(node.source, env)
            section = node.source.root
            if items is ex.UNKNOWN:
                facts[section] = FactUse(section, None, "unknown")
                return
            indices = self.ctx.original_indices(section)
            whole = ex.truth(node, env) if node.fn in ("any", "all") else None
            for i, item in enumerate(items or ()):
                sub = env.bind(node.var, item)
                label = f"{section}[{indices[i] if i < len(indices) else i}]"
                k = ex.truth(node.pred, sub)
                if k is ex.K.F and node.fn != "all" and not (misses and whole is ex.K.F and i < _MISSES):
                    continue
                if node.fn == "all" and whole is ex.K.F and k is not ex.K.F:
                    continue  # a false 'all' is decided by the entries that fail
                self._collect(node.pred, sub, rule, row, facts, params, {**elems, node.var: label}, misses)
                for e in node.extra:
                    self._collect(e, sub, rule, row, facts, params, {**elems, node.var: label}, misses)
                if whole is ex.K.T and k is ex.K.T and node.fn == "any":
                    break  # one entry decides a true 'any'
            if not items:
                facts[section] = FactUse(section, [], "known")
            return
        if isinstance(node, ex.Field):
            root = node.root
            if root in elems:
                path = elems[root] + "".join(f".{p}" for p in node.path)
            elif rule.for_var and root == rule.for_var:
                table = self.book.tables[rule.for_table]  # type: ignore[index]
                col = node.path[0]
                if col != table.key:
                    cell = table.cell(row, col)
                    params[f"{table.name}.{row}.{col}"] = (f"{table.name}.{row}.{col}",
                                                          None if cell is None else cell.value,
                                                          "missing" if cell is None else cell.confidence)
                return
            elif self.ctx.season_table is not None and root == self.ctx.season_table.bind:
                col = node.path[0]
                if col != self.ctx.season_table.key:
                    cell = self.ctx.season_row.get(col)
                    params[f"seasons.{self.ctx.season}.{col}"] = (
                        f"seasons.{self.ctx.season}.{col}", None if cell is None else cell.value,
                        "missing" if cell is None else cell.confidence)
                return
            elif root == "as_of":
                return
            else:
                path = node.dotted
            value = ex.value(node, env)
            status = "unknown" if value is ex.UNKNOWN else ("none" if value is ex.NONE else "known")
            facts.setdefault(path, FactUse(path, None if status != "known" else value, status))
            return
        for child in ex.children(node):
            self._collect(child, env, rule, row, facts, params, elems, misses)


def _label(name: str, args: tuple[tuple[str, Any], ...]) -> str:
    if not args:
        return name
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args) + ")"


def why(ev: Evaluation, key: Key) -> Explanation:
    """The minimal derivation of a YES (or a reached UNKNOWN) conclusion; raises for a NO one."""
    c = ev._conclude(key)
    if c.verdict.value == "no":
        raise ValueError(f"{_label(*key)} is NO: nothing derives it, so there is no 'why'; "
                         f"use why_not({key[0]!r}, ...) to see what failed")
    judge = _Judge(ev)
    root = _derive(ev, judge, key, frozenset(), {})
    return Explanation(root, ev.as_of, ev.season)


def _derive(ev: Evaluation, judge: _Judge, key: Key, visiting: frozenset[Key],
            memo: dict[Key, Derivation]) -> Derivation:
    if key in memo:
        return memo[key]
    conclusion = ev._conclude(key)
    firings = ev._by_key.get(key, [])
    mode = "T" if any(f.mode == "T" for f in firings) else "P"
    candidates = [f for f in firings if f.mode == mode]
    if not candidates:
        node = Derivation(_label(*key), conclusion.verdict.value, conclusion.value, None, (), (),
                          tuple((s.title, s.url) for s in conclusion.sources), conclusion.confidence,
                          conclusion.assumptions, note="no rule concluded it")
        memo[key] = node
        return node
    best: Derivation | None = None
    rank = ("unconfirmed", "secondary", "primary")
    for f in sorted(candidates, key=lambda f: ev.book.order[f.rule_id]):
        rule = ev.book.rule(f.rule_id)
        conds = tuple(judge.condition(n, t, rule, f.row) for n, t in zip(rule.when, rule.when_text, strict=True))
        premises = []
        for dep in _positive_refs(rule, f.row, judge):
            if dep in visiting or dep == key:
                continue
            premises.append(_derive(ev, judge, dep, visiting | {key}, memo))
        for dep in _negated_refs(rule, f.row, judge):
            sub = ev._conclude(dep)
            premises.append(Derivation(_label(*dep), sub.verdict.value, sub.value, None, (), (),
                                       tuple((s.title, s.url) for s in sub.sources), sub.confidence,
                                       note="read negated: this rule needs it not to hold"))
        sources = [(ev.book.sources[s].title, ev.book.sources[s].url) for s in rule.sources]
        levels = [rule.confidence, *(p.confidence for p in premises)]
        for c in conds:
            for name, _, conf in c.params:
                if conf in rank:
                    levels.append(conf)
                table, rowkey, col = name.split(".", 2)
                cell = ev.book.tables[table].cell(int(rowkey) if ev.book.tables[table].key_type == "int" else rowkey, col)
                if cell is not None:
                    sources.extend((ev.book.sources[s].title, ev.book.sources[s].url) for s in cell.sources)
        node = Derivation(_label(*key), conclusion.verdict.value,
                          f.value if conclusion.kind == "value" else conclusion.value,
                          rule, conds, tuple(premises), tuple(dict.fromkeys(sources)), weakest(levels),
                          tuple(dict.fromkeys([*rule.assumptions, *(a for p in premises for a in p.assumptions)])),
                          note="" if mode == "T" else "could hold: some conditions depend on missing facts")
        if best is None or rank.index(node.confidence) > rank.index(best.confidence) or (
                rank.index(node.confidence) == rank.index(best.confidence) and _height(node) < _height(best)):
            best = node
    assert best is not None
    memo[key] = best
    return best


def _height(d: Derivation) -> int:
    return 1 + max((_height(p) for p in d.premises), default=0)


def _refs_with_polarity(node: ex.Node, negated: bool = False) -> Iterator[tuple[ex.Node, bool]]:
    if isinstance(node, ex.Not):
        yield from _refs_with_polarity(node.arg, not negated)
        return
    if isinstance(node, ex.Ref):
        yield node, negated
        return
    if isinstance(node, ex.Cmp) and ex.valued_ref_test(node) is not None:
        yield node.left, negated
        return
    for child in ex.children(node):
        yield from _refs_with_polarity(child, negated)


def _instances(rule: Rule, row: Any, judge: _Judge, negated: bool | None,
               conditions: Iterable[ex.Node] | None = None) -> list[Key]:
    """The conclusion instances ``rule`` reads (in ``conditions``, default all), of one polarity or both."""
    env = judge.env(rule, row)
    out = []
    for cond in rule.when if conditions is None else conditions:
        for ref, neg in _refs_with_polarity(cond):
            if (negated is not None and neg != negated) or not isinstance(ref, ex.Ref):
                continue
            args = tuple(sorted((k, encode(ex.value(v, env))) for k, v in ref.args))
            out.append((ref.name, args))
    return list(dict.fromkeys(out))


def _positive_refs(rule: Rule, row: Any, judge: _Judge) -> list[Key]:
    return _instances(rule, row, judge, False)


def _negated_refs(rule: Rule, row: Any, judge: _Judge) -> list[Key]:
    return _instances(rule, row, judge, True)


def why_not(ev: Evaluation, key: Key, _seen: frozenset[Key] = frozenset()) -> WhyNot:
    """Every rule that could conclude ``key``, each condition judged; raises for a YES conclusion.

    An UNKNOWN also carries the why_not of each UNKNOWN conclusion its unknown conditions rest on, so
    ``missing`` names the facts that would decide it however deep they sit.
    """
    c = ev._conclude(key)
    if c.verdict.value == "yes":
        raise ValueError(f"{_label(*key)} is YES; use why({key[0]!r}, ...) to see its derivation")
    judge = _Judge(ev)
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
            until = "" if rule.effective_until == END_OF_TIME else f" to {rule.effective_until}"
            checks.append(RuleCheck(rule, "not_in_force", (), row,
                                    f"in force from {rule.effective_from}{until}, not on {ev.as_of}"))
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
        for sub in _instances(rule, row, judge, None, [node]):
            if sub not in seen and sub not in premises and ev._conclude(sub).verdict.value == "unknown":
                premises[sub] = why_not(ev, sub, seen)
    return WhyNot(_label(*key), c.verdict.value, checks, ev.as_of, ev.season, note, tuple(premises.values()))


def _conditions(rule: Rule) -> list[tuple[ex.Node, str]]:
    """A rule's conditions, plus the implicit one of a valued rule: its value must be known."""
    out = list(zip(rule.when, rule.when_text, strict=True))
    if rule.value is not None and not isinstance(rule.value, ex.Const):
        node = ex.Func("present", (rule.value,))
        out.append((node, ex.render(node)))
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if attrs.has(type(v)):
        from .facts import _unstructure  # type: ignore[attr-defined]

        return _unstructure(v)
    return v


def _show(v: Any) -> str:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, tuple):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return repr(v)
