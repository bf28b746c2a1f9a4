"""The three-valued judge: one rule's conditions evaluated against an evaluation, fact by fact.

``why`` and ``why_not`` show each condition's status with the facts it read; the evaluation's
confidence needs to know which conditions decided a verdict; planning judges its actions'
preconditions. They all use :class:`Judge`, which evaluates a condition the way the reference
evaluator does, reading conclusions from the evaluation's firings, and collects the facts
(field paths and values) and table figures it touched.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any, Protocol

import attrs

from .. import expressions as ex
from ..compiler import encode
from ..context import Context, RowRef
from ..facts import field_meta, fields_by_key, section_classes, unstructure
from ..rulebook import Rule, Rulebook
from ..rulebook.graph import polarized_refs

__all__ = ["Condition", "FactUse", "Judge", "Key", "instances", "label", "plain", "show"]

Key = tuple[str, tuple[tuple[str, Any], ...]]
_MARK = {"holds": "✔", "fails": "✘", "unknown": "?"}
_MISSES = 8  # entries of a false 'any' shown under a failing condition


class Judged(Protocol):
    """What the judge reads of an evaluation: its rulebook, context and firings by instance."""

    book: Rulebook
    context: Context

    def firings_of(self, key: Key) -> Iterable[Any]: ...


@attrs.frozen
class FactUse:
    """One fact a condition read: its field path, the applicant's value, and whether it is known."""

    path: str
    value: Any
    status: str  # known | none | unknown

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": plain(self.value), "status": self.status}

    def __str__(self) -> str:
        if self.status == "unknown":
            return f"{self.path} is missing"
        if self.status == "none":
            return f"{self.path}: none"
        return f"{self.path} = {show(self.value)}"


@attrs.frozen
class Condition:
    """A condition of a rule, judged three-valued on the applicant's facts."""

    text: str
    status: str  # holds | fails | unknown
    facts: tuple[FactUse, ...] = ()
    params: tuple[tuple[str, Any, str], ...] = ()  # (table.row.column, value, confidence)
    #: the definitions the condition uses (rules/definitions.toml), and what it means once expanded
    definitions: tuple[str, ...] = ()
    expanded: str = ""

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.facts if f.status == "unknown")

    def to_dict(self) -> dict[str, Any]:
        out = {"condition": self.text, "status": self.status, "facts": [f.to_dict() for f in self.facts],
               "parameters": [{"name": n, "value": plain(v), "confidence": c} for n, v, c in self.params],
               "missing": list(self.missing)}
        if self.definitions:
            out["definitions"] = list(self.definitions)
            out["expanded"] = self.expanded
        return out

    def expansion(self, width: int = 160) -> str:
        """'where passed('step1') means any(e in exams, ...)', cut with an ellipsis; '' without definitions."""
        if not self.expanded or self.expanded == self.text:
            return ""
        text = self.expanded if len(self.expanded) <= width else self.expanded[: width - 1] + "…"
        return f"means: {text}"

    def line(self) -> str:
        facts = "; ".join(str(f) for f in self.facts[:6]) + ("; ..." if len(self.facts) > 6 else "")
        params = "; ".join(f"{n} = {show(v)} ({c})" for n, v, c in self.params)
        extra = " | ".join(p for p in (facts, params) if p)
        return f"{_MARK[self.status]} {self.text}" + (f"    [{extra}]" if extra else "")


class Judge:
    """Evaluates a rule's conditions like the reference does, collecting the facts they read."""

    def __init__(self, ev: Judged) -> None:
        self.ev = ev
        self.ctx = ev.context
        self.book = ev.book

    def conclusion_truth(self, ref: ex.Ref, env: ex.Env, values: tuple[Any, ...] | None) -> ex.K:
        args = tuple((k, encode(ex.value(v, env))) for k, v in ref.args)
        firings = self.ev.firings_of((ref.name, tuple(sorted(args))))
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
            variables[rule.for_var] = RowRef(self.ctx.table(rule.for_table), row)  # type: ignore[arg-type]
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
        used: tuple[str, ...] = ()
        if rule.defined and node in rule.when:
            used = rule.defined[rule.when.index(node)]
        # a named list (US_JURISDICTIONS) says what it is; a predicate or group is worth expanding
        worth = any(getattr(self.book.definitions.get(n), "kind", "") != "value" for n in used)
        return Condition(" ".join(text.split()), status, tuple(facts.values()), tuple(params.values()), used,
                         ex.render(node) if worth else "")

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
                table = self.ctx.table(rule.for_table)  # type: ignore[arg-type]
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
                path = self._document_path(node)
            value = ex.value(node, env)
            status = "unknown" if value is ex.UNKNOWN else ("none" if value is ex.NONE else "known")
            facts.setdefault(path, FactUse(path, None if status != "known" else value, status))
            return
        for child in ex.children(node):
            self._collect(child, env, rule, row, facts, params, elems, misses)

    def _document_path(self, node: ex.Field) -> str:
        """The path a person wrote: a derived field (``school.expected_graduation``) that reads an event
        already past is named by the event itself (``school.graduated``); still ahead, by its own name."""
        cls = section_classes().get(node.root)
        if cls is None or len(node.path) != 1 or node.dotted in self.ctx.planned:
            return node.dotted
        fld = fields_by_key(cls).get(node.path[0])
        derived = field_meta(fld)["derived"] if fld is not None else ""
        return f"{node.root}.{derived}" if derived else node.dotted


def label(name: str, args: tuple[tuple[str, Any], ...]) -> str:
    if not args:
        return name
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args) + ")"


def instances(rule: Rule, row: Any, judge: Judge, negated: bool | None,
               conditions: Iterable[ex.Node] | None = None) -> list[Key]:
    """The conclusion instances ``rule`` reads (in ``conditions``, default all), of one polarity or both."""
    env = judge.env(rule, row)
    out = []
    for cond in rule.when if conditions is None else conditions:
        for ref, neg in polarized_refs(cond):
            if (negated is not None and neg != negated) or not isinstance(ref, ex.Ref):
                continue
            args = tuple(sorted((k, encode(ex.value(v, env))) for k, v in ref.args))
            out.append((ref.name, args))
    return list(dict.fromkeys(out))


def plain(v: Any) -> Any:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    if attrs.has(type(v)):
        return unstructure(v)
    return v


def show(v: Any) -> str:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, tuple):
        return "[" + ", ".join(show(x) for x in v) + "]"
    return repr(v)
