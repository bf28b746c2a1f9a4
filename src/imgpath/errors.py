"""The exceptions imgpath raises.

One root, :class:`ImgpathError`; each leaf also subclasses the built-in it
resembles, so ``except ValueError`` keeps working for callers who do not know
imgpath. Every error carries the coordinates a user needs to fix it (a field
path, a rule id and file) and a message that says how.
"""

from __future__ import annotations

__all__ = ["EngineError", "ImgpathError", "InvalidArguments", "InvalidFacts", "QueryError", "RuleError",
           "UnknownConclusion", "UnknownRule", "WorkerCrashed"]


class ImgpathError(Exception):
    """Root of every exception raised by imgpath."""


class InvalidFacts(ImgpathError, ValueError):
    """An applicant document does not fit the schema (contract §3).

    ``errors`` lists every problem of the document (contract §6.11), each an ``InvalidFacts`` with
    its own ``path`` (``exams[2].date``) and ``problem``; ``path`` and ``problem`` of the error
    itself are those of the first. ``file`` is the document it came from when known. Nothing was
    evaluated: fix the fields and retry.

    >>> err = InvalidFacts("exams[2].date", "expected an ISO date, got 'x'")
    >>> str(err)
    "exams[2].date: expected an ISO date, got 'x'"
    >>> both = InvalidFacts.collect([err, InvalidFacts("school.country", "expected a country code")], file="a.toml")
    >>> print(both)
    a.toml: 2 problems
      exams[2].date: expected an ISO date, got 'x'
      school.country: expected a country code
    >>> [e.path for e in both.errors]
    ['exams[2].date', 'school.country']
    """

    #: problems listed in the message; ``errors`` keeps every one
    SHOWN = 20

    def __init__(self, path: str, problem: str, *, file: str | None = None,
                 errors: tuple[InvalidFacts, ...] = ()) -> None:
        self.path = path
        self.problem = problem
        self.file = file
        self.errors: tuple[InvalidFacts, ...] = errors or (self,)
        where = f"{file}: " if file else ""
        if len(self.errors) == 1:
            super().__init__(f"{where}{path}: {problem}" if path else f"{where}{problem}")
            return
        lines = [f"{where}{len(self.errors)} problems"]
        lines += [f"  {e.path}: {e.problem}" if e.path else f"  {e.problem}" for e in self.errors[: self.SHOWN]]
        if len(self.errors) > self.SHOWN:
            lines.append(f"  ... and {len(self.errors) - self.SHOWN} more")
        super().__init__("\n".join(lines))

    @classmethod
    def collect(cls, errors: list[InvalidFacts] | tuple[InvalidFacts, ...], *, file: str | None = None) -> InvalidFacts:
        """One error listing every problem of ``errors`` (each flattened), attributed to ``file``."""
        flat = [e if file is None or e.file == file else InvalidFacts(e.path, e.problem, file=file)
                for err in errors for e in err.errors]
        if len(flat) == 1:
            return flat[0]
        return cls(flat[0].path, flat[0].problem, file=file, errors=tuple(flat))


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


class QueryError(ImgpathError, ValueError):
    """A question asked of an evaluation or a rulebook does not fit its vocabulary.

    The CLI reports it as bad input (exit 2); nothing was evaluated differently.
    """


class UnknownConclusion(QueryError, KeyError):
    """No conclusion of that name; ``name`` is what was asked, the message suggests the closest.

    >>> raise UnknownConclusion("img_status", "; did you mean 'img'?")
    Traceback (most recent call last):
    ...
    imgpath.errors.UnknownConclusion: no conclusion 'img_status'; did you mean 'img'?
    """

    def __init__(self, name: str, suggestion: str = "") -> None:
        self.name = name
        super().__init__(f"no conclusion {name!r}{suggestion}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownRule(QueryError, KeyError):
    """No rule with that id; ``rule_id`` is what was asked."""

    def __init__(self, rule_id: str, suggestion: str = "") -> None:
        self.rule_id = rule_id
        super().__init__(f"no rule {rule_id!r}{suggestion}")

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidArguments(QueryError, TypeError):
    """A conclusion was asked with the wrong arguments (``licensable`` without ``state=``, ``pathway=9``)."""


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
