"""imgpath: rules-as-code for international medical graduates (IMGs) in the United States.

Am I an IMG? Can I be ECFMG certified, through which Pathway? Can I be ranked
in this year's Match, start an ACGME residency, get a J-1 or an H-1B? Where
can I be licensed? Every answer is dated (``as_of``), comes with the rule and
source behind it, and says UNKNOWN — naming the missing fact — rather than
guess.

>>> import imgpath, datetime
>>> ev = imgpath.evaluate({"school": {"country": "US", "accreditors": ["LCME"]}},
...                       as_of=datetime.date(2026, 1, 15))
>>> ev.verdict("img")
<Verdict.NO: 'no'>
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._internal.version import VERSION as __version__

# the composition root: the layers an evaluation needs are imported here; the presentation layers
# (explain, plan, lint, render) provide what lower objects offer (_internal.views) and are imported
# the first time one of those is asked for, as are the batch and planning entry points (a cold
# start pays only for what it uses)
from ._internal import views as _views
from .errors import (EngineError, ImgpathError, InvalidArguments, InvalidFacts, QueryError,
                     RuleError, UnknownConclusion, UnknownRule, WorkerCrashed)
from .facts import Applicant, load_applicant
from .rulebook import Confidence, Rulebook, load_rulebook, rulebook
from .horizon import EvaluationWarning
from .evaluation import Conclusion, Evaluation, Verdict, evaluate
from .diff import Diff, diff  # a lazily imported submodule named diff would shadow the function

_views.provide_later("imgpath.explain", "imgpath.plan", "imgpath.lint", "imgpath.render")

if TYPE_CHECKING:  # imported on first use (__getattr__ below); named here for type checkers and the docs
    from .batch import evaluate_many
    from .plan import calendar

rulebook.cache_clear()  # importlib.reload(imgpath) after editing rules/ loads them again (Jupyter)

__all__ = [
    "Applicant",
    "Conclusion",
    "Confidence",
    "Diff",
    "EngineError",
    "Evaluation",
    "EvaluationWarning",
    "ImgpathError",
    "InvalidArguments",
    "InvalidFacts",
    "QueryError",
    "RuleError",
    "Rulebook",
    "UnknownConclusion",
    "UnknownRule",
    "Verdict",
    "WorkerCrashed",
    "__version__",
    "calendar",
    "diff",
    "evaluate",
    "evaluate_frame",
    "evaluate_many",
    "load_applicant",
    "load_rulebook",
    "rulebook",
    "strategies",
    "to_frame",
]


def __getattr__(name: str) -> Any:
    # imported lazily: hypothesis is an optional dependency (the `testing` extra)
    import importlib

    if name == "strategies":
        return importlib.import_module(".strategies", __name__)
    if name == "calendar":
        return importlib.import_module(".plan", __name__).calendar
    if name == "evaluate_many":
        return importlib.import_module(".batch", __name__).evaluate_many
    if name in ("to_frame", "evaluate_frame"):  # pandas is optional (the `pandas` extra)
        return getattr(importlib.import_module(".frame", __name__), name)
    raise AttributeError(f"module 'imgpath' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
