"""The dated parameters of the rulebook: every figure the rules read, with when it applies and why.

A parameter is a named figure of the data under ``rules/data/``: a cell of a parameter table
(``seasons.oet_writing_min`` for the 2027 Match, ``states.img_gme_years`` for Texas), a dated
Match-calendar event (``calendar.rol_deadline``), or a dated record of another data file (the
Conrad 30 authorisations, the H-1B payment's dates). Each value comes with its **window** — when
an evaluation on ``as_of`` reads it: a season's value from the day after the previous Match Day to
its own Match Day, a law's record between its ``from`` and ``until``, a state's figure always
(the tables hold today's figure) — its sources and its confidence.

Tables are enumerated generically: a new table under ``rules/data/`` (or a new column) appears
here, in ``imgpath params`` and on the generated docs page without code changes. A cell that
carries its own ``window`` (dated parameter tables) uses it.

>>> import imgpath
>>> p = imgpath.parameters("oet_writing_min", season=2027)
>>> [(x.name, x.season, x.value, x.confidence.value) for x in p]
[('seasons.oet_writing_min', 2027, 300, 'unconfirmed')]
>>> p[0].window.span
'2026-03-21 – 2027-03-19'
>>> imgpath.parameters("img_gme_years", state="TX")[0].value
2
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ._internal import html as _html
from ._internal import views
from ._internal.version import VERSION
from .context import match_day
from .errors import QueryError
from .rulebook import BEGINNING, END_OF_TIME, Confidence, Rulebook, Source, Window, rulebook
from .rulebook.model import Cell, Series
from .rulebook.load import hint

__all__ = ["Parameter", "Parameters", "parameters"]

#: Data files that are not figures of the law (the planner's actions).
_NOT_PARAMETERS = ("actions",)
#: Keys of a data record that describe it rather than being a figure.
_META = ("sources", "confidence", "note", "title", "estimated", "id", "law", "from", "until")


@attrs.frozen
class Parameter:
    """One value of one parameter, with the window in which evaluations read it.

    ``name`` is ``table.column`` (``seasons.oet_writing_min``) or the dotted path of a data
    record (``calendar.rol_deadline``, ``visa_dates.conrad30.authorized``); ``key`` is the row
    (a season, a state) or ``None``. ``path`` is what :meth:`Rulebook.with_parameters` takes to
    change it (``None`` for data that is not a table).
    """

    name: str
    key: Any
    value: Any
    window: Window
    sources: tuple[Source, ...]
    confidence: Confidence = attrs.field(converter=Confidence)
    note: str = ""
    season: int | None = None
    state: str | None = None
    title: str = ""
    path: str | None = None
    file: str = ""
    #: a dated step known only as announced or planned: listed, never in force (contract §6.5)
    expected: bool = False

    @property
    def label(self) -> str:
        """``seasons.oet_writing_min[2027]`` or the name alone."""
        return self.name if self.key is None else f"{self.name}[{self.key}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "value": _plain(self.value),
            "window": self.window.to_dict(),
            "season": self.season,
            "state": self.state,
            "confidence": self.confidence.value,
            "sources": [{"id": s.id, "url": s.url} for s in self.sources],
            "note": self.note,
            "title": self.title,
            "path": self.path,
            "file": self.file,
            "expected": self.expected,
        }

    def __str__(self) -> str:
        state = f"{self.confidence.value}, expected" if self.expected else self.confidence.value
        return f"{self.label} = {_text(self.value)}  ({self.window.span}, {state})"


class Parameters:
    """The parameters that matched a query, in rulebook order; a sequence of :class:`Parameter`.

    Renders as text (``str``: one block per parameter, its values over seasons, states or
    windows), JSON (``to_dict``), a DataFrame (``to_frame``, the ``pandas`` extra) and HTML.
    """

    def __init__(self, items: list[Parameter], book: Rulebook, query: Mapping[str, Any]) -> None:
        self.items = tuple(items)
        self.book = book
        self.query = dict(query)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Parameter:
        return self.items[i]

    def names(self) -> list[str]:
        """The distinct parameter names, in order."""
        return list(dict.fromkeys(p.name for p in self.items))

    def history(self, name: str) -> list[Parameter]:
        """Every value of one parameter, in order (seasons ascending, states alphabetically)."""
        return [p for p in self.items if p.name == name]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "imgpath.parameters/1", "imgpath": VERSION,
                "rulebook": {"name": self.book.name, "digest": self.book.digest},
                "query": {k: _plain(v) for k, v in self.query.items() if v is not None},
                "parameters": [p.to_dict() for p in self.items]}

    def to_frame(self) -> Any:
        """A ``pandas.DataFrame``: one row per value (name, key, value, window, confidence, sources)."""
        rows = [{"name": p.name, "key": p.key, "value": _plain(p.value), "from": p.window.start,
                 "until": p.window.until, "season": p.season, "state": p.state,
                 "confidence": p.confidence.value, "sources": ";".join(s.id for s in p.sources),
                 "note": p.note} for p in self.items]
        return views.call("records_frame", rows)

    def __str__(self) -> str:
        if not self.items:
            return f"no parameters match {_query_text(self.query)}{_held(self.book)}"
        rows = [("parameter", "row", "applies", "value", "confidence", "sources")]
        for name in self.names():
            for i, p in enumerate(self.history(name)):
                srcs = ", ".join(s.id for s in p.sources[:2]) + (" …" if len(p.sources) > 2 else "")
                rows.append((name if i == 0 else "", _key_text(p), _window_text(p.window),
                             _short(_text(p.value), 40) + (" (expected)" if p.expected else ""),
                             p.confidence.value, srcs))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"{len(self.items)} value(s) of {len(self.names())} parameter(s) — rulebook {self.book.digest}"]
        lines += ["  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=False)) + "  " + r[5] for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return f"<Parameters {len(self.items)} value(s) of {len(self.names())} parameter(s)>"

    def _repr_html_(self) -> str:
        blocks = []
        for name in self.names():
            rows = []
            for p in self.history(name):
                srcs = ", ".join(_html.link(s.id, s.url) for s in p.sources[:3])
                rows.append([_html.esc(_key_text(p)), _html.esc(_window_text(p.window)),
                             f"<b>{_html.esc(_text(p.value))}</b>" + (" <i>expected</i>" if p.expected else ""),
                             f"<span class='c'>{_html.esc(p.confidence.value)}</span>",
                             f"<span class='c'>{srcs}</span>",
                             f"<span class='c'>{_html.esc(p.note[:160])}</span>"])
            head = ["row", "applies", "value", "confidence", "sources", "note"]
            blocks.append(f"<div><code>{_html.esc(name)}</code> <span class='c'>"
                          f"{_html.esc(self.history(name)[0].file)}</span>{_html.table(head, rows)}</div>")
        head = (f"<b>imgpath parameters</b> <span class='c'>{len(self.items)} value(s) · rulebook "
                f"{_html.esc(self.book.digest)}</span>")
        return _html.wrap(head + ("".join(blocks) or f"<div>{_html.esc(str(self))}</div>"))


# --------------------------------------------------------------------------- the query


def parameters(name: str | None = None, *, on: _dt.date | None = None, season: int | None = None,
               state: str | None = None, rulebook: Rulebook | None = None) -> Parameters:
    """The dated parameters of the rulebook, each value with its window, sources and confidence.

    ``name`` selects a parameter (``oet_writing_min``, ``seasons.oet_writing_min``), a table or
    data file (``seasons``, ``calendar``) or one value (``states.TX.img_gme_years``). ``season``
    keeps that Match season's values, ``state`` that state's (given together: both); ``on`` keeps
    the values an evaluation on that date reads (the season of that date, laws in force then,
    every state's figure), and ``season`` wins over ``on`` for seasonal values (an applicant may
    pin ``match.season``). An unknown name or state raises :class:`~imgpath.QueryError` with a
    suggestion; filters that match nothing give an empty result.
    """
    book = rulebook if rulebook is not None else _default()
    every = list(_table_parameters(book)) + list(_record_parameters(book))
    if name is not None:
        chosen = [p for p in every if _matches(p, name)]
        if not chosen:
            options = {p.name for p in every} | {p.name.rsplit(".", 1)[-1] for p in every}
            raise QueryError(f"no parameter {name!r}{hint(name, options)}; `imgpath params` lists them all")
        every = chosen
    if state is not None:
        states = {p.state for p in every if p.state is not None}
        if state not in states:
            raise QueryError(f"no parameter for state {state!r}{hint(state, states)}")
    if season is not None or state is not None:
        every = [p for p in every if (season is not None and p.season == season)
                 or (state is not None and p.state == state)]
    if on is not None:
        every = [p for p in every if (season is not None and p.season is not None) or on in p.window]
    return Parameters(every, book, {"name": name, "on": on, "season": season, "state": state})


def _default() -> Rulebook:
    return rulebook()


def _matches(p: Parameter, name: str) -> bool:
    """A whole parameter name, a run of its dotted parts (``seasons``, ``conrad30``,
    ``oet_writing_min``), or the ``table.row.column`` path of one value."""
    return f".{name}." in f".{p.name}." or name == p.path


def season_window(book: Rulebook, season: int) -> Window:
    """The dates whose default Match season is ``season``: after the previous Match Day, up to its own.

    >>> import imgpath
    >>> season_window(imgpath.rulebook(), 2026).span
    '2025-03-22 – 2026-03-20'
    """
    start = match_day(book, season - 1)[0] + _dt.timedelta(days=1)
    return Window(start, match_day(book, season)[0])


def _row_args(book: Rulebook) -> dict[str, str]:
    """Table name -> the conclusion argument its rows are values of (``states`` -> ``state``)."""
    out: dict[str, str] = {}
    for spec in book.conclusions.values():
        for arg, domain in spec.args.items():
            if isinstance(domain, str):
                out.setdefault(domain, arg)
    return out


def _table_parameters(book: Rulebook) -> Iterator[Parameter]:
    row_args = _row_args(book)
    for table in book.tables.values():
        seasonal = table is book.season_table()
        for column, typ in table.columns.items():
            if typ == "str" and not any(_cells(row[column]) and any(c.sources for _, c, _ in _cells(row[column]))
                                        for row in table.rows.values() if column in row):
                continue  # a label or a free-text note (a state's name), not a sourced figure
            for key in sorted(table.rows, key=_sort_key):
                held = table.rows[key].get(column)
                if held is None:
                    continue
                for window, cell, expected in _cells(held):
                    if window is None:
                        window = season_window(book, key) if seasonal else Window()
                    yield Parameter(
                        name=f"{table.name}.{column}", key=key, value=cell.value, window=window,
                        sources=_sources(book, cell.sources), confidence=cell.confidence, note=cell.note,
                        season=key if seasonal else None,
                        state=key if row_args.get(table.name) == "state" else None,
                        title=table.description, path=f"{table.name}.{key}.{column}", file=table.file,
                        expected=expected)


def _cells(held: Cell | Series) -> list[tuple[Window | None, Cell, bool]]:
    """(window, cell, expected) of a table cell: one undated cell, or each step of a dated
    :class:`Series`, in force from its day until the next reached step (an expected step: until the
    next step of any kind, for display)."""
    if not isinstance(held, Series):
        return [(None, held, False)]
    out = []
    steps = held.steps
    for i, step in enumerate(steps):
        following = [s.start for s in steps[i + 1:] if step.expected or not s.expected]
        until = following[0] - _dt.timedelta(days=1) if following else END_OF_TIME
        out.append((Window(step.start, until), step.cell, step.expected))
    return out


def _sort_key(key: Any) -> tuple[str, Any]:
    return (type(key).__name__, key)


def _record_parameters(book: Rulebook) -> Iterator[Parameter]:
    """The records of the data files that are not tables: each record with sources is a parameter."""
    for stem, doc in book.extras.items():
        if stem in _NOT_PARAMETERS:
            continue
        yield from _walk(book, stem, doc, (stem,), None, f"rules/data/{stem}.toml")


def _walk(book: Rulebook, stem: str, node: Any, path: tuple[str, ...], season: int | None,
          file: str) -> Iterator[Parameter]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(book, stem, item, path, season, file)
        return
    if not isinstance(node, dict):
        return
    if "sources" not in node:
        for key, sub in node.items():
            # a record under seasons.<year> belongs to that Match season
            here = int(key) if path[-1:] == ("seasons",) and str(key).isdigit() else season
            yield from _walk(book, stem, sub, (*path, str(key)) if here == season else path, here, file)
        return
    sources = _sources(book, node.get("sources", ()))
    confidence = node.get("confidence", "primary")
    note = str(node.get("note", ""))
    window = season_window(book, season) if season is not None else Window()
    if "from" in node or "until" in node:  # a dated record: the value holds between its dates
        window = Window(node.get("from", BEGINNING), node.get("until", END_OF_TIME))
        yield Parameter(".".join(path), None, node.get("law", True), window, sources, confidence, note,
                        season=season, file=file)
        return
    if "id" in node and "date" in node:  # a dated event of a season
        yield Parameter(".".join((path[0], str(node["id"]))), season, node["date"], window, sources, confidence,
                        note, season=season, title=str(node.get("title", "")), file=file)
        return
    for key, value in node.items():
        if key in _META:
            continue
        yield Parameter(".".join((*path, key)), season, value, window, sources, confidence, note,
                        season=season, file=file)


def _sources(book: Rulebook, ids: Any) -> tuple[Source, ...]:
    return tuple(book.sources[s] for s in ids if s in book.sources)


def _key_text(p: Parameter) -> str:
    if p.season is not None:
        return f"season {p.season}"
    return "—" if p.key is None else str(p.key)


def _window_text(w: Window) -> str:
    """'undated' (a table's current figure), 'from 2024-07-01', 'until 2024-06-30' or
    '2025-03-22 – 2026-03-20'."""
    if w.start == BEGINNING:
        return "undated" if w.until is None else f"until {w.until}"
    return f"from {w.start}" if w.until is None else f"{w.start} – {w.until}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value))
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (_dt.date,)):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _query_text(query: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in query.items() if v is not None]
    return ", ".join(parts) or "(no filter)"


def _held(book: Rulebook) -> str:
    table = book.season_table()
    if table is None or not table.rows:
        return ""
    years = sorted(table.rows)
    return f" (the rulebook holds seasons {years[0]}–{years[-1]})"

