"""What-if comparisons: which conclusions changed between two evaluations, and the rules responsible.

The two evaluations may differ in facts (``ev.with_facts(...)``) or in date (the same applicant on
two ``as_of`` dates, with the law changed between them).

>>> import imgpath, datetime
>>> doc = {"person": {"us_status": "none", "citizenship": ["IN"]}, "offer": {"kind": "residency"}}
>>> before = imgpath.evaluate(doc, as_of=datetime.date(2025, 9, 20))
>>> after = imgpath.evaluate(doc, as_of=datetime.date(2025, 9, 21))
>>> [c.label for c in imgpath.diff(before, after)]
['h1b_fee_applies']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from .evaluation import Evaluation

__all__ = ["Change", "Diff", "diff"]


@attrs.frozen
class Change:
    """One conclusion that differs: before and after, with the rules behind each side."""

    label: str
    name: str
    args: dict[str, Any]
    before: str
    after: str
    value_before: Any
    value_after: Any
    rules_before: tuple[str, ...]
    rules_after: tuple[str, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        """Rules responsible. A YES side lists the rules that derived it, a NO or UNKNOWN side the
        candidate rules that failed or could still hold: a change to or from YES is due to the YES side's
        rules; a value change between two YES sides to the rules on one side only (else the new ones);
        a change between NO and UNKNOWN to the candidates of both sides."""
        if self.before == "yes" and self.after == "yes":
            changed = tuple(r for r in dict.fromkeys(self.rules_before + self.rules_after)
                            if (r in self.rules_before) != (r in self.rules_after))
            return changed or self.rules_after
        if self.after == "yes":
            return self.rules_after
        if self.before == "yes":
            return self.rules_before
        return tuple(dict.fromkeys(self.rules_before + self.rules_after))

    def to_dict(self) -> dict[str, Any]:
        return {"conclusion": self.label, "before": self.before, "after": self.after,
                "value_before": _plain(self.value_before), "value_after": _plain(self.value_after),
                "rules": list(self.rules), "rules_before": list(self.rules_before),
                "rules_after": list(self.rules_after)}

    def __str__(self) -> str:
        vb = f" ({_plain(self.value_before)})" if self.value_before not in (None, ()) else ""
        va = f" ({_plain(self.value_after)})" if self.value_after not in (None, ()) else ""
        return f"{self.label}: {self.before.upper()}{vb} -> {self.after.upper()}{va}   rules: {', '.join(self.rules)}"


class Diff:
    """The changes between two evaluations, iterable; ``to_dict``, ``str`` and HTML renderings."""

    def __init__(self, a: Evaluation, b: Evaluation, changes: list[Change]) -> None:
        self.a = a
        self.b = b
        self.changes = changes

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.diff/1", "before": {"as_of": self.a.as_of.isoformat(), "season": self.a.season},
                "after": {"as_of": self.b.as_of.isoformat(), "season": self.b.season},
                "changes": [c.to_dict() for c in self.changes]}

    def __str__(self) -> str:
        head = (f"changes from as_of {self.a.as_of} (season {self.a.season}) to as_of {self.b.as_of} "
                f"(season {self.b.season}): {len(self.changes)}")
        return "\n".join([head, *(f"  {c}" for c in self.changes)])

    def __repr__(self) -> str:
        return f"<Diff {len(self.changes)} change(s): {[c.label for c in self.changes[:4]]}>"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td><code>{html.escape(c.label)}</code></td><td>{c.before}</td><td>{c.after}</td>"
                       f"<td>{html.escape(', '.join(c.rules))}</td></tr>" for c in self.changes)
        return ("<div class='imgpath'><b>what changed</b><table><tr><th>conclusion</th><th>before</th>"
                f"<th>after</th><th>rules</th></tr>{rows}</table></div>")


def diff(a: Evaluation, b: Evaluation, *, include_internal: bool = False) -> Diff:
    """Conclusions whose verdict or value differs between evaluations ``a`` and ``b``."""
    keys = list(dict.fromkeys([*a.instances(), *b.instances()]))
    changes = []
    for name, args in keys:
        if not include_internal and a.book.conclusions[name].internal:
            continue
        try:
            ca = a.conclusion(name, **dict(args))
            cb = b.conclusion(name, **dict(args))
        except ValueError:
            continue  # a state in scope on one side only
        if ca.verdict is cb.verdict and ca.value == cb.value:
            continue
        changes.append(Change(ca.label, name, dict(args), ca.verdict.value, cb.verdict.value, ca.value, cb.value,
                              ca.rules, cb.rules))
    return Diff(a, b, changes)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
