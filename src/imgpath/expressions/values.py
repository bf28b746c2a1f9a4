"""Three-valued values: Kleene truth, the two kinds of missing, and bounds on partly unknown numbers.

>>> min(K.T, K.U), ~K.F
(<K.U: 1>, <K.T: 2>)
>>> add_months(_dt.date(2024, 1, 31), 1)
datetime.date(2024, 2, 29)
"""

from __future__ import annotations

import datetime as _dt
import enum

import attrs

__all__ = ["NONE", "UNKNOWN", "Interval", "K", "add_months", "day_after", "months_between", "years_between"]


class K(enum.IntEnum):
    """Kleene truth: ``min`` is *and*, ``max`` is *or*, ``K(2 - v)`` is *not*."""

    F = 0
    U = 1
    T = 2

    def __invert__(self) -> K:  # type: ignore[override]
        return K(2 - self)


class _Missing:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name


#: The fact is known not to exist (no certificate, not yet graduated, training ongoing).
NONE = _Missing("NONE")
#: The fact is missing: nothing can be concluded from it.
UNKNOWN = _Missing("UNKNOWN")


@attrs.frozen
class Interval:
    """Bounds on a number that depends on unknown facts (``hi`` may be ``inf``)."""

    lo: float
    hi: float

    @property
    def exact(self) -> bool:
        return self.lo == self.hi


# --------------------------------------------------------------------------- AST


def day_after(d: _dt.date) -> _dt.date:
    """The next day (the last representable date stays itself)."""
    return d if d == _dt.date.max else d + _dt.timedelta(days=1)


def months_between(a: _dt.date, b: _dt.date) -> int:
    """Whole calendar months from ``a`` to ``b`` (``b`` exclusive).

    >>> months_between(_dt.date(2023, 7, 1), _dt.date(2026, 7, 1))
    36
    >>> months_between(_dt.date(2023, 7, 15), _dt.date(2023, 8, 14))
    0
    """
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if b.day < a.day:
        months -= 1
    return months


def years_between(a: _dt.date, b: _dt.date) -> int:
    """Whole years from ``a`` to ``b`` (anniversaries passed).

    >>> years_between(_dt.date(2019, 3, 1), _dt.date(2026, 2, 28))
    6
    """
    return months_between(a, b) // 12 if b >= a else -(months_between(b, a) // 12)


def add_months(d: _dt.date, n: int) -> _dt.date:
    """``d`` plus ``n`` calendar months, clamped to the month's last day."""
    m = d.month - 1 + n
    year, month = d.year + m // 12, m % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return _dt.date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover
