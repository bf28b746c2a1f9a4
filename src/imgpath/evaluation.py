"""Evaluating an applicant: verdicts, values, confidence and assumptions from the rules that fired.

>>> import imgpath, datetime
>>> ev = imgpath.evaluate({"school": {"country": "IN"}}, as_of=datetime.date(2026, 1, 15))
>>> ev.verdict("img")
<Verdict.YES: 'yes'>
>>> ev.holds("img"), ev.verdict("ecfmg_exams_met")
(True, <Verdict.UNKNOWN: 'unknown'>)
"""

from __future__ import annotations

import datetime as _dt
import enum
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

import attrs

from . import expressions as ex
from . import reference
from ._internal import views
from ._internal.judge import Judge, instances
from ._internal.version import VERSION
from .compiler import Program, encode, lowered, program
from .context import Context
from .compiler.fused import fused
from .engine import Firing, firings_of_codes, fused_rulebase, rulebase
from .errors import InvalidArguments, InvalidFacts, QueryError
from .facts import Applicant, as_date, bounded_repr
from .horizon import EvaluationWarning, horizon, warnings_for
from .rulebook import Confidence, Rule, Rulebook, Source, rulebook, weakest

__all__ = ["Conclusion", "Evaluation", "Verdict", "as_applicant", "evaluate"]


Key = tuple[str, tuple[tuple[str, Any], ...]]


