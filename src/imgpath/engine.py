"""The durable-rules driver: a lowered program run on the C Rete engine.

It talks to ``durable_rules_engine`` directly (engine-notes §7): no
``durable.lang`` registry, no ``engine.Host`` background threads. A
:class:`RuleBase` owns one compiled ruleset; it can be closed and re-created
any number of times in a process. A sentinel rule guarantees every session
starts an action, a catch-all join keeps unmatched facts from being "not
handled", strata are released in order, and every firing is recorded. Errors
surface as :class:`~imgpath.EngineError` naming the rule; the engine stays
usable. A fact the engine wrongly reports as already seen (its identity is a
32-bit hash) is re-asserted with a nonce, never dropped.

Two forms run here. :class:`FusedRuleBase` (what ``evaluate`` uses) runs a
:class:`~imgpath.compiler.fused.FusedProgram`: an applicant's facts are a
few wide facts written from prebuilt format strings, every fact carries its
applicant ``p`` so a session holds up to :data:`SESSION_APPLICANTS`
applicants (one evaluation at a time or a cohort at once), and firings are
integer codes turned into :class:`Firing` records prepared once per program
and table version; :func:`evaluate_codes` is what a batch worker runs.
:class:`RuleBase` runs the previous release's form (one small fact per atom,
a fresh session per evaluation deleted in ``finally``), kept selectable as
``engine="durable-classic"`` so the benchmark measures both in one run.
"""

from __future__ import annotations

import array
import datetime as _dt
import itertools
import json
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from . import expressions as ex
from ._internal import forksafe
from ._internal.dre import engine as _dre
from .compiler import EngineAction, EngineProgram, Firing, encode, program
from .compiler.closures import Frame
from .compiler.fused import FusedProgram, fused
from .context import Context, RowRef, table_at
from .errors import EngineError, InvalidFacts
from .facts import Applicant

__all__ = ["COHORT", "Firing", "FusedRuleBase", "RuleBase", "base_facts", "evaluate_codes", "firings_of_codes",
           "fused_rulebase", "rulebase"]

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
            self._handle = _dre.create_ruleset(self._name, json.dumps(self._definitions()))
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

    def _definitions(self) -> Mapping[str, Any]:
        return self.program.definitions

    def _rebuild(self) -> None:
        self._handle = _dre.create_ruleset(f"{self._name}.{next(_names)}", json.dumps(self._definitions()))
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
_RB = TypeVar("_RB", bound="RuleBase")


def rulebase(program: EngineProgram) -> RuleBase:
    """The compiled ruleset of ``program``, built on first use and kept with the program.

    It lives exactly as long as the program (and so as the rulebook whose cache holds it): no
    module-level registry keeps a dropped rulebook alive.
    """
    return _kept(program.runtime, RuleBase, program)


def _kept(runtime: dict[str, Any], cls: type[_RB], program: Any) -> _RB:
    """The open rule base kept in ``runtime``, else a new ``cls(program)`` kept there (one per
    program, whichever thread asks first)."""
    rb = runtime.get("rulebase")
    if rb is None or rb.closed:
        with _create_lock:
            rb = runtime.get("rulebase")
            if rb is None or rb.closed:
                rb = runtime["rulebase"] = cls(program)
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


# --------------------------------------------------------------------------- the fused driver
#
# The fused form (compiler.fused): atom truths and leaf conclusions are properties of a few facts
# per applicant, written as text from prebuilt format strings; every pattern joins on the
# applicant ``p``, so one session holds a cohort of applicants; a firing is recorded as an integer
# (action number * stride + row slot) and turned into a Firing only when asked.

#: Applicants per durable-rules session in a cohort (a session costs ~0.2-0.4 ms to create and
#: delete; past a few dozen applicants the joins grow): 16-32 measured best.
COHORT = 24

#: an action's rule name, and the applicant (and row slot) of its first fact
_HEAD = re.compile(r'\{"([^"]+)":\{"[^"]+":\{(?:"p":(\d+)(?:,"k":(\d+))?)?')
_ANY = object()


