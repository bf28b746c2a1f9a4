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
# a lazily imported submodule named like its function (diff, parameters, timeline, compare,
# example) would shadow that function once anything imported the submodule: these are imported now
from .diff import Diff, diff
from .examples import example, examples_dir
from .parameters import Parameter, Parameters, parameters
from .timeline import Timeline, timeline
from .compare import Comparison, compare
_views.provide_later("imgpath.explain", "imgpath.plan", "imgpath.lint", "imgpath.render", "imgpath.frame")

if TYPE_CHECKING:  # imported on first use (__getattr__ below); named here for type checkers and the docs
    from .batch import evaluate_many
    from .plan import calendar

_LAZY = {  # name -> the module that defines it, imported the first time the name is asked for
    "evaluate_many": ".batch", "calendar": ".plan",
    "to_frame": ".frame", "evaluate_frame": ".frame",  # pandas is optional (the `pandas` extra)
    "evaluate_dask": ".dask_frame",  # dask is optional (the `dask` extra)
}

rulebook.cache_clear()  # importlib.reload(imgpath) after editing rules/ loads them again (Jupyter)

__all__ = [
    "Applicant",
    "Comparison",
    "Conclusion",
    "Confidence",
    "Diff",
    "EngineError",
    "Evaluation",
    "EvaluationWarning",
    "ImgpathError",
    "InvalidArguments",
    "InvalidFacts",
    "Parameter",
    "Parameters",
    "QueryError",
    "RuleError",
    "Rulebook",
    "Timeline",
    "UnknownConclusion",
    "UnknownRule",
    "Verdict",
    "WorkerCrashed",
    "__version__",
    "calendar",
    "compare",
    "diff",
    "evaluate",
    "evaluate_dask",
    "evaluate_frame",
    "evaluate_many",
    "example",
    "examples_dir",
    "load_applicant",
    "load_rulebook",
    "parameters",
    "rulebook",
    "strategies",
    "timeline",
    "to_frame",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name == "strategies":  # hypothesis is an optional dependency (the `testing` extra)
        return importlib.import_module(".strategies", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'imgpath' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
