"""What a plan may assume about a missing fact: the few values of it that change the answer.

A plan that cannot be made on the facts as given (a fact that decides the goal is missing) branches
on the missing fact instead of giving up (contract §1.1). The values tried come from the rules
themselves, never from Python knowledge of the domain: each comparison a rule makes with the fact
gives the value at its boundary and the one just past it (``issued >= 2020-09-02`` gives
2020-09-02 and 2020-09-01), a yes/no fact gives both, and a list nobody described (``licenses``
absent) gives one entry built to satisfy each ``any(...)`` test a rule makes of it, plus the empty
list ("otherwise"). Each :class:`Completion` is a document patch with the condition in words.

>>> import imgpath, datetime
>>> ev = imgpath.evaluate({"school": {"country": "IN", "ecfmg_note": {"from": 1990}, "graduated": "2022-06-30"},
...                        "ecfmg": {}}, as_of=datetime.date(2026, 12, 6))
>>> [c.text for c in completions(ev, ["pathway_eligible"], "licenses")][-1]
'otherwise: no licenses entry meets those conditions (taken as licenses = [])'
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import expressions as ex
from .compiler import program
from .context import Context, RowRef
from .errors import InvalidFacts
from .evaluation import Evaluation
from .expressions import add_months
from .facts import Applicant, field_meta, fields_by_key, list_sections, section_classes

__all__ = ["Completion", "apply_patch", "completions", "parse_path", "describe_value"]

#: Most completions tried for one missing fact (the empty list or "otherwise" value included).
MAX_VALUES = 4
_OPS = {"==": "is", "!=": "is not", ">=": "on or after", ">": "after", "<=": "on or before", "<": "before",
        "in": "is one of", "notin": "is not one of"}
_NUM_OPS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "notin", "notin": "in"}


@attrs.frozen
class Completion:
    """One value assumed for a missing fact: the field path, the document patch and the condition in words."""

    path: str
    patch: Mapping[str, Any] = attrs.field(eq=False)
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"fact": self.path, "condition": self.text, "patch": copy.deepcopy(dict(self.patch))}


def parse_path(path: str) -> tuple[str, int | None, tuple[str, ...]]:
    """``licenses[0].issued`` -> ("licenses", 0, ("issued",)); ``ecfmg.pathway.season`` -> ("ecfmg", None, (...)).

    >>> parse_path("licenses[0].issued"), parse_path("school.wfme_recognized"), parse_path("training")
    (('licenses', 0, ('issued',)), ('school', None, ('wfme_recognized',)), ('training', None, ()))
    """
    head, _, rest = path.partition(".")
    index = None
    if head.endswith("]") and "[" in head:
        head, _, i = head[:-1].partition("[")
        index = int(i)
    return head, index, tuple(p for p in rest.split(".") if p)


def apply_patch(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with ``patch`` merged in: tables merge key by key, lists and values replace.

    >>> apply_patch({"school": {"country": "IN"}}, {"school": {"wfme_recognized": True}, "licenses": []})
    {'school': {'country': 'IN', 'wfme_recognized': True}, 'licenses': []}
    """
    out = copy.deepcopy(dict(doc))
    _merge(out, patch)
    return out


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(target.get(k), Mapping):
            target[k] = dict(target[k])
            _merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


def completions(ev: Evaluation, goals: Iterable[str], path: str,
                goal_args: Mapping[str, Any] | None = None) -> list[Completion]:
    """The values of the missing fact ``path`` that the rules for ``goals`` tell apart (see module doc).

    ``goal_args`` (``{"state": "TN"}``) leaves out the rules for the first goal's other instances
    (another state's route)."""
    goals = list(goals)
    prog = program(ev.book, ev.as_of, goals=goals)
    rules = [r for r in prog.rules if not (goal_args and r.conclusion == goals[0] and _other_instance(r, goal_args))]
    section, index, rest = parse_path(path)
    doc = ev.applicant.to_dict()
    if section in list_sections():
        if index is None and not rest:
            return _list_completions(ev, rules, section, doc)
        if index is not None and len(rest) == 1:
            return _entry_completions(ev, rules, section, index, rest[0], doc)
        return []
    if section not in section_classes() or not rest:
        return []
    if doc.get(section) is None:
        empty = _empty_section(section, rest)
        if empty is not None:
            return [empty]
    return _scalar_completions(ev, rules, section, rest, doc)


def _empty_section(section: str, rest: tuple[str, ...]) -> Completion | None:
    """For a fact of a section the document leaves out whose absence inside a present section means
    none (no certificate yet, still a student): the section given with none of those events. That is
    the question a person can answer ("nothing at ECFMG yet"), where the fact's own values are not."""
    fields = fields_by_key(section_classes()[section])
    fld = fields.get(rest[0])
    if fld is None or field_meta(fld).get("absent") != "none":
        return None
    nones = [k for k, f in fields.items() if field_meta(f).get("absent") == "none"]
    return Completion(".".join((section, *rest)), {section: {}},
                      f"nothing in [{section}] yet (no {', no '.join(nones)})")


