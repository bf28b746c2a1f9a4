"""The durable-rules driver: a lowered :class:`~imgpath.compiler.EngineProgram` run on the C Rete engine.

It talks to ``durable_rules_engine`` directly (engine-notes §7): no
``durable.lang`` registry, no ``engine.Host`` background threads. One
:class:`RuleBase` owns one compiled ruleset; it can be closed and re-created
any number of times in a process. Each evaluation gets a fresh session that
is deleted in ``finally``; a sentinel rule guarantees the session starts an
action, a catch-all join keeps unmatched facts from being "not handled",
strata are released in order through gate facts, and every action is
recorded. Errors surface as :class:`~imgpath.EngineError` naming the rule;
the engine stays usable. A fact the engine wrongly reports as already seen
(its identity is a 32-bit hash) is re-asserted with a nonce, never dropped.
"""

from __future__ import annotations

import itertools
import json
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from . import expressions as ex
from ._internal import forksafe
from ._internal.dre import engine as _dre
from .compiler import EngineAction, EngineProgram, Firing, encode
from .compiler.closures import Frame
from .context import Context, RowRef
from .errors import EngineError

__all__ = ["Firing", "RuleBase", "base_facts", "rulebase"]

_OBSERVED = 2
_NOT_HANDLED = 1
_names = itertools.count(1)


def base_facts(program: EngineProgram, ctx: Context) -> list[dict[str, Any]]:
    """Every fact one evaluation asserts before the rules run (without shard copies)."""
    return prepare(program, ctx)[0]


def prepare(program: EngineProgram, ctx: Context) -> tuple[list[dict[str, Any]], list[Firing]]:
    """The facts one evaluation asserts before the rules run, and the firings of the leaf rules.

    Facts: the context, the parameter rows in scope (their key and the columns rules read), one
    truth fact per atom some engine rule reads (per row for atoms that read a row), and the
    conclusions of leaf rules (:class:`~imgpath.compiler.Leaf`) that engine rules read. A
    condition shared by several atoms is evaluated once.
    """
    read = program.read
    facts: list[dict[str, Any]] = [{"t": "begin"}, {"t": "ctx", "as_of": encode(ctx.as_of), "season": ctx.season}]
    row_facts: dict[str, dict[Any, dict[str, Any]]] = {}
    for table_name, columns in program.row_columns.items():
        table = ctx.table(table_name)
        rows = row_facts[table_name] = {key: _row_fact(table, key, columns) for key in ctx.rows(table_name)}
        if f"r:{table_name}" in program.reads:
            facts.extend(rows.values())
    frame = Frame(ctx)
    conditions = program.conditions
    results: dict[tuple[int, Any], ex.K] = {}

    def conjunction(atom: Any, key: Any) -> ex.K:
        out = ex.K.T
        for i in atom.conditions:
            slot = (i, key)
            value = results.get(slot)
            if value is None:
                value = results[slot] = conditions[i][1](frame)
            if value is ex.K.F:
                return ex.K.F
            if value is ex.K.U:
                out = ex.K.U
        return out

    values: list[Any] = []  # per atom: its truth, or {row key: truth}
    for atom in program.atoms:
        try:
            if atom.table is None:
                frame.vars = {}
                v = conjunction(atom, None)
                values.append(v)
                fact = atom.fact(v)
                if read(fact):
                    facts.append(fact)
                continue
            table = ctx.table(atom.table)
            by_key = {}
            for key in ctx.rows(atom.table):
                frame.vars = {atom.var: RowRef(table, key)}
                by_key[key] = v = conjunction(atom, key)
                fact = atom.fact(v, key)
                if read(fact):
                    facts.append(fact)
            values.append(by_key)
        except ex.RuleError as err:
            raise EngineError(f"cannot compute {ex.render(atom.node)}: {err.problem}") from None
    firings: list[Firing] = []
    for leaf in program.leaves:
        try:
            app = [values[i] for i in leaf.atoms if not isinstance(values[i], dict)]
            truth = min(app, default=ex.K.T)
            if leaf.table is None:
                _fire(leaf, truth, None, firings, facts, read)
                continue
            by_row = [values[i] for i in leaf.atoms if isinstance(values[i], dict)]
            for key, row in row_facts[leaf.table].items():
                _fire(leaf, min([truth, *(b[key] for b in by_row)]), row, firings, facts, read)
        except Exception as err:  # noqa: BLE001 - surfaced with the rule id, never swallowed
            raise EngineError(f"{type(err).__name__}: {err}", rule_id=leaf.rule_id) from err
    return facts, firings


