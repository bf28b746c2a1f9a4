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

#: Figures quoted in prose: (page, pattern with one group per figure, the run's keys, format, scale).
PROSE: list[tuple[str, str, list[str], str, float]] = [
    ("docs/explanation/how-evaluation-works.md",
     r"a bundled example with every firing recorded takes ([\d.]+) ms at the median \(the previous\s+path ([\d.]+) ms",
     ["latency_s.examples.durable.p50", "latency_s.examples.durable-classic.p50"], "{:.2f}", 1e3),
    ("docs/explanation/how-evaluation-works.md", r"all 52 states ([\d.]+) ms\s+\(previously ([\d.]+) ms\)",
     ["latency_s.all_states.durable.p50", "latency_s.all_states.durable-classic.p50"], "{:.2f}", 1e3),
    ("docs/explanation/how-evaluation-works.md",
     r"a drawn applicant ([\d.]+) ms\s+against ([\d.]+) ms on the reference evaluator",
     ["latency_s.drawn.durable.p50", "latency_s.reference_p50"], "{:.2f}", 1e3),
]

NEW, OLD = "durable", "durable-classic"


def get(run: dict[str, Any], key: str) -> Any:
    value: Any = run
    for part in key.split("."):
        value = value[part]
    return value


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def table(run: dict[str, Any]) -> str:
    """The README's speed table for a run of ``python -m imgpath.bench``: each figure on the current
    path and on the previous release's path (``engine="durable-classic"``), measured in the same run."""
    cold, lat = run["cold_start_s"], run["latency_s"]
    rows = [("cold import + load + compile + first evaluation", f"{cold[NEW] * 1e3:.0f} ms",
             f"{cold[OLD] * 1e3:.0f} ms", f"{cold[OLD] / cold[NEW]:.1f}x", "≤ 150 ms")]
    names = {"examples": "bundled examples", "drawn": "drawn applicants", "all_states": "all 52 states"}
    targets = {("examples", "p50"): "≤ 1 ms", ("examples", "p99"): "≤ 3 ms", ("all_states", "p50"): "≤ 3 ms"}
    for key in ("examples", "drawn", "all_states"):
        for q in ("p50", "p99"):
            if key in lat and (key != "drawn" or q == "p50"):
                f = lat[key]
                rows.append((f"one evaluation {q}, {names[key]}", _ms(f[NEW][q]), _ms(f[OLD][q]),
                             f"{f[OLD][q] / f[NEW][q]:.1f}x", targets.get((key, q), "")))
    fs = run["first_slice_s"]
    rows.append(("first slice (`only=`), p50, against hand-written Python", f"{fs[NEW] * 1e6:.0f} µs",
                 f"{fs[OLD] * 1e6:.0f} µs", f"{fs['ratio_new']:.0f}x the hand-written floor", "≤ 25x"))
    for size, tp in run["throughput_per_s"].items():
        for w in ("1w", "2w"):
            f = tp[w]
            label = "1 worker" if w == "1w" else "2 workers"
            rows.append((f"batch of {int(size):,}, {label}", f"{f[NEW]:,.0f} /s", f"{f[OLD]:,.0f} /s",
                         f"{f[NEW] / f[OLD]:.1f}x", "≥ 2,000/s, ≥ 4x" if w == "2w" else ""))
        f = tp["2w"]["cpu_us"]
        rows.append(("CPU per applicant, 2 workers (parent + workers)", f"{f[NEW]:,.0f} µs", f"{f[OLD]:,.0f} µs",
                     f"{f[OLD] / f[NEW]:.1f}x", ""))
    m = run["memory"]
    rows.append((f"RSS over {m['evaluations']:,} evaluations", f"{m['growth_mb']:+.1f} MB", "", "", "flat"))
    lines = ["| measure | current | previous | ratio (same run) | target |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
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