class Verdict(str, enum.Enum):
    """The answer to a yes/no question: ``YES``, ``NO`` or ``UNKNOWN`` (a deciding fact is missing)."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Conclusion:
    """One conclusion instance with its verdict, value and what it rests on."""

    name: str
    args: Mapping[str, Any]
    verdict: Verdict
    value: Any
    rules: tuple[str, ...]
    sources: tuple[Source, ...]
    confidence: Confidence = attrs.field(converter=Confidence)
    assumptions: tuple[str, ...] = ()
    kind: str = "boolean"
    internal: bool = False
    note: str = ""
    #: the evaluation that reached it (for ``reason`` and ``missing``); not part of its identity
    _evaluation: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def reason(self) -> str:
        """One line saying why (contract §6.10): the title of the rule that gave a YES; for a NO, the
        closest candidate rule that applies to this applicant and the condition it fails; for an
        UNKNOWN, what would decide it."""
        if self._evaluation is None:
            return ""
        return views.call("reason", self._evaluation, self._key)  # type: ignore[no-any-return]

    @property
    def missing(self) -> tuple[str, ...]:
        """For an UNKNOWN: the field paths whose values would decide it (as ``to_dict()`` lists them)."""
        if self.verdict is not Verdict.UNKNOWN or self._evaluation is None:
            return ()
        return tuple(self._evaluation.why_not(self.name, **self.args).missing)

    @property
    def missing_parameters(self) -> tuple[str, ...]:
        """For an UNKNOWN: the table figures nobody sourced that it rests on (``states.NE.img_gme_years``)."""
        if self.verdict is not Verdict.UNKNOWN or self._evaluation is None:
            return ()
        return tuple(self._evaluation.why_not(self.name, **self.args).missing_parameters)

    @property
    def shown(self) -> str:
        """The answer as a person reads it: YES / NO / UNKNOWN for a yes/no question; the value of a
        valued conclusion (UNKNOWN only when it is unknown); the members of a set, or ``none``.

        >>> Conclusion("gme_years_required", {"state": "NY"}, Verdict.YES, 3, (), (), "primary", kind="value").shown
        '3'
        >>> Conclusion("j1_waiver_options", {}, Verdict.NO, (), (), (), "primary", kind="set").shown
        'none'
        """
        if self.kind == "set":
            members = ", ".join(map(str, self.value or ()))
            if self.verdict is Verdict.UNKNOWN:
                return f"UNKNOWN (so far: {members})" if members else "UNKNOWN"
            return members or "none"
        if self.kind == "value":
            if self.verdict is Verdict.YES:
                return str(self.value)
            return "UNKNOWN" if self.verdict is Verdict.UNKNOWN else "no value"
        return self.verdict.value.upper()

    @property
    def _key(self) -> Key:
        return (self.name, tuple(sorted((k, encode(v)) for k, v in self.args.items())))

    @property
    def label(self) -> str:
        """``name`` or ``name(state='TX')``."""
        if not self.args:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.args.items())) + ")"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "args": dict(sorted(self.args.items())),
            "verdict": self.verdict.value,
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
            "rules": list(self.rules),
            "sources": [s.url for s in self.sources],
            "confidence": self.confidence.value,
            "assumptions": list(self.assumptions),
        }
        if self.note:
            out["note"] = self.note
        return out


class Evaluation:
    """The result of evaluating one applicant on one date (see docs/reference/api).

    Queries take the conclusion's name and its arguments as keywords:
    ``ev.verdict("licensable", state="TX")``.
    """

    def __init__(self, program: Program, ctx: Context | Callable[[], Context],
                 firings: Sequence[Firing] | Callable[[], Sequence[Firing]], engine: str, *,
                 as_of: _dt.date | None = None, only: Iterable[str] | None = None) -> None:
        """``ctx`` and ``firings`` may be given as functions computing them when first needed (a
        batch worker sends compact firings; the parent builds the rest only if asked)."""
        self.program = program
        self.book: Rulebook = program.book
        self.engine = engine
        self._ctx = ctx
        self._firings = firings
        if as_of is None:
            as_of = self.context.as_of
        self.as_of: _dt.date = as_of
        self._index: dict[Key, list[Firing]] | None = None
        self._cache: dict[Key, Conclusion] = {}
        self._answers: dict[Key, tuple[Verdict, Any, str, list[Firing], list[Firing]]] = {}
        self._instances: list[Key] | None = None
        #: a restricted evaluation (``only=``) answers only the cone of those conclusions
        self._only: frozenset[str] | None = None if only is None else self.book.cone(only)
        self._warnings: tuple[EvaluationWarning, ...] | None = None

    @property
    def warnings(self) -> tuple[EvaluationWarning, ...]:
        """What to know before trusting the verdicts (contract §1.1): a season or ``as_of`` past the
        rulebook's horizon, a pinned Match already over (:mod:`imgpath.horizon`). Data, never raised."""
        if self._warnings is None:
            self._warnings = warnings_for(self.book, self.applicant, self.as_of, self.season)
        return self._warnings

    @classmethod
    def from_codes(cls, book: Rulebook, document: Applicant | Mapping[str, Any], as_of: _dt.date,
                   codes: Sequence[int], *, only: Iterable[str] | None = None) -> Evaluation:
        """The evaluation a batch worker computed (:func:`imgpath.engine.evaluate_codes`), built lazily.

        Nothing is done until asked: the firings are rebuilt from their codes on the first
        question, the applicant (validated from ``document`` if it is a mapping) and its context
        when a verdict or an explanation needs them.
        """
        goals = None if only is None else frozenset(only)
        prog = program(book, as_of, goals=goals)

        def context() -> Context:
            return Context(book, as_applicant(document), as_of)

        def firings() -> list[Firing]:
            return firings_of_codes(fused(prog), as_of, codes)

        return cls(prog, context, firings, "durable", as_of=as_of, only=goals)

    @property
    def context(self) -> Context:
        """The facts as known at ``as_of``, the season and the rows in scope (:class:`~imgpath.context.Context`)."""
        ctx = self._ctx
        if not isinstance(ctx, Context):
            ctx = self._ctx = ctx()
        return ctx

    @property
    def applicant(self) -> Applicant:
        """The applicant's document as given (every fact, also those dated after ``as_of``)."""
        return self.context.original

    @property
    def season(self) -> int:
        """The Match season the evaluation reads its parameters for."""
        return self.context.season

    @property
    def firings(self) -> tuple[Firing, ...]:
        """Every rule firing, leaf rules first (mode T: definitely, P: possibly)."""
        found = self._firings
        if not isinstance(found, tuple):
            found = self._firings = tuple(found() if callable(found) else found)
        return found

    @property
    def _by_key(self) -> dict[Key, list[Firing]]:
        """Firings by conclusion instance, built on the first question asked."""
        index = self._index
        if index is None:
            index = defaultdict(list)
            for f in self.firings:
                index[f.key].append(f)
            self._index = index
        return index

    # ------------------------------------------------------------------ queries

    def verdict(self, name: str, **args: Any) -> Verdict:
        """YES, NO or UNKNOWN for a conclusion (docs/reference/conclusions.md lists them)."""
        return self._answer(self.key(name, args))[0]

    def holds(self, name: str, **args: Any) -> bool:
        """True only where the verdict is YES."""
        return self.verdict(name, **args) is Verdict.YES

    def value(self, name: str, **args: Any) -> Any:
        """The value of a valued conclusion, or None when unknown.

        A set conclusion (``j1_waiver_options``) gives the list of members known to apply, even
        while its verdict is UNKNOWN because further members are still undecided.
        """
        key = self.key(name, args)
        value = self._answer(key)[1]
        if self.book.conclusions[name].kind == "set":
            return None if value is None else list(value)
        return value

    def conclusion(self, name: str, **args: Any) -> Conclusion:
        """The full :class:`Conclusion` for one instance."""
        return self.at(self.key(name, args))

    def at(self, key: Key) -> Conclusion:
        """The :class:`Conclusion` of an instance key (``("licensable", (("state", "TX"),))``)."""
        return self._conclude(key)

    def firings_of(self, key: Key) -> list[Firing]:
        """The rule firings that concluded an instance (mode T: definitely, P: possibly)."""
        return self._by_key.get(key, [])

    @property
    def only(self) -> frozenset[str] | None:
        """The conclusions a restricted evaluation answers (``evaluate(..., only=...)``), or None."""
        return self._only

    @property
    def conclusions(self) -> tuple[Conclusion, ...]:
        """Every public conclusion instance: reached (YES, UNKNOWN) or decided NO, in vocabulary order."""
        return tuple(self._conclude(k) for k in self.instances() if not self.book.conclusions[k[0]].internal)

    def summary(self) -> tuple[Conclusion, ...]:
        """The few verdicts a person looks for first (IMG, certificate, Match, start of residency, visa),
        as the rulebook declares them (``rules/data/display.toml``, ``[summary] conclusions``)."""
        names = (self.book.extras.get("display", {}).get("summary") or {}).get("conclusions", ())
        if self._only is not None:
            names = [n for n in names if n in self._only]
        return tuple(self.conclusion(n) for n in names)

    def instances(self) -> list[Key]:
        """Every conclusion instance this evaluation answers, in vocabulary order."""
        if self._instances is None:
            keys: list[Key] = []
            for name, spec in self.book.conclusions.items():
                if self._only is not None and name not in self._only:
                    continue  # a restricted evaluation answers its cone only
                if not spec.args:
                    keys.append((name, ()))
                    continue
                domains = []
                for arg, domain in sorted(spec.args.items()):
                    if isinstance(domain, str):
                        values: Iterable[Any] = self.context.rows(domain)
                    else:
                        values = domain
                    domains.append([(arg, v) for v in values])
                keys.extend((name, tuple(combo)) for combo in itertools.product(*domains))
            self._instances = keys
        return self._instances

    def key(self, name: str, args: Mapping[str, Any]) -> Key:
        """The instance key of ``name`` with ``args``, checked against the vocabulary.

        :class:`~imgpath.UnknownConclusion` for a name that is not a conclusion,
        :class:`~imgpath.InvalidArguments` for missing, extra or out-of-domain arguments.
        """
        spec = self.book.conclusion(name)
        if self._only is not None and name not in self._only:
            shown = ", ".join(sorted(self._only)[:5]) + (", ..." if len(self._only) > 5 else "")
            raise QueryError(f"this evaluation was restricted with only= to {shown} (and what they depend on); "
                             f"{name} is not among them: evaluate without only= to ask about it")
        if set(args) != set(spec.args):
            want = ", ".join(f"{a}=..." for a in sorted(spec.args)) or "no arguments"
            raise InvalidArguments(f"{name} takes {want}; got {sorted(args) or 'none'}")
        items = []
        for arg, v in sorted(args.items()):
            domain = spec.args[arg]
            if isinstance(domain, str):
                table = self.book.tables[domain]
                if v not in table.rows:
                    raise InvalidArguments(f"{name}: {arg}={v!r} is not in table {domain}")
                if v not in self.context.rows(domain):
                    raise InvalidArguments(f"{name}: {arg}={v!r} is outside this applicant's interest "
                                           f"({table.scope}); add it there or remove the restriction")
            elif v not in domain:
                raise InvalidArguments(f"{name}: {arg} must be one of {list(domain)}, got {v!r}")
            items.append((arg, encode(v)))
        return (name, tuple(items))

    # ------------------------------------------------------------------ verdicts

    def _answer(self, key: Key) -> tuple[Verdict, Any, str, list[Firing], list[Firing]]:
        """Verdict, value, note and the yes / maybe firings of an instance: what the firings say,
        without the sources and confidence behind it (``verdict()`` asks no more)."""
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        spec = self.book.conclusions[key[0]]
        firings = self._by_key.get(key, [])
        yes = [f for f in firings if f.mode == "T"]
        maybe = [f for f in firings if f.mode == "P"]
        note = ""
        value: Any = None
        if spec.kind == "set":
            items = sorted({f.value for f in yes}, key=repr)
            pending = sorted({f.value for f in maybe} - set(items), key=repr)
            value = tuple(items)
            verdict = Verdict.UNKNOWN if pending else (Verdict.YES if items else Verdict.NO)
            if pending:
                note = "not yet decided: " + ", ".join(map(str, pending))
        elif yes:
            values = {f.value for f in yes}
            if spec.kind == "value" and len(values) > 1:
                verdict = Verdict.UNKNOWN
                note = "rules disagree: " + ", ".join(sorted(map(str, values)))
            else:
                verdict = Verdict.YES
                value = next(iter(values)) if spec.kind == "value" else None
        elif maybe:
            verdict = Verdict.UNKNOWN
        else:
            verdict = Verdict.NO
        out = self._answers[key] = (verdict, value, note, yes, maybe)
        return out

    def _conclude(self, key: Key) -> Conclusion:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        name, args = key
        spec = self.book.conclusions[name]
        verdict, value, note, yes, maybe = self._answer(key)
        basis = yes if verdict is Verdict.YES and spec.kind != "set" else (yes + maybe or self._candidates(key))
        rules, sources, confidence, assumptions = self._support(key, basis, verdict, aggregate=spec.kind == "set")
        if not basis and spec.sources:  # a conclusion that is NO by definition (e.g. TN never allows residency)
            sources = tuple(self.book.sources[s] for s in spec.sources)
            confidence = spec.confidence
        out = Conclusion(name, dict(args), verdict, value, rules, sources, confidence, assumptions,
                         spec.kind, spec.internal, note, evaluation=self)
        self._cache[key] = out
        return out

    def _candidates(self, key: Key) -> list[Firing]:
        """Pseudo-firings for the rules in force that could have concluded ``key`` (for NO verdicts)."""
        name, args = key
        row = dict(args).get(next(iter(self.book.conclusions[name].args), ""), None)
        out = []
        for rule in self.program.rules:
            if rule.conclusion != name:
                continue
            if not rule.for_var and any(not isinstance(v, ex.Const) or (k, encode(v.value)) not in args
                                        for k, v in rule.args):
                continue  # a rule for another instance (pathway 1 when asking about pathway 2)
            out.append(Firing(rule.id, "F", name, args, None, row if rule.for_var else None))
        return out

    def _support(self, key: Key, basis: list[Firing], verdict: Verdict, visiting: frozenset[Key] = frozenset(),
                 aggregate: bool = False) -> tuple[tuple[str, ...], tuple[Source, ...], str, tuple[str, ...]]:
        """Rules, sources, confidence and assumptions behind a verdict.

        A YES rests on its best derivation; a set's value on every member's (``aggregate``); an
        UNKNOWN on the rules that could still fire; a NO on the figures its candidate rules read.
        """
        rule_ids: list[str] = []
        source_ids: list[str] = []
        levels: list[str] = []
        assumptions: list[str] = []
        best: tuple[Any, ...] | None = None
        order = self.book.order
        for f in sorted(basis, key=lambda f: (order[f.rule_id], repr(f.row), f.mode)):
            rule = self.book.rule(f.rule_id)
            chain_sources = list(rule.sources)
            if verdict is Verdict.NO:
                # a NO rests on what made its candidate rules fail: the figures and conclusions
                # their failing conditions read, not on those rules' own claims
                level, failed = self._failure(rule, f.row, visiting | {key})
                levels.append(level)
                assumptions.extend(self.context.planned_assumptions(failed))
                rule_ids.append(rule.id)
                source_ids.extend(chain_sources)
                continue
            chain_levels = [rule.confidence]
            chain_assumptions = [*rule.assumptions, *self.context.planned_assumptions(rule.nodes())]
            for cell_sources, level in self._params(rule, f.row):
                chain_levels.append(level)
                chain_sources.extend(cell_sources)
            for dep in self._decisive_deps(rule, f.row):
                if dep in visiting or dep == key:
                    continue
                sub = self._conclude_inner(dep, visiting | {key})
                chain_levels.append(sub.confidence)
                chain_assumptions.extend(sub.assumptions)
            level = weakest(chain_levels)
            if verdict is Verdict.YES and not aggregate:
                # the best derivation decides; ties keep every rule
                rank = level.rank
                if best is None or rank > best[0]:
                    best = (rank, [rule.id], chain_sources, [level], chain_assumptions)
                elif rank == best[0]:
                    best[1].append(rule.id)
                    best[2].extend(chain_sources)
                    best[4].extend(chain_assumptions)
            else:
                rule_ids.append(rule.id)
                source_ids.extend(chain_sources)
                levels.append(level)
                assumptions.extend(chain_assumptions)
        if best is not None:
            _, rule_ids, source_ids, levels, assumptions = best
        rule_ids = sorted(set(rule_ids), key=order.__getitem__)  # canonical, whatever the firing order
        sources = tuple(self.book.sources[s] for s in dict.fromkeys(source_ids))
        return (tuple(dict.fromkeys(rule_ids)), sources, weakest(levels),
                tuple(dict.fromkeys(assumptions)))

    def _decisive_deps(self, rule: Rule, row: Any) -> list[Key]:
        """The conclusions a firing rule needed: a conclusion read inside a condition that would
        hold even with it unknown (``not (known(x) and ... and c)``) did not decide anything."""
        judge = Judge(self)
        out: list[Key] = []
        for node, text in zip(rule.when, rule.when_text, strict=True):
            single = attrs.evolve(rule, when=(node,), when_text=(text,))
            deps = list(dict.fromkeys(instances(single, row, judge, False) + instances(single, row, judge, True)))
            for dep in deps:
                if not (isinstance(node, ex.Ref) or (isinstance(node, ex.Not) and isinstance(node.arg, ex.Ref))):
                    env = judge.env(rule, row)

                    def blind(ref: ex.Ref, e: ex.Env, values: Any, dep: Key = dep) -> ex.K:
                        inst = (ref.name, tuple(sorted((k, encode(ex.value(v, e))) for k, v in ref.args)))
                        return ex.K.U if inst == dep else judge.conclusion_truth(ref, e, values)

                    blind_env = ex.Env(as_of=env.as_of, lookup=self.context.lookup, conclusion=blind,
                                       variables={rule.for_var: env.var(rule.for_var)} if rule.for_var else None)
                    if ex.truth(node, blind_env) is ex.truth(node, env):
                        continue  # the condition comes out the same without it
                out.append(dep)
        return list(dict.fromkeys(out))

    def _failure(self, rule: Rule, row: Any, visiting: frozenset[Key]) -> tuple[str, list[ex.Node]]:
        """The confidence of what made a candidate rule fail, and its failing conditions."""
        judge = Judge(self)
        levels: list[str] = []
        failed: list[ex.Node] = []
        for node, text in zip(rule.when, rule.when_text, strict=True):
            cond = judge.condition(node, text, rule, row)
            if cond.status != "fails":
                continue
            failed.append(node)
            levels.extend(c for _, _, c in cond.params if c != "missing")
            single = attrs.evolve(rule, when=(node,), when_text=(text,))
            for dep in instances(single, row, judge, False) + instances(single, row, judge, True):
                if dep not in visiting:
                    levels.append(self._conclude_inner(dep, visiting).confidence)
        return weakest(levels), failed

    def _conclude_inner(self, key: Key, visiting: frozenset[Key]) -> Conclusion:
        if key in self._cache:
            return self._cache[key]
        name, args = key
        firings = self._by_key.get(key, [])
        yes = [f for f in firings if f.mode == "T"]
        maybe = [f for f in firings if f.mode == "P"]
        verdict = Verdict.YES if yes else (Verdict.UNKNOWN if maybe else Verdict.NO)
        basis = yes if yes else (maybe or self._candidates(key))
        _, _, confidence, assumptions = self._support(key, basis, verdict, visiting)
        return Conclusion(name, dict(args), verdict, None, (), (), confidence, assumptions)

    def _params(self, rule: Rule, row: Any) -> list[tuple[tuple[str, ...], str]]:
        out = []
        for node in rule.nodes():
            for f in ex.walk(node):
                if not isinstance(f, ex.Field) or not f.path:
                    continue
                if rule.for_var and f.root == rule.for_var and row is not None:
                    cell = self.context.table(rule.for_table).cell(row, f.path[0])  # type: ignore[arg-type]
                elif self.context.season_table is not None and f.root == self.context.season_table.bind:
                    cell = self.context.season_row.get(f.path[0])
                else:
                    continue
                if cell is not None:
                    out.append((cell.sources, cell.confidence))
        return out

    # ------------------------------------------------------------------ explanations

    def why(self, name: str, **args: Any) -> Any:
        """The derivation of a YES (or a reached UNKNOWN) conclusion: rule, facts, sub-conclusions, sources."""
        return views.call("why", self, self.key(name, args))

    def why_not(self, name: str, **args: Any) -> Any:
        """For a NO or UNKNOWN conclusion: each candidate rule with its conditions judged three-valued."""
        return views.call("why_not", self, self.key(name, args))

    def next_steps(self, goal: str | None = None, **args: Any) -> Any:
        """Ordered actions that would make ``goal`` YES (see :mod:`imgpath.plan`); without a goal, the
        rules' ``default_goal`` (``may_start_acgme_residency``)."""
        return views.call("next_steps", self, goal, **args)

    def with_facts(self, facts: Mapping[str, Any] | None = None, *, as_of: _dt.date | None = None,
                   **sections: Any) -> Evaluation:
        """Re-evaluate with some facts changed (what-if), on the same or another date."""
        applicant = self.applicant.with_facts({**(facts or {}), **sections})
        return evaluate(applicant, as_of=as_of or self.as_of, rulebook=self.book, engine=self.engine,
                        only=self._only)

    # ------------------------------------------------------------------ output

    def to_dict(self, *, missing: bool = True, reasons: bool = False) -> dict[str, Any]:
        """JSON-serialisable: the stamp (imgpath version, rulebook digest, horizon), as_of, season, engine,
        the warnings and every conclusion with verdict, value, rules, sources.

        An UNKNOWN conclusion also lists what would decide it (``missing`` field paths and
        ``missing_parameters``, from :meth:`why_not`); ``missing=False`` skips that work.
        ``reasons=True`` adds each conclusion's one-line ``reason`` (:attr:`Conclusion.reason`), as
        ``imgpath check --format json`` does.
        """
        conclusions = []
        for c in self.conclusions:
            d = c.to_dict()
            if missing and c.verdict is Verdict.UNKNOWN:
                wn = self.why_not(c.name, **c.args)
                d["missing"] = wn.missing
                d["missing_parameters"] = wn.missing_parameters
            if reasons:
                d["reason"] = c.reason
            conclusions.append(d)
        return {
            "format": "imgpath.evaluation/1",
            "imgpath": VERSION,
            "rulebook": {"name": self.book.name, "digest": self.book.digest},
            "horizon": horizon(self.book).to_dict(),
            "as_of": self.as_of.isoformat(),
            "season": self.season,
            "engine": self.engine,
            "warnings": [w.to_dict() for w in self.warnings],
            "conclusions": conclusions,
        }

    def __repr__(self) -> str:
        counts = defaultdict(int)
        for c in self.conclusions:
            counts[c.verdict.value] += 1
        summary = ", ".join(f"{v} {counts[v]}" for v in ("yes", "no", "unknown"))
        return f"<Evaluation as_of={self.as_of} season={self.season} {summary}>"

    def _repr_html_(self) -> str:
        return views.html(self)


