"""Timelines: the dates in a period where a conclusion's verdict or value changes for one applicant.

"From when am I eligible?" and "until when does this hold?" are questions about dates, and the
answer changes only on certain days: a law comes into force or lapses, a Match season begins, one
of the applicant's own dated facts is reached (an exam sat, a license issued or expired, a
certificate's expiry, training that starts or ends), or a date condition of a rule crosses its
threshold (``as_of <= ecfmg.expires``, three years of practice within the last five).
:func:`timeline` finds every such day and evaluates only there.

**Why no change is missed.** An evaluation on day *d* is a function of exactly these inputs:

1. the rules in force on *d* (:meth:`Rulebook.change_dates` lists every day they change);
2. the Match season of *d* and its row of parameters (:class:`~imgpath.context.Context`);
3. the facts known on *d* (:func:`~imgpath.context.known_at`: entries and event dates after
   *d* are not yet known), and each fact a rule reads as the evaluation's context resolves it
   on *d* (compared too, so a date rule inside the context is not missed either);
4. *d* itself, which the rules read only through the date-dependent parts of their conditions:
   ``as_of``, the aggregates that count time up to ``as_of`` (``sum_years``,
   ``sum_years_since``), and the fields whose absence defaults to something dated ``as_of``
   (an absent ``offer.h1b_petition`` is a new petition filed on ``as_of``).

For every rule of the conclusion's dependency cone, :func:`timeline` takes each maximal part of
a condition that depends on *d* and reads no other conclusion, and computes its value on every
day of the period (under every binding: each row of a ``for`` table in scope that gives a
different value, each list entry a quantifier ranges over). That is cheap — no engine runs — and
it is exact, since it uses the rule language's own evaluator (:func:`imgpath.expressions.value`,
with the date arithmetic of ``add_years`` and whole months included). A day is a *candidate*
when any of inputs 1–4 differs from the day before. Between two candidates every input is the
same, so every condition of every rule in the cone has the same truth for the same conclusions
read, and by induction over the strata (rules read only conclusions below them) every
conclusion in the cone — the one asked included — is the same: verdicts are piecewise constant
between candidates. The conclusion is then evaluated, with the engine, on the first day and on
every candidate; only real changes are reported, each with the day before it as the last day of
the previous period.

>>> import imgpath, datetime as dt
>>> doc = {"person": {"us_status": "none", "citizenship": ["IN"], "in_us": False},
...        "offer": {"kind": "residency"}}
>>> t = imgpath.timeline(doc, "h1b_fee_applies", start=dt.date(2025, 9, 1), end=dt.date(2025, 12, 31))
>>> [(c.date.isoformat(), c.verdict.value) for c in t.changes]
[('2025-09-21', 'yes')]
>>> t.first("yes"), t.holds_until(dt.date(2025, 9, 1))
(datetime.date(2025, 9, 21), datetime.date(2025, 9, 20))
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from . import expressions as ex
from ._internal import html as _html
from ._internal import views
from ._internal.version import VERSION
from .context import Context, RowRef
from .errors import QueryError
from .evaluation import Verdict, as_applicant, evaluate
from .facts import Applicant, defaulted_keys, section_classes
from .rulebook import BEGINNING, END_OF_TIME, Rule, Rulebook, rulebook

__all__ = ["Change", "Period", "Timeline", "timeline"]

#: The longest period a timeline scans (days are scanned one by one, cheaply).
MAX_YEARS = 60


@attrs.frozen
class Period:
    """Days ``start``..``end`` (both included) with one verdict and value; ``rules`` gave it, and
    ``missing`` names what would decide an UNKNOWN (as on the period's first day)."""

    start: _dt.date
    end: _dt.date
    verdict: Verdict
    value: Any
    rules: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def __contains__(self, day: _dt.date) -> bool:
        return self.start <= day <= self.end

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "until": self.end.isoformat(), "verdict": self.verdict.value,
                "value": _plain(self.value), "rules": list(self.rules), "missing": list(self.missing)}


