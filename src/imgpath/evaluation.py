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
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from . import _forksafe
from . import expressions as ex
from .compiler import Program, encode
from .context import Context
from .engine import Firing, RuleBase
from .errors import InvalidFacts
from .facts import Applicant, bounded_repr
from .rulebook import Rule, Rulebook, Source, rulebook, weakest

__all__ = ["Conclusion", "Evaluation", "Verdict", "evaluate", "evaluate_many"]


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
    confidence: str
    assumptions: tuple[str, ...] = ()
    kind: str = "boolean"
    internal: bool = False
    note: str = ""

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
            "confidence": self.confidence,
            "assumptions": list(self.assumptions),
        }
        if self.note:
            out["note"] = self.note
        return out


Key = tuple[str, tuple[tuple[str, Any], ...]]


class Evaluation:
    """The result of evaluating one applicant on one date (see docs/reference/api).

    Queries take the conclusion's name and its arguments as keywords:
    ``ev.verdict("licensable", state="TX")``.
    """

    def __init__(self, program: Program, ctx: Context, firings: list[Firing], engine: str) -> None:
        self.program = program
        self.book: Rulebook = program.book
        self.context = ctx
        self.applicant = ctx.original
        self.as_of: _dt.date = ctx.as_of
        self.season: int = ctx.season
        self.engine = engine
        self.firings = tuple(firings)
        self._by_key: dict[Key, list[Firing]] = defaultdict(list)
        for f in self.firings:
            self._by_key[f.key].append(f)
        self._cache: dict[Key, Conclusion] = {}
        self._instances: list[Key] | None = None
        self._only: frozenset[str] | None = None  # a goal-restricted evaluation (planning) answers only these

    # ------------------------------------------------------------------ queries

    def verdict(self, name: str, **args: Any) -> Verdict:
        """YES, NO or UNKNOWN for a conclusion (docs/reference/conclusions.md lists them)."""
        return self.conclusion(name, **args).verdict

    def holds(self, name: str, **args: Any) -> bool:
        """True only where the verdict is YES."""
        return self.verdict(name, **args) is Verdict.YES

    def value(self, name: str, **args: Any) -> Any:
        """The value of a valued conclusion, or None when unknown.

        A set conclusion (``j1_waiver_options``) gives the list of members known to apply, even
        while its verdict is UNKNOWN because further members are still undecided.
        """
        c = self.conclusion(name, **args)
        if c.kind == "set":
            return None if c.value is None else list(c.value)
        return c.value

    def conclusion(self, name: str, **args: Any) -> Conclusion:
        """The full :class:`Conclusion` for one instance."""
        key = self._key(name, args)
        return self._conclude(key)

    @property
    def conclusions(self) -> tuple[Conclusion, ...]:
        """Every public conclusion instance: reached (YES, UNKNOWN) or decided NO, in vocabulary order."""
        return tuple(self._conclude(k) for k in self.instances() if not self.book.conclusions[k[0]].internal)

    def instances(self) -> list[Key]:
        """Every conclusion instance this evaluation answers, in vocabulary order."""
        if self._instances is None:
            keys: list[Key] = []
            for name, spec in self.book.conclusions.items():
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

    def _key(self, name: str, args: Mapping[str, Any]) -> Key:
        spec = self.book.conclusion(name)
        if self._only is not None and name not in self._only:
            raise ValueError(f"this evaluation was restricted to {sorted(self._only)[:5]}...; evaluate fully for {name}")
        if set(args) != set(spec.args):
            want = ", ".join(f"{a}=..." for a in sorted(spec.args)) or "no arguments"
            raise TypeError(f"{name} takes {want}; got {sorted(args) or 'none'}")
        items = []
        for arg, v in sorted(args.items()):
            domain = spec.args[arg]
            if isinstance(domain, str):
                table = self.book.tables[domain]
                if v not in table.rows:
                    raise ValueError(f"{name}: {arg}={v!r} is not in table {domain}")
                if v not in self.context.rows(domain):
                    raise ValueError(f"{name}: {arg}={v!r} is outside this applicant's interest "
                                     f"({table.scope}); add it there or remove the restriction")
            elif v not in domain:
                raise ValueError(f"{name}: {arg} must be one of {list(domain)}, got {v!r}")
            items.append((arg, encode(v)))
        return (name, tuple(items))

    # ------------------------------------------------------------------ verdicts

    def _conclude(self, key: Key) -> Conclusion:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        name, args = key
        spec = self.book.conclusions[name]
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
        basis = yes if verdict is Verdict.YES and spec.kind != "set" else (yes + maybe or self._candidates(key))
        rules, sources, confidence, assumptions = self._support(key, basis, verdict, aggregate=spec.kind == "set")
        if not basis and spec.sources:  # a conclusion that is NO by definition (e.g. TN never allows residency)
            sources = tuple(self.book.sources[s] for s in spec.sources)
            confidence = spec.confidence
        out = Conclusion(name, dict(args), verdict, value, rules, sources, confidence, assumptions,
                         spec.kind, spec.internal, note)
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
                levels.append(self._failure_confidence(rule, f.row, visiting | {key}))
                rule_ids.append(rule.id)
                source_ids.extend(chain_sources)
                continue
            chain_levels = [rule.confidence]
            chain_assumptions = list(rule.assumptions)
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
                rank = ("unconfirmed", "secondary", "primary").index(level)
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
        from .explain import _instances, _Judge

        judge = _Judge(self)
        out: list[Key] = []
        for node, text in zip(rule.when, rule.when_text, strict=True):
            single = attrs.evolve(rule, when=(node,), when_text=(text,))
            deps = list(dict.fromkeys(_instances(single, row, judge, False) + _instances(single, row, judge, True)))
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

    def _failure_confidence(self, rule: Rule, row: Any, visiting: frozenset[Key]) -> str:
        from .explain import _Judge, _instances

        judge = _Judge(self)
        levels: list[str] = []
        for node, text in zip(rule.when, rule.when_text, strict=True):
            cond = judge.condition(node, text, rule, row)
            if cond.status != "fails":
                continue
            levels.extend(c for _, _, c in cond.params if c in ("primary", "secondary", "unconfirmed"))
            single = attrs.evolve(rule, when=(node,), when_text=(text,))
            for dep in _instances(single, row, judge, False) + _instances(single, row, judge, True):
                if dep not in visiting:
                    levels.append(self._conclude_inner(dep, visiting).confidence)
        return weakest(levels)

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
        for node in _rule_nodes(rule):
            for f in ex.walk(node):
                if not isinstance(f, ex.Field) or not f.path:
                    continue
                if rule.for_var and f.root == rule.for_var and row is not None:
                    table = self.book.tables[rule.for_table]  # type: ignore[index]
                    cell = table.cell(row, f.path[0])
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
        from .explain import why

        return why(self, self._key(name, args))

    def why_not(self, name: str, **args: Any) -> Any:
        """For a NO or UNKNOWN conclusion: each candidate rule with its conditions judged three-valued."""
        from .explain import why_not

        return why_not(self, self._key(name, args))

    def next_steps(self, goal: str = "may_start_acgme_residency", **args: Any) -> Any:
        """Ordered actions that would make ``goal`` YES (see :mod:`imgpath.plan`)."""
        from .plan import next_steps

        return next_steps(self, goal, **args)

    def with_facts(self, facts: Mapping[str, Any] | None = None, *, as_of: _dt.date | None = None,
                   **sections: Any) -> Evaluation:
        """Re-evaluate with some facts changed (what-if), on the same or another date."""
        applicant = self.applicant.with_facts({**(facts or {}), **sections})
        return evaluate(applicant, as_of=as_of or self.as_of, rulebook=self.book, engine=self.engine)

    # ------------------------------------------------------------------ output

    def to_dict(self, *, missing: bool = True) -> dict[str, Any]:
        """JSON-serialisable: as_of, season, engine and every conclusion with verdict, value, rules, sources.

        An UNKNOWN conclusion also lists what would decide it (``missing`` field paths and
        ``missing_parameters``, from :meth:`why_not`); ``missing=False`` skips that work.
        """
        conclusions = []
        for c in self.conclusions:
            d = c.to_dict()
            if missing and c.verdict is Verdict.UNKNOWN:
                wn = self.why_not(c.name, **c.args)
                d["missing"] = wn.missing
                d["missing_parameters"] = wn.missing_parameters
            conclusions.append(d)
        return {
            "format": "imgpath.evaluation/1",
            "as_of": self.as_of.isoformat(),
            "season": self.season,
            "engine": self.engine,
            "conclusions": conclusions,
        }

    def __repr__(self) -> str:
        counts = defaultdict(int)
        for c in self.conclusions:
            counts[c.verdict.value] += 1
        summary = ", ".join(f"{v} {counts[v]}" for v in ("yes", "no", "unknown"))
        return f"<Evaluation as_of={self.as_of} season={self.season} {summary}>"

    def _repr_html_(self) -> str:
        from .render import evaluation_html

        return evaluation_html(self)