def _fire(leaf: Any, truth: ex.K, row: dict[str, Any] | None, firings: list[Firing],
          facts: list[dict[str, Any]], read: Any) -> None:
    """Record a leaf rule's firings for one truth value (and row), asserting facts some rule reads."""
    for action, fires in ((leaf.t_action, truth is ex.K.T), (leaf.p_action, truth is not ex.K.F)):
        if not fires or action is None:
            continue
        match = {} if row is None else {"row": row}
        fact, firing = _conclude(action, match)
        firings.append(firing)
        if read(fact):
            facts.append(fact)


def _row_fact(table: Any, key: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    """A parameter row: its key and the cells the engine reads (an unsourced cell is absent)."""
    row: dict[str, Any] = {"t": f"r:{table.name}", "key": key}
    cells = table.rows[key]
    for col in columns:
        cell = cells.get(col)
        if cell is not None and not isinstance(cell.value, tuple):
            row[col] = encode(cell.value)
    return row


class RuleBase:
    """One compiled durable-rules ruleset for an :class:`~imgpath.compiler.EngineProgram`; a context manager.

    >>> from imgpath.rulebook import rulebook
    >>> from imgpath.compiler import lowered, program
    >>> import datetime
    >>> with RuleBase(lowered(program(rulebook(), datetime.date(2026, 1, 15)))) as rb:
    ...     rb.closed
    False
    """

    def __init__(self, program: EngineProgram) -> None:
        self.program = program
        self._lock = forksafe.Lock(if_held_at_fork=self._poison)  # a session cut short by fork is abandoned
        self._sids = itertools.count(1)
        self._name = f"imgpath#{next(_names)}"
        try:
            self._handle = _dre.create_ruleset(self._name, json.dumps(program.definitions))
        except _dre.error as err:
            raise EngineError(f"the engine rejected the compiled rules: {err}") from None
        self._finalizer = weakref.finalize(self, _dre.delete_ruleset, self._handle)
        self._broken = False

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive and not self._broken

    def close(self) -> None:
        """Free the compiled ruleset (idempotent)."""
        self._finalizer()

    def __enter__(self) -> RuleBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _poison(self) -> None:
        """Stop using the current ruleset (it holds a session that cannot be deleted safely)."""
        self._finalizer.detach()  # leak it rather than risk a crash in delete_ruleset
        self._broken = True

    def _rebuild(self) -> None:
        self._handle = _dre.create_ruleset(f"{self._name}.{next(_names)}", json.dumps(self.program.definitions))
        self._finalizer = weakref.finalize(self, _dre.delete_ruleset, self._handle)
        self._broken = False

    def run(self, ctx: Context) -> list[Firing]:
        """Evaluate one applicant: every firing (leaf rules first, then in engine order)."""
        if self._broken:
            self._rebuild()
        if self.closed:
            raise EngineError("this RuleBase is closed; build a new one")
        facts, fired = prepare(self.program, ctx)
        with self._lock:
            return _Session(self, facts, fired).run()


_create_lock = forksafe.Lock()  # a forked child gets it back unlocked


def rulebase(program: EngineProgram) -> RuleBase:
    """The compiled ruleset of ``program``, built on first use and kept with the program.

    It lives exactly as long as the program (and so as the rulebook whose cache holds it): no
    module-level registry keeps a dropped rulebook alive.
    """
    rb = program.runtime.get("rulebase")
    if rb is None or rb.closed:
        with _create_lock:
            rb = program.runtime.get("rulebase")
            if rb is None or rb.closed:
                rb = program.runtime["rulebase"] = RuleBase(program)
    return rb  # type: ignore[no-any-return]


class _Session:
    def __init__(self, rb: RuleBase, facts: list[dict[str, Any]], fired: list[Firing]) -> None:
        self.rb = rb
        self.handle = rb._handle
        self.program = rb.program
        self.sid = str(next(rb._sids))
        self.facts = facts
        self.fired = fired
        self.seen: set[str] = set()
        self.firings: list[Firing] = []
        self.nonce = itertools.count(1)
        self.current_rule: str | None = None

    def expand(self, fact: dict[str, Any]) -> list[dict[str, Any]]:
        shards = self.program.shards.get(fact["t"])
        base = dict(fact, sid=self.sid)
        if not shards:
            return [base]
        return [dict(base, t=s) for s in shards]

    def run(self) -> list[Firing]:
        for attempt in range(4):
            batch: list[dict[str, Any]] = []
            self.seen = set()
            self.firings = list(self.fired)
            for i, fact in enumerate(self.facts):
                key = _fact_key(fact)
                if key in self.seen:  # two leaf rules concluding the same instance
                    continue
                self.seen.add(key)
                if attempt:
                    fact = dict(fact, _n=f"{attempt}.{i}")
                batch.extend(self.expand(fact))
            try:
                return self._run(batch)
            except _Collision:
                # a base fact was rejected as already seen (32-bit identity hash, engine-notes §2):
                # start a fresh session whose facts carry nonces no rule reads
                self.sid = str(next(self.rb._sids))
        raise EngineError("the engine kept rejecting distinct base facts as duplicates")  # pragma: no cover

    def _run(self, batch: list[dict[str, Any]]) -> list[Firing]:
        try:
            code, state = _dre.assert_facts(self.handle, _dumps(batch))
        except _dre.error as err:
            # the session never started an action: deleting it can crash the process (engine-notes §2),
            # so abandon this compiled ruleset instead and let the next evaluation build a fresh one
            self.rb._poison()
            raise EngineError(f"the engine rejected the facts: {err}") from None
        msgs: str | None = None
        try:
            # always start an action: it initialises the session, so delete_state is safe (engine-notes §7.1.6)
            result = _dre.start_action_for_state(self.handle, state)
            msgs = result[1] if result else None
            if code == _OBSERVED:
                raise _Collision
            for stratum in range(0, self.program.max_stratum + 1):
                if stratum:
                    self._assert({"t": "gate", "s": stratum})
                    result = _dre.start_action_for_state(self.handle, state)
                    msgs = result[1] if result else None
                while msgs:
                    self._act(msgs)
                    msgs = _dre.complete_and_start_action(self.handle, state)
                    self.current_rule = None
            return self.firings
        except (EngineError, _Collision):
            if msgs:
                _abandon(self.handle, state)
            raise
        except _dre.error as err:
            if msgs:
                _abandon(self.handle, state)
            raise EngineError(f"the engine failed: {err}", rule_id=self._rule_id()) from None
        except Exception as err:
            if msgs:
                _abandon(self.handle, state)
            raise EngineError(f"{type(err).__name__}: {err}", rule_id=self._rule_id()) from err
        finally:
            try:
                _dre.delete_state(self.handle, self.sid)
            except _dre.error:
                pass

    def _rule_id(self) -> str | None:
        if self.current_rule is None:
            return None
        action = self.program.actions.get(self.current_rule)
        return action.rule_id if action else self.current_rule

    def _assert(self, fact: dict[str, Any]) -> None:
        for copy in self.expand(fact):
            code, _ = _dre.assert_fact(self.handle, _dumps(copy))
            while code == _OBSERVED:
                # a distinct fact rejected as a duplicate (32-bit hash collision, engine-notes §2):
                # re-assert with a nonce field no rule reads, so the derivation is never dropped
                copy = dict(copy, _n=next(self.nonce))
                code, _ = _dre.assert_fact(self.handle, _dumps(copy))

    def _act(self, msgs: str) -> None:
        (name, match), = orjson.loads(msgs).items()
        self.current_rule = name
        if name == "$begin":
            return
        action = self.program.actions.get(name)
        if action is None:
            raise EngineError(f"the engine fired an unknown rule {name!r}")
        fact, firing = _conclude(action, match)
        self.firings.append(firing)
        if self.program.read(fact):  # a conclusion no engine pattern can match stays out of the Rete
            key = _fact_key(fact)
            if key not in self.seen:
                self.seen.add(key)
                self._assert(fact)


def _conclude(action: EngineAction, match: Mapping[str, Any]) -> tuple[dict[str, Any], Firing]:
    """The conclusion fact and the firing record for one firing of ``action`` on ``match``."""
    row = match.get("row")
    args = tuple((k, row[src[1]] if src[0] == "row" else src[1]) for k, src in action.args)  # type: ignore[index]
    value = _value(action, match)
    fact: dict[str, Any] = {"t": f"c:{action.conclusion}", "k": "y" if action.mode == "T" else "m"}
    for k, v in args:
        fact[f"a_{k}"] = v
    if value is not _ABSENT:
        fact["v"] = value
    firing = Firing(action.rule_id, action.mode, action.conclusion, args, None if value is _ABSENT else value,
                    None if row is None else row.get("key"), match)
    return fact, firing


_ABSENT = object()


class _Collision(Exception):
    """The engine reported a distinct base fact as already asserted."""


def _value(action: EngineAction, match: Mapping[str, Any]) -> Any:
    if action.value is None:
        return _ABSENT
    if action.value[0] == "const":
        return action.value[1]
    _, column = action.value
    return match.get("row", {}).get(column, _ABSENT)


def _fact_key(fact: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, v) for k, v in fact.items() if k != "sid"))


def _dumps(value: Any) -> str:
    """JSON for the engine (orjson: the largest Python-side cost of a run is encoding facts)."""
    return orjson.dumps(value).decode()


def _abandon(handle: int, state: int) -> None:
    try:
        _dre.abandon_action(handle, state)
    except _dre.error:
        pass


def run_many(program: EngineProgram, contexts: Iterable[Context]) -> Iterable[list[Firing]]:
    """Evaluate several contexts on one ruleset (built and freed here)."""
    with RuleBase(program) as rb:
        for ctx in contexts:
            yield rb.run(ctx)
