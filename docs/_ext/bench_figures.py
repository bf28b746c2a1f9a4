"""Benchmark figures in the README and the docs come from a recorded run that the text names.

A run is the JSON that ``python -m imgpath.bench --json benchmarks/YYYY-MM-DD-<profile>.json``
writes, committed under ``benchmarks/``. The README's speed table is generated from it:

    python docs/_ext/bench_figures.py benchmarks/YYYY-MM-DD-full.json

prints the table to paste under the sentence naming that file; ``tests/test_docs.py`` checks that
the table is the one the named run gives, and that the figures quoted in prose (:data:`PROSE`) are
the named run's. Targets are those of record (issue 13, decisions.md).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
RUN = re.compile(r"benchmarks/[\w.-]+\.json")

#: Figures quoted in prose: (page, pattern with one group per figure, the run's keys, format).
PROSE: list[tuple[str, str, list[str], str]] = [
    ("docs/explanation/how-evaluation-works.md", r"takes about ([\d.]+) ms\s+at the median on the durable engine",
     ["latency_ms.p50"], "{:.1f}"),
    ("docs/explanation/how-evaluation-works.md", r"about ([\d.]+) ms on the reference evaluator",
     ["latency_ms.reference_p50"], "{:.1f}"),
]


def get(run: dict[str, Any], key: str) -> Any:
    value: Any = run
    for part in key.split("."):
        value = value[part]
    return value


def table(run: dict[str, Any]) -> str:
    """The README's speed table for a run."""
    lat, fs, rss = run["latency_ms"], run["first_slice_us"], run["rss"]
    sizes = sorted({int(k.split("x")[0]) for k in run["throughput_per_s"]})
    size = sizes[-1]
    one, two = run["throughput_per_s"][f"{size}x1"], run["throughput_per_s"][f"{size}x2"]
    rows = [
        ("cold import + load + compile", f"{run['cold_start_s'] * 1e3:.0f} ms",
         f"{run['cold_start_s'] / run['python_startup_s']:.1f}x bare Python startup", "≤ 150 ms"),
        ("one evaluation, p50 (with derivations)", f"{lat['p50']:.1f} ms",
         f"{lat['reference_p50'] / lat['p50']:.2f}x faster than the reference evaluator", "≤ 1 ms"),
        ("one evaluation, p99", f"{lat['p99']:.1f} ms", "", ""),
        ("first slice, Rete vs hand-written Python", f"{fs['rete_p50']:.0f} µs vs {fs['handwritten_p50']:.1f} µs",
         f"{fs['ratio']:.0f}x the floor", "≤ 25x"),
        (f"batch of {size:,}, 1 / 2 workers", f"{one:,.0f} / {two:,.0f} per s", f"{two / one:.2f}x with 2 workers",
         "≥ 2,000/s with 2"),
        (f"RSS growth over {rss['evaluations']:,} evaluations", f"{rss['growth_mb']:.1f} MB",
         f"{rss['start_mb']:.0f} → {rss['end_mb']:.0f} MB", "< 20 MB"),
    ]
    lines = ["| measure | value | ratio (same run) | target |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    print(table(json.loads((ROOT / args[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
