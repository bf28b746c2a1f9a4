"""Planning: the smallest sets of actions that make a goal YES, ordered, with Match-calendar deadlines.

The actions are data (``rules/data/actions.toml``): each patches the applicant
document (pass Step 2 CK, meet OET, apply to a Pathway, obtain a Statement of
Need...). Facts nobody can change (citizenship, school, graduation date, past
attempts) have no action, so they are never suggested. A plan is found by
search: the applicant is re-evaluated with each candidate set of actions, so
applying a plan's steps makes the goal YES by construction (and the property
tests check it). Deadlines come from ``rules/data/calendar.toml``.

>>> import imgpath, datetime
>>> ev = imgpath.evaluate({"school": {"country": "US", "degree": "MD", "graduated": "2025-05-20"},
...                        "exams": []}, as_of=datetime.date(2026, 1, 15))
>>> [s.id for s in ev.next_steps("step3_eligible").options[0].steps]
['pass_step1', 'pass_step2ck']
"""

from __future__ import annotations

import copy
import datetime as _dt
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import expressions as ex
from ._internal import views
from ._internal.judge import Judge
from .compiler import Program, program
from .context import Context, RowRef
from .errors import InvalidFacts, RuleError
from .evaluation import Evaluation, Verdict, evaluate
from .explain import why_not
from .expressions import add_months
from .facts import Applicant, section_classes
from .plan_completions import Completion, apply_patch, completions
from .rulebook import Rulebook
from .rulebook import rulebook as default_rulebook
from .rulebook.resolve import bare_refs

__all__ = ["Branch", "Consequence", "DeadEnd", "Event", "Option", "Plan", "Step", "calendar", "default_goal",
           "next_steps", "training_start"]

#: Most evaluations one plan may spend, most unions of candidate actions it tries (one per choice of
#: variants), and most options it returns.
MAX_EVALUATIONS = 400
MAX_SEEDS = 16
MAX_OPTIONS = 5
#: Most unknown facts one plan branches on (decisions: three); past that it asks to confirm them first.
MAX_BRANCH_FACTS = 3
#: Most evaluations a whole branching plan may spend (every branch's own search included).
MAX_BRANCH_EVALUATIONS = 800
#: The JSON format of a plan (2: branches, dead ends and consequences).
FORMAT = "imgpath.plan/2"


@attrs.frozen
class Event:
    """A dated event of a Match season (ERAS opens, rank-order-list deadline, Match Day...)."""

    id: str
    title: str
    date: _dt.date
    estimated: bool
    confidence: str
    sources: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "date": self.date.isoformat(), "estimated": self.estimated,
                "confidence": self.confidence, "sources": list(self.sources), "note": self.note}


def calendar(season: int, *, rulebook: Rulebook | None = None) -> list[Event]:
    """The dated events of a Match season, in date order (estimated dates are marked).

    >>> [e.id for e in calendar(2026)][:3]
    ['nrmp_institution_registration_opens', 'eras_opens', 'pathways_application_opens']
    """
    book = rulebook or default_rulebook()
    data = book.extras.get("calendar", {})
    events = data.get("seasons", {}).get(str(season), {}).get("events", [])
    out = [Event(e["id"], e["title"], e["date"], bool(e.get("estimated", False)), e.get("confidence", "primary"),
                 tuple(e.get("sources", ())), e.get("note", "")) for e in events]
    return sorted(out, key=lambda e: (e.date, e.id))


@attrs.frozen
class Step:
    """One action of a plan: what to do, the rule it unlocks, what must come first, and by when."""

    id: str
    action: str
    rule: str = ""
    after: tuple[str, ...] = ()
    deadline: _dt.date | None = None
    deadline_event: str = ""
    deadline_estimated: bool = False
    sources: tuple[str, ...] = ()
    assumption: str = ""
    deadline_passed: bool = False  # the deadline lies before the plan's as_of: this season is likely lost
    note: str = ""  # why the deadline is what it is (e.g. the H-1B petition's lead time)

    @property
    def when(self) -> str:
        """The deadline in words: ``by 2027-03-03 (estimated) (Rank order list ...)``, or why it is unknown."""
        if self.deadline:
            flags = ", ".join(f for f, on in (("estimated", self.deadline_estimated),
                                              ("already passed", self.deadline_passed)) if on)
            return f"by {self.deadline}{f' ({flags})' if flags else ''} ({self.deadline_event})"
        return f"deadline unknown ({self.deadline_event})" if self.deadline_event else ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "unlocks": self.rule, "after": list(self.after),
                "deadline": self.deadline.isoformat() if self.deadline else None,
                "deadline_event": self.deadline_event or None, "deadline_estimated": self.deadline_estimated,
                "deadline_passed": self.deadline_passed,
                "sources": list(self.sources), **({"assumption": self.assumption} if self.assumption else {}),
                **({"note": self.note} if self.note else {})}


@attrs.frozen
class Option:
    """One way to reach the goal: steps in the order to take them.

    ``document`` is the applicant document with every step applied (a what-if on which the goal
    is YES on the plan's date); it is not part of ``to_dict()``.
    """

    steps: tuple[Step, ...]
    document: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    consequences: tuple[Consequence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps],
                "consequences": [c.to_dict() for c in self.consequences]}


@attrs.frozen
class Consequence:
    """A conclusion that is never a goal (the H-1B payment, the need for a visa...) holding once an
    option's steps are taken: reported beside the plan ("this path makes the $100,000 payment apply")."""

    conclusion: str
    text: str
    caused: bool  # False when it already held before the steps
    rules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"conclusion": self.conclusion, "text": self.text, "caused_by_plan": self.caused,
                "rules": list(self.rules), "sources": list(self.sources)}


@attrs.frozen
class Branch:
    """What to do if the missing facts have the values ``condition`` names.

    ``patch`` is the applicant-document patch that assumes them (``{"licenses": []}``); ``document``
    is the what-if document with the patch and the first option's steps applied, on which the goal
    is YES. ``options`` are the ways to the goal under that assumption, smallest first (none when
    the goal already holds under it)."""

    condition: str
    facts: tuple[str, ...]
    patch: Mapping[str, Any] = attrs.field(eq=False)
    options: tuple[Option, ...]
    verdict: str  # the goal's verdict on the assumed facts, before any step

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.options[0].steps if self.options else ()

    @property
    def document(self) -> Mapping[str, Any]:
        return self.options[0].document if self.options else {}

    def to_dict(self) -> dict[str, Any]:
        return {"if": self.condition, "facts": list(self.facts), "assume": copy.deepcopy(dict(self.patch)),
                "verdict": self.verdict, "options": [o.to_dict() for o in self.options]}


@attrs.frozen
class DeadEnd:
    """Values of the missing facts under which the goal cannot be reached (``reason`` says why, naming
    ``unchangeable`` facts or law ``not_in_force``), or stays undecided until more facts are confirmed
    (``confirm`` names them)."""

    condition: str
    facts: tuple[str, ...]
    patch: Mapping[str, Any] = attrs.field(eq=False)
    reason: str
    confirm: tuple[str, ...] = ()
    unchangeable: tuple[str, ...] = ()
    not_in_force: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"if": self.condition, "facts": list(self.facts), "assume": copy.deepcopy(dict(self.patch)),
                "reason": self.reason, "confirm": list(self.confirm), "unchangeable": list(self.unchangeable),
                "not_in_force": list(self.not_in_force)}


