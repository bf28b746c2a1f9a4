"""The documentation's examples run: every ``pycon`` block, every ``python`` block (with the
``text`` block right after it as its expected output) and every ``console`` block (``$ imgpath ...``
lines run through the command line, each followed by its output), in page order with shared names.

A page whose outputs drift from the library fails here, so the docs stay true. Outputs may trim long
parts with ``...`` (doctest ELLIPSIS); whitespace differences are ignored. A block preceded by
``<!-- not-run -->`` is illustration only (it needs a network, a notebook or a file the reader has).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

import imgpath

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"(?P<skip><!-- not-run -->\s*\n)?```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```\s*$", re.S | re.M)


def _as_doctest(page: str, page_name: str = "<docs>") -> str:
    """The page's runnable blocks as one doctest text."""
    blocks = list(FENCE.finditer(page))
    out: list[str] = []
    for i, m in enumerate(blocks):
        if m["skip"]:
            continue
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        output = nxt["body"] if nxt is not None and nxt["lang"] == "text" and not page[m.end():nxt.start()].strip() \
            else None
        if m["lang"] == "pycon":
            # a long output may sit in the ``text`` block right after (its last example prints it)
            out.append(m["body"] + (output or ""))
        elif m["lang"] == "console":
            out.append(_console(m["body"], page_name))
        elif m["lang"] == "python":
            # a whole block is one example; its output is checked against the ``text`` block right
            # after it, else only run (its prints are illustrations, shown as comments)
            code = f"exec(compile({m['body']!r}, {page_name!r}, 'exec'))"
            if output is not None:
                out.append(f">>> {code}\n{output}")
            else:
                out.append(f">>> with contextlib.redirect_stdout(io.StringIO()): {code}\n")
    return "\n".join(out)


def _console(body: str, page_name: str) -> str:
    """A ``console`` block as doctest examples: ``$ imgpath ARGS`` runs the command line (standard error
    shown too, and a non-zero exit status as ``[exit N]``); the lines up to the next ``$`` are its output."""
    out: list[str] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:])
            if words[:1] != ["imgpath"]:
                raise ValueError(f"{page_name}: a console block runs only imgpath commands, not {line!r}")
            out.append(f">>> _cli({words[1:]!r})")
        elif out:
            out.append(line if line.strip() else "<BLANKLINE>")
        else:
            raise ValueError(f"{page_name}: a console block starts with a '$ imgpath ...' line")
    return "\n".join(out) + "\n"


def _cli(args: list[str]) -> None:
    """Run ``imgpath ARGS`` as a docs page shows it: both output streams, then any failure status."""
    from imgpath.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exit_:  # argparse: --help, usage errors
            status = int(exit_.code or 0)
    sys.stdout.write(err.getvalue())
    if status:
        print(f"[exit {status}]")


PAGES = sorted(p for p in DOCS.rglob("*.md") if re.search(r"^```(pycon|python|console)", p.read_text(), re.M))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_examples_in_docs_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of ``page`` runs from the repository root and prints what the page shows."""
    monkeypatch.chdir(ROOT)
    text = _as_doctest(page.read_text(), str(page.relative_to(ROOT)))
    if "to_frame" in text or "evaluate_frame" in text:
        pytest.importorskip("pandas")
    parser = doctest.DocTestParser()
    if "evaluate_dask" in text:
        pytest.importorskip("dask.dataframe")
    test = parser.get_doctest(text, {"__name__": "__docs__", "contextlib": contextlib, "io": io, "_cli": _cli},
                              page.name, str(page), 0)
    failures: list[str] = []

    class _Collect(doctest.DocTestRunner):
        def report_failure(self, out, test, example, got):  # type: ignore[no-untyped-def]
            failures.append(f"{example.source.strip()}\n--- expected:\n{example.want}--- got:\n{got}")

        def report_unexpected_exception(self, out, test, example, exc_info):  # type: ignore[no-untyped-def]
            failures.append(f"{example.source.strip()}\n--- raised {exc_info[0].__name__}: {exc_info[1]}")

    runner = _Collect(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda _: None, clear_globs=False)
    # a page that shows test functions (the property-testing how-to) must show passing ones
    for name, fn in list(test.globs.items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - reported with the page and the test's name
                failures.append(f"{name}() from the page failed: {type(err).__name__}: {err}")
    assert not failures, f"{page.relative_to(ROOT)}: {len(failures)} example(s) drifted:\n\n" + "\n\n".join(
        failures[:5])


def test_the_harness_finds_the_tutorial() -> None:
    """The tutorial is among the checked pages, with examples (guards against a regex that finds nothing)."""
    assert DOCS / "tutorial" / "first-evaluation.md" in PAGES
    assert _as_doctest((DOCS / "tutorial" / "first-evaluation.md").read_text()).count(">>> ") > 10
    assert os.path.isdir(ROOT / "examples")


GENERATORS = sorted((DOCS / "_ext").glob("gen_*.py"))


def _generated_page(script: Path) -> Path | None:
    """The page a generator writes, from the command in its docstring (``... > docs/x.md``)."""
    m = re.search(r"python docs/_ext/\S+\.py > (docs/\S+\.md)", script.read_text())
    return ROOT / m[1] if m else None


@pytest.mark.parametrize("script", [s for s in GENERATORS if _generated_page(s)], ids=lambda s: s.name)
def test_generated_pages_are_current(script: Path) -> None:
    """A generated page (conclusions, schema, parameters) is what its generator prints from today's
    rules and model: run the command in the script's docstring after changing them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.main()
    page = _generated_page(script)
    assert page is not None and page.read_text() == out.getvalue(), (
        f"{page.relative_to(ROOT)} is out of date: python docs/_ext/{script.name} > {page.relative_to(ROOT)}")