class _Version:
    """What the driver derives from a fused program and the tables as they read on a date:
    the rows' values, and per firing code its Firing, conclusion fact and leaf level. Built on
    first use and kept with the program (tables with dated cells give one version per window)."""

    def __init__(self, fp: FusedProgram, tables: tuple[Any, ...]) -> None:
        self.fp = fp
        self.tables = tables
        self.by_name = dict(zip(fp.row_cols, tables, strict=True))
        self._rows: dict[tuple[str, tuple[Any, ...]], list[tuple[Any, int, tuple[Any, ...]]]] = {}
        self._info: dict[int, tuple[Firing, str | None, tuple[Any, ...] | None, int]] = {}
        self.hot: dict[int, tuple[str | None, tuple[Any, ...] | None, int] | None] = {}
        self.key_json = {t: {k: orjson.dumps(k).decode() for k in keys} for t, keys in fp.keys.items()}
        layout = fp.engine.layout
        assert layout is not None
        self.leaf_only = layout.leaf_only
        self.sets: dict[str, list[tuple[int, frozenset[Any]]]] = {}
        for i, (name, values) in enumerate(layout.value_sets):
            self.sets.setdefault(name, []).append((i, values))
        self.ctx_insts = [self._inst(layout.levels[i], None) for i in layout.ctx_levels()]
        self.row_insts = {t: {k: [self._inst(layout.levels[i], k) for i in layout.row_levels(t)] for k in keys}
                          for t, keys in fp.keys.items() if layout.row_levels(t)}
        #: the level keys some property reads (a leaf firing raises only these)
        self.read_insts = {*self.ctx_insts, *(i for rows in self.row_insts.values() for r in rows.values() for i in r)}

    @staticmethod
    def _inst(level: Any, key: Any) -> tuple[Any, ...]:
        args = tuple(sorted((a, key if src == "row" else v) for a, (src, v) in level.args))
        return (level.name, args, level.value if level.has_value else _ANY)

    def rows(self, table: str, keys: tuple[Any, ...]) -> list[tuple[Any, int, tuple[Any, ...]]]:
        """(key, slot, the columns the atoms read) for the rows in scope."""
        out = self._rows.get((table, keys))
        if out is None:
            resolved = self.by_name[table]
            cols = self.fp.row_cols[table]
            slots = self.fp.slots[table]
            out = [(k, slots[k], tuple(RowRef(resolved, k).get(c) for c in cols)) for k in keys]
            if len(self._rows) > 256:  # a bounded cache: scopes are few in practice
                self._rows.clear()
            self._rows[(table, keys)] = out
        return out

    def info(self, code: int) -> tuple[Firing, str | None, tuple[Any, ...] | None, int]:
        """(Firing, conclusion fact text with ``%d`` for the applicant or None when no pattern reads
        it, the level keys it raises or None, its level) of a firing code."""
        out = self._info.get(code)
        if out is None:
            try:
                built = self._build(code)
            except Exception as err:  # noqa: BLE001 - surfaced with the rule id, never swallowed
                action, _ = self.fp.action_of(code)
                raise EngineError(f"{type(err).__name__}: {err}", rule_id=action.rule_id) from err
            out = self._info[code] = built
        return out

    def firing(self, code: int) -> Firing:
        return self.info(code)[0]

    def hot_entry(self, code: int) -> tuple[str | None, tuple[Any, ...] | None, int] | None:
        """(fact text, level keys, level) of a leaf firing code, or None when it asserts and raises nothing."""
        _, text, keys, level = self.info(code)
        entry = None if text is None and keys is None else (text, keys, level)
        self.hot[code] = entry
        return entry

    def _build(self, code: int) -> tuple[Firing, str | None, tuple[Any, ...] | None, int]:
        fp = self.fp
        action, slot = fp.action_of(code)
        table = fp.action_table[code // fp.stride]
        match: dict[str, Any] = {}
        if table is not None:
            key = fp.keys[table][slot - 1]
            match["row"] = _row_fact(self.by_name[table], key, fp.engine.row_columns.get(table, ()))
        fact, firing = _conclude(action, match)
        firing = Firing(firing.rule_id, firing.mode, firing.conclusion, firing.args, firing.value, firing.row)
        level = 2 if action.mode == "T" else 1
        sets = [i for i, values in self.sets.get(action.conclusion, ()) if firing.value in values]
        if action.conclusion in self.leaf_only:
            args = tuple(sorted(firing.args))
            keys = tuple(k for k in ((action.conclusion, args, firing.value), (action.conclusion, args, _ANY),
                                     *((action.conclusion, args, ("set", i)) for i in sets))
                         if k in self.read_insts)
            return firing, None, keys or None, level
        for i in sets:  # "value in [...]" tests read a membership property
            fact[f"s{i}"] = 1
        text = None
        if fp.engine.read(fact):
            text = '{"p":%d,' + _dumps(fact)[1:-1].replace("%", "%%")
        return firing, text, None, level


def _version(fp: FusedProgram, ctx: Context) -> _Version:
    return _version_at(fp, ctx.as_of)


def _version_at(fp: FusedProgram, as_of: Any) -> _Version:
    tables = tuple(table_at(fp.program.book, t, as_of) for t in fp.row_cols)
    versions = fp.runtime.get("versions")
    if versions is None:
        versions = fp.runtime["versions"] = {}
    key = tuple(map(id, tables))
    found = versions.get(key)
    if found is None or any(a is not b for a, b in zip(found.tables, tables, strict=True)):
        if len(versions) > 64:
            versions.clear()
        found = versions[key] = _Version(fp, tables)
    return found  # type: ignore[no-any-return]


class Prepared:
    """One applicant's facts for the fused ruleset (text without the session id) and leaf firings."""

    __slots__ = ("bodies", "facts", "codes", "version", "later")

    def __init__(self, bodies: list[str], facts: list[str], codes: list[int], version: _Version,
                 later: dict[int, list[str]]) -> None:
        self.bodies = bodies  # the context and row facts
        self.facts = facts  # conclusion facts of leaf rules some pattern reads
        self.codes = codes
        self.version = version
        self.later = later  # stratum -> the context copies asserted when it is released


_MISSING = object()


def prepare_fused(fp: FusedProgram, ctx: Context, p: int = 0) -> Prepared:
    """The facts applicant ``p`` asserts (context fact copies, row facts, leaf conclusions some
    pattern reads) and the firing codes of the leaf rules, computed by the generated function."""
    version = _version(fp, ctx)
    rows = {t: version.rows(t, ctx.rows(t)) for t in fp.row_cols}
    try:
        ctx_vals, out_rows, codes = fp.compute(ctx, rows)
    except ex.RuleError as err:
        prepare(fp.engine, ctx)  # the closures name the condition that cannot be computed
        raise EngineError(f"cannot compute a condition: {err.problem}") from None  # pragma: no cover
    levels: dict[Any, int] = {}
    facts: list[str] = []
    hot = version.hot
    for code in codes:
        found = hot.get(code, _MISSING)
        if found is _MISSING:
            found = version.hot_entry(code)
        if found is None:
            continue
        text, keys, level = found
        if keys is not None:
            for k in keys:
                if levels.get(k, 0) < level:
                    levels[k] = level
        else:
            facts.append(text % p)
    values = (*ctx_vals, *[levels.get(k, 0) for k in version.ctx_insts]) if version.ctx_insts else ctx_vals
    bodies = []
    later: dict[int, list[str]] = {}
    for stratum, fmt, pick in fp.ctx_copies:
        body = fmt % (p, *pick(values))
        if stratum:
            later.setdefault(stratum, []).append(body)
        else:
            bodies.append(body)
    for table, done in out_rows.items():
        copies = fp.row_copies[table]
        key_json = version.key_json[table]
        insts = version.row_insts.get(table)
        for key, slot, vals in done:
            if insts:
                vals = (*vals, *[levels.get(k, 0) for k in insts[key]])
            kj = key_json[key]
            for fmt, pick in copies:
                bodies.append(fmt % (p, slot, kj, *pick(vals)))
    return Prepared(bodies, list(dict.fromkeys(facts)), codes, version, later)  # two leaves may conclude one instance


#: Applicants one session holds before it is deleted and a fresh one begins (single evaluations
#: and cohorts alike): a session costs ~0.1-0.3 ms to create and delete, and its memory grows
#: with every applicant's facts.
SESSION_APPLICANTS = COHORT


class FusedRuleBase(RuleBase):
    """The compiled ruleset of a :class:`~imgpath.compiler.fused.FusedProgram`.

    Applicants share sessions: every fact carries its applicant ``p`` and every pattern joins on
    it, so a session holds up to :data:`SESSION_APPLICANTS` applicants (one at a time, or a
    cohort asserted together) before it is deleted. Firings come back as integer codes
    (:meth:`firings` turns them into :class:`Firing` records).
    """

    def __init__(self, program: FusedProgram, *, session_applicants: int = SESSION_APPLICANTS) -> None:
        self.fused = program
        self.session_applicants = max(1, session_applicants)
        self._live: _Live | None = None
        self._live_sid: list[str | None] = [None]  # the live session, for the finalizer
        super().__init__(program.engine)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _free_ruleset, self._handle, self._live_sid)

    def _rebuild(self) -> None:
        self._live = None
        self._live_sid = [None]
        super()._rebuild()
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _free_ruleset, self._handle, self._live_sid)

    def close(self) -> None:
        """Free the compiled ruleset and its live session (idempotent)."""
        self._live = None
        self._finalizer()

    def run(self, ctx: Context) -> list[Firing]:
        """Evaluate one applicant: every firing (leaf rules first, then in engine order)."""
        codes, version = self._run([ctx])[0]
        info = version.info
        return [info(c)[0] for c in codes]

    def run_codes(self, contexts: Sequence[Context], cohort: int = COHORT) -> list[list[int]]:
        """Firing codes per context, asserted ``cohort`` applicants at a time."""
        out: list[list[int]] = []
        for start in range(0, len(contexts), max(1, cohort)):
            out.extend(codes for codes, _ in self._run(contexts[start:start + cohort]))
        return out

    def firings(self, codes: Iterable[int], ctx: Context) -> list[Firing]:
        """The :class:`Firing` records of firing codes, for ``ctx``'s tables."""
        info = _version(self.fused, ctx).info
        return [info(c)[0] for c in codes]

    def _run(self, contexts: Sequence[Context]) -> list[tuple[list[int], _Version]]:
        if self._broken:
            self._rebuild()
        if self.closed:
            raise EngineError("this RuleBase is closed; build a new one")
        n = len(contexts)
        with self._lock:
            live = self._live
            if live is None or live.count + n > self.session_applicants:
                if live is not None:
                    live.end()
                live = self._live = _Live(self)
            first = live.count
            prepared = [prepare_fused(self.fused, ctx, first + i) for i, ctx in enumerate(contexts)]
            live.count += n
            for attempt in range(4):
                try:
                    codes = live.run(prepared, attempt, first)
                except _Collision:
                    # a base fact was rejected as already seen (32-bit identity hash, engine-notes §2):
                    # a fresh session, whose facts carry nonces no rule reads
                    live.end()
                    live = self._live = _Live(self)
                    live.count = first + n
                    continue
                except BaseException:
                    self._live = None
                    live.end()
                    raise
                return [(c, prep.version) for c, prep in zip(codes, prepared, strict=True)]
            self._live = None
            live.end()
            raise EngineError("the engine kept rejecting distinct base facts as duplicates")  # pragma: no cover


