"""The benchmark: ``python -m imgpath.bench [--quick] [--rounds N] [--json FILE]``.

Every figure is measured twice in the same run: on the current path (``engine="durable"``: fused
facts, generated atoms, shared sessions) and on the previous release's path
(``engine="durable-classic"``: one small fact per atom, closures, a session per evaluation), the
two interleaved so machine noise hits both alike; each figure is the median of several rounds,
and reported with its ratio to the previous path. Measured, on the full rulebook:

* cold start: a fresh interpreter imports imgpath, loads the rulebook, compiles and evaluates
  one applicant (with the on-disk caches warm), against bare interpreter startup;
* one evaluation with every firing recorded, p50 / p99: the bundled examples
  (``examples/*.toml``), drawn applicants interested in one state, and applicants who name no
  state (all 52 evaluated) as its own line; the reference evaluator as a further baseline;
* the first slice (four conclusions, ``only=``) against a hand-written Python function;
* batch throughput with 1 and 2 worker processes (evaluations returned; and with one verdict read
  from each, which builds what the lazy evaluation had not);
* memory: RSS over many evaluations, at checkpoints;
* what the new path's techniques buy: generated atoms against closures, shared sessions against
  one session per applicant.

``--quick`` (CI) shrinks every count and takes about a minute on 2 cores; the default sizes follow
the performance issue (10,000 and 100,000 applicants, 1,000,000 evaluations for memory) and take
hours. The machine is noisy: compare the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from typing import Any

from . import compiler, engine
from .batch import evaluate_many
from .compiler import program
from .compiler.fused import fused
from .context import Context
from .evaluation import evaluate
from .facts import Applicant
from .rulebook import rulebook

__all__ = ["examples", "generate", "handwritten", "main"]

AS_OF = _dt.date(2026, 1, 15)
FIRST_SLICE = ("img", "ecfmg_exams_met", "ecfmg_requirements_met", "may_start_acgme_residency")
NEW, OLD = "durable", "durable-classic"
_COUNTRIES = ["IN", "PK", "NG", "PH", "EG", "GD", "DM", "MX", "CN", "GB", "US", "CA", "PR"]


def generate(n: int, seed: int = 7, states: int = 1) -> list[dict[str, Any]]:
    """``n`` plausible applicant documents (deterministic for a seed), each interested in ``states`` states."""
    rng = random.Random(seed)
    codes = ["TX", "NY", "CA", "FL", "TN", "IL", "PA", "OH", "MI", "VA"]
    docs = []
    for _ in range(n):
        country = rng.choice(_COUNTRIES)
        grad = _dt.date(rng.randint(2012, 2025), rng.choice([5, 6, 12]), 28)
        exams = []
        day = grad - _dt.timedelta(days=rng.randint(0, 600))
        for step in ("step1", "step2ck", "step3"):
            if rng.random() < 0.2:
                break
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                result = rng.choice(["pass", "pass", "pass", "fail"])
                exams.append({"exam": step, "date": min(day, AS_OF).isoformat(), "result": result})
                day += _dt.timedelta(days=rng.randint(60, 300))
                if result == "pass":
                    break
        if country not in ("US", "CA", "PR") and rng.random() < 0.7:
            exams.append({"exam": "oet", "date": "2024-06-01", "listening": rng.choice([340, 360, 400]),
                          "reading": 380, "writing": rng.choice([290, 320, 350]), "speaking": 390})
        doc: dict[str, Any] = {
            "person": {"citizenship": [country if country not in ("PR",) else "US"],
                       "us_status": rng.choice(["none", "citizen", "permanent_resident", "j1", "h1b"])},
            "school": {"country": country, "graduated": grad.isoformat(),
                       **({"ecfmg_note": {"from": 1980}} if country not in ("US", "CA", "PR") else
                          {"degree": "MD", "accreditors": ["LCME"]})},
            "exams": exams,
            "interest": {"states": rng.sample(codes, states)},
        }
        if country not in ("US", "CA", "PR") and rng.random() < 0.8:
            ecfmg: dict[str, Any] = {"application_submitted": True, "credentials_verified": rng.random() < 0.8}
            if rng.random() < 0.5:
                ecfmg["pathway"] = {"number": rng.randint(1, 6), "season": 2026, "accepted": "2025-09-10"}
            if rng.random() < 0.3:
                ecfmg["certified"] = "2025-03-01"
                ecfmg["expires"] = rng.choice(["2025-12-31", "2027-12-31"])
            doc["ecfmg"] = ecfmg
        if rng.random() < 0.5:
            doc["offer"] = {"kind": "residency", "state": rng.choice(codes), "acgme_accredited": True,
                            "start": "2026-07-01", "visa_sponsorship": ["j1"]}
        if rng.random() < 0.4:
            doc["training"] = [{"country": "US", "accreditor": "ACGME", "kind": "residency",
                                "start": "2023-07-01", "end": "2026-06-30"}]
        docs.append(doc)
    return docs


def examples() -> list[Applicant]:
    """The bundled example applicants (shipped in the package, or ``examples/`` of a checkout)."""
    from .examples import examples_dir

    folder = examples_dir()
    out = []
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            out.append(Applicant.from_dict(tomllib.load(fh), file=path.name))
    return out


def handwritten(doc: dict[str, Any], as_of: _dt.date = AS_OF) -> dict[str, str]:
    """The first-slice conclusions computed by plain Python (the speed floor; simplified logic)."""
    school = doc.get("school") or {}
    country = school.get("country")
    img = "unknown" if country is None else ("yes" if country not in ("US", "PR", "CA") else "no")
    exams = doc.get("exams")
    if exams is None:
        met = "unknown"
    else:
        passed = {e["exam"] for e in exams if e.get("result") == "pass"}
        met = "yes" if {"step1", "step2ck"} <= passed else "no"
    ecfmg = doc.get("ecfmg") or {}
    cert = ecfmg.get("certified")
    valid = cert is not None and (ecfmg.get("expires") is None or ecfmg["expires"] >= as_of.isoformat())
    oet = any(e.get("exam") == "oet" and min(e.get(k, 0) for k in ("listening", "reading", "speaking")) >= 350
              and e.get("writing", 0) >= 300 for e in exams or ())
    clinical = "pathway" in ecfmg or valid
    requirements = "yes" if (img == "yes" and met == "yes" and clinical and (oet or valid)
                             and ecfmg.get("credentials_verified")) or valid else "no"
    start = "yes" if (img == "no" and school.get("graduated")) or (img == "yes" and valid) else "no"
    return {"img": img, "ecfmg_exams_met": met, "ecfmg_requirements_met": requirements,
            "may_start_acgme_residency": start}


# --------------------------------------------------------------------------- measuring


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return float("nan")  # pragma: no cover


def latency(items: Sequence[Any], run: Callable[[Any, str], Any], rounds: int, repeat: int = 1) -> dict[str, Any]:
    """p50 / p99 per engine: each round times every item on both engines, interleaved; the
    figures are the medians over rounds (seconds)."""
    per: dict[str, dict[str, list[float]]] = {e: {"p50": [], "p99": []} for e in (NEW, OLD)}
    clock = time.perf_counter
    for _ in range(rounds):
        times: dict[str, list[float]] = {NEW: [], OLD: []}
        for item in items:
            for _ in range(repeat):
                for eng in (NEW, OLD):
                    t = clock()
                    run(item, eng)
                    times[eng].append(clock() - t)
        for eng, ts in times.items():
            per[eng]["p50"].append(_pct(ts, 0.5))
            per[eng]["p99"].append(_pct(ts, 0.99))
    out = {eng: {k: _median(v) for k, v in d.items()} for eng, d in per.items()}
    out["ratio_p50"] = out[OLD]["p50"] / out[NEW]["p50"]
    out["ratio_p99"] = out[OLD]["p99"] / out[NEW]["p99"]
    out["rounds_p50_ms"] = {eng: [round(x * 1e3, 3) for x in per[eng]["p50"]] for eng in (NEW, OLD)}
    return out


def cold_start(runs: int) -> dict[str, Any]:
    """Seconds for a fresh interpreter to import imgpath, load the rulebook, compile and evaluate one
    applicant, per engine (caches warmed first), and for bare interpreter startup.

    Python's own bytecode cache is on, as it is for users (pip compiles a wheel's modules when it
    installs them, and Python writes ``__pycache__`` otherwise): where ``PYTHONDONTWRITEBYTECODE`` is
    set (this development machine sets it) every import would recompile imgpath's sources, which
    measures the compiler of Python, not imgpath. The cache goes to a temporary folder
    (``PYTHONPYCACHEPREFIX``), never into the checkout.
    """
    code = ("import time; t = time.perf_counter(); import imgpath, datetime; "
            "ev = imgpath.evaluate({'school': {'country': 'IN'}, 'interest': {'states': ['TX']}}, "
            "as_of=datetime.date(2026, 1, 15), engine=%r); ev.verdict('img'); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache

        def once(source: str) -> str:
            done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, check=True, env=env)
            return done.stdout

        for eng in (NEW, OLD):  # warm the on-disk caches (bytecode, rulebook, generated code)
            once(code % eng)
        samples: dict[str, list[float]] = {NEW: [], OLD: [], "python": []}
        for _ in range(runs):
            for eng in (NEW, OLD):
                samples[eng].append(float(once(code % eng)))
            t = time.perf_counter()
            once("pass")
            samples["python"].append(time.perf_counter() - t)
    out: dict[str, Any] = {k: _median(v) for k, v in samples.items()}
    out["ratio"] = out[OLD] / out[NEW]
    return out


def throughput(docs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """Applicants per second through ``evaluate_many`` with 1 and 2 workers, per engine; also with
    one verdict read from each evaluation. Medians over rounds. CPU time per applicant (parent and
    workers) is recorded too: on a shared machine it shows the capacity wall-clock time hides."""
    out: dict[str, Any] = {}
    for workers in (1, 2):
        for read in (False, True):
            per: dict[str, list[float]] = {NEW: [], OLD: []}
            cpu: dict[str, list[float]] = {NEW: [], OLD: []}
            for _ in range(rounds if not read else max(1, rounds // 2)):
                for eng in (NEW, OLD):
                    before = _cpu()
                    t = time.perf_counter()
                    for ev in evaluate_many(docs, as_of=AS_OF, workers=workers, engine=eng):
                        if read:
                            ev.verdict("ecfmg_requirements_met")
                    per[eng].append(len(docs) / (time.perf_counter() - t))
                    cpu[eng].append((_cpu() - before) / len(docs))
            key = f"{workers}w" + ("_read" if read else "")
            out[key] = {eng: _median(v) for eng, v in per.items()}
            out[key]["ratio"] = out[key][NEW] / out[key][OLD]
            out[key]["cpu_us"] = {eng: _median(v) * 1e6 for eng, v in cpu.items()}
    return out


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def memory(docs: list[dict[str, Any]], evaluations: int) -> dict[str, Any]:
    """RSS (MB) over ``evaluations`` evaluations on the current path, at five checkpoints."""
    apps = [Applicant.from_dict(d) for d in docs]
    for a in apps[:200]:
        evaluate(a, as_of=AS_OF)
    gc.collect()
    start = _rss_mb()
    checkpoints = {}
    t = time.perf_counter()
    marks = {max(1, evaluations * k // 5) for k in range(1, 6)}
    for i in range(1, evaluations + 1):
        evaluate(apps[i % len(apps)], as_of=AS_OF)
        if i in marks:
            checkpoints[i] = _rss_mb()
    end = _rss_mb()
    return {"evaluations": evaluations, "start_mb": start, "end_mb": end, "growth_mb": end - start,
            "checkpoints_mb": checkpoints, "seconds": time.perf_counter() - t}


def techniques(book: Any, docs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """What the current path's techniques buy, each against turning it off (CPU time per applicant,
    best of ``rounds``, the variants interleaved)."""
    prog = program(book, AS_OF)
    contexts = [Context(book, Applicant.from_dict(d), AS_OF) for d in docs]
    generated, closures = fused(prog), fused(prog, generated=False)
    shared = engine.FusedRuleBase(generated)
    alone = engine.FusedRuleBase(generated, session_applicants=1)
    classic = engine.RuleBase(compiler.lowered(prog))
    variants: dict[str, Callable[[Context], Any]] = {
        "generated atoms": lambda c: engine.prepare_fused(generated, c),
        "closure atoms": lambda c: engine.prepare_fused(closures, c),
        "previous facts (closures, one fact per atom)": lambda c: engine.prepare(classic.program, c),
        "shared sessions": lambda c: shared.run(c),
        "one session per applicant": lambda c: alone.run(c),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            t = time.process_time()
            for c in contexts:
                fn(c)
            best[name] = min(best[name], (time.process_time() - t) / len(contexts))
    cohort = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        shared.run_codes(contexts)
        cohort = min(cohort, (time.process_time() - t) / len(contexts))
    for rb in (shared, alone, classic):
        rb.close()
    return {
        "us": {k: v * 1e6 for k, v in {**best, "cohorts of 24 (batch)": cohort}.items()},
        "generated_over_closures": best["closure atoms"] / best["generated atoms"],
        "generated_over_previous": best["previous facts (closures, one fact per atom)"] / best["generated atoms"],
        "shared_over_single_sessions": best["one session per applicant"] / best["shared sessions"],
        "cohorts_over_single_sessions": best["one session per applicant"] / cohort,
    }


# --------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write JSON."""
    p = argparse.ArgumentParser(prog="python -m imgpath.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts (about a minute)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per figure (default 3 quick, 5 full)")
    p.add_argument("--batch", type=int, default=None, help="applicants per batch (default 1,000 quick, 10,000 and 100,000 full)")
    p.add_argument("--memory", type=int, default=None, help="evaluations for the memory figure (default 5,000 quick, 1,000,000 full)")
    p.add_argument("--json", default="bench-results.json", help="where to write the figures")
    ns = p.parse_args(argv)
    quick = ns.quick
    rounds = ns.rounds or (3 if quick else 5)
    n_drawn = 100 if quick else 2000
    n_all = 12 if quick else 300
    batch_size = ns.batch or (1000 if quick else 10_000)
    big_batch = None if quick or ns.batch else 100_000
    rss_evals = ns.memory or (5000 if quick else 1_000_000)
    book = rulebook()
    results: dict[str, Any] = {"quick": quick, "rounds": rounds,
                               "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "rules": len(book.rules)}
    started = time.perf_counter()

    results["cold_start_s"] = cold_start(3 if quick else 7)

    def run(app: Applicant, eng: str) -> Any:
        return evaluate(app, as_of=app.as_of or AS_OF, engine=eng)

    bundled = examples()
    drawn = [Applicant.from_dict(d) for d in generate(n_drawn)]
    everywhere = []
    for d in generate(n_all, seed=5):
        d.pop("interest")
        everywhere.append(Applicant.from_dict(d))
    for app in [*bundled, *drawn[:20], *everywhere[:3]]:  # compile and warm both paths
        run(app, NEW)
        run(app, OLD)
    lat: dict[str, Any] = {}
    if bundled:
        lat["examples"] = latency(bundled, run, rounds, repeat=5 if quick else 20)
    lat["drawn"] = latency(drawn, run, rounds)
    lat["all_states"] = latency(everywhere, run, rounds)
    ref: list[float] = []
    for app in drawn[: max(10, n_drawn // 4)]:
        t = time.perf_counter()
        evaluate(app, as_of=AS_OF, engine="reference")
        ref.append(time.perf_counter() - t)
    lat["reference_p50"] = _pct(ref, 0.5)
    results["latency_s"] = lat

    slice_docs = generate(n_drawn, seed=9)
    slice_apps = [Applicant.from_dict(d) for d in slice_docs]
    hand = latency(slice_docs, lambda d, eng: handwritten(d), rounds)[NEW]["p50"]
    sliced = latency(slice_apps, lambda a, eng: evaluate(a, as_of=AS_OF, engine=eng, only=FIRST_SLICE), rounds)
    results["first_slice_s"] = {"handwritten_p50": hand, NEW: sliced[NEW]["p50"], OLD: sliced[OLD]["p50"],
                                "ratio_new": sliced[NEW]["p50"] / hand, "ratio_old": sliced[OLD]["p50"] / hand}

    results["techniques"] = techniques(book, generate(40 if quick else 400, seed=13), rounds)

    results["throughput_per_s"] = {str(batch_size): throughput(generate(batch_size, seed=batch_size), rounds)}
    if big_batch:
        results["throughput_per_s"][str(big_batch)] = throughput(generate(big_batch, seed=big_batch), 1)

    results["memory"] = memory(generate(1000, seed=3), rss_evals)
    results["seconds"] = time.perf_counter() - started
    _print(results)
    with open(ns.json, "w") as fh:
        json.dump(results, fh, indent=2, default=str)
    print(f"\nJSON written to {ns.json} ({results['seconds']:.0f} s)")
    return 0


def _ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms"


def _print(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    cold = r["cold_start_s"]
    rows.append(("cold import + load + compile + first evaluation", f"{cold[NEW] * 1e3:.0f} ms",
                  f"{cold[OLD] * 1e3:.0f} ms", f"{cold['ratio']:.2f}x", "<= 150 ms"))
    rows.append(("  bare python startup", f"{cold['python'] * 1e3:.0f} ms", "", "", ""))
    lat = r["latency_s"]
    names = {"examples": "bundled examples", "drawn": "drawn applicants, 1 state", "all_states": "all 52 states"}
    targets = {"examples": ("<= 1 ms", "<= 3 ms"), "drawn": ("", ""), "all_states": ("<= 3 ms", "")}
    for key in ("examples", "drawn", "all_states"):
        if key not in lat:
            continue
        f = lat[key]
        rows.append((f"one evaluation p50, {names[key]}", _ms(f[NEW]["p50"]), _ms(f[OLD]["p50"]),
                     f"{f['ratio_p50']:.2f}x", targets[key][0]))
        rows.append((f"one evaluation p99, {names[key]}", _ms(f[NEW]["p99"]), _ms(f[OLD]["p99"]),
                     f"{f['ratio_p99']:.2f}x", targets[key][1]))
    rows.append(("reference evaluator p50 (drawn)", _ms(lat["reference_p50"]), "", "", ""))
    fs = r["first_slice_s"]
    rows.append(("first slice (only=), p50", f"{fs[NEW] * 1e6:.0f} us", f"{fs[OLD] * 1e6:.0f} us",
                 f"{fs[OLD] / fs[NEW]:.2f}x", ""))
    rows.append(("  hand-written Python p50 (the floor)", f"{fs['handwritten_p50'] * 1e6:.1f} us", "",
                 f"{fs['ratio_new']:.0f}x / {fs['ratio_old']:.0f}x the floor", "<= 25x"))
    for size, tp in r["throughput_per_s"].items():
        for key, label in (("1w", "1 worker"), ("2w", "2 workers"), ("1w_read", "1 worker, a verdict read each"),
                           ("2w_read", "2 workers, a verdict read each")):
            f = tp[key]
            target = ">= 2,000/s and >= 4x" if key == "2w" else ""
            rows.append((f"batch of {int(size):,}, {label}", f"{f[NEW]:,.0f} /s", f"{f[OLD]:,.0f} /s",
                         f"{f['ratio']:.2f}x", target))
            rows.append(("  CPU per applicant (parent + workers)", f"{f['cpu_us'][NEW]:.0f} us",
                         f"{f['cpu_us'][OLD]:.0f} us", f"{f['cpu_us'][OLD] / f['cpu_us'][NEW]:.2f}x", ""))
    m = r["memory"]
    rows.append((f"RSS over {m['evaluations']:,} evaluations", f"{m['growth_mb']:+.1f} MB",
                 "", " ".join(f"{v:.0f}" for v in m["checkpoints_mb"].values()) + " MB", "flat"))
    width = max(len(x[0]) for x in rows)
    print(f"{'measure':<{width}}  {'current':>12}  {'previous':>12}  {'ratio':<26} target")
    for name, new, old, ratio, target in rows:
        print(f"{name:<{width}}  {new:>12}  {old:>12}  {ratio:<26} {target}")
    tech = r["techniques"]
    print("\ntechniques (CPU time per applicant, best of rounds):")
    for name, us in tech["us"].items():
        print(f"  {name:<46} {us:8.0f} us")
    print(f"  generated atoms: {tech['generated_over_closures']:.1f}x the closures, "
          f"{tech['generated_over_previous']:.1f}x the previous facts; shared sessions "
          f"{tech['shared_over_single_sessions']:.2f}x, cohorts {tech['cohorts_over_single_sessions']:.2f}x "
          "one session per applicant")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