def test_the_harness_runs_console_blocks() -> None:
    text = _as_doctest("```console\n$ imgpath params oet_writng_min\nimgpath: no parameter ...\n[exit 2]\n```\n")
    assert text.startswith(">>> _cli(['params', 'oet_writng_min'])\nimgpath: no parameter ...\n[exit 2]")
    with pytest.raises(ValueError, match="only imgpath commands"):
        _as_doctest("```console\n$ rm -rf /\n```\n")


# --------------------------------------------------------------------------- quoted counts and figures

TEXTS = sorted([*DOCS.rglob("*.md"), ROOT / "README.md"])


def test_no_page_says_imgpath_is_on_a_package_index() -> None:
    """imgpath installs from a checkout or a built wheel (docs/howto/install.md), not from an index."""
    claim = re.compile(r"""pip install\s+["']?imgpath\b""")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in TEXTS for n, line in enumerate(p.read_text().splitlines(), 1)
             if claim.search(line)]
    assert not found, f"install from a checkout or a wheel instead: {found}"


def _lint_summary() -> tuple[int, int, int, int]:
    """(rules, sources, errors, warnings) as ``imgpath rules --lint`` prints them, with "today" frozen at
    the day the sources were last checked and the stale-source warnings left out: a quoted count must
    not drift with the calendar (decisions.md), only with the rules."""
    book = imgpath.rulebook()
    today = max(s.retrieved for s in book.sources.values() if s.retrieved)
    issues = book.lint(today=today)
    errors = sum(i.level == "error" for i in issues)
    warnings = sum(i.level == "warning" and "stale" not in i.code for i in issues)
    return len(book.rules), len(book.sources), errors, warnings


def test_quoted_lint_counts_are_the_current_ones() -> None:
    """Every 'N rules, M sources: E error(s), W warning(s)' in the docs is today's lint summary (a
    hypothetical output in a how-to writes '... rules, ... sources')."""
    line = re.compile(r"(\d+) rules, (\d+) sources: (\d+) error\(s\), (\d+) warning\(s\)")
    current = _lint_summary()
    quoted = [(p.relative_to(ROOT), tuple(map(int, m.groups()))) for p in TEXTS for m in line.finditer(p.read_text())]
    assert quoted, "the CLI reference quotes the lint summary"
    stale = [(str(p), q) for p, q in quoted if q != current]
    assert not stale, f"lint now says {current} (rules, sources, errors, warnings); update: {stale}"


def _figures() -> list[tuple[str, str, Any]]:
    """(page, pattern, function of the match giving the current values) for every figure the docs quote
    from the rules (counts, shares); each pattern must be found, so a reworded sentence is noticed."""
    import datetime as dt
    from collections import Counter

    from imgpath.compiler import lowered, program

    book = imgpath.rulebook()

    def compiled(m: re.Match[str]) -> tuple[Any, ...]:
        day = dt.date.fromisoformat(m[1])
        prog = program(book, day)
        engine, classic = lowered(prog, fused=True), lowered(prog)
        return (m[1], len(prog.rules), len(book.rules), len(engine.definitions), len(classic.definitions),
                len(engine.leaves), len(engine.atoms), prog.max_stratum + 1)

    def confidence(m: re.Match[str]) -> tuple[Any, ...]:
        rules = Counter(r.confidence.value for r in book.rules)
        cells = Counter(c.confidence.value for row in book.tables["states"].rows.values()
                        for c in row.values() if c.sources)
        checked = max(s.retrieved for s in book.sources.values() if s.retrieved).isoformat()
        return (len(book.rules), checked, rules["primary"], rules["secondary"], rules["unconfirmed"],
                cells["primary"], cells["secondary"], cells["unconfirmed"])

    def img_figures(m: re.Match[str]) -> tuple[Any, ...]:
        cells = [row["img_gme_years"] for row in book.tables["states"].rows.values() if "img_gme_years" in row]
        kinds = Counter(c.confidence.value for c in cells)
        return (len(cells), kinds["primary"], kinds["secondary"])

    return [
        ("explanation/how-evaluation-works.md",
         r"On (\d{4}-\d\d-\d\d), (\d+) of the (\d+) rules are in force, compiled into (\d+) engine rules\s+"
         r"\((\d+) in the previous release's form\) and\s+(\d+) leaf rules over (\d+) atoms in (\d+) strata",
         compiled),
        ("explanation/sources-and-confidence.md", r"Today the rulebook cites (\d+) sources, (\d+) of them primary",
         lambda m: (len(book.sources), sum(s.kind == "primary" for s in book.sources.values()))),
        ("explanation/sources-and-confidence.md",
         r"Among the (\d+) rules \(checked (\d{4}-\d\d-\d\d)\), (\d+) are primary,\s+(\d+) secondary and (\d+) "
         r"unconfirmed; among the sourced state-table figures, (\d+) primary, (\d+) secondary\s+and (\d+) unconfirmed",
         confidence),
        ("explanation/limitations.md", r"Of the (\d+) IMG figures, (\d+) are primary and (\d+) secondary", img_figures),
        ("howto/write-and-test-a-rule.md", r"rule coverage: (\d+)/(\d+) rules fired",
         lambda m: (len(book.rules), len(book.rules))),
    ]