@attrs.frozen
class Advice:
    """Advice listed beside a plan: a member of ``application_advice`` that holds, with its sources.

    Never a step: no rule requires it, and its rules rest on secondary sources.
    """

    kind: str
    text: str
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    confidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "rules": list(self.rules), "sources": list(self.sources),
                "confidence": self.confidence}


class Plan:
    """``next_steps`` for a goal: options (smallest first), branches on missing facts, or why the goal
    cannot be reached.

    ``steps`` (and ``iter(plan)``) are the recommended steps: the first option's, or, when the plan
    branches, the first branch's. ``branches`` are set when a fact that decides the goal is missing
    (contract §1.1): each names the values it assumes and its own options. ``blocked`` says why the
    goal cannot be reached, naming the facts no action changes or the law not in force.
    """

    def __init__(self, goal: str, goal_label: str, verdict: str, options: list[Option], as_of: _dt.date,
                 season: int, blocked: str = "", to_confirm: Iterable[str] = (),
                 advice: Iterable[Advice] = (), branches: Iterable[Branch] = (),
                 dead_ends: Iterable[DeadEnd] = (), unchangeable: Iterable[str] = (),
                 not_in_force: Iterable[str] = ()) -> None:
        self.goal = goal
        self.goal_label = goal_label
        self.verdict = verdict
        self.options = options
        self.as_of = as_of
        self.season = season
        self.blocked = blocked
        self.to_confirm = list(to_confirm)
        self.advice = list(advice)
        self.branches = list(branches)
        self.dead_ends = list(dead_ends)
        self.unchangeable = list(unchangeable)  # facts no action changes that stand in the way
        self.not_in_force = list(not_in_force)  # rules that would apply but are not in force
        self._facts: list[str] = []  # the missing facts this plan would branch on (for a parent plan)
        self._other: list[str] = []  # obstacles that are neither unchangeable facts nor law (a planner gap)
        self._undecided = False  # missing facts remain that this plan was not allowed to branch on

    @property
    def steps(self) -> tuple[Step, ...]:
        """The recommended steps: the first (smallest) option's, else the first branch's."""
        if self.options:
            return self.options[0].steps
        return self.branches[0].steps if self.branches else ()

    @property
    def reachable(self) -> bool:
        """Whether the goal holds, or some option or branch reaches it."""
        return self.verdict == "yes" or bool(self.options) or bool(self.branches)

    def __iter__(self) -> Any:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "goal": self.goal_label, "verdict": self.verdict,
                "as_of": self.as_of.isoformat(), "season": self.season,
                "options": [o.to_dict() for o in self.options],
                "branches": [b.to_dict() for b in self.branches],
                "dead_ends": [d.to_dict() for d in self.dead_ends],
                "blocked": self.blocked or None, "unchangeable": self.unchangeable,
                "not_in_force": self.not_in_force,
                "to_confirm": self.to_confirm, "advice": [a.to_dict() for a in self.advice]}

    def __str__(self) -> str:
        lines = [f"next steps toward {self.goal_label} (now {self.verdict.upper()}; as of {self.as_of}, "
                 f"Match season {self.season})"]
        if self.verdict == "yes":
            lines.append("  already holds")
        if self.blocked:
            lines.append(f"  cannot be reached: {self.blocked}")
        for i, option in enumerate(self.options, 1):
            lines.append(f"  option {i}:")
            lines.extend(_option_lines(option, "    "))
        if self.branches:
            facts = ", ".join(dict.fromkeys(f for b in self.branches for f in b.facts))
            lines.append(f"  it depends on facts not given ({facts}):")
            for b in self.branches:
                lines.append(f"  {_if(b.condition)}:")
                if not b.options:
                    lines.append("    already holds")
                for i, option in enumerate(b.options[:2], 1):
                    if len(b.options) > 1:
                        lines.append(f"    option {i}:")
                    lines.extend(_option_lines(option, "      " if len(b.options) > 1 else "    "))
        for d in self.dead_ends:
            lines.append(f"  {_if(d.condition)}: " + (f"confirm {', '.join(d.confirm)} first" if d.confirm
                                                     else f"cannot be reached ({d.reason})"))
        if self.to_confirm and not (self.options or self.branches or self.blocked):
            lines.append(f"  it depends on more facts not given than a plan branches on ({MAX_BRANCH_FACTS}): "
                         f"confirm {', '.join(self.to_confirm)} first")
        elif self.to_confirm and self.options and self.verdict == "no":
            lines.append("  facts to confirm (missing; their value may spare some steps): " + ", ".join(self.to_confirm))
        elif self.to_confirm:
            lines.append("  facts to confirm (missing): " + ", ".join(self.to_confirm))
        if self.advice:
            lines.append("  to strengthen the application (program-specific; secondary sources):")
            lines.extend(f"    - {a.text}" for a in self.advice)
        return "\n".join(lines)

    def __repr__(self) -> str:
        more = f", {len(self.branches)} branch(es)" if self.branches else ""
        return f"<Plan {self.goal_label}: {len(self.options)} option(s){more}, first {[s.id for s in self.steps]}>"

    def _repr_html_(self) -> str:
        return views.html(self)


def _if(condition: str) -> str:
    """``if <condition>``, or the condition itself when it already reads as a clause ("otherwise: ...")."""
    return condition if condition.startswith(("otherwise", "whatever")) else f"if {condition}"


def _option_lines(option: Option, pad: str) -> list[str]:
    lines = []
    for j, s in enumerate(option.steps, 1):
        lines.append(f"{pad}{j}. {s.action}{' — ' + s.when if s.when else ''}")
        if s.rule:
            lines.append(f"{pad}   unlocks {s.rule}")
        if s.after:
            lines.append(f"{pad}   after: {', '.join(s.after)}")
        if s.assumption:
            lines.append(f"{pad}   assumes: {s.assumption}")
        if s.note:
            lines.append(f"{pad}   note: {s.note}")
    for c in option.consequences:
        lines.append(f"{pad}{'consequence of this path' if c.caused else 'also (already so)'}: {c.text}")
    return lines


@attrs.frozen(eq=False)
class _Action:
    id: str
    spec: Mapping[str, Any]
    params: Mapping[str, Any]
    before: tuple[_Action, ...] = ()  # prerequisite actions folded in (see _with_prerequisites)

    def units(self) -> list[_Action]:
        """This action with its folded-in prerequisites, prerequisites first."""
        out: list[_Action] = []
        for b in self.before:
            out.extend(b.units())
        out.append(_Action(self.id, self.spec, self.params))
        return out

    @property
    def key(self) -> str:
        return self.id + "".join(f"[{k}={v}]" for k, v in sorted(self.params.items()))

    def text(self, key: str) -> str:
        value = self.spec.get(key, "")
        return _fill(value, self.params) if isinstance(value, str) else value


