"""The data's horizon (contract §2) and the warnings an evaluation carries when it looks past it (§1.1).

The rulebook declares by hand, in ``rules/data/horizon.toml``, the last Match season whose
parameters it holds and the date it was last checked as a whole against its sources. An evaluation
still answers past either (a conclusion that needs a missing parameter is UNKNOWN, naming it) but
says so first, as :class:`EvaluationWarning` records in ``ev.warnings``:

* ``season_beyond_data``: the season's parameters are not in the rulebook (after the last season held);
* ``season_before_data``: the season is before the first one the rulebook holds;
* ``as_of_beyond_horizon``: ``as_of`` is more than ``warn_after_months`` (12) after the check date;
* ``as_of_before_data``: ``as_of`` is before the law the rulebook encodes begins (with a pinned season);
* ``pinned_season_passed``: ``match.season`` names a Match whose rank-order-list deadline is before ``as_of``.

A season inferred from the previous one (its cells ``unconfirmed``) counts as held.

>>> import datetime, imgpath
>>> ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=datetime.date(2027, 3, 20))
>>> [w.code for w in ev.warnings]
['season_beyond_data']
>>> print(ev.warnings[0].message)   # doctest: +ELLIPSIS
Match season 2028 is beyond the rulebook's data (parameters held up to the 2027 season...
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs

from .context import match_day, season_for
from .expressions import add_months
from .facts import Applicant
from .rulebook import Rulebook

__all__ = ["EvaluationWarning", "Horizon", "horizon", "warnings_for"]


@attrs.frozen
class EvaluationWarning:
    """A warning an evaluation carries (data, never raised): ``code``, a ``message`` for people, and
    what it ``concerns`` (``season``, ``as_of`` or ``match.season``)."""

    code: str
    message: str
    concerns: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "concerns": self.concerns}

    def __str__(self) -> str:
        return f"warning ({self.code}): {self.message}"


@attrs.frozen
class Horizon:
    """What the rulebook says of its own reach: the seasons it holds and when it was last checked."""

    first_season: int | None
    last_season: int | None
    checked: _dt.date | None
    warn_after_months: int = 12
    unpublished: Mapping[int, str] = attrs.field(factory=dict)
    season_figures: str = "its parameters"
    deadline_column: str = ""
    deadline_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"first_season": self.first_season, "last_season": self.last_season,
                "checked": self.checked.isoformat() if self.checked else None}


def horizon(book: Rulebook) -> Horizon:
    """The rulebook's horizon: declared in ``rules/data/horizon.toml``, the first season from the data.

    A rulebook without the file falls back on its season table's last row and has no check date.

    >>> from imgpath.rulebook import rulebook
    >>> h = horizon(rulebook())
    >>> h.first_season, h.last_season, h.checked
    (2021, 2027, datetime.date(2026, 12, 6))
    """
    cached = book.derived.get("horizon")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    table = book.season_table()
    held = sorted(table.rows) if table is not None else []
    declared = book.extras.get("horizon", {})
    out = Horizon(
        first_season=held[0] if held else None,
        last_season=declared.get("last_season", held[-1] if held else None),
        checked=declared.get("checked"),
        warn_after_months=declared.get("warn_after_months", 12),
        unpublished={int(k): v for k, v in (declared.get("unpublished") or {}).items()},
        season_figures=declared.get("season_figures", "its parameters"),
        deadline_column=(declared.get("season_deadline") or {}).get("column", ""),
        deadline_name=(declared.get("season_deadline") or {}).get("name", ""),
    )
    book.derived["horizon"] = out
    return out


def warnings_for(book: Rulebook, applicant: Applicant, as_of: _dt.date, season: int) -> tuple[EvaluationWarning, ...]:
    """The warnings of an evaluation of ``applicant`` on ``as_of`` for the Match ``season``."""
    h = horizon(book)
    out: list[EvaluationWarning] = []
    pinned = applicant.match is not None and applicant.match.season is not None
    reach = (f"parameters held up to the {h.last_season} season"
             + (f", last checked {h.checked}" if h.checked else ""))
    if h.last_season is not None and season > h.last_season:
        why = h.unpublished.get(season, "its parameters are not in the rulebook")
        out.append(EvaluationWarning(
            "season_beyond_data",
            f"Match season {season} is beyond the rulebook's data ({reach}): {why}. Conclusions that need "
            f"the {season} season's figures ({h.season_figures}) are UNKNOWN, naming them.", "season"))
    if h.first_season is not None and season < h.first_season:
        out.append(EvaluationWarning(
            "season_before_data",
            f"Match season {season} is before the first season the rulebook holds ({h.first_season}): the "
            "figures of that season and the law of that time are not encoded, so these answers may not be "
            "the ones given then.", "season"))
    elif h.first_season is not None and pinned and season_for(book, Applicant(), as_of) < h.first_season:
        out.append(EvaluationWarning(
            "as_of_before_data",
            f"as_of {as_of} is before the first season the rulebook holds ({h.first_season}): the law of that "
            f"time is not encoded, and the Match season {season} (match.season) had not begun.", "as_of"))
    if h.checked is not None and as_of > add_months(h.checked, h.warn_after_months):
        out.append(EvaluationWarning(
            "as_of_beyond_horizon",
            f"as_of {as_of} is more than {h.warn_after_months} months after the rulebook was last checked "
            f"against its sources ({h.checked}): the law or the figures may have changed since. Use a newer "
            "imgpath, or check the sources cited.", "as_of"))
    if pinned:
        deadline, what = _season_end(book, h, season)
        if deadline < as_of:
            upcoming = season_for(book, Applicant(), as_of)
            while _season_end(book, h, upcoming)[0] < as_of:
                upcoming += 1
            out.append(EvaluationWarning(
                "pinned_season_passed",
                f"match.season = {season} names a Match whose {what} ({deadline}) is before as_of ({as_of}): "
                f"ranking for it has closed, and answers about it describe a Match already decided. If you are "
                f"applying again, remove match.season or set it to {upcoming}, the next Match you can still "
                "enter.",
                "match.season"))
    return tuple(out)


def _season_end(book: Rulebook, h: Horizon, season: int) -> tuple[_dt.date, str]:
    """The date that ends a season for a pinned applicant: the horizon's declared deadline column of the
    season table, else Match Day (from the data or the declared default), which comes after it."""
    table = book.season_table()
    cell = table.cell(season, h.deadline_column) if table is not None and h.deadline_column else None
    if cell is not None and isinstance(cell.value, _dt.date):
        return cell.value, h.deadline_name or h.deadline_column
    return match_day(book, season)[0], "Match Day"
