"""The exceptions imgpath raises.

One root, :class:`ImgpathError`; each leaf also subclasses the built-in it
resembles, so ``except ValueError`` keeps working for callers who do not know
imgpath. Every error carries the coordinates a user needs to fix it (a field
path, a rule id and file) and a message that says how.
"""

from __future__ import annotations

__all__ = ["EngineError", "ImgpathError", "InvalidFacts", "RuleError", "WorkerCrashed"]


class ImgpathError(Exception):
    """Root of every exception raised by imgpath."""


class InvalidFacts(ImgpathError, ValueError):
    """An applicant document does not fit the schema (contract §3).

    ``path`` is the field path (``exams[2].date``), ``file`` the document it
    came from when known. Nothing was evaluated: fix the field and retry.

    >>> err = InvalidFacts("exams[2].date", "expected an ISO date, got 'x'")
    >>> str(err)
    "exams[2].date: expected an ISO date, got 'x'"
    """

    def __init__(self, path: str, problem: str, *, file: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.file = file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{path}: {problem}" if path else f"{where}{problem}")


class RuleError(ImgpathError, ValueError):
    """A rule, source or parameter file is malformed, or the rulebook is inconsistent.

    ``file``, ``rule_id`` and ``text`` point at the offending place; the
    rulebook refuses to load until it is fixed.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        rule_id: str | None = None,
        text: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.rule_id = rule_id
        self.text = text
        parts = []
        if file:
            parts.append(file)
        if rule_id:
            parts.append(f"rule {rule_id}")
        prefix = ": ".join(parts)
        message = f"{prefix}: {problem}" if prefix else problem
        if text:
            message += f"\n    in: {text}"
        super().__init__(message)


class EngineError(ImgpathError, RuntimeError):
    """The rule engine failed while evaluating; ``rule_id`` names the rule it was running.

    The evaluation that raised is discarded; the engine stays usable for the
    next one. Report it with the applicant document: it is a bug.
    """

    def __init__(self, problem: str, *, rule_id: str | None = None) -> None:
        self.problem = problem
        self.rule_id = rule_id
        where = f"rule {rule_id}: " if rule_id else ""
        super().__init__(f"{where}{problem}")


class WorkerCrashed(ImgpathError, RuntimeError):
    """A worker process of a cohort run died (killed, out of memory, or a crash in the C engine).

    The run stops rather than wait for answers that will never come; what had finished is kept
    (``imgpath batch`` writes it to ``OUTPUT.partial``). ``signal`` is the number of the signal
    that killed the worker, when known (9 for SIGKILL, also what the out-of-memory killer sends).
    """

    def __init__(self, problem: str, *, signal: int | None = None) -> None:
        self.problem = problem
        self.signal = signal
        super().__init__(problem)