def default_goal(book: Rulebook | None = None) -> str:
    """The goal a plan works toward when none is named: ``default_goal`` in ``rules/data/actions.toml``.

    >>> default_goal()
    'may_start_acgme_residency'
    """
    goal = (book or default_rulebook()).extras.get("actions", {}).get("default_goal")
    if not goal:
        raise RuleError("rules/data/actions.toml sets no default_goal; planning needs it")
    return str(goal)


def training_start(book: Rulebook, season: int) -> _dt.date:
    """The day residency starts after a season's Match: ``training_start`` ("MM-DD") in
    ``rules/data/actions.toml``, in the Match's year.

    >>> training_start(default_rulebook(), 2027)
    datetime.date(2027, 7, 1)
    """
    text = book.extras.get("actions", {}).get("training_start")
    m = re.fullmatch(r"(\d{2})-(\d{2})", str(text or ""))
    if not m:
        raise RuleError(f"rules/data/actions.toml: training_start must be a month and day 'MM-DD', got {text!r}")
    try:
        return _dt.date(season, int(m.group(1)), int(m.group(2)))
    except ValueError:
        raise RuleError(f"rules/data/actions.toml: training_start {text!r} is not a day of the year") from None


def next_steps(ev: Evaluation, goal: str | None = None, *, _depth: int = 0,
               _memo: dict[str, Plan] | None = None, _branching: int = MAX_BRANCH_FACTS,
               _budget: list[int] | None = None, **args: Any) -> Plan:
    """The smallest sets of actions that make ``goal`` YES for this applicant (see module doc); when a
    fact that decides it is missing, branches on the values of that fact that matter."""
    goal = goal or default_goal(ev.book)
    depth = _depth
    memo = {} if _memo is None else _memo
    budget = [MAX_BRANCH_EVALUATIONS] if _budget is None else _budget
    key = ev.key(goal, args)
    label = ev.at(key).label
    current = ev.verdict(goal, **args)
    advice = _advice(ev, goal)
    if current is Verdict.YES:
        return Plan(goal, label, current.value, [], ev.as_of, ev.season, advice=advice)
    catalog = ev.book.extras.get("actions", {}).get("actions", {})
    if not catalog:
        raise RuleError("rules/data/actions.toml has no [actions]; planning needs it")
    cone = _cone(ev.book, goal)
    blocked: list[str] = []
    candidates: list[_Action] = []
    conditional: list[tuple[_Action, list[str]]] = []  # possible only for some values of missing facts
    for aid, spec in catalog.items():
        for params in _expand(spec, args):
            action = _Action(aid, spec, params)
            if not _relevant(action, cone):
                continue
            unless = spec.get("unless")
            if unless and _check(ev, _fill(unless, params)) is ex.K.T:
                blocked.append(action.text("blocked") or f"{action.text('action')}: not possible")
                continue
            needs = spec.get("requires_now")
            truth = _check(ev, _fill(needs, params)) if needs else ex.K.T
            if truth is ex.K.U:
                conditional.append((action, _missing_of(ev, _fill(needs, params))))
            if truth is not ex.K.T:
                continue
            candidates.append(action)
    dropped: list[str] = []
    sub_facts: list[str] = []
    maybe: list[_Action] = []  # possible once missing facts are known (their prerequisite waits on them)
    dropped_needs: list[str] = []  # conclusions an action needs that cannot be reached
    candidates = _with_prerequisites(ev, goal, candidates, depth, memo, dropped, sub_facts, budget, maybe,
                                     dropped_needs)
    candidates = _useful(ev, key, candidates)
    if conditional:  # only those that could help matter (their missing facts are worth asking)
        useful = {id(a) for a in _useful(ev, key, [a for a, _ in conditional])}
        conditional = [(a, m) for a, m in conditional if id(a) in useful]
    undecided_by: list[str] = []  # the missing facts that leave the closest set of actions UNKNOWN
    options, undecided = _search(ev, key, candidates, budget, undecided_by)
    to_confirm: list[str] = []
    if current is Verdict.UNKNOWN:
        to_confirm = ev.why_not(goal, **args).missing
    if options:
        if not to_confirm and _depth == 0:  # a NO with a plan: facts whose value might spare some steps
            to_confirm = _worth_confirming(ev, key)
        return Plan(goal, label, current.value, options, ev.as_of, ev.season, "", to_confirm, advice)
    union = [*candidates, *(c for c, _ in conditional), *maybe]
    facts, reachable = _deciding_facts(ev, key, union, conditional, [*sub_facts, *undecided_by])
    if undecided_by and reachable is Verdict.NO:
        reachable = Verdict.UNKNOWN  # an action that replaces a fact made the union worse than a part of it
    if reachable is Verdict.NO:
        facts = []  # no value of the missing facts helps: say what stands in the way
    branches: list[Branch] = []
    dead: list[DeadEnd] = []
    if facts and _branching > 0 and budget[0] > 0:
        branches, dead = _branch(ev, key, facts, _catalog_goals(ev, catalog), _branching, budget)
    confirm_first = not branches and any(d.confirm for d in dead)
    if confirm_first:
        # more unknown facts than a plan branches on: ask to confirm them first (decisions.md)
        touched = _touched_paths(ev)
        asked = list(dict.fromkeys([*(f for d in dead for f in d.facts), *(c for d in dead for c in d.confirm)]))
        to_confirm = [f for f in asked if f not in touched and f.rsplit(".", 1)[0] not in touched] or asked
        dead = []
    if branches:
        asked = list(dict.fromkeys(f for b in [*branches, *dead] for f in b.facts))
        plan = Plan(goal, label, current.value, [], ev.as_of, ev.season, "", asked, advice, branches, dead)
        plan._facts = facts
        return plan
    found: dict[str, list[str]] = {"facts": [], "law": [], "other": []}
    reason = ""
    # missing facts remain that were not branched on (depth or budget spent, or no value of them the
    # rules tell apart): the answer is "confirm them first", not "cannot be reached"
    undecided_facts = bool(facts) and (_branching <= 0 or budget[0] <= 0 or not (branches or dead))
    if dead and all(not d.confirm for d in dead):
        reason = f"whatever {', '.join(dict.fromkeys(f for d in dead for f in d.facts))} may be: {dead[0].reason}"
        for d in dead:
            found["facts"].extend(d.unchangeable)
            found["law"].extend(d.not_in_force)
    elif confirm_first:
        pass  # no reason: the plan asks to confirm ``to_confirm`` first
    else:
        call = ", ".join([repr(goal), *(f"{k}={v!r}" for k, v in args.items())])
        if _unchangeable(ev, key, union, found, dropped_needs):
            reason = "; ".join(dict.fromkeys(found["law"]))
        else:
            reason = "; ".join(dict.fromkeys(blocked)) or "; ".join(x for x in (*dropped, undecided) if x) or (
                f"no combination of the available actions makes it YES; see why_not({call})")
        if undecided_facts:
            to_confirm = list(dict.fromkeys([*facts, *to_confirm]))
            if _branching > 0 and budget[0] > 0 and not found["facts"] and not found["law"]:
                reason = ""  # nothing known stands in the way: confirm the facts first
    if not (reason or to_confirm or dead):  # never silent: say what the search saw
        call = ", ".join([repr(goal), *(f"{k}={v!r}" for k, v in args.items())])
        reason = "; ".join(x for x in (*blocked, *dropped, undecided) if x) or (
            f"no combination of the available actions makes it YES; see why_not({call})")
        if not (found["facts"] or found["law"]):
            _unchangeable(ev, key, union, found, dropped_needs)
    plan = Plan(goal, label, current.value, [], ev.as_of, ev.season, reason, to_confirm, advice, [], dead,
                dict.fromkeys(found["facts"]), dict.fromkeys(found["law"]))
    plan._facts = facts
    plan._other = list(dict.fromkeys(found["other"]))
    plan._undecided = undecided_facts
    return plan