@attrs.frozen
class Change:
    """The verdict or value changes on ``date``: what it was the day before, what it is from then, and why."""

    date: _dt.date
    verdict: Verdict
    value: Any
    before: Verdict
    value_before: Any
    reasons: tuple[str, ...]
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "verdict": self.verdict.value, "value": _plain(self.value),
                "before": self.before.value, "value_before": _plain(self.value_before),
                "reasons": list(self.reasons), "rules": list(self.rules)}

    def __str__(self) -> str:
        return (f"{self.date}  {self.before.value} -> {self.verdict.value}"
                f"{'' if self.value == self.value_before else f' ({_text(self.value_before)} -> {_text(self.value)})'}"
                f"  ({'; '.join(self.reasons) or 'see the rules'})")


class Timeline:
    """A conclusion's verdicts over ``[start, end]`` for one applicant: :attr:`periods` and :attr:`changes`.

    ``first(verdict)`` answers "from when" and ``holds_until(day)`` "until when"; renders as
    text (``str``), JSON (``to_dict``), a DataFrame (``to_frame``) and HTML.
    """

    def __init__(self, name: str, args: Mapping[str, Any], label: str, start: _dt.date, end: _dt.date,
                 periods: list[Period], changes: list[Change], examined: int, book: Rulebook, engine: str) -> None:
        self.name = name
        self.args = dict(args)
        self.label = label
        self.start = start
        self.end = end
        self.periods = tuple(periods)
        self.changes = tuple(changes)
        #: how many days were evaluated with the engine (the first day and every candidate)
        self.examined = examined
        self.book = book
        self.engine = engine

    def __iter__(self) -> Iterator[Period]:
        return iter(self.periods)

    def __len__(self) -> int:
        return len(self.periods)

    def at(self, day: _dt.date) -> Period:
        """The period holding ``day``; :class:`~imgpath.QueryError` outside ``[start, end]``."""
        for p in self.periods:
            if day in p:
                return p
        raise QueryError(f"{day} is outside this timeline ({self.start} to {self.end})")

    def first(self, verdict: Verdict | str = Verdict.YES, value: Any = None) -> _dt.date | None:
        """The first day in the period with ``verdict`` (and ``value``, when given), or None: "from when"."""
        want = Verdict(verdict)
        for p in self.periods:
            if p.verdict is want and (value is None or p.value == value):
                return p.start
        return None

    def holds_until(self, day: _dt.date | None = None) -> _dt.date | None:
        """The last day on which the verdict and value of ``day`` (default: the start) still hold,
        or None when they still hold on the last day looked at: "until when"."""
        p = self.at(day or self.start)
        return None if p.end == self.end else p.end

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.timeline/1", "imgpath": VERSION, "conclusion": self.label, "name": self.name,
                "args": dict(sorted(self.args.items())), "from": self.start.isoformat(),
                "to": self.end.isoformat(), "engine": self.engine,
                "rulebook": {"name": self.book.name, "digest": self.book.digest},
                "examined": self.examined, "periods": [p.to_dict() for p in self.periods],
                "changes": [c.to_dict() for c in self.changes]}

    def to_frame(self) -> Any:
        """A ``pandas.DataFrame``: one row per period (from, until, verdict, value, rules)."""
        rows = [{"from": p.start, "until": p.end, "verdict": p.verdict.value, "value": _plain(p.value),
                 "rules": ";".join(p.rules)} for p in self.periods]
        return views.call("records_frame", rows)

    def __str__(self) -> str:
        n = len(self.changes)
        lines = [f"{self.label} from {self.start} to {self.end}: {n} change{'s' if n != 1 else ''} "
                 f"({self.examined} date(s) evaluated)"]
        rows = [(p.start, self._answer(p.verdict, p.value),
                 ("; ".join(c.reasons) or "see the rules") if c else "at the start")
                + (f" — missing: {', '.join(p.missing[:4])}" if p.missing else "",)
                for p, c in zip(self.periods, (None, *self.changes), strict=True)]
        rows = [(day, answer, why + more) for day, answer, why, more in rows]
        width = min(12, max(len(answer) for _, answer, _ in rows))
        for day, answer, why in rows:
            if len(answer) <= width:
                lines.append(f"  {day}  {answer:<{width}}  {why}")
            else:  # a long value: the reason on its own line
                lines += [f"  {day}  {answer}", f"  {'':<10}  {'':<{width}}  {why}"]
        last = self.periods[-1]
        lines.append(f"  (still {self._answer(last.verdict, last.value)} on {self.end})")
        return "\n".join(lines)

    def _answer(self, verdict: Verdict, value: Any) -> str:
        return _html.answer(verdict.value, value, self.book.conclusions[self.name].kind)

    def __repr__(self) -> str:
        return f"<Timeline {self.label} {self.start}..{self.end}: {len(self.changes)} change(s)>"

    def _repr_html_(self) -> str:
        rows = [[_html.esc(p.start), _html.esc(p.end), _html.badge(p.verdict.value),
                 _html.esc(self._answer(p.verdict, p.value) if p.value not in (None, ()) else ""),
                 f"<span class='c'>{_html.esc('; '.join(c.reasons) if c else 'at the start')}"
                 f"{_html.esc(' — missing: ' + ', '.join(p.missing)) if p.missing else ''}</span>",
                 f"<span class='c'>{_html.esc(', '.join(p.rules[:3]))}</span>"]
                for p, c in zip(self.periods, (None, *self.changes), strict=True)]
        head = (f"<b>timeline of <code>{_html.esc(self.label)}</code></b> <span class='c'>{_html.esc(self.start)} "
                f"to {_html.esc(self.end)} · {len(self.changes)} change(s) · {self.examined} date(s) evaluated"
                "</span>")
        return _html.wrap(head + _html.table(["from", "until", "verdict", "value", "why it changed", "rules"], rows))


