"""Small presentation pieces for parameters, timelines and comparisons: answers as text, and HTML.

The HTML is self-contained like :mod:`imgpath.render` (inline CSS, no JavaScript, every text
escaped); the objects that use it render themselves, so nothing here imports a layer.

>>> answer("yes", 3, "value"), answer("yes", ("iga", "persecution"), "set"), answer("no", (), "set")
('3', 'iga, persecution', 'none')
>>> badge("yes")
'<span class="b yes">YES</span>'
>>> table(["a"], [["<b>"]], raw=False)
'<table><tr><th>a</th></tr><tr><td>&lt;b&gt;</td></tr></table>'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["answer", "badge", "esc", "link", "table", "wrap"]

_CSS = """<style>
.imgpath{font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:13px;line-height:1.4}
.imgpath table{border-collapse:collapse;margin:4px 0}
.imgpath th,.imgpath td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.imgpath .b{display:inline-block;border-radius:8px;padding:0 7px;font-weight:600;font-size:11px;color:#fff}
.imgpath .yes{background:#2e7d32}.imgpath .no{background:#c62828}.imgpath .unknown{background:#8d6e00}
.imgpath .c{color:#555;font-size:11px}.imgpath code{background:#f4f4f4;padding:0 3px}
</style>"""


def answer(verdict: str, value: Any, kind: str) -> str:
    """A conclusion's answer as people read it: YES / NO / UNKNOWN for a yes/no conclusion, the value
    of a valued one (its verdict when the value is unknown), the members of a set ('none' when empty)."""
    verdict = str(verdict)
    if kind == "set" and isinstance(value, (tuple, list)):
        members = ", ".join(map(str, value))
        if verdict == "unknown":
            return f"{members} + undecided" if members else "UNKNOWN"
        return members or "none"
    if kind == "value" and value is not None:
        return str(value)
    return verdict.upper()


def esc(text: Any) -> str:
    """``text`` escaped for HTML."""
    return html.escape(str(text))


def badge(verdict: str) -> str:
    """A coloured verdict badge (yes, no, unknown)."""
    return f'<span class="b {esc(verdict)}">{esc(verdict.upper())}</span>'


def link(title: str, url: str) -> str:
    return f'<a href="{esc(url)}" target="_blank" rel="noopener">{esc(title)}</a>'


def table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: bool = True) -> str:
    """A table; cells are HTML already (``raw``) or escaped text."""
    cell = (lambda v: str(v)) if raw else esc
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>" + body + "</table>"


def wrap(body: str) -> str:
    return f'{_CSS}<div class="imgpath">{body}</div>'