def _worth_confirming(ev: Evaluation, key: tuple[str, Any]) -> list[str]:
    """Missing facts that leave a conclusion the goal's rules read UNKNOWN: a plan was found without
    them, but their value may make some of its steps unnecessary (a certificate whose expiry date is
    not given may still be valid)."""
    goal, args = key
    out: list[str] = []
    for check in why_not(ev, ev.key(goal, dict(args))).checks:
        for cond in check.conditions:
            name = cond.text.strip()
            spec = ev.book.conclusions.get(name)
            if cond.status != "unknown" or spec is None or spec.args:
                continue
            out.extend(why_not(ev, (name, ())).decided_by)
    return list(dict.fromkeys(out))


def _catalog_goals(ev: Evaluation, catalog: Mapping[str, Any]) -> list[str]:
    """Every conclusion an action requires (now or after the other steps): their rules, too, tell
    which values of a missing fact matter (a license decides which Pathway is open)."""
    out: dict[str, None] = {}
    for spec in catalog.values():
        for k in ("requires", "requires_now"):
            if spec.get(k):
                node = bare_refs(ex.parse(_fill(spec[k], {"n": 1})), ev.book.conclusions, section_classes(), ())
                out.update(dict.fromkeys(n.name for n in ex.walk(node) if isinstance(n, ex.Ref)))
    return list(out)


def _missing_of(ev: Evaluation, condition: str) -> list[str]:
    """The missing facts that would decide a catalog condition (through the conclusions it reads)."""
    node = bare_refs(ex.parse(condition), ev.book.conclusions, section_classes(), ())
    out: dict[str, None] = {}
    env = ex.Env(as_of=ev.as_of, lookup=ev.context.lookup)
    for n in ex.walk(node):
        if isinstance(n, ex.Ref):
            args = {k: ex.value(v, env) for k, v in n.args}
            if ev.verdict(n.name, **args) is Verdict.UNKNOWN:
                out.update(dict.fromkeys(ev.why_not(n.name, **args).missing))
        elif isinstance(n, ex.Field) and n.root in section_classes():
            try:
                if ev.context.lookup(n, env) is ex.UNKNOWN:
                    out[".".join((n.root, *("from" if p == "from_" else p for p in n.path)))] = None
            except (ex.RuleError, KeyError):
                continue
    return list(out)


def _deciding_facts(ev: Evaluation, key: tuple[str, Any], union: list[_Action],
                    conditional: list[tuple[_Action, list[str]]], sub_facts: list[str]) -> tuple[list[str], Verdict]:
    """The missing facts that decide the goal, in the order to ask them (those that decide whether an
    action is open to the applicant, those a prerequisite plan waits on, then those that leave the
    goal UNKNOWN once every action that may be open is taken), and the goal's verdict then.

    That verdict is the test of whether branching can help: conditions are three-valued, so a goal
    that is NO with every such action taken and the facts still missing is NO whatever they are."""
    goal, args = key
    out: dict[str, None] = {}
    for _, missing in conditional:
        out.update(dict.fromkeys(missing))
    out.update(dict.fromkeys(sub_facts))
    best = Verdict.NO
    for choice in _variant_unions(union):
        doc = _copy(ev.applicant.to_dict())
        for a in choice:
            for u in a.units():
                _apply(doc, u, ev)
        try:
            after = evaluate(doc, as_of=ev.as_of, rulebook=ev.book, engine=ev.engine)
        except InvalidFacts:
            continue
        verdict = after.verdict(goal, **dict(args))
        if verdict is Verdict.UNKNOWN:
            out.update(dict.fromkeys(after.why_not(goal, **dict(args)).missing))
        if verdict is not Verdict.NO and best is not Verdict.YES:
            best = verdict
    return list(out), best


def _variant_unions(actions: list[_Action]) -> list[list[_Action]]:
    """Every action taken at once, one variant of each: the largest of variants that grow, and each of
    the others in turn (one Pathway at a time), at most MAX_SEEDS unions."""
    groups: dict[str, list[_Action]] = {}
    for a in actions:
        groups.setdefault(a.id, []).append(a)
    fixed = [g[-1] if g[0].spec.get("smaller_first") else g[0] for g in groups.values()
             if len(g) == 1 or g[0].spec.get("smaller_first")]
    varying = [g for g in groups.values() if len(g) > 1 and not g[0].spec.get("smaller_first")]
    return [fixed + list(choice) for choice in itertools.islice(itertools.product(*varying), MAX_SEEDS)]


def _branch(ev: Evaluation, key: tuple[str, Any], facts: list[str], extra_goals: list[str], branching: int,
            budget: list[int]) -> tuple[list[Branch], list[DeadEnd]]:
    """Branches on the first of ``facts`` whose values the rules tell apart: for each value, the plan
    on the facts completed with it (which may branch again on the next fact, up to ``branching``)."""
    goal, args = key
    base = ev.applicant.to_dict()
    fallback: tuple[list[Branch], list[DeadEnd]] | None = None
    for fact in facts:
        results: list[tuple[Completion, Plan]] = []
        for c in completions(ev, [goal, *extra_goals], fact, dict(args)):
            if budget[0] <= 0:
                break
            try:
                after = evaluate(apply_patch(base, c.patch), as_of=ev.as_of, rulebook=ev.book, engine=ev.engine)
            except InvalidFacts:
                continue
            budget[0] -= 1
            results.append((c, next_steps(after, goal, _branching=branching - 1, _budget=budget, **dict(args))))
        if not results:
            continue
        branches, dead = _assemble(results)
        if len(branches) == 1 and not dead and len(results) > 1:
            # every value of this fact leads to the same steps: it does not decide the plan; a later
            # fact may (ask about that one), else the plan holds whatever this one is
            fallback = fallback or ([attrs.evolve(branches[0], condition=_any_value(fact, results))], [])
            continue
        return branches, dead
    return fallback or ([], [])


def _any_value(fact: str, results: list[tuple[Completion, Plan]]) -> str:
    return f"whatever {fact} is (e.g. {results[0][0].text})"