# --------------------------------------------------------------------------- the search


def timeline(applicant: Applicant | Mapping[str, Any], name: str, *, start: _dt.date, end: _dt.date,
             rulebook: Rulebook | None = None, engine: str = "durable", **args: Any) -> Timeline:
    """The dates in ``[start, end]`` where the verdict or value of ``name(**args)`` changes for ``applicant``.

    Each change comes with the verdict (and value) from that day on and why (the rules that came
    into force, the season that began, the applicant's dated fact that was reached, the date
    condition that crossed its threshold). The applicant document's own ``as_of`` is ignored: the
    facts are read as known on each day. See the module's docstring for why no change is missed.
    """
    for label, day in (("start", start), ("end", end)):
        if not isinstance(day, _dt.date) or isinstance(day, _dt.datetime):
            raise QueryError(f"timeline: {label} must be a datetime.date, got {day!r}")
    if end < start:
        raise QueryError(f"timeline: end ({end}) is before start ({start})")
    if (end - start).days > 366 * MAX_YEARS:
        raise QueryError(f"timeline: a period of at most {MAX_YEARS} years, got {start} to {end}")
    app = as_applicant(applicant)
    book = rulebook if rulebook is not None else _default()

    def answer(day: _dt.date) -> tuple[Any, Any]:
        ev = evaluate(app, as_of=day, rulebook=book, engine=engine, only=[name])
        return ev, ev.conclusion(name, **args)  # UnknownConclusion / InvalidArguments name the problem

    def missing(ev: Any, c: Any) -> tuple[str, ...]:
        """What would decide an UNKNOWN (facts, unsourced figures), read on the period's first day."""
        return tuple(ev.why_not(name, **args).decided_by) if c.verdict is Verdict.UNKNOWN else ()

    ev, c = answer(start)
    label = c.label
    scan = _Scan(book, app, name, args)
    periods: list[Period] = []
    changes: list[Change] = []
    current = (start, c.verdict, c.value, c.rules, missing(ev, c))
    examined = 1
    for day, reasons in scan.candidates(start, end):
        examined += 1
        ev, c = answer(day)
        if (c.verdict, c.value) == (current[1], current[2]):
            continue
        periods.append(Period(current[0], day - _dt.timedelta(days=1), *current[1:]))
        changes.append(Change(day, c.verdict, c.value, current[1], current[2], tuple(reasons), c.rules))
        current = (day, c.verdict, c.value, c.rules, missing(ev, c))
    periods.append(Period(current[0], end, *current[1:]))
    return Timeline(name, args, label, start, end, periods, changes, examined, book, engine)


