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

from typing import TYPE_CHECKING

from .diff import Diff, diff  # eager: a lazily imported submodule named diff would shadow the function
from .errors import EngineError, ImgpathError, InvalidFacts, RuleError, WorkerCrashed
from .evaluation import Conclusion, Evaluation, Verdict, evaluate, evaluate_many
from .facts import Applicant, load_applicant
from .rulebook import Rulebook, load_rulebook, rulebook

if TYPE_CHECKING:
    from .plan import calendar

__version__ = "0.1.0"

__all__ = [
    "Applicant",
    "Conclusion",
    "Diff",
    "EngineError",
    "Evaluation",
    "ImgpathError",
    "InvalidFacts",
    "RuleError",
    "Rulebook",
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
    if name in ("to_frame", "evaluate_frame"):  # pandas is optional (the `pandas` extra)
        return getattr(importlib.import_module(".frame", __name__), name)
    if name == "calendar":
        return importlib.import_module(".plan", __name__).calendar
    raise AttributeError(f"module 'imgpath' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