def _free_ruleset(handle: int, live_sid: list[str | None]) -> None:
    sid = live_sid[0]
    if sid is not None:
        try:
            _dre.delete_state(handle, sid)
        except _dre.error:
            pass
    _dre.delete_ruleset(handle)


def fused_rulebase(program: FusedProgram) -> FusedRuleBase:
    """The compiled ruleset of a fused program, built on first use and kept with it."""
    return _kept(program.runtime, FusedRuleBase, program)


class _Live:
    """A session of the fused ruleset, kept for several applicants (``p`` = 0, 1, ...)."""

    def __init__(self, rb: FusedRuleBase) -> None:
        self.rb = rb
        self.fp = rb.fused
        self.handle = rb._handle
        self.sid = str(next(rb._sids))
        self.count = 0  # applicants asserted so far
        self.started = False  # an action has run: deleting the session is safe
        self.state = 0
        self.seen: set[str] = set()
        self.nonce = itertools.count(1)
        self.current_rule: str | None = None
        self.codes: list[list[int]] = []
        self.versions: list[_Version] = []
        self.base = 0

    def end(self) -> None:
        """Delete the session (never one where no action ran: that can crash, engine-notes §2)."""
        if self.rb._live_sid[0] == self.sid:
            self.rb._live_sid[0] = None
        if self.started:
            try:
                _dre.delete_state(self.handle, self.sid)
            except _dre.error:
                pass

    def run(self, prepared: Sequence[Prepared], attempt: int, first: int) -> list[list[int]]:
        """Assert prepared applicants ``first``, ``first + 1``... and run them to quiescence,
        stratum by stratum; their firing codes. Facts carry nonces from the second attempt on."""
        handle = self.handle
        self.base = first
        self.codes = [list(prep.codes) for prep in prepared]
        self.versions = [prep.version for prep in prepared]
        tail = f',"sid":"{self.sid}"}}'
        parts = [] if self.started else ['{"t":"begin"' + tail]
        later: dict[int, list[str]] = {}
        for i, prep in enumerate(prepared):
            self.seen.update(prep.facts)
            nonce = f',"_n":"{attempt}.{i}.' if attempt else None
            for j, body in enumerate(itertools.chain(prep.bodies, prep.facts)):
                parts.append(body + (f'{nonce}{j}"' if nonce else "") + tail)
            for stratum, bodies in prep.later.items():
                later.setdefault(stratum, []).extend(
                    b + (f'{nonce}s{stratum}.{j}"' if nonce else "") + tail for j, b in enumerate(bodies))
        self.rb._live_sid[0] = self.sid
        try:
            code, state = _dre.assert_facts(handle, "[" + ",".join(parts) + "]")
        except _dre.error as err:
            if not self.started:
                # the session never started an action: deleting it can crash the process (engine-notes §2),
                # so abandon this compiled ruleset instead and let the next evaluation build a fresh one
                self.rb._live_sid[0] = None
                self.rb._poison()
            raise EngineError(f"the engine rejected the facts: {err}") from None
        self.state = state
        msgs: str | None = None
        try:
            result = _dre.start_action_for_state(handle, state)
            msgs = result[1] if result else None
            self.started = True  # the begin sentinel (or an earlier applicant) started an action
            if code == _OBSERVED:
                raise _Collision
            for stratum in range(0, self.fp.engine.max_stratum + 1):
                if stratum:
                    release = later.get(stratum)
                    if not release:
                        continue  # no rule waits for this stratum
                    # the strata below are quiescent: assert each applicant's context copy of this
                    # stratum, which the rules reading conclusions negated in it wait for
                    code, _ = _dre.assert_facts(handle, "[" + ",".join(release) + "]")
                    if code == _OBSERVED:
                        raise _Collision
                    result = _dre.start_action_for_state(handle, state)
                    msgs = result[1] if result else None
                while msgs:
                    self._act(msgs)
                    msgs = _dre.complete_and_start_action(handle, state)
                    self.current_rule = None
            return self.codes
        except (EngineError, _Collision):
            if msgs:
                _abandon(handle, state)
            raise
        except _dre.error as err:
            if msgs:
                _abandon(handle, state)
            raise EngineError(f"the engine failed: {err}", rule_id=self._rule_id()) from None
        except Exception as err:
            if msgs:
                _abandon(handle, state)
            raise EngineError(f"{type(err).__name__}: {err}", rule_id=self._rule_id()) from err

    def _rule_id(self) -> str | None:
        if self.current_rule is None:
            return None
        action = self.fp.engine.actions.get(self.current_rule)
        return action.rule_id if action else self.current_rule

    def _assert(self, body: str) -> None:
        """Assert a fact (text without the session id), re-asserting it with a nonce when the engine
        wrongly reports it as already seen (32-bit hash collision, engine-notes §2)."""
        tail = f',"sid":"{self.sid}"}}'
        code, _ = _dre.assert_fact(self.handle, body + tail)
        while code == _OBSERVED:
            code, _ = _dre.assert_fact(self.handle, body + f',"_n":{next(self.nonce)}' + tail)

    def _act(self, msgs: str) -> None:
        # '{"rule#T0":{"row":{"p":3,"k":12,...},...}}': every fact starts with its applicant (and a
        # row fact with its slot), and a rule's first pattern is its row when it has one
        found = _HEAD.match(msgs)
        if found is None:
            raise EngineError(f"the engine returned an action it did not describe: {msgs[:80]!r}")
        name = found.group(1)
        self.current_rule = name
        rule = self.fp.rule_code.get(name)
        if rule is None:
            if name == "$begin":
                return
            raise EngineError(f"the engine fired an unknown rule {name!r}")
        code, has_row = rule
        if found.group(2) is None:
            raise EngineError(f"the engine fired {name!r} without an applicant")
        i = int(found.group(2)) - self.base
        if not 0 <= i < len(self.codes):
            raise EngineError(f"the engine fired {name!r} for an applicant of an earlier evaluation")
        if has_row:
            slot = found.group(3)
            if slot is None:
                raise EngineError(f"the engine fired {name!r} without its row")
            code += int(slot)
        self.codes[i].append(code)
        text = self.versions[i].info(code)[1]
        if text is not None:
            body = text % (self.base + i)
            if body not in self.seen:
                self.seen.add(body)
                self._assert(body)