def _default() -> Rulebook:
    return rulebook()


class _Scan:
    """The candidate days of one conclusion instance for one applicant (see the module's docstring)."""

    def __init__(self, book: Rulebook, applicant: Applicant, name: str, args: Mapping[str, Any]) -> None:
        self.book = book
        self.applicant = applicant
        self.args = dict(args)
        self.rules = _instance_cone(book, name, args)
        # the days the rules of the cone enter or leave force, and any other day the rulebook says it
        # changes (change_dates() may hold more than rule windows: dated parameters)
        self.law_days = _rule_days(self.rules) | (set(book.change_dates()) - _rule_days(book.rules))
        self.defaulted = defaulted_keys()
        sections = set(section_classes())
        self.fields = sorted({n for r in self.rules for node in r.nodes() for n in ex.walk(node)
                              if isinstance(n, ex.Field) and n.root in sections and n.root != r.for_var},
                             key=lambda f: f.dotted)
        # per rule with date-dependent conditions: the columns of its 'for' row they read, and the steps
        self.probes = []
        for r in self.rules:
            steps = [step for node in r.nodes() for step in self._compile(node, "")]
            if steps:
                columns = tuple(sorted({c for step in steps for c in _columns(step, r.for_var)}))
                self.probes.append((r, columns, steps))

    def candidates(self, start: _dt.date, end: _dt.date) -> Iterator[tuple[_dt.date, list[str]]]:
        """Each day in ``(start, end]`` on which an input of the evaluation differs from the day before,
        with what changed."""
        prev_ctx = Context(self.book, self.applicant, start)
        prev_atoms, prev_where = self._atoms(prev_ctx)
        prev_facts = self._facts(prev_ctx)
        day = start
        while day < end:
            day += _dt.timedelta(days=1)
            ctx = Context(self.book, self.applicant, day)
            atoms, where = self._atoms(ctx)
            reasons: list[str] = []
            if day in self.law_days:
                reasons.extend(self._law(day))
            if ctx.season != prev_ctx.season or ctx.season_row != prev_ctx.season_row:
                reasons.append(f"Match season {ctx.season} begins")
            facts = self._facts(ctx)
            if ctx.applicant != prev_ctx.applicant:
                reasons.extend(_fact_changes(prev_ctx.applicant, ctx.applicant, day))
            elif facts != prev_facts:
                reasons.extend(f"{f} becomes {_text(facts[f])}" for f in facts if facts[f] != prev_facts.get(f))
            if atoms != prev_atoms:
                reasons.extend(_atom_changes(prev_atoms, atoms, prev_where, where))
            if reasons or day in self.law_days:
                yield day, reasons[:4]
            prev_ctx, prev_atoms, prev_where, prev_facts = ctx, atoms, where, facts

    # ------------------------------------------------------------------ inputs

    def _law(self, day: _dt.date) -> list[str]:
        out = []
        for r in self.rules:
            if r.effective_from == day:
                out.append(f"rule {r.id} comes into force")
            elif r.effective_until == day - _dt.timedelta(days=1):
                out.append(f"rule {r.id} ends on {r.effective_until}")
        # a dated figure of a table the cone's rules range over reaches a new step (a state's route
        # becomes in force); the row the question names first, if it names one
        wanted = {v for v in self.args.values() if isinstance(v, (str, int))}
        for table in dict.fromkeys(r.for_table for r in self.rules if r.for_table):
            steps = [(key, column, step) for key, column, series in self.book.tables[table].series()
                     for step in series.steps if step.start == day and not step.expected]
            steps.sort(key=lambda s: (s[0] not in wanted, str(s[0])))
            for key, column, step in steps:
                same = step.kind.replace(" ", "_") == str(step.cell.value)
                what = f" ({step.kind})" if step.kind and not same else ""
                out.append(f"{table}.{column}[{key}] becomes {_text(step.cell.value)}{what}")
        return out

    def _facts(self, ctx: Context) -> dict[str, Any]:
        """Each applicant field the cone's rules read outside a quantifier, as resolved on ``ctx.as_of``."""
        return {f.dotted: ctx.lookup(f, None) for f in self.fields}

    def _atoms(self, ctx: Context) -> tuple[dict[str, Any], dict[str, tuple[ex.Node, ex.Env]]]:
        """Text of each date-dependent part (with its binding) -> its value on ``ctx.as_of``, and
        -> the part and the environment it was computed in (to explain a change)."""
        out: dict[str, Any] = {}
        where: dict[str, tuple[ex.Node, ex.Env]] = {}
        for rule, columns, steps in self.probes:
            if rule.for_var is None:
                _run(steps, ctx.env(), out, "", where)
                continue
            table = self.book.tables[rule.for_table]  # type: ignore[index]
            seen: set[tuple[Any, ...]] = set()
            for key in ctx.rows(table.name):
                row = RowRef(table, key)
                group = tuple(row.get(c) for c in columns)
                if group in seen:
                    continue  # another row with the same figures gives the same values
                seen.add(group)
                _run(steps, ctx.env({rule.for_var: row}), out, f" [{rule.for_var} {key}]" if columns else "",
                     where)
        return out, where

    def _compile(self, node: ex.Node, where: str) -> list[tuple[Any, ...]]:
        """The steps that compute a node's date-dependent parts: ``("value", node, text)`` for a part
        that reads no conclusion, ``("each", quantifier, steps)`` to run steps for each list entry."""
        if not self._dep(node):
            return []
        if not any(isinstance(n, ex.Ref) for n in ex.walk(node)):
            return [("value", node, " ".join(ex.render(node).split()))]
        if isinstance(node, ex.Quant):
            inner = [step for child in (node.pred, *node.extra) for step in self._compile(child, where)]
            return [("each", node, inner)] if inner else []
        return [step for child in ex.children(node) for step in self._compile(child, where)]

    def _dep(self, node: ex.Node) -> bool:
        """Whether a node's value can depend on the day (as_of, time counted up to it, dated defaults)."""
        for n in ex.walk(node):
            if isinstance(n, ex.Field) and (n.root == "as_of" or any(p in self.defaulted for p in n.path)):
                return True
            if isinstance(n, ex.Quant) and n.fn in ("sum_years", "sum_years_since"):
                return True
        return False


