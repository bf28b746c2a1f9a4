"""Loading durable-rules' C extension on CPython 3.13+ (see imgpath._dre)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import imgpath
from imgpath._internal import dre as _dre

SRC = Path(imgpath.__file__).resolve().parent


def test_extension_loads_and_evaluates() -> None:
    assert callable(_dre.engine.create_ruleset)
    ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=__import__("datetime").date(2026, 1, 15))
    assert ev.verdict("img") is imgpath.Verdict.YES


def test_no_module_sets_a_callback_that_would_call_the_removed_symbol() -> None:
    # the lazily bound PyEval_CallObject is reached only through these setters (engine-notes §8)
    setter = re.compile(r"set_\w*callback")
    offenders = [p.name for p in SRC.rglob("*.py") if p.name != "dre.py" and setter.search(p.read_text())]
    assert offenders == []


def test_dlopen_flags_restored_after_import() -> None:
    code = ("import sys; before = sys.getdlopenflags(); import imgpath._internal.dre; "
            "assert sys.getdlopenflags() == before, (before, sys.getdlopenflags()); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
