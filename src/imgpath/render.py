"""HTML renderings for Jupyter: self-contained (inline CSS, no JavaScript), with verdict badges,
collapsible derivations (``<details>``), source links, and ``as_of`` and the season shown."""

from __future__ import annotations

import html
from typing import Any

from ._internal import views
from .evaluation import Evaluation
from .explain import Derivation, Explanation, WhyNot
from .plan import Plan
from .rulebook import Rulebook

__all__ = ["evaluation_html", "explanation_html", "plan_html", "rulebook_html", "why_not_html"]

_CSS = """<style>
.imgpath{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:13px;line-height:1.4}
.imgpath table{border-collapse:collapse;margin:4px 0}
.imgpath th,.imgpath td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.imgpath .b{display:inline-block;border-radius:8px;padding:0 7px;font-weight:600;font-size:11px;color:#fff}
.imgpath .yes,.imgpath .holds{background:#2e7d32}.imgpath .no,.imgpath .fails{background:#c62828}
.imgpath .unknown{background:#8d6e00}.imgpath .not_in_force{background:#777}
.imgpath .c{color:#555;font-size:11px}.imgpath details{margin-left:14px}
.imgpath summary{cursor:pointer}.imgpath code{background:#f4f4f4;padding:0 3px}
.imgpath .d{color:#333;font-size:12px;max-width:46em}.imgpath .v{font-weight:600}
.imgpath .w{border:1px solid #8d6e00;background:#fff8e1;padding:4px 8px;margin:6px 0}
.imgpath .w ul{margin:2px 0;padding-left:18px}.imgpath .s{margin:6px 0}
</style>"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _badge(kind: str, text: str | None = None) -> str:
    return f'<span class="b {_e(kind)}">{_e(text or kind.replace("_", " ").upper())}</span>'


def _link(title: str, url: str) -> str:
    return f'<a href="{_e(url)}" target="_blank" rel="noopener">{_e(title)}</a>'


def _wrap(body: str) -> str:
    return f'{_CSS}<div class="imgpath">{body}</div>'


def _answer(c: Any) -> str:
    """A conclusion's answer as a person reads it: a verdict badge for a yes/no question, the value of a
    valued conclusion and the members of a set (``none`` when empty), UNKNOWN only when unknown."""
    if c.kind == "boolean" or c.verdict.value == "unknown" or (c.kind == "value" and c.verdict.value != "yes"):
        text = c.shown if c.kind != "boolean" else None
        return _badge(c.verdict.value, text)
    return f'<span class="v">{_e(c.shown)}</span>'


def _warnings(ev: Evaluation) -> str:
    if not ev.warnings:
        return ""
    items = "".join(f"<li><b>{_e(w.code)}</b>: {_e(w.message)}</li>" for w in ev.warnings)
    return f"<div class='w'>{_badge('unknown', 'WARNING')}<ul>{items}</ul></div>"


def evaluation_html(ev: Evaluation) -> str:
    """Warnings first, then the summary (rules/data/display.toml), then the conclusions table: the
    answer (verdict, value or members), the plain description, confidence, rules and sources, with
    derivations."""
    rows = []
    for c in ev.conclusions:
        srcs = ", ".join(_link(s.publisher, s.url) for s in c.sources[:3]) + (" …" if len(c.sources) > 3 else "")
        if c.verdict.value == "yes":
            detail = f"<details><summary class='c'>why</summary>{_derivation(ev.why(c.name, **c.args).root)}</details>"
        else:  # NO and UNKNOWN: the rules judged condition by condition, and what is missing
            wn = ev.why_not(c.name, **c.args)
            missing = (f"<div class='c'>missing: {_e(', '.join(wn.decided_by))}</div>"
                       if c.verdict.value == "unknown" and wn.decided_by else "")
            detail = f"{missing}<details><summary class='c'>why not</summary>{_why_not_body(wn)}</details>"
        description = ev.book.conclusions[c.name].description
        rows.append(f"<tr><td><code>{_e(c.label)}</code><div class='d'>{_e(description)}</div>{detail}</td>"
                    f"<td>{_answer(c)}</td><td class='c'>{_e(c.confidence)}</td>"
                    f"<td class='c'>{_e(', '.join(c.rules[:2]))}</td><td class='c'>{srcs}</td></tr>")
    head = (f"<b>imgpath evaluation</b> <span class='c'>as of {_e(ev.as_of)} · Match season {_e(ev.season)} · "
            f"engine {_e(ev.engine)}</span>")
    summary = ev.summary()
    short = ""
    if summary:
        title = ev.book.extras.get("display", {}).get("summary", {}).get("title", "Summary")
        items = "".join(f"<tr><td><code>{_e(c.label)}</code></td><td>{_answer(c)}</td>"
                        f"<td class='c'>{_e(c.reason)}</td></tr>" for c in summary)
        short = f"<div class='s'><b>{_e(title)}</b><table>{items}</table></div>"
    table = ("<table><tr><th>conclusion</th><th>answer</th><th>confidence</th><th>rules</th>"
             "<th>sources</th></tr>" + "".join(rows) + "</table>")
    return _wrap(head + _warnings(ev) + short + table)


def _derivation(d: Derivation) -> str:
    rule = ""
    if d.rule is not None:
        rule = (f"<div class='c'>rule <code>{_e(d.rule.id)}</code> — {_e(d.rule.title)} "
                f"({_e(d.rule.window.text)})</div>")
    conds = "".join(f"<li>{_badge(c.status)} <code>{_e(c.text[:200])}</code> "
                    f"<span class='c'>{_e('; '.join(str(f) for f in c.facts[:5]))}</span></li>"
                    for c in d.conditions)
    srcs = "".join(f"<li>{_link(t, u)}</li>" for t, u in d.sources)
    assumed = "".join(f"<li class='c'>assumed: {_e(a)}</li>" for a in d.assumptions)
    subs = "".join(_derivation(p) for p in d.premises)
    value = f" = {_e(d.value)}" if d.value is not None else ""
    note = f"<div class='c'>{_e(d.note)}</div>" if d.note else ""
    return (f"<details open><summary><code>{_e(d.label)}</code> {_badge(d.verdict)}{value} "
            f"<span class='c'>{_e(d.confidence)}</span></summary>{note}{rule}<ul>{conds}{assumed}</ul>"
            f"<ul class='c'>{srcs}</ul>{subs}</details>")


def explanation_html(ex: Explanation) -> str:
    head = f"<b>why {_e(ex.root.label)}</b> <span class='c'>as of {_e(ex.as_of)} · Match season {_e(ex.season)}</span>"
    return _wrap(head + _derivation(ex.root))


def why_not_html(wn: WhyNot) -> str:
    return _wrap(_why_not_body(wn))


def _why_not_body(wn: WhyNot) -> str:
    parts = [f"<b>why not {_e(wn.label)}</b> {_badge(wn.verdict)} "
             f"<span class='c'>as of {_e(wn.as_of)} · Match season {_e(wn.season)}</span>"]
    if wn.note:
        parts.append(f"<div class='c'>{_e(wn.note)}</div>")
    for ch in wn.checks:
        conds = "".join(f"<li>{_badge(c.status)} <code>{_e(c.text[:200])}</code> "
                        f"<span class='c'>{_e('; '.join(str(f) for f in c.facts[:5]))}</span></li>"
                        for c in ch.conditions)
        reason = f"<div class='c'>{_e(ch.reason)}</div>" if ch.reason else ""
        parts.append(f"<details {'open' if ch.status != 'not_in_force' else ''}><summary>{_badge(ch.status)} "
                     f"<code>{_e(ch.rule.id)}</code> — {_e(ch.rule.title)}</summary>{reason}<ul>{conds}</ul></details>")
    if wn.premises:
        parts.append("<div>rests on UNKNOWN: " + ", ".join(f"<code>{_e(p.label)}</code>" for p in wn.premises)
                     + "</div>")
    if wn.decided_by:
        parts.append("<div>would be decided by: " + ", ".join(f"<code>{_e(m)}</code>" for m in wn.decided_by)
                     + "</div>")
    return "".join(parts)


def plan_html(plan: Plan) -> str:
    head = (f"<b>next steps toward {_e(plan.goal_label)}</b> {_badge(plan.verdict)} "
            f"<span class='c'>as of {_e(plan.as_of)} · Match season {_e(plan.season)}</span>")
    if plan.blocked:
        named = [*plan.unchangeable, *plan.not_in_force]
        extra = f"<div class='c'>stands in the way: {_e('; '.join(named))}</div>" if named else ""
        return _wrap(head + f"<div>{_badge('no', 'BLOCKED')} {_e(plan.blocked)}</div>{extra}")
    options = [_option_html(option, f"option {i}", i == 1) for i, option in enumerate(plan.options, 1)]
    branches = ""
    if plan.branches or plan.dead_ends:
        facts = ", ".join(dict.fromkeys(f for b in plan.branches for f in b.facts))
        items = [_option_html(b.options[0], _condition(b.condition), i == 0) if b.options else
                 f"<div>{_e(_condition(b.condition))}: {_badge('yes', 'ALREADY HOLDS')}</div>"
                 for i, b in enumerate(plan.branches)]
        items += [f"<div>{_e(_condition(d.condition))}: {_badge('no', 'BLOCKED')} {_e(d.reason)}</div>"
                  for d in plan.dead_ends]
        branches = f"<div>it depends on facts not given (<code>{_e(facts)}</code>):</div>" + "".join(items)
    confirm = ""
    if plan.to_confirm and not (plan.options or plan.branches):
        confirm = f"<div>confirm first: <code>{_e(', '.join(plan.to_confirm))}</code></div>"
    advice = ""
    if plan.advice:
        items = "".join(f"<li>{_e(a.text)} <span class='c'>{_e(a.confidence)} · {_e(', '.join(a.rules))}</span></li>"
                        for a in plan.advice)
        advice = ("<details><summary>to strengthen the application (program-specific; secondary sources)"
                  f"</summary><ul>{items}</ul></details>")
    return _wrap(head + "".join(options) + branches + confirm + advice)


def _condition(text: str) -> str:
    return text if text.startswith(("otherwise", "whatever")) else f"if {text}"


def _option_html(option: Any, title: str, open_: bool) -> str:
    steps = "".join(
        f"<li><b>{_e(s.action)}</b> <span class='c'>unlocks {_e(s.rule)}"
        f"{'; after: ' + _e(', '.join(s.after)) if s.after else ''}"
        f"{'; ' + _e(s.when) if s.when else ''}"
        f"{'; ' + _e(s.note) if s.note else ''}"
        f"</span></li>" for s in option.steps)
    consequences = "".join(f"<li>{_badge('unknown', 'CONSEQUENCE')} {_e(c.text)}</li>" for c in option.consequences)
    return (f"<details {'open' if open_ else ''}><summary>{_e(title)}: {len(option.steps)} step(s)"
            f"</summary><ol>{steps}</ol>{f'<ul>{consequences}</ul>' if consequences else ''}</details>")


def rulebook_html(book: Rulebook) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(r.id)}</code></td><td>{_e(r.title)}</td><td><code>{_e(r.conclusion)}</code></td>"
        f"<td class='c'>{_e(r.window.span)}</td><td class='c'>{_e(r.confidence)}</td>"
        f"<td class='c'>{', '.join(_link(s, book.sources[s].url) for s in r.sources[:3])}</td></tr>"
        for r in book.rules)
    return _wrap(f"<b>imgpath rulebook</b> <span class='c'>{len(book.rules)} rules · {len(book.sources)} sources</span>"
                 "<details><summary>rules</summary><table><tr><th>id</th><th>title</th><th>conclusion</th>"
                 f"<th>effective</th><th>confidence</th><th>sources</th></tr>{rows}</table></details>")


for _type, _view in (("Evaluation", evaluation_html), ("Explanation", explanation_html), ("WhyNot", why_not_html),
                     ("Plan", plan_html), ("Rulebook", rulebook_html)):
    views.provide_html(_type, _view)