def _other_instance(rule: Any, goal_args: Mapping[str, Any]) -> bool:
    """Whether a rule concludes another instance than ``goal_args`` (a literal argument that differs)."""
    for k, v in rule.args:
        if k in goal_args and isinstance(v, ex.Const) and v.value != goal_args[k]:
            return True
    return False


# ----------------------------------------------------------------------------- scalar fields


def _field_kind(section: str, rest: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    cls = section_classes().get(section)
    fld = fields_by_key(cls).get(rest[0]) if cls else None
    if fld is None:
        return "", ()
    meta = field_meta(fld)
    if len(rest) > 1:
        sub = meta.get("cls")
        inner = fields_by_key(sub).get(rest[1]) if sub else None
        if inner is None:
            return "", ()
        meta = field_meta(inner)
    return meta["kind"], tuple(meta.get("choices") or ())


def _values_for(ev: Evaluation, rules: Iterable[Any], is_subject: Any, kind: str,
                choices: tuple[str, ...]) -> list[tuple[Any, str]]:
    """(value, words) candidates from every test the rules make of the subject field."""
    out: dict[Any, str] = {}
    ctx = ev.context
    for rule in rules:
        for cond in rule.when:
            for node in ex.walk(cond):
                for value, words in _from_node(node, is_subject, kind, choices, ctx, rule):
                    if value is not None and value not in out:
                        out[value] = words
    return list(out.items())


def _from_node(node: ex.Node, is_subject: Any, kind: str, choices: tuple[str, ...], ctx: Context,
               rule: Any) -> list[tuple[Any, str]]:
    if kind == "bool":
        if is_subject(node):
            return [(True, "is true"), (False, "is false")]
        return []
    if not isinstance(node, ex.Cmp):
        return []
    if is_subject(node.left):
        op, other = node.op, node.right
    elif is_subject(node.right) and node.op in _FLIP:
        op, other = _FLIP[node.op], node.left
    else:
        return []
    for v in _evaluate(other, ctx, rule):
        return _boundary(op, v, kind, choices)
    return []


def _evaluate(node: ex.Node, ctx: Context, rule: Any) -> list[Any]:
    """The value of the other side of a comparison (a literal, a season figure, ``as_of`` arithmetic, or
    a fact the applicant gave: ``year(school.graduated)``), for each row the rule ranges over; [] when
    it cannot be known."""
    if any(isinstance(n, (ex.Ref, ex.Quant)) for n in ex.walk(node)):
        return []
    bindings: list[dict[str, Any] | None] = [None]
    if rule.for_var and any(isinstance(n, ex.Field) and n.root == rule.for_var for n in ex.walk(node)):
        bindings = [{rule.for_var: RowRef(ctx.book.tables[rule.for_table], k)} for k in ctx.rows(rule.for_table)]
    out = []
    for b in bindings[:3]:
        try:
            v = ex.value(node, ctx.env(b))
        except (ex.RuleError, KeyError, TypeError):
            continue
        if v is ex.UNKNOWN or v is ex.NONE or isinstance(v, ex.Interval):
            continue
        out.append(v)
    return out


def _boundary(op: str, v: Any, kind: str, choices: tuple[str, ...]) -> list[tuple[Any, str]]:
    """The value at the test's boundary that passes it, and one that fails it, each with its words."""
    if isinstance(v, (list, tuple)):
        if op in ("in", "notin"):
            inside = [(x, f"is {_show(x)}") for x in v[:2]]
            outside = [(c, f"is {_show(c)}") for c in choices if c not in v][:1]
            return inside + outside
        return []
    if op in ("==", "!="):
        other = [(c, f"is {_show(c)}") for c in choices if c != v][:1]
        return [(v, f"is {_show(v)}"), *other]
    if isinstance(v, bool) or not isinstance(v, (int, float, _dt.date)):
        return []
    before = v - _dt.timedelta(days=1) if isinstance(v, _dt.date) else v - 1
    after = v + _dt.timedelta(days=1) if isinstance(v, _dt.date) else v + 1
    words = _OPS if isinstance(v, _dt.date) else {**_OPS, **_NUM_OPS}
    if op in (">=", "<"):
        return [(v, f"{words['>=']} {_show(v)}"), (before, f"{words['<']} {_show(v)}")]
    if op in (">", "<="):
        return [(after, f"{words['>']} {_show(v)}"), (v, f"{words['<=']} {_show(v)}")]
    return []


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return repr(v)
    return str(v)


def describe_value(v: Any) -> Any:
    """A value as the document writes it (dates as ISO strings)."""
    return v.isoformat() if isinstance(v, _dt.date) else v


def _nest(rest: tuple[str, ...], value: Any) -> Any:
    for key in reversed(rest):
        value = {key: value}
    return value


def _scalar_completions(ev: Evaluation, rules: Iterable[Any], section: str, rest: tuple[str, ...],
                        doc: Mapping[str, Any]) -> list[Completion]:
    kind, choices = _field_kind(section, rest)
    if not kind:
        return []
    wanted = tuple(p.rstrip("_") for p in rest)  # ``from`` is written ``from_`` in conditions

    def is_subject(n: ex.Node) -> bool:
        return isinstance(n, ex.Field) and n.root == section and tuple(p.rstrip("_") for p in n.path) == wanted

    path = ".".join((section, *rest))
    out = []
    for value, words in _values_for(ev, rules, is_subject, kind, choices)[:MAX_VALUES]:
        patch = {section: _nest(rest, describe_value(value))}
        if _valid(apply_patch(doc, patch)):
            out.append(Completion(path, patch, f"{path} {words}"))
    return out


def _valid(doc: Mapping[str, Any]) -> bool:
    try:
        Applicant.from_dict(doc)
    except InvalidFacts:
        return False
    return True


# ----------------------------------------------------------------------------- list entries


def _entry_completions(ev: Evaluation, rules: Iterable[Any], section: str, index: int, key: str,
                       doc: Mapping[str, Any]) -> list[Completion]:
    entries = list(doc.get(section) or [])
    if index >= len(entries):
        return []
    cls = section_classes()[section]
    fld = fields_by_key(cls).get(key)
    if fld is None:
        return []
    meta = field_meta(fld)
    kind, choices = meta["kind"], tuple(meta.get("choices") or ())
    quant_vars = {q.var for r in rules for c in r.when for q in ex.walk(c)
                  if isinstance(q, ex.Quant) and q.source.root == section and not q.source.path}
    attr = fld.name

    def is_subject(n: ex.Node) -> bool:
        return isinstance(n, ex.Field) and n.root in quant_vars and n.path == (attr,)

    path = f"{section}[{index}].{key}"
    out = []
    for value, words in _values_for(ev, rules, is_subject, kind, choices)[:MAX_VALUES]:
        new = [dict(e) for e in entries]
        new[index][key] = describe_value(value)
        patch = {section: new}
        if _valid(apply_patch(doc, patch)):
            out.append(Completion(path, patch, f"{path} {words}"))
    return out


def _list_completions(ev: Evaluation, rules: Iterable[Any], section: str,
                      doc: Mapping[str, Any]) -> list[Completion]:
    """One entry for each ``any``/``sum_years`` test the rules make of the list, then the empty list."""
    out: list[Completion] = []
    seen: set[str] = set()
    for rule in rules:
        for cond in rule.when:
            for node in ex.walk(cond):
                found = _list_witness(ev, rule, node, section, doc)
                if found is None:
                    continue
                entry, words = found
                key = repr(sorted(entry.items()))
                if key in seen:
                    continue
                seen.add(key)
                patch = {section: [entry]}
                if _valid(apply_patch(doc, patch)):
                    out.append(Completion(section, patch, f"{section} has an entry with {words}"))
                if len(out) >= MAX_VALUES - 1:
                    return _with_otherwise(out, section)
    return _with_otherwise(out, section)


def _with_otherwise(out: list[Completion], section: str) -> list[Completion]:
    tail = "no {s} entry meets those conditions (taken as {s} = [])" if out else "{s} = [] (none)"
    return [*out, Completion(section, {section: []}, ("otherwise: " if out else "") + tail.format(s=section))]


def _list_witness(ev: Evaluation, rule: Any, node: ex.Node, section: str,
                  doc: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """An entry of ``section`` that satisfies the test ``node`` makes of it (or None), and the words."""
    if isinstance(node, ex.Cmp) and isinstance(node.left, ex.Quant):
        quant, op, other = node.left, node.op, node.right
    elif isinstance(node, ex.Quant) and node.fn == "any":
        quant, op, other = node, "", None
    else:
        return None
    if quant.source.root != section or quant.source.path:
        return None
    ctx = ev.context
    years = 0.0
    if quant.fn in ("sum_years", "sum_years_since"):
        if op not in (">=", ">") or other is None:
            return None
        vals = _evaluate(other, ctx, rule)
        if not vals or not isinstance(vals[0], (int, float)):
            return None
        years = max(1.0, float(vals[0]) + (1 if op == ">" else 0))
    elif quant.fn != "any":
        return None
    solved = _solve(quant.pred, quant.var, ctx, rule, section, doc)
    if solved is None:
        return None
    entry, words = solved
    if years:
        months = int(math.ceil(years * 12))
        entry.setdefault("start", add_months(ev.as_of, -months).isoformat())
        if entry.get("completed") is True:
            entry.setdefault("end", (ev.as_of - _dt.timedelta(days=1)).isoformat())
        words = [*words, f"{_years(years)} up to now"]
    if not _satisfies(ev, quant, entry, section, doc, rule):
        return None
    return entry, ", ".join(words)


def _years(y: float) -> str:
    return f"{int(y)} year{'s' if y != 1 else ''}" if y == int(y) else f"{y:g} years"


def _solve(pred: ex.Node, var: str, ctx: Context, rule: Any, section: str,
           doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """Field values for one entry that make ``pred`` true (a conjunction of simple tests), or None."""
    if isinstance(pred, ex.And):
        entry: dict[str, Any] = {}
        words: list[str] = []
        for part in pred.args:
            got = _solve(part, var, ctx, rule, section, doc)
            if got is None:
                return None
            for k, v in got[0].items():
                if k in entry and entry[k] != v:
                    return None
                entry[k] = v
            words.extend(got[1])
        return entry, words
    if isinstance(pred, ex.Or):
        for part in pred.args:
            got = _solve(part, var, ctx, rule, section, doc)
            if got is not None:
                return got
        return None
    cls = section_classes()[section]
    by_attr = {f.name: (k, f) for k, f in fields_by_key(cls).items()}

    def subject(n: ex.Node) -> str | None:
        if isinstance(n, ex.Field) and n.root == var and len(n.path) == 1 and n.path[0] in by_attr:
            return by_attr[n.path[0]][0]
        return None

    negated = False
    if isinstance(pred, ex.Not):
        pred, negated = pred.arg, True
    key = subject(pred)
    if key is not None:
        if field_meta(by_attr[pred.path[0]][1])["kind"] != "bool":  # type: ignore[attr-defined]
            return None
        return {key: not negated}, [key.replace("_", " ") if not negated else f"not {key.replace('_', ' ')}"]
    if not isinstance(pred, ex.Cmp):
        return None
    op = _NEGATE[pred.op] if negated else pred.op
    key, other = subject(pred.left), pred.right
    if key is None and pred.op in _FLIP:
        key, other, op = subject(pred.right), pred.left, _FLIP[op] if op in _FLIP else op
    if key is None:
        return None
    meta = field_meta(fields_by_key(cls)[key])
    vals = _evaluate(other, ctx, rule)
    if not vals:
        return None
    v = vals[0]
    if op in ("==", "in"):
        chosen = v[0] if isinstance(v, (list, tuple)) else v
        return {key: describe_value(chosen)}, [f"{key} {_show(chosen)}"]
    if op in ("!=", "notin"):
        excluded = set(v) if isinstance(v, (list, tuple)) else {v}
        pool = [*(meta.get("choices") or ()), *_own_values(doc)]
        chosen = next((c for c in pool if c not in excluded and _fits(section, key, c)), None)
        if chosen is None:
            return None
        return {key: chosen}, [f"{key} {_show(chosen)}"]
    if isinstance(v, bool) or not isinstance(v, (int, float, _dt.date)):
        return None
    pick = {">=": v, "<=": v, ">": v + (_dt.timedelta(days=1) if isinstance(v, _dt.date) else 1),
            "<": v - (_dt.timedelta(days=1) if isinstance(v, _dt.date) else 1)}[op]
    words = _OPS if isinstance(v, _dt.date) else {**_OPS, **_NUM_OPS}
    return {key: describe_value(pick)}, [f"{key} {words[op]} {_show(v)}"]


def _own_values(doc: Mapping[str, Any]) -> list[str]:
    """Codes the applicant's own document uses (school country, citizenships): the likeliest values of
    a country or jurisdiction field of a new entry."""
    school = doc.get("school") or {}
    person = doc.get("person") or {}
    return [v for v in [school.get("country"), *(person.get("citizenship") or [])] if isinstance(v, str)]


def _fits(section: str, key: str, value: Any) -> bool:
    return _valid({section: [{key: value}]})


def _satisfies(ev: Evaluation, quant: ex.Quant, entry: Mapping[str, Any], section: str,
               doc: Mapping[str, Any], rule: Any) -> bool:
    """Whether the built entry makes the quantifier's test true (checked, never assumed)."""
    try:
        app = Applicant.from_dict(apply_patch(doc, {section: [dict(entry)]}))
    except InvalidFacts:
        return False
    ctx = Context(ev.book, app, ev.as_of)
    item = getattr(app, section)[0]
    env = ctx.env(None).bind(quant.var, item)
    try:
        return ex.truth(quant.pred, env) is ex.K.T
    except (ex.RuleError, KeyError):
        return False
