"""The rulebook: rules, sources, parameter tables and the conclusion vocabulary, loaded from ``rules/``.

Rules are data. Each ``rules/*.toml`` file holds ``[[rule]]`` entries::

    [[rule]]
    id = "img.school_abroad"
    title = "A graduate of a school outside the U.S., Puerto Rico and Canada is an IMG"
    when = ["school.country not in ['US', 'PR', 'CA']"]
    then = { conclusion = "img" }
    effective = { from = 1950-01-01 }
    sources = ["ecfmg-ib-certification"]
    confidence = "primary"

``rules/sources.toml`` maps source ids to URLs, ``rules/conclusions.toml`` declares the
conclusions, and ``rules/data/*.toml`` holds parameter tables (seasons, states) whose cells carry
their own sources and confidence. A bad file fails to load with the file, the rule id and the
offending text.

The stages, each its own module: :mod:`.load` reads and parses the files (every key checked),
:mod:`.resolve` checks every name, :mod:`.graph` orders the conclusions (negation strata), and
:mod:`.book` holds the result. The compiler (:mod:`imgpath.compiler`) takes it from there.

>>> book = rulebook()
>>> book.rule("img.school_abroad").conclusion
'img'
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import RuleError
from .book import Rulebook, load_rulebook
from .model import (BEGINNING, END_OF_TIME, Cell, ConclusionSpec, Confidence, LintIssue, Rule, Source, Table,
                    Window, weakest)

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "Cell",
    "ConclusionSpec",
    "Confidence",
    "LintIssue",
    "Rule",
    "Rulebook",
    "Source",
    "Table",
    "Window",
    "load_rulebook",
    "rulebook",
    "rules_dir",
    "weakest",
]


def rules_dir() -> Path:
    """Where the default rules live: inside the installed package, or ``rules/`` of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_rules"
    if packaged.is_dir():
        return packaged
    checkout = package.parent.parent / "rules"
    if checkout.is_dir():
        return checkout
    raise RuleError(f"cannot find the rules folder (looked in {packaged} and {checkout}); reinstall imgpath")


@functools.cache
def rulebook() -> Rulebook:
    """The default rulebook, loaded once per process (and cached on disk between processes).

    After editing ``rules/`` in a running session (Jupyter), ``imgpath.rulebook.cache_clear()``
    or ``importlib.reload(imgpath)`` loads the new rules.

    >>> rulebook() is rulebook()
    True
    """
    return load_rulebook(rules_dir(), cache=True)