# --------------------------------------------------------------------------- entry points

def as_applicant(applicant: Applicant | Mapping[str, Any]) -> Applicant:
    """The :class:`Applicant` of a document given as one or as a mapping; a file name is refused with
    the way to read it (``load_applicant``)."""
    if isinstance(applicant, Applicant):
        return applicant
    if isinstance(applicant, Mapping):
        return Applicant.from_dict(applicant)
    if isinstance(applicant, (str, PurePath)):
        raise InvalidFacts("", f"evaluate() takes an applicant, not a file name: read the file first with "
                           f"imgpath.evaluate(imgpath.load_applicant({str(applicant)!r}))")
    raise InvalidFacts("", f"expected an imgpath.Applicant or a mapping, got {type(applicant).__name__}")


#: The engines ``evaluate`` runs: the durable-rules Rete (fused facts and generated atoms), the
#: same Rete in the previous release's form (one small fact per atom; kept to be measured against
#: until the fused form has proven itself) and the pure-Python reference evaluator.
ENGINES = ("durable", "durable-classic", "reference")


def evaluate(
    applicant: Applicant | Mapping[str, Any],
    *,
    as_of: _dt.date | None = None,
    rulebook: Rulebook | None = None,
    engine: str = "durable",
    only: Iterable[str] | str | None = None,
) -> Evaluation:
    """Evaluate one applicant on ``as_of`` (default: the document's ``as_of``, else today).

    ``as_of`` is a ``datetime.date`` or an ISO string (``"2026-01-15"``), as in documents, between
    1900-01-01 and 2199-12-31. ``only`` restricts the work to some conclusions and what they depend on
    (their cone): the answers on the cone are those of a full evaluation, and asking about any other
    conclusion raises :class:`~imgpath.QueryError`. ``engine="reference"`` uses the pure-Python
    evaluator (same answers; the test oracle); ``engine="durable-classic"`` the previous release's
    durable-rules form. Raises :class:`~imgpath.InvalidFacts` on a bad document, naming the field.
    """
    app = as_applicant(applicant)
    if as_of is not None and not isinstance(as_of, (_dt.date, str)):
        raise InvalidFacts("as_of", f"expected a datetime.date or an ISO date string, got {bounded_repr(as_of)}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    when = as_date(as_of) if as_of is not None else (app.as_of or as_date(_dt.date.today()))
    book = rulebook if rulebook is not None else _default_book()
    goals = _only(book, only)
    prog = program(book, when, goals=goals)
    ctx = Context(book, app, when)
    if engine == "durable":
        firings: Sequence[Firing] = fused_rulebase(fused(prog)).run(ctx)
    elif engine == "durable-classic":
        firings = rulebase(lowered(prog)).run(ctx)
    else:
        firings = reference.run(prog, ctx)
    return Evaluation(prog, ctx, firings, engine, as_of=when, only=goals)


def _only(book: Rulebook, only: Iterable[str] | str | None) -> frozenset[str] | None:
    """The conclusion names of ``only=``, each checked against the vocabulary."""
    if only is None:
        return None
    names = (only,) if isinstance(only, str) else tuple(only)
    if not names:
        raise InvalidArguments("only= needs at least one conclusion name")
    for name in names:
        if not isinstance(name, str):
            raise InvalidArguments(f"only= takes conclusion names, got {bounded_repr(name)}")
        book.conclusion(name)  # UnknownConclusion, with a suggestion
    return frozenset(names)


def _default_book() -> Rulebook:
    return rulebook()