# --------------------------------------------------------------------------- batches


def evaluate_codes(book: Any, items: Sequence[tuple[Any, Any]], *, only: frozenset[str] | None = None,
                   cohort: int = COHORT) -> list[tuple[str, Any, Any]]:
    """What a batch worker computes for ``(document, as_of)`` pairs: per item ``("ok", as_of, codes)``
    (the date evaluated and the firing codes, an ``array('l')``) or ``("invalid", (path, problem,
    file), None)`` (the :class:`~imgpath.InvalidFacts` to raise).

    A document given as a mapping is validated here, once (an :class:`~imgpath.facts.Applicant`
    is taken as it is); applicants evaluated on the same program share sessions, ``cohort`` at a
    time. The parent turns codes into an :class:`~imgpath.Evaluation` only when asked
    (:meth:`Evaluation.from_codes <imgpath.Evaluation.from_codes>`): firings, context and applicant
    are rebuilt from its own copy of the program, which numbers actions identically.
    """
    out: list[tuple[str, Any, Any]] = [("invalid", "", None)] * len(items)
    groups: dict[Any, list[tuple[int, Context]]] = {}
    for i, (doc, as_of) in enumerate(items):
        try:
            app = doc if isinstance(doc, Applicant) else Applicant.from_dict(doc)
        except InvalidFacts as err:
            out[i] = ("invalid", (err.path, err.problem, err.file), None)
            continue
        when = as_of or app.as_of or _dt.date.today()
        prog = program(book, when, goals=only)
        groups.setdefault(prog, []).append((i, Context(book, app, when)))
    for prog, members in groups.items():
        rb = fused_rulebase(fused(prog))
        codes = rb.run_codes([ctx for _, ctx in members], cohort=cohort)
        for (i, ctx), c in zip(members, codes, strict=True):
            out[i] = ("ok", ctx.as_of, array.array("l", c))
    return out


def firings_of_codes(fp: FusedProgram, as_of: Any, codes: Iterable[int]) -> list[Firing]:
    """The :class:`Firing` records of firing codes of ``fp`` for an evaluation on ``as_of``."""
    info = _version_at(fp, as_of).info
    return [info(c)[0] for c in codes]