def _assemble(results: list[tuple[Completion, Plan]]) -> tuple[list[Branch], list[DeadEnd]]:
    """Branches (and dead ends) from the plan under each completion; branches whose steps are the same
    are one branch whose condition lists the alternatives."""
    branches: list[Branch] = []
    dead: list[DeadEnd] = []
    for c, sub in results:
        if sub.verdict == "yes" or sub.options:
            branches.append(Branch(c.text, (c.path,), c.patch, tuple(sub.options), sub.verdict))
            continue
        for b in sub.branches:
            branches.append(Branch(f"{c.text} and {b.condition}", (c.path, *b.facts),
                                   apply_patch(c.patch, b.patch), b.options, b.verdict))
        for d in sub.dead_ends:
            dead.append(DeadEnd(f"{c.text} and {d.condition}", (c.path, *d.facts), apply_patch(c.patch, d.patch),
                                d.reason, d.confirm, d.unchangeable, d.not_in_force))
        if sub.branches or sub.dead_ends:
            continue
        if sub.blocked and not sub._undecided:
            dead.append(DeadEnd(c.text, (c.path,), c.patch, sub.blocked, (), tuple(sub.unchangeable),
                                tuple(sub.not_in_force)))
        else:
            dead.append(DeadEnd(c.text, (c.path,), c.patch, "still undecided",
                                tuple(sub.to_confirm or sub._facts)))
    merged: dict[tuple[Any, ...], Branch] = {}
    for b in branches:
        k = (b.verdict, tuple(s.id for s in b.steps))
        if k in merged:
            m = merged[k]
            merged[k] = Branch(f"{m.condition}, or {b.condition}", tuple(dict.fromkeys((*m.facts, *b.facts))),
                               m.patch, m.options, m.verdict)
        else:
            merged[k] = b
    return list(merged.values()), dead


def _unchangeable(ev: Evaluation, key: tuple[str, Any], candidates: list[_Action],
                  found: dict[str, list[str]], needs: Iterable[str] = ()) -> bool:
    """Fill ``found`` with what stands in the way once every available action is taken: facts no
    available action changes (``facts``: citizenship, the school, past exams and dates), law not in
    force or data the rulebook lacks (``law``), and rules whose obstacles an available action could
    change (``other``: a gap of the planner)."""
    goal, args = key
    doc = _copy(ev.applicant.to_dict())
    touched = {p for spec in ev.book.extras.get("actions", {}).get("actions", {}).values()
               if not spec.get("requires") for p in _leaf_paths(spec.get("set", {}))}
    for a in _one_variant_each(candidates):
        for u in a.units():
            touched.update(_leaf_paths(u.spec.get("set", {})))
            _apply(doc, u, ev)
    try:
        after = evaluate(doc, as_of=ev.as_of, rulebook=ev.book, engine=ev.engine)
    except InvalidFacts:
        after = ev
    if after.verdict(goal, **dict(args)) is Verdict.YES:
        return False
    wn = why_not(after, ev.key(goal, dict(args)))
    found["law"].extend(f"figure {n} (not in the rulebook's data)" for n in wn.missing_parameters)
    if not any(c.status != "not_in_force" for c in wn.checks):
        # no rule for it is in force: the law (or this instance of it) does not exist on this date
        found["law"].extend(f"rule {c.rule.id} is not in force ({c.reason})" for c in wn.checks)
        found["law"].append(wn.note or f"no rule in force on {ev.as_of} concludes {wn.label}: "
                                       "the law for it is not in force")
        return True
    for name in dict.fromkeys(needs):  # what keeps out the actions whose requirement cannot be met
        if not after.book.conclusions[name].args and after.verdict(name) is not Verdict.YES:
            _walk_blockers(after, why_not(after, (name, ())), touched, found, 0)
    _walk_blockers(after, wn, touched, found, 0)
    return False


def _one_variant_each(actions: list[_Action]) -> list[_Action]:
    """One variant per action (the largest of those that grow, the first of the others): the union of
    everything that may be done, with each action's effect as strong as it gets."""
    out: dict[str, _Action] = {}
    for a in actions:
        if a.id not in out or a.spec.get("smaller_first"):
            out[a.id] = a
    return list(out.values())


def _leaf_paths(patch: Mapping[str, Any]) -> set[str]:
    """``{"person": {"work_authorized": true}}`` -> {"person.work_authorized"}: the fields a patch sets."""
    out: set[str] = set()
    for section, fields in patch.items():
        for k in fields if isinstance(fields, Mapping) else ():
            out.add(f"{section}.{k}")
    return out


def _changeable(fact: Any, touched: set[str], season: int | None = None) -> bool:
    """Whether an available action sets the fact. History never changes: an entry already in a list,
    or a Match season already past (a Pathway applied for in an earlier season stays applied for)."""
    path = fact.path
    if "[" in path:
        return False
    if (path.endswith(".season") and season is not None and isinstance(fact.value, int)
            and not isinstance(fact.value, bool) and fact.value < season):
        return False
    return any(path == t or path.startswith(t + ".") for t in touched)


def _touched_paths(ev: Evaluation) -> set[str]:
    out: set[str] = set()
    for spec in ev.book.extras.get("actions", {}).get("actions", {}).values():
        out.update(_patch_paths(spec.get("set", {})))
        out.update(spec.get("add", {}))
    return out


def _walk_blockers(after: Evaluation, wn: Any, touched: set[str], found: dict[str, list[str]], depth: int) -> None:
    """Every candidate rule of a NO must be held back by something no available action changes: record,
    per failing rule, its unchangeable facts or law; a rule held back only by changeable facts is a gap."""
    live = [c for c in wn.checks if c.status != "not_in_force"]
    found["law"].extend(f"rule {c.rule.id} is not in force ({c.reason})" for c in wn.checks
                        if c.status == "not_in_force")
    for check in (c for c in live if c.status == "fails"):
        fixed: list[str] = []
        law: list[str] = []
        loose: list[str] = []
        for cond in (c for c in check.conditions if c.status == "fails"):
            name = cond.text.strip()
            if name in after.book.conclusions and depth >= 6:
                fixed.append(f"{name}: NO")  # deeper than followed: named as the conclusion that fails
                continue
            if name in after.book.conclusions and not after.book.conclusions[name].args:
                sub: dict[str, list[str]] = {"facts": [], "law": [], "other": []}
                _walk_blockers(after, why_not(after, (name, ())), touched, sub, depth + 1)
                fixed.extend(sub["facts"])
                law.extend(sub["law"])
                loose.extend(sub["other"])
                continue
            facts = [f for f in cond.facts if f.status != "unknown"]
            if not facts:
                law.append(name)
                continue
            for f in facts:
                (loose if _changeable(f, touched, after.season) else fixed).append(str(f))
        if fixed or law:
            found["facts"].extend(fixed)
            found["law"].extend(law)
        else:
            found["other"].extend(loose or [f"rule {check.rule.id}"])