def _run(steps: list[tuple[Any, ...]], env: ex.Env, out: dict[str, Any], where: str,
         parts: dict[str, tuple[ex.Node, ex.Env]]) -> None:
    for step in steps:
        if step[0] == "value":
            out[step[2] + where] = ex.value(step[1], env)
            parts[step[2] + where] = (step[1], env)
            continue
        quant = step[1]
        items = ex.value(quant.source, env)
        if items is ex.UNKNOWN or items is ex.NONE:
            continue
        for i, item in enumerate(items):
            _run(step[2], env.bind(quant.var, item), out, f"{where} [{quant.source.dotted}[{i}]]", parts)


def _columns(step: tuple[Any, ...], var: str | None) -> set[str]:
    """Columns of the ``for`` row (``var``) a step reads."""
    if var is None:
        return set()
    if step[0] == "value":
        return {n.path[0] for n in ex.walk(step[1]) if isinstance(n, ex.Field) and n.root == var and n.path}
    return {c for sub in step[2] for c in _columns(sub, var)}


def _instance_cone(book: Rulebook, name: str, args: Mapping[str, Any]) -> list[Rule]:
    """The rules that can decide ``name(**args)``: those concluding it (a rule whose literal arguments
    name another instance cannot), then, transitively, those concluding what they read."""
    todo: list[tuple[str, tuple[tuple[str, Any], ...] | None]] = [(name, tuple(sorted(args.items())))]
    seen: set[tuple[str, Any]] = set()
    chosen: dict[str, Rule] = {}
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        want = dict(item[1]) if item[1] is not None else None
        for rule in book.rules_for(item[0]):
            if want is not None and any(isinstance(v, ex.Const) and k in want and v.value != want[k]
                                        for k, v in rule.args):
                continue
            chosen[rule.id] = rule
            for node in rule.nodes():
                for ref in ex.walk(node):
                    if isinstance(ref, ex.Ref):
                        literal = all(isinstance(v, ex.Const) for _, v in ref.args)
                        todo.append((ref.name, tuple((k, v.value) for k, v in ref.args) if literal else None))
    return [r for r in book.rules if r.id in chosen]