@pytest.mark.parametrize(("page", "pattern", "compute"), _figures(), ids=lambda x: x if isinstance(x, str) and
                         x.endswith(".md") else "")
def test_quoted_figures_are_the_current_ones(page: str, pattern: str, compute: Any) -> None:
    text = (DOCS / page).read_text()
    matches = list(re.finditer(pattern, text))
    assert matches, f"{page} no longer quotes this figure; update the pattern in tests/test_docs.py: {pattern}"
    for m in matches:
        quoted = tuple(g if not g.isdigit() else int(g) for g in m.groups())
        assert quoted == compute(m), f"{page}: '{m[0]}' — the rules now give {compute(m)}"


def _bench() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_figures", DOCS / "_ext" / "bench_figures.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _named_run(text: str, page: str) -> dict[str, Any]:
    """The recorded run a text's figures come from: the first ``benchmarks/...json`` it names (a text
    may name more, e.g. a separate memory run, after it); every run it names must be committed."""
    import json

    runs = list(dict.fromkeys(_bench().RUN.findall(text)))
    assert runs, f"{page}: name the benchmark run its figures come from (benchmarks/...json)"
    for run in runs:
        assert (ROOT / run).is_file(), f"{page} names {run}, which is not in the repository"
    return json.loads((ROOT / runs[0]).read_text())  # type: ignore[no-any-return]


def test_the_readme_speed_table_is_the_named_run() -> None:
    readme = (ROOT / "README.md").read_text()
    speed = readme.split("## Speed", 1)[1].split("\n## ", 1)[0]
    run = _named_run(speed, "README.md (## Speed)")
    assert _bench().table(run) in speed, "regenerate the table: python docs/_ext/bench_figures.py <the run>"


def test_benchmark_figures_in_prose_are_the_named_run() -> None:
    bench = _bench()
    for page, pattern, keys, fmt, scale in bench.PROSE:
        text = (ROOT / page).read_text()
        m = re.search(pattern, text)
        assert m, f"{page} no longer quotes this figure; update PROSE in docs/_ext/bench_figures.py: {pattern}"
        run = _named_run(text, page)
        assert m.groups() == tuple(fmt.format(bench.get(run, k) * scale) for k in keys), (page, m[0])


def test_the_bench_table_renders_a_run() -> None:
    """The mechanism itself works: a run's JSON (the shape imgpath.bench writes) gives the README table."""
    new, old = "durable", "durable-classic"

    def lat(a: float, b: float) -> dict[str, Any]:
        return {new: {"p50": a, "p99": 2 * a}, old: {"p50": b, "p99": 2 * b}}

    run = {"cold_start_s": {new: 0.2, old: 0.25, "python": 0.02},
           "latency_s": {"examples": lat(0.0008, 0.0024), "drawn": lat(0.001, 0.003),
                         "all_states": lat(0.002, 0.014), "reference_p50": 0.005},
           "first_slice_s": {"handwritten_p50": 4e-6, new: 2e-4, old: 6e-4, "ratio_new": 50.0, "ratio_old": 150.0},
           "throughput_per_s": {"1000": {"1w": {new: 2000.0, old: 400.0, "cpu_us": {new: 500.0, old: 2500.0}},
                                         "2w": {new: 3000.0, old: 500.0, "cpu_us": {new: 600.0, old: 3000.0}}}},
           "memory": {"evaluations": 5000, "growth_mb": 0.0}}
    table = _bench().table(run)
    assert "| batch of 1,000, 2 workers | 3,000 /s | 500 /s | 6.0x | ≥ 2,000/s, ≥ 4x |" in table
    assert "| one evaluation p50, bundled examples | 0.80 ms | 2.40 ms | 3.0x | ≤ 1 ms |" in table
    assert "| cold import + load + compile + first evaluation | 200 ms | 250 ms | 1.2x | ≤ 150 ms |" in table
