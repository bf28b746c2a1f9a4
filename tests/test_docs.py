"""The documentation's examples run: every ``pycon`` block, and every ``python`` block (with the
``text`` block right after it as its expected output), in page order with shared names.

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
from pathlib import Path

import pytest

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
        elif m["lang"] == "python":
            # a whole block is one example; its output is checked against the ``text`` block right
            # after it, else only run (its prints are illustrations, shown as comments)
            code = f"exec(compile({m['body']!r}, {page_name!r}, 'exec'))"
            if output is not None:
                out.append(f">>> {code}\n{output}")
            else:
                out.append(f">>> with contextlib.redirect_stdout(io.StringIO()): {code}\n")
    return "\n".join(out)


PAGES = sorted(p for p in DOCS.rglob("*.md") if re.search(r"^```(pycon|python)", p.read_text(), re.M))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_examples_in_docs_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of ``page`` runs from the repository root and prints what the page shows."""
    monkeypatch.chdir(ROOT)
    text = _as_doctest(page.read_text(), str(page.relative_to(ROOT)))
    if "to_frame" in text or "evaluate_frame" in text:
        pytest.importorskip("pandas")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "__docs__", "contextlib": contextlib, "io": io},
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


@pytest.mark.parametrize("name", ["conclusions", "schema", "rules"])
def test_generated_reference_pages_are_current(name: str) -> None:
    """docs/reference/{conclusions,schema,rules}.md are generated from the rules and the schema; a change
    to either must be followed by regenerating the page (the command is in the generator's docstring)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(DOCS / "_ext" / f"gen_{name}.py")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (DOCS / "reference" / f"{name}.md").read_text(), (
        f"docs/reference/{name}.md is stale: run python docs/_ext/gen_{name}.py > docs/reference/{name}.md")