def _rule_days(rules: Iterable[Rule]) -> set[_dt.date]:
    """The days some of ``rules`` come into force or end (the day after their last day)."""
    out = set()
    for r in rules:
        if r.effective_from > BEGINNING:
            out.add(r.effective_from)
        if r.effective_until < END_OF_TIME:
            out.add(r.effective_until + _dt.timedelta(days=1))
    return out


# --------------------------------------------------------------------------- reasons


def _fact_changes(before: Applicant, after: Applicant, day: _dt.date) -> list[str]:
    """What became known on ``day``, as document paths: a list entry, a section's record, a field."""
    a, b = _flat(before.to_dict()), _flat(after.to_dict())
    changed = [p for p in sorted(set(a) | set(b)) if a.get(p) != b.get(p)]
    groups: dict[str, list[str]] = {}
    for path in changed:
        parent = path.rsplit(".", 1)[0] if "." in path else path
        groups.setdefault(parent, []).append(path)
    out = []
    for parent, paths in groups.items():
        new = not any(p.startswith(parent + ".") or p == parent for p in a)
        if new and len(paths) > 1 or "[" in parent.rsplit(".", 1)[-1] and new:
            shown = ", ".join(f"{p[len(parent) + 1:]} {_text(b[p])}" for p in paths
                              if p in b and not isinstance(b[p], bool))
            out.append(f"{parent} becomes known ({shown if len(shown) <= 90 else shown[:89] + '…'})")
            continue
        for p in paths:
            value = b.get(p)
            if p not in b:
                out.append(f"{p} is no longer known")
            elif isinstance(value, str) and _is_date(value):
                out.append(f"{p} ({value}) is reached")
            else:
                out.append(f"{p} becomes {_text(value).lower() if isinstance(value, bool) else _text(value)}")
    return out


def _flat(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping):
            out.update(_flat(v, path))
        elif isinstance(v, list) and v and isinstance(v[0], Mapping):
            for i, item in enumerate(v):
                out.update(_flat(item, f"{path}[{i}]"))
        elif v != []:  # an empty list known to be empty has no entry to become known
            out[path] = v
    return out


def _is_date(text: str) -> bool:
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _atom_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                  was: Mapping[str, tuple[ex.Node, ex.Env]], now: Mapping[str, tuple[ex.Node, ex.Env]]) -> list[str]:
    """The date conditions that changed, each named by its smallest part that changed."""
    out: list[str] = []
    for text, value in after.items():
        if before.get(text, ex.UNKNOWN) == value:
            continue
        suffix = text[len(" ".join(ex.render(now[text][0]).split())):]
        node = now[text][0]
        parts = _changed_parts(node, was[text][1], now[text][1]) if text in was else [node]
        for part in parts:
            shown = re.sub(r"\[[^\[\]]{80,}\]", "[…]", " ".join(ex.render(part).split()))  # long literal lists
            shown = (shown if len(shown) <= 140 else shown[:60] + " … " + shown[-70:]) + suffix
            new = ex.value(part, now[text][1])
            line = (f"{shown} becomes {('false', 'unknown', 'true')[new]}" if isinstance(new, ex.K)
                    else f"{shown} is now {_text(new)}")
            if line not in out:
                out.append(line)
    return out


def _changed_parts(node: ex.Node, before: ex.Env, after: ex.Env) -> list[ex.Node]:
    """The smallest parts of a condition (comparisons, aggregates, quantifiers) whose value changed."""
    if isinstance(node, (ex.And, ex.Or, ex.Not)):
        inner = [p for child in ex.children(node) if ex.value(child, before) != ex.value(child, after)
                 for p in _changed_parts(child, before, after)]
        return inner or [node]
    return [node]


def _text(value: Any) -> str:
    if isinstance(value, ex.Interval):
        return f"{value.lo:g}" if value.exact else f"{value.lo:g}..{value.hi:g}"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
