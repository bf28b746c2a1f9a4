"""pandas adapters (the ``pandas`` extra): evaluations as a DataFrame, a DataFrame of applicants evaluated.

``to_frame`` gives one row per applicant and one column per conclusion (its verdict, or its value
for valued conclusions). ``evaluate_frame`` reads flattened columns (see :mod:`imgpath.batch`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

from ._internal import views
from .evaluation import Evaluation

__all__ = ["evaluate_frame", "records_frame", "to_frame"]


def to_frame(evaluations: Iterable[Evaluation], *, index: Iterable[Any] | None = None) -> Any:
    """A ``pandas.DataFrame``: one row per evaluation, ``as_of``, ``season`` and one column per conclusion."""
    import pandas as pd

    from .batch import result_row  # batch (and multiprocessing) only when evaluations are framed

    rows = [result_row(ev) for ev in evaluations]
    frame = pd.DataFrame(rows, index=list(index) if index is not None else None)
    return frame


def evaluate_frame(df: Any, *, as_of: _dt.date | None = None, workers: int | None = None) -> Any:
    """Evaluate a DataFrame of flattened applicant columns; returns the results, indexed like ``df``."""
    from .batch import evaluate_many, unflatten

    docs = [unflatten({str(k): ("" if _missing(v) else str(v)) for k, v in row.items()})
            for row in df.to_dict(orient="records")]
    return to_frame(evaluate_many(docs, as_of=as_of, workers=workers), index=df.index)


def records_frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    """A ``pandas.DataFrame`` of plain records: what ``to_frame()`` of parameters, timelines and
    comparisons returns (they live below this adapter and reach it through ``views``)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


views.provide("records_frame", records_frame)


def _missing(v: Any) -> bool:
    try:
        import math

        return v is None or (isinstance(v, float) and math.isnan(v))
    except TypeError:  # pragma: no cover
        return False
