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

from typing import Any

from ._internal.version import VERSION as __version__

# the composition root: every layer is imported here, top ones last, so the presentation layers
# (explain, plan, lint, render) have provided the functions lower objects offer (_internal.views)
from .errors import (EngineError, ImgpathError, InvalidArguments, InvalidFacts, QueryError,
                     RuleError, UnknownConclusion, UnknownRule)
from .facts import Applicant, load_applicant
from .rulebook import Confidence, Rulebook, load_rulebook, rulebook
from .evaluation import Conclusion, Evaluation, Verdict, evaluate
from . import explain as _explain, lint as _lint, plan as _plan, render as _render  # noqa: F401
from .plan import calendar
from .diff import Diff, diff  # a lazily imported submodule named diff would shadow the function
from .batch import evaluate_many
from .examples import example, examples_dir
from .parameters import Parameter, Parameters, parameters
from .timeline import Timeline, timeline
from .compare import Comparison, compare
from . import frame as _frame  # noqa: F401  (provides to_frame() of parameters, timelines, comparisons)

__all__ = [
    "Applicant",
    "Comparison",
    "Conclusion",
    "Confidence",
    "Diff",
    "EngineError",
    "Evaluation",
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
    # imported lazily: hypothesis is an optional dependency (the `testing` extra)
    import importlib

    if name == "strategies":
        return importlib.import_module(".strategies", __name__)
    if name in ("to_frame", "evaluate_frame"):  # pandas is optional (the `pandas` extra)
        return getattr(importlib.import_module(".frame", __name__), name)
    if name == "evaluate_dask":  # dask is optional (the `dask` extra)
        return getattr(importlib.import_module(".dask_frame", __name__), name)
    raise AttributeError(f"module 'imgpath' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