def _advice(ev: Evaluation, goal: str) -> list[Advice]:
    """The advice ``rules/data/actions.toml [advice]`` lists beside plans toward ``goal``."""
    spec = ev.book.extras.get("actions", {}).get("advice")
    if not spec or goal not in spec.get("goals", ()) or spec.get("conclusion") not in ev.book.conclusions:
        return []
    name = spec["conclusion"]
    out = []
    for kind in ev.value(name) or ():
        firings = [f for f in ev.firings if f.conclusion == name and f.mode == "T" and f.value == kind]
        rules = tuple(dict.fromkeys(f.rule_id for f in firings))
        sources = tuple(dict.fromkeys(s for r in rules for s in ev.book.rule(r).sources))
        levels = [ev.book.rule(r).confidence for r in rules]
        weakest = max(levels, key=["primary", "secondary", "unconfirmed"].index, default="secondary")
        out.append(Advice(kind, spec.get("text", {}).get(kind, kind), rules, sources, weakest))
    return out


def _with_prerequisites(ev: Evaluation, goal: str, candidates: list[_Action], depth: int,
                        memo: dict[str, Plan], dropped: list[str], sub_facts: list[str],
                        budget: list[int], maybe: list[_Action], dropped_needs: list[str]) -> list[_Action]:
    """An action that requires a conclusion (a certificate needs every requirement met) comes with the
    smallest plan for that conclusion folded in, so the search counts it as one unit. (An action that
    requires the goal itself cannot help reach it.)"""
    out: list[_Action] = []
    for a in candidates:
        needs = a.spec.get("requires")
        if needs == goal:
            continue
        if not needs or depth > 1 or ev.verdict(needs) is Verdict.YES:
            out.append(a)
            continue
        if needs not in memo:
            memo[needs] = next_steps(ev, needs, _depth=depth + 1, _memo=memo, _branching=0, _budget=budget)
        sub = memo[needs]
        if not sub.options:  # its prerequisite cannot be reached (or waits on missing facts)
            sub_facts.extend(sub._facts)
            if sub._facts:
                maybe.append(a)
            else:
                dropped_needs.append(needs)
            dropped.append(f"{a.text('action')} needs {needs}, which cannot be reached"
                           + (f" ({sub.blocked})" if sub.blocked else ""))
            continue
        by_key = {c.key: c for c in candidates}
        parts = [by_key[s.id] for s in sub.options[0].steps if s.id in by_key]
        if len(parts) != len(sub.options[0].steps):
            parts = [*(_Action(s.id.split("[")[0], ev.book.extras["actions"]["actions"][s.id.split("[")[0]],
                               _params_of(s.id)) for s in sub.options[0].steps)]
        out.append(_Action(a.id, a.spec, a.params, tuple(parts)))
    return out


def _params_of(key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in re.findall(r"\[(\w+)=([^\]]*)\]", key):
        out[k] = int(v) if v.isdigit() else v
    return out


def _fact_conditions(prog: Program) -> list[tuple[ex.Node, str | None, str | None]]:
    """Every condition on facts the program's rules test, with the ``for`` variable and table it
    reads (a condition that reads conclusions contributes its parts on facts), each once."""
    cached = prog.derived.get("plan:conditions")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found: dict[tuple[str, str | None], tuple[ex.Node, str | None, str | None]] = {}
    for rule in prog.rules:
        for cond in rule.conditions():
            for node in _fact_parts(cond):
                reads_row = rule.for_var is not None and any(
                    isinstance(n, ex.Field) and n.root == rule.for_var for n in ex.walk(node))
                var, table = (rule.for_var, rule.for_table) if reads_row else (None, None)
                found.setdefault((ex.render(node), var), (node, var, table))
    out = prog.derived["plan:conditions"] = list(found.values())
    return out


def _fact_parts(node: ex.Node) -> list[ex.Node]:
    """The largest parts of a condition that read no conclusion."""
    if not any(isinstance(n, ex.Ref) for n in ex.walk(node)):
        return [node]
    if isinstance(node, (ex.And, ex.Or)):
        return [p for a in node.args for p in _fact_parts(a)]
    if isinstance(node, ex.Not):
        return _fact_parts(node.arg)
    return []


def _condition_truths(ev: Evaluation, prog: Program, doc: dict[str, Any]) -> list[Any]:
    """The truth of every fact condition of ``prog`` for a document (per row for row conditions)."""
    ctx = Context(ev.book, Applicant.from_dict(doc), ev.as_of)
    out: list[Any] = []
    for node, var, table in _fact_conditions(prog):
        parts = [node, *(n for n in ex.walk(node) if n is not node and isinstance(
            n, (ex.And, ex.Or, ex.Not, ex.Cmp, ex.Quant)) and not (isinstance(n, ex.Quant) and n.fn not in ("any", "all")))]
        # every boolean part, not only the whole condition: a step can make one conjunct true
        # while the condition as a whole still waits for another step
        bindings = [None] if table is None else [RowRef(ctx.table(table), k) for k in ctx.rows(table)]
        for binding in bindings:
            env = ctx.env({var: binding} if binding is not None and var else None)
            for part in parts:
                try:
                    out.append(ex.truth(part, env))
                except (ex.RuleError, KeyError):
                    out.append(None)
    return out


def _useful(ev: Evaluation, key: tuple[str, Any], candidates: list[_Action]) -> list[_Action]:
    """Only actions that, alone, make some condition the goal depends on truer can be part of a
    smallest plan (conditions are monotone in the facts an action adds): drop the others."""
    goal, args = key
    goals = [goal, *{a.spec["requires"] for a in candidates if a.spec.get("requires")}]
    prog = program(ev.book, ev.as_of, goals=goals)
    base = ev.applicant.to_dict()
    before = _condition_truths(ev, prog, base)
    out = []
    for a in candidates:
        doc = _copy(base)
        for u in a.units():
            _apply(doc, u, ev)
        try:
            after = _condition_truths(ev, prog, doc)
        except InvalidFacts:
            continue
        if len(after) != len(before) or any(x is not None and y is not None and x > y
                                            for x, y in zip(after, before, strict=True)):
            out.append(a)
    return out


def _expand(spec: Mapping[str, Any], goal_args: Mapping[str, Any]) -> list[dict[str, Any]]:
    each = spec.get("each") or {}
    names = sorted(each)
    out = []
    for combo in itertools.product(*(each[n] for n in names)):
        params = dict(zip(names, combo, strict=True))
        if "state" in goal_args:
            params.setdefault("state", goal_args["state"])
        out.append(params)
    return out or [dict(goal_args)]


def _fill(text: Any, params: Mapping[str, Any]) -> Any:
    if not isinstance(text, str):
        return text
    return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), m.group(0))), text)


def _check(ev: Evaluation, condition: str) -> ex.K:
    """A condition of the action catalog, judged on the current facts and conclusions."""
    node = bare_refs(ex.parse(condition), ev.book.conclusions, section_classes(), ())
    judge = Judge(ev)
    env = ex.Env(as_of=ev.as_of, lookup=ev.context.lookup, conclusion=judge.conclusion_truth)
    return ex.truth(node, env)