def _rule_nodes(rule: Rule) -> Iterator[ex.Node]:
    yield from rule.when
    for _, node in rule.args:
        yield node
    if rule.value is not None:
        yield rule.value


# --------------------------------------------------------------------------- entry points

_rulebases: dict[int, tuple[weakref.ref[Program], RuleBase]] = {}
_rulebase_lock = _forksafe.Lock()  # a forked child gets it back unlocked


def _rulebase(program: Program) -> RuleBase:
    key = id(program)
    with _rulebase_lock:
        entry = _rulebases.get(key)
        if entry is not None and entry[0]() is program and not entry[1].closed:
            return entry[1]
        rb = RuleBase(program)

        def _drop(_: Any, key: int = key) -> None:
            gone = _rulebases.pop(key, None)
            if gone is not None:
                gone[1].close()

        _rulebases[key] = (weakref.ref(program, _drop), rb)
        return rb


def _as_applicant(applicant: Applicant | Mapping[str, Any]) -> Applicant:
    if isinstance(applicant, Applicant):
        return applicant
    if isinstance(applicant, Mapping):
        return Applicant.from_dict(applicant)
    raise InvalidFacts("", f"expected an imgpath.Applicant or a mapping, got {type(applicant).__name__}")


def evaluate(
    applicant: Applicant | Mapping[str, Any],
    *,
    as_of: _dt.date | None = None,
    rulebook: Rulebook | None = None,
    engine: str = "durable",
    _goals: Iterable[str] | None = None,
) -> Evaluation:
    """Evaluate one applicant on ``as_of`` (default: the document's ``as_of``, else today).

    ``engine="reference"`` uses the pure-Python evaluator (same answers; the test oracle).
    Raises :class:`~imgpath.InvalidFacts` on a bad document, naming the field.
    """
    from . import reference

    app = _as_applicant(applicant)
    if as_of is not None and (not isinstance(as_of, _dt.date) or isinstance(as_of, _dt.datetime)):
        raise InvalidFacts("as_of", f"expected a datetime.date, got {bounded_repr(as_of)}")
    when = as_of or app.as_of or _dt.date.today()
    book = rulebook if rulebook is not None else _default_book()
    program = book.program(when, goals=_goals)
    ctx = Context(book, app, when)
    if engine == "durable":
        firings = _rulebase(program).run(ctx)
    elif engine == "reference":
        firings = reference.run(program, ctx)
    else:
        raise ValueError(f"engine must be 'durable' or 'reference', got {engine!r}")
    ev = Evaluation(program, ctx, firings, engine)
    if _goals is not None:
        ev._only = book.cone(_goals)
    return ev


def _default_book() -> Rulebook:
    return rulebook()


def evaluate_many(
    applicants: Iterable[Applicant | Mapping[str, Any]],
    *,
    as_of: _dt.date | None = None,
    workers: int | None = None,
    rulebook: Rulebook | None = None,
    engine: str = "durable",
    chunksize: int = 256,
    mp_context: Any = None,
) -> Iterator[Evaluation]:
    """Evaluate many applicants, in order; ``workers`` > 1 uses that many processes.

    ``mp_context`` (``"spawn"``, ``"forkserver"``, ``"fork"`` or a context) chooses how workers
    start, else ``multiprocessing.set_start_method``, else fork on Linux (docs: Batch a cohort).
    Raises :class:`~imgpath.WorkerCrashed` if a worker process dies.
    """
    if not workers or workers <= 1:
        for a in applicants:
            yield evaluate(a, as_of=as_of, rulebook=rulebook, engine=engine)
        return
    from .batch import parallel_evaluate

    yield from parallel_evaluate(applicants, as_of=as_of, workers=workers, rulebook=rulebook,
                                 engine=engine, chunksize=chunksize, mp_context=mp_context)

