"""Cohorts on Dask (the ``dask`` extra): a small cohort on a ``distributed.LocalCluster`` of worker
processes gives the rows one process gives, invalid rows included."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

import imgpath
from imgpath.batch import flatten, read_cohort, result_row

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
CONCLUSIONS = ["img", "nrmp_category", "match_eligible", "ecfmg_certified", "h1b_fee_applies",
               "licensable(state='TX')", "gme_years_required(state='TX')", "alt_pathway_status(state='TN')"]


def _cohort(tmp_path: Path) -> Path:
    """examples/cohort.csv (one invalid row) and every example persona, flattened, as one CSV."""
    rows = [dict(r) for r in csv.DictReader((ROOT / "examples" / "cohort.csv").open(encoding="utf-8"))]
    for path in sorted(imgpath.examples_dir().glob("*.toml")):
        rows.append({"id": path.stem, **flatten(imgpath.load_applicant(path).to_dict())})
    columns = list(dict.fromkeys(c for r in rows for c in r))
    out = tmp_path / "cohort.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_a_cohort_on_a_local_cluster_matches_one_process(tmp_path: Path) -> None:
    path = _cohort(tmp_path)
    frame = dd.read_csv(str(path), dtype=str, keep_default_na=False).repartition(npartitions=4)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        result = imgpath.evaluate_dask(frame, conclusions=CONCLUSIONS).compute()
        assert len(client.scheduler_info()["workers"]) == 2
    assert list(result.columns) == ["id", "as_of", "season", *CONCLUSIONS, "error"]
    got = {row["id"]: row for row in result.to_dict(orient="records")}
    expected = list(read_cohort(path))
    assert len(got) == len(expected) > 15
    keys, _ = imgpath.dask_frame.instances(imgpath.rulebook(), CONCLUSIONS)
    for cohort_row in expected:
        ident, doc, row = cohort_row.id, cohort_row.doc, got[cohort_row.id]
        if doc is None or cohort_row.problems:  # every problem the batch reports is in the row's error
            assert row["error"] and row["img"] is None, ident
            assert all(path in row["error"] for path, _ in cohort_row.problems), (row["error"], cohort_row.problems)
            continue
        try:
            ev = imgpath.evaluate(doc)
        except imgpath.InvalidFacts as err:
            assert row["error"] == str(err)
            continue
        want = result_row(ev, [(n, dict(a)) for n, a in keys if (n, a) in set(ev.instances())])
        assert row["error"] is None
        for label in CONCLUSIONS:
            assert row[label] == want.get(label), (ident, label)
        assert (row["as_of"], row["season"]) == (want["as_of"], want["season"])


def test_evaluate_dask_reads_csv_paths_and_pandas_frames_and_pins_the_date(tmp_path: Path) -> None:
    """Without a cluster: the threaded scheduler; ``as_of`` applies to every row."""
    import pandas as pd

    path = _cohort(tmp_path)
    from_path = imgpath.evaluate_dask(str(path), conclusions=["img"], as_of=dt.date(2026, 1, 15)).compute()
    from_pandas = imgpath.evaluate_dask(pd.read_csv(path, dtype=str, keep_default_na=False), conclusions=["img"],
                                        as_of=dt.date(2026, 1, 15)).compute()
    assert from_path.to_dict("records") == from_pandas.to_dict("records")
    assert set(from_path["as_of"].dropna()) == {"2026-01-15"}


def test_evaluate_dask_refuses_unknown_conclusions_before_any_work() -> None:
    import pandas as pd

    frame = pd.DataFrame([{"school.country": "IN"}])
    with pytest.raises(imgpath.UnknownConclusion, match="licensable"):
        imgpath.evaluate_dask(frame, conclusions=["licenseable"])
    with pytest.raises(imgpath.QueryError, match="no conclusion instance"):
        imgpath.evaluate_dask(frame, conclusions=["licensable(state='XX')"])
    with pytest.raises(imgpath.QueryError, match="expected a dask or pandas DataFrame"):
        imgpath.evaluate_dask([{"school.country": "IN"}])