def _cone(book: Rulebook, goal: str) -> set[str]:
    """Section.field paths (and list sections) that rules for ``goal`` read, transitively."""
    seen: set[str] = set()
    paths: set[str] = set()
    todo = [goal]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for rule in book.rules_for(name):
            for node in rule.when:
                for n in ex.walk(node):
                    if isinstance(n, ex.Ref):
                        todo.append(n.name)
                    elif isinstance(n, ex.Field):
                        paths.add(n.root)
                        if n.path:
                            paths.add(f"{n.root}.{n.path[0]}")
    return paths


def _patch_paths(patch: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    for k, v in patch.items():
        path = f"{prefix}.{k}" if prefix else k
        yield path
        if isinstance(v, Mapping) and prefix == "":
            yield from _patch_paths(v, path)


def _relevant(action: _Action, cone: set[str]) -> bool:
    paths = set(_patch_paths(action.spec.get("set", {}))) | set(action.spec.get("add", {}))
    return bool(paths & cone)


def _values(value: Any, ev: Evaluation, params: Mapping[str, Any]) -> Any:
    """Fill the placeholders of a patch: $as_of, $as_of+3y, $as_of-2y, $as_of-1d, $season, {n}..."""
    if isinstance(value, Mapping):
        return {k: _values(v, ev, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(v, ev, params) for v in value]
    if not isinstance(value, str):
        return value
    value = _fill(value, params)
    if value == "$season":
        return ev.season
    if value == "$goal_state":
        return params.get("state")
    if value == "$training_start":
        return training_start(ev.book, ev.season).isoformat()
    m = re.fullmatch(r"\$as_of(?:([+-])(\d+)([yd]))?", value)
    if m:
        day = ev.as_of
        if m.group(1):
            n = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
            day = add_months(day, 12 * n) if m.group(3) == "y" else day + _dt.timedelta(days=n)
        return day.isoformat()
    if value.isdigit():
        return int(value)
    return value


def _apply(doc: dict[str, Any], action: _Action, ev: Evaluation) -> None:
    for section, fields in action.spec.get("set", {}).items():
        target = doc.setdefault(section, {})
        for k, v in _values(fields, ev, action.params).items():
            if isinstance(v, Mapping) and isinstance(target.get(k), Mapping):
                target[k] = {**target[k], **v}
            else:
                target[k] = v
    for section, entry in action.spec.get("add", {}).items():
        doc.setdefault(section, [])
        doc[section] = [*(doc[section] or []), _values(entry, ev, action.params)]


def _search(ev: Evaluation, key: tuple[str, Any], candidates: list[_Action],
            budget: list[int], undecided_by: list[str]) -> tuple[list[Option], str]:
    """The minimal action sets that make the goal YES; when there are none, why the closest is not enough.

    Actions only add facts, and conditions are monotone in the facts actions add, so if any set of
    candidates reaches the goal, so does the union of all of them (one variant per action: one
    Pathway, one length of training). Each such union is *minimised* — an action is dropped whenever
    the rest still reach the goal — giving a plan none of whose steps can be left out; dropping each
    step of a plan in turn from its union finds the other ways. This costs a few evaluations per
    candidate, where trying every combination grows exponentially with plan length.
    """
    goal, args = key
    base = ev.applicant.to_dict()
    state = dict(args).get("state")
    if state is not None or base.get("interest") is None:
        base["interest"] = {"states": [state] if state else [ev.context.rows("states")[0]]} if \
            "states" in ev.book.tables else base.get("interest")
    goals = [goal, *{a.spec["requires"] for a in candidates if a.spec.get("requires")}]
    seen: dict[frozenset[str], Verdict | None] = {}
    results: dict[frozenset[str], Evaluation] = {}

    def verdict(combo: tuple[_Action, ...]) -> Verdict | None:
        k = frozenset(a.key for a in combo)
        if k not in seen:
            if len(seen) >= MAX_EVALUATIONS or budget[0] <= 0:
                return None
            budget[0] -= 1
            doc = _copy(base)
            for a in _units(combo):
                _apply(doc, a, ev)
            try:
                after = evaluate(doc, as_of=ev.as_of, rulebook=ev.book, engine=ev.engine, only=goals)
            except InvalidFacts:  # a patch the schema rejects is simply not a plan
                seen[k] = None
                return None
            v = after.verdict(goal, **dict(args))
            if v is Verdict.YES and not _requirements_hold(combo, base, ev):
                v = Verdict.NO
            seen[k], results[k] = v, after
        return seen[k]

    def minimise(combo: tuple[_Action, ...], target: Verdict) -> tuple[_Action, ...]:
        # drop the largest units first, so a folded-in prerequisite plan gives way to its parts
        for a in sorted(combo, key=lambda a: (-len(a.units()), a.key)):
            trial = tuple(x for x in combo if x is not a)
            if trial and verdict(trial) is target:
                combo = trial
        return combo

    groups: dict[str, list[_Action]] = {}
    for a in candidates:
        groups.setdefault(a.id, []).append(a)
    fixed = tuple(g[0] for g in groups.values() if len(g) == 1)
    variants = [g for g in groups.values() if len(g) > 1]
    seeds = [fixed + tuple(c for c in choice if c is not None)
             for choice in itertools.product(*([None, *g] for g in variants))]
    seeds.sort(key=len, reverse=True)
    found: dict[frozenset[str], tuple[_Action, ...]] = {}
    pending = [seed for seed in seeds[:MAX_SEEDS] if seed and verdict(seed) is Verdict.YES]
    while pending and len(found) < MAX_OPTIONS * 2:
        seed = pending.pop(0)
        plan = minimise(seed, Verdict.YES)
        units = frozenset(u.key for u in _units(plan))
        if units in found:
            continue
        found[units] = plan
        for a in plan:  # the other ways: without this step
            rest = tuple(x for x in seed if x is not a)
            if rest and verdict(rest) is Verdict.YES:
                pending.append(rest)
    minimal = sorted(found.items(), key=lambda kv: (len(kv[0]), sorted(kv[0])))
    minimal = [(k, c) for k, c in minimal
               if not any(o < k or (o != k and _smaller(oc, c)) for o, oc in minimal)]
    options = [_option(ev, key, combo, base) for _, combo in minimal[:MAX_OPTIONS]]
    if options or ev.verdict(goal, **dict(args)) is not Verdict.NO:
        return options, ""
    closest = next((seed for seed in seeds[:MAX_SEEDS] if seed and verdict(seed) is Verdict.UNKNOWN), None)
    if closest is None:
        union = seeds[0] if seeds and seeds[0] and verdict(seeds[0]) is not None else ()
        after = results.get(frozenset(a.key for a in union), ev)
        return [], _blocker(after, key, bool(union))
    closest = minimise(closest, Verdict.UNKNOWN)
    wn = results[frozenset(a.key for a in closest)].why_not(goal, **dict(args))
    missing = ", ".join(wn.decided_by) or "conflicting sources"
    steps = "; ".join(u.text("action") for u in _units(closest))
    undecided_by.extend(wn.missing)
    return [], f"after {steps} it would still be UNKNOWN, decided by {missing}"


def _smaller(a: tuple[_Action, ...], b: tuple[_Action, ...]) -> bool:
    """Whether option ``a`` is ``b`` with some growing variants smaller (2 years of training, not 3)."""
    ua, ub = _units(a), _units(b)
    if sorted(u.id for u in ua) != sorted(u.id for u in ub):
        return False
    for x in ua:
        y = next(u for u in ub if u.id == x.id)
        if x.key == y.key:
            continue
        if not x.spec.get("smaller_first"):
            return False
        for k, order in x.spec.get("each", {}).items():
            if order.index(x.params[k]) > order.index(y.params[k]):
                return False
    return True


def _blocker(after: Evaluation, key: tuple[str, Any], acted: bool, depth: int = 0) -> str:
    """What still fails once every available action is taken: the failing conditions of the candidate
    rule closest to holding, followed down through failing conclusions to the facts no action changes."""
    wn = why_not(after, key)
    checks = sorted((c for c in wn.checks if c.status == "fails"),
                    key=lambda c: sum(x.status != "holds" for x in c.conditions))
    rules = []
    for check in checks[: 1 if depth else 2]:
        parts = []
        for cond in [c for c in check.conditions if c.status == "fails"][:3]:
            name = cond.text.strip()
            if depth < 3 and name in after.book.conclusions and not after.book.conclusions[name].args:
                deeper = _blocker(after, (name, ()), acted, depth + 1)
                parts.append(f"{name} ({deeper})" if deeper else name)
            else:
                parts.append(cond.line().lstrip("✘ "))
        rules.append((check.rule.id, "; ".join(parts)))
    if depth or not rules:
        return rules[0][1] if rules else ""
    lead = "even after every available action, " if acted else "no action applies, and "
    return lead + " | ".join(f"rule {rid} fails on: {parts}" for rid, parts in rules)


def _units(combo: Iterable[_Action]) -> list[_Action]:
    """The actions of a combination with their prerequisites, each once, prerequisites first."""
    out: dict[str, _Action] = {}
    for a in combo:
        for u in a.units():
            out.setdefault(u.key, u)
    return list(out.values())


def _requirements_hold(combo: tuple[_Action, ...], base: dict[str, Any], ev: Evaluation) -> bool:
    """An action's ``requires`` must hold on the facts the plan's other steps produce."""
    combo = tuple(_units(combo))
    for a in combo:
        needs = a.spec.get("requires")
        if not needs:
            continue
        doc = _copy(base)
        for other in combo:
            if other is not a:
                _apply(doc, other, ev)
        if evaluate(doc, as_of=ev.as_of, rulebook=ev.book, engine=ev.engine,
                    only=[needs]).verdict(needs) is not Verdict.YES:
            return False
    return True


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def _option(ev: Evaluation, key: tuple[str, Any], combo: tuple[_Action, ...], base: dict[str, Any]) -> Option:
    goal, args = key
    combo = tuple(_units(combo))
    doc = _copy(base)
    touched_by: dict[str, set[str]] = {}
    for a in combo:
        touched = set(_patch_paths(a.spec.get("set", {})))
        for section in a.spec.get("add", {}):
            touched.add(f"{section}[{len(doc.get(section) or [])}]")  # the entry this step adds
        touched_by[a.key] = touched
        _apply(doc, a, ev)
    after = evaluate(doc, as_of=ev.as_of, rulebook=ev.book, engine=ev.engine)
    tree = after.why(goal, **dict(args))
    events = {e.id: e for e in calendar(ev.season, rulebook=ev.book)}
    events.update(_derived_events(ev, after))
    ids = {a.id for a in combo}
    steps = []
    for a in combo:
        touched = touched_by[a.key]
        unlocks = ""
        for node in tree.root.walk():
            if node.rule is None:
                continue
            for c in node.conditions:
                if not unlocks and any(f.path in touched or f.path.split(".")[0] in touched
                                       or f.path.rsplit(".", 1)[0] in touched for f in c.facts):
                    unlocks = node.rule.id
        wanted = (a.spec.get("deadline_for") or {}).get(goal) or a.spec.get("deadline", "")
        event = events.get(wanted)
        # a deadline the season's calendar does not (yet) list is named as unknown, not dropped
        missing = f"{wanted}: not in the {ev.season} calendar" if wanted and not event else ""
        note = a.text("note") if wanted and wanted != a.spec.get("deadline", "") else ""
        steps.append(Step(a.key, a.text("action"), unlocks,
                          tuple(x for x in a.spec.get("after", ()) if x in ids),
                          event.date if event else None, event.title if event else missing,
                          event.estimated if event else False, tuple(a.spec.get("sources", ())),
                          a.text("assumption"), bool(event and event.date < ev.as_of), note))
    return Option(tuple(_order(steps)), doc, _consequences(ev, after, goal))


def _derived_events(ev: Evaluation, after: Evaluation) -> dict[str, Event]:
    """The events of ``[events]`` in actions.toml, dated from the start of training: the offer's start
    in the plan's document, else the season's ``training_start``."""
    spec = ev.book.extras.get("actions", {}).get("events", {})
    if not spec:
        return {}
    offer = after.applicant.offer
    start = offer.start if offer is not None and offer.start is not None else training_start(ev.book, ev.season)
    out = {}
    for eid, e in spec.items():
        day = add_months(start, -int(e["months_before_start"]))
        out[eid] = Event(eid, f"{e['title']}, for a start on {start}", day, False, e.get("confidence", "primary"),
                         tuple(e.get("sources", ())), e.get("note", ""))
    return out


def _consequences(ev: Evaluation, after: Evaluation, goal: str) -> tuple[Consequence, ...]:
    """The never-goal conclusions of ``[consequences]`` that hold once the steps are taken."""
    out = []
    for name, spec in ev.book.extras.get("actions", {}).get("consequences", {}).items():
        if name not in ev.book.conclusions or ev.book.conclusions[name].args:
            continue
        if after.verdict(name) is not Verdict.YES:
            continue
        caused = ev.verdict(name) is not Verdict.YES
        if caused or goal in spec.get("goals", ()):
            c = after.at(after.key(name, {}))
            out.append(Consequence(name, spec["text"], caused, tuple(c.rules),
                                   tuple(dict.fromkeys(s for r in c.rules for s in ev.book.rule(r).sources))))
    return tuple(out)


def _order(steps: list[Step]) -> list[Step]:
    """Prerequisites first, then by deadline."""
    out: list[Step] = []
    pending = sorted(steps, key=lambda s: (s.deadline or _dt.date.max, s.id))
    while pending:
        for s in pending:
            if all(any(o.id.split("[")[0] == dep for o in out) or not any(p.id.split("[")[0] == dep for p in pending)
                   for dep in s.after):
                out.append(s)
                pending.remove(s)
                break
        else:  # a cycle in 'after': keep the deadline order
            out.extend(pending)
            break
    return out


views.provide("next_steps", next_steps)
