"""Cohorts beyond one machine: applicants evaluated on Dask (the ``dask`` extra).

:func:`evaluate_dask` maps a partition evaluator over a ``dask.dataframe`` of flattened applicant
columns (the CSV form of :mod:`imgpath.batch`), so a cohort of millions of synthetic applicants
runs on whatever Dask runs on: the local threaded scheduler, a ``distributed.LocalCluster`` of
processes, or a cluster of machines. Dask schedules; imgpath only evaluates rows. Each worker
process loads the rulebook once (from its on-disk cache) and compiles programs once per
effective window, exactly as ``evaluate_many`` workers do.

The output has fixed columns, as a Dask DataFrame must: ``id`` (when the input has one),
``as_of``, ``season``, one column per conclusion instance asked for (its verdict, or its value for
valued conclusions; empty where an applicant's ``interest.states`` leaves a state out) and
``error`` (the validation message of a row that could not be evaluated, which is not fatal).

See ``tests/test_dask.py`` (a ``distributed.LocalCluster``) and the how-to *Run millions of applicants
on Dask* for examples.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .batch import unflatten
from .errors import InvalidFacts, QueryError
from .evaluation import Evaluation, evaluate
from .rulebook import Rulebook
from .rulebook import rulebook as default_rulebook

__all__ = ["evaluate_dask", "instances"]


def evaluate_dask(frame: Any, *, as_of: _dt.date | None = None, conclusions: Iterable[str] | None = None,
                  rulebook: Rulebook | None = None, engine: str = "durable", blocksize: Any = "64MB") -> Any:
    """Evaluate a cohort with Dask; returns a lazy ``dask.dataframe.DataFrame`` (call ``.compute()``
    or write it with ``.to_parquet``/``.to_csv``).

    ``frame`` is a ``dask.dataframe.DataFrame`` or a ``pandas.DataFrame`` of flattened applicant
    columns, or a path or glob of CSV files (read as text, ``blocksize`` per partition).
    ``conclusions`` names conclusions (``licensable``: every state) or instances
    (``licensable(state='TX')``); default: every public conclusion instance. Runs on the scheduler
    in use: with a ``distributed.Client``, on its workers.
    """
    import dask.dataframe as dd
    import pandas as pd

    if isinstance(frame, (str, Path)):
        frame = dd.read_csv(str(frame), dtype=str, keep_default_na=False, blocksize=blocksize)
    elif isinstance(frame, pd.DataFrame):
        frame = dd.from_pandas(frame, npartitions=1)
    elif not isinstance(frame, dd.DataFrame):
        raise QueryError("evaluate_dask: expected a dask or pandas DataFrame or a CSV path, got "
                         f"{type(frame).__name__}")
    book = rulebook if rulebook is not None else default_rulebook()
    keys, labels = instances(book, conclusions)
    columns = (["id"] if "id" in frame.columns else []) + ["as_of", "season", *labels, "error"]
    meta = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return frame.map_partitions(_evaluate_partition, keys=keys, labels=labels, columns=columns, as_of=as_of,
                                rulebook=rulebook, engine=engine, meta=meta)


def instances(book: Rulebook, conclusions: Iterable[str] | None = None) -> tuple[list[Any], list[str]]:
    """The instance keys and column labels of ``conclusions`` (names or labels; default: every public one).

    >>> import imgpath
    >>> instances(imgpath.rulebook(), ["img", "licensable(state='TX')"])[1]
    ['img', "licensable(state='TX')"]
    """
    probe = evaluate({}, as_of=_dt.date(2026, 1, 1), rulebook=book)  # instances do not depend on the facts
    every = {probe.at(k).label: k for k in probe.instances() if not book.conclusions[k[0]].internal}
    if conclusions is None:
        return list(every.values()), list(every)
    keys, labels = [], []
    for wanted in conclusions:
        matched = [label for label, k in every.items() if wanted in (label, k[0])]
        if not matched:
            book.conclusion(wanted.split("(")[0])  # an unknown name: UnknownConclusion with a suggestion
            raise QueryError(f"evaluate_dask: no conclusion instance {wanted!r} (write licensable or "
                             "licensable(state='TX'))")
        keys += [every[label] for label in matched]
        labels += matched
    return keys, labels


def _evaluate_partition(part: Any, *, keys: list[Any], labels: list[str], columns: list[str],
                        as_of: _dt.date | None, rulebook: Rulebook | None, engine: str) -> Any:
    import pandas as pd

    rows = []
    for record in part.to_dict(orient="records"):
        row: dict[str, Any] = dict.fromkeys(columns)
        if "id" in columns:
            row["id"] = record.get("id")
        try:
            doc = unflatten({str(k): "" if _missing(v) else str(v) for k, v in record.items()})
            ev = evaluate(doc, as_of=as_of, rulebook=rulebook, engine=engine)
        except InvalidFacts as err:
            row["error"] = str(err)
            rows.append(row)
            continue
        row.update(_answers(ev, keys, labels))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns, index=part.index, dtype=object)


def _answers(ev: Evaluation, keys: list[Any], labels: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"as_of": ev.as_of.isoformat(), "season": ev.season}
    held = set(ev.instances())
    for key, label in zip(keys, labels, strict=True):
        if key not in held:
            continue  # outside the applicant's interest.states
        c = ev.at(key)
        if c.kind == "boolean" or c.value is None:
            out[label] = c.verdict.value
        else:
            out[label] = ";".join(map(str, c.value)) if isinstance(c.value, tuple) else c.value
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
