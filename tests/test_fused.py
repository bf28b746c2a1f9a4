"""The fused engine path (issue 16): generated atoms, fused facts, cohorts, compact firings, ``only=``.

Every test compares the new path with an independent answer: the closures (for the generated
atom function), the previous release's lowering (``engine="durable-classic"``) and the reference
evaluator (for firings and conclusions), one applicant per session (for cohorts), a full
evaluation (for ``only=``). Speed is never asserted here: ``python -m imgpath.bench`` measures it.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath import engine as engine_mod
from imgpath import expressions as ex
from imgpath import strategies as ips
from imgpath._internal.dre import engine as dre
from imgpath.compiler import alpha, codegen, program
from imgpath.compiler.fused import _Row, fused
from imgpath.context import Context
from imgpath.engine import FusedRuleBase, evaluate_codes, fused_rulebase, prepare_fused
from imgpath.errors import EngineError, InvalidArguments, InvalidFacts, QueryError, RuleError, UnknownConclusion
from imgpath.evaluation import Evaluation
from imgpath.rulebook import load_rulebook, rules_dir

AS_OF = dt.date(2026, 1, 15)
DOC = {"school": {"country": "IN", "graduated": "2022-06-30", "ecfmg_note": {"from": 1990}},
       "exams": [{"exam": "step1", "date": "2023-01-10", "result": "pass"},
                 {"exam": "step2ck", "date": "2023-08-10", "result": "pass"}],
       "ecfmg": {"application_submitted": True, "credentials_verified": True,
                 "pathway": {"number": 1, "season": 2026, "accepted": "2025-09-10"}},
       "interest": {"states": ["TX", "NY"]}}


def _key(f: Any) -> tuple[Any, ...]:
    return (f.rule_id, f.mode, f.conclusion, f.args, f.value, f.row)


def _multiset(firings: Any) -> collections.Counter[tuple[Any, ...]]:
    return collections.Counter(map(_key, firings))


def _rows(fp: Any, ctx: Context) -> dict[str, list[Any]]:
    """The rows the driver hands the generated function, built here independently."""
    out = {}
    for table, cols in fp.row_cols.items():
        resolved = ctx.table(table)
        out[table] = [(k, fp.slots[table][k], tuple(_Row(resolved, k).get(c) for c in cols)) for k in ctx.rows(table)]
    return out


def _plain(result: Any) -> Any:
    ctx_vals, rows, codes = result
    return (tuple(map(int, ctx_vals)),
            {t: [(k, s, tuple(map(int, v))) for k, s, v in r] for t, r in rows.items()},
            sorted(codes))


# --------------------------------------------------------------------------- generated atoms


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(ips.applicants())
def test_generated_atoms_equal_the_closures(doc: imgpath.Applicant) -> None:
    """One generated function computes every atom and leaf firing exactly as the closures do."""
    book = imgpath.rulebook()
    prog = program(book, doc.as_of)
    generated, closures = fused(prog), fused(prog, generated=False)
    assert generated.source is not None and closures.source is None
    ctx = Context(book, doc, doc.as_of)
    rows = _rows(generated, ctx)
    assert _plain(generated.compute(ctx, rows)) == _plain(closures.compute(ctx, rows))


def test_generated_atoms_for_every_state() -> None:
    """An applicant who names no state: every row of the 52 computed, once-per-applicant parts shared."""
    book = imgpath.rulebook()
    doc = imgpath.Applicant.from_dict({k: v for k, v in DOC.items() if k != "interest"})
    prog = program(book, AS_OF)
    ctx = Context(book, doc, AS_OF)
    rows = _rows(fused(prog), ctx)
    assert len(rows["states"]) == len(book.tables["states"].rows)
    assert _plain(fused(prog).compute(ctx, rows)) == _plain(fused(prog, generated=False).compute(ctx, rows))


def test_generator_compiles_every_node_kind() -> None:
    """Quantifiers, aggregates, earliest/latest, first_known, arithmetic and functions all compile
    (none falls back), and a small spec runs as documented."""
    nodes = [ex.parse(text) for text in (
        "count(e in exams, e.exam == 'step1') <= 1",
        "sum_years_since(p in practice, add_years(as_of, -3), p.country != 'US') >= 3",
        "years_between(earliest(e in exams, e.result == 'pass', e.date), latest(e in exams, e.result == 'pass', e.date)) < 7",
        "first_known(offer.start, as_of) <= date('2025-12-31')",
        "'US' in person.citizenship or all(l in licenses, l.good_standing)",
        "year(school.graduated) + 1 >= 2020",
    )]
    spec = codegen.Spec(conditions=tuple((n, None, None) for n in nodes),
                        app_atoms=tuple((i, (i,)) for i in range(len(nodes))), ctx_out=tuple(range(len(nodes))))
    fn = codegen.load(codegen.generate(spec))
    book = imgpath.rulebook()
    ctx = Context(book, imgpath.Applicant.from_dict(DOC), AS_OF)
    got = tuple(map(int, fn(ctx, {})[0]))
    frame_truths = tuple(int(ex.truth(n, ctx.env())) for n in nodes)
    assert got == frame_truths


def test_generated_source_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source and its compiled code are written to the private cache, keyed by the program; a
    second build runs them without generating; a corrupted entry is regenerated, never trusted."""
    monkeypatch.setenv("IMGPATH_CACHE_DIR", str(tmp_path / "cache"))
    book = load_rulebook(rules_dir())
    first = fused(program(book, AS_OF))
    assert first.source is not None
    sources = [e for e in (tmp_path / "cache").glob("atoms-*.bin") if not e.name.startswith("atoms-code-")]
    codes = sorted((tmp_path / "cache").glob("atoms-code-*.bin"))
    assert len(sources) == 1 and len(codes) == 1

    def refuse(spec: Any) -> str:
        raise AssertionError("generated again although the cache holds the source")

    with monkeypatch.context() as m:
        m.setattr(codegen, "generate", refuse)
        again = fused(program(load_rulebook(rules_dir()), AS_OF))
        assert again.source == first.source
    for entry in (codes[0], sources[0]):
        entry.write_bytes(entry.read_bytes()[:-40] + b"# planted\n" * 4)
        calls = {"n": 0}
        real = codegen.generate

        def counting(spec: Any) -> str:
            calls["n"] += 1
            return real(spec)

        with monkeypatch.context() as m:
            m.setattr(codegen, "generate", counting)
            rebuilt = fused(program(load_rulebook(rules_dir()), AS_OF))
        assert calls["n"] == 1 and rebuilt.source == first.source  # rebuilt from the rules
        ctx = Context(book, imgpath.Applicant.from_dict(DOC), AS_OF)
        assert _plain(rebuilt.compute(ctx, _rows(rebuilt, ctx))) == _plain(first.compute(ctx, _rows(first, ctx)))


def test_generation_failure_falls_back_to_the_closures(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program the generator cannot compile is computed by the closures, with the same firings."""
    monkeypatch.setenv("IMGPATH_CACHE_DIR", "off")

    def fail(spec: Any) -> str:
        raise codegen.CodegenError("not this one")

    monkeypatch.setattr(codegen, "generate", fail)
    book = load_rulebook(rules_dir())
    fp = fused(program(book, AS_OF))
    assert fp.source is None
    ev = imgpath.evaluate(DOC, as_of=AS_OF, rulebook=book)
    ref = imgpath.evaluate(DOC, as_of=AS_OF, rulebook=book, engine="reference")
    assert set(map(_key, ev.firings)) == set(map(_key, ref.firings))


# --------------------------------------------------------------------------- fused facts


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(ips.applicants())
def test_fused_firings_equal_the_previous_form_and_the_reference(doc: imgpath.Applicant) -> None:
    """The same firings, one for one, as the previous release's lowering; the same set as the reference."""
    new = imgpath.evaluate(doc, as_of=doc.as_of)
    old = imgpath.evaluate(doc, as_of=doc.as_of, engine="durable-classic")
    ref = imgpath.evaluate(doc, as_of=doc.as_of, engine="reference")
    assert _multiset(new.firings) == _multiset(old.firings)
    assert set(map(_key, new.firings)) == set(map(_key, ref.firings))
    for c in ref.conclusions:
        assert new.conclusion(c.name, **c.args) == c


def test_fused_layout_within_the_engine_limits_for_every_window() -> None:
    """Every window's fused program: facts under the property bound, alpha stacks under the engine's,
    fewer types and patterns than the previous form, no leaf-only conclusion left as a fact."""
    book = imgpath.rulebook()
    for day in [dt.date(2019, 1, 1), *book.change_dates()]:
        prog = program(book, day)
        fp = fused(prog)
        defs = fp.engine.definitions
        layout = fp.engine.layout
        assert layout is not None
        assert alpha.beta_overflow(defs) is None
        types = alpha.fact_types(defs)
        assert sum(len(t) for t in types.values()) <= alpha.MAX_TYPES
        for typ, props in alpha.properties(defs, copies=True).items():
            assert len(props) + 4 <= 255, typ  # p, sid, a nonce and the type itself
        chains: dict[str, list[Any]] = collections.defaultdict(list)
        for definition in defs.values():
            assert len(definition["all"]) <= 15
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", [])
                if tests and isinstance(tests[0].get("t"), str):
                    chains[tests[0]["t"]].append([t for t in tests[1:] if not alpha._is_correlation(t)])
        for typ, chain in chains.items():
            assert alpha.stack_depth(chain) <= alpha.MAX_STACK, typ
        assert not any(f"c:{c}" in types for c in layout.leaf_only)
        classic = alpha.fact_types(imgpath.compiler.lowered(prog).definitions)
        assert sum(len(t) for t in types.values()) < sum(len(t) for t in classic.values())


def test_stack_depth_counts_exclusive_tests_once() -> None:
    """Equalities on one property never match together; other siblings may all be pushed."""
    assert alpha.stack_depth([[{"a0": 2}], [{"a0": 0}], [{"a0": 1}]]) == 1
    assert alpha.stack_depth([[{"a0": 2}], [{"a1": 2}], [{"$gte": {"a2": 1}}]]) == 3
    assert alpha.stack_depth([[{"a0": 2}, {"a1": 2}], [{"a0": 2}, {"a2": 2}], [{"a3": 2}]]) == 3


def test_crowded_fact_types_are_spread_over_copies() -> None:
    """Patterns past the stack or width bound go to copies of the fact, each within both bounds."""
    defs = {f"r{i}": {"all": [{"ctx": {"$and": [{"t": "ctx"}, {"l0": 2}, {f"a{i}": 2}, {f"b{i}": 2}]}}]}
            for i in range(300)}
    alpha.shard_by_stack(defs, {"ctx"})
    types = alpha.fact_types(defs)["ctx"]
    assert len(types) > 1
    chains: dict[str, list[Any]] = collections.defaultdict(list)
    for d in defs.values():
        (_, cond), = d["all"][0].items()
        chains[cond["$and"][0]["t"]].append(cond["$and"][1:])
    for typ, chain in chains.items():
        assert alpha.stack_depth(chain) <= alpha.MAX_STACK
        assert len(alpha._props(chain)) <= alpha.MAX_PROPERTIES


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target, ignore=shutil.ignore_patterns("scenarios"))
    return target


def _rule(rid: str, when: list[str], conclusion: str) -> str:
    return (f'[[rule]]\nid = "{rid}"\ntitle = "t"\nwhen = {json.dumps(when)}\nthen = {{ conclusion = "{conclusion}" }}\n'
            'sources = ["ecfmg-ib-certification"]\nconfidence = "primary"\ndigest = ["R1.1"]\n\n')


def test_rows_read_under_different_names_are_generated(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rules ranging over one table under different names share its row values; what a row's
    condition computes without the row is computed once per applicant, for both."""
    monkeypatch.setenv("IMGPATH_CACHE_DIR", "off")
    text = "".join(
        f'[[rule]]\nid = "zz.rows.{var}"\ntitle = "t"\nfor = {{ {var} = "states" }}\n'
        f'when = ["present({var}.img_gme_years)", "count(e in exams, e.result == \'pass\') >= {var}.img_gme_years"]\n'
        f'then = {{ conclusion = "eras_ready" }}\nsources = ["ecfmg-ib-certification"]\nconfidence = "primary"\n'
        'digest = ["R1.1"]\n\n' for var in ("s", "st"))
    (rules / "zz_extra.toml").write_text("schema = 1\n" + text)
    book = load_rulebook(rules)
    prog = program(book, AS_OF)
    fp = fused(prog)
    assert fp.source is not None  # generated, not handed to the closures
    for doc in (DOC, {k: v for k, v in DOC.items() if k != "interest"}):
        ctx = Context(book, imgpath.Applicant.from_dict(doc), AS_OF)
        rows = _rows(fp, ctx)
        assert _plain(fp.compute(ctx, rows)) == _plain(fused(prog, generated=False).compute(ctx, rows))
        new = imgpath.evaluate(doc, as_of=AS_OF, rulebook=book)
        ref = imgpath.evaluate(doc, as_of=AS_OF, rulebook=book, engine="reference")
        assert set(map(_key, new.firings)) == set(map(_key, ref.firings))


def test_many_rules_on_one_fused_fact_stay_correct(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """300 rules reading a leaf conclusion and a distinct fact condition: all tests on the context
    fact, spread over copies, and the answers still those of the reference."""
    monkeypatch.setenv("IMGPATH_CACHE_DIR", "off")
    (rules / "zz_extra.toml").write_text("schema = 1\n" + "".join(
        _rule(f"zz.many.r{i}", ["img", f"school.name == 'School {i}'"], "eras_ready") for i in range(300)))
    book = load_rulebook(rules)
    fp = fused(program(book, AS_OF))
    assert len([t for _, t in fp.engine.layout.ctx_types if t.startswith("ctx#")]) > 2  # type: ignore[union-attr]
    doc = {**DOC, "school": {**DOC["school"], "name": "School 217"}}
    new = imgpath.evaluate(doc, as_of=AS_OF, rulebook=book)
    ref = imgpath.evaluate(doc, as_of=AS_OF, rulebook=book, engine="reference")
    assert set(map(_key, new.firings)) == set(map(_key, ref.firings))
    assert any(f.rule_id == "zz.many.r217" and f.mode == "T" for f in new.firings)


# --------------------------------------------------------------------------- sessions and cohorts


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(ips.applicants(as_of=st.just(AS_OF)), min_size=2, max_size=30))
def test_cohorts_equal_one_applicant_per_session(docs: list[imgpath.Applicant]) -> None:
    """Applicants sharing a session (facts tagged with the applicant, patterns joined on it) get
    exactly the firings each gets alone in a fresh session."""
    book = imgpath.rulebook()
    fp = fused(program(book, AS_OF))
    contexts = [Context(book, d, AS_OF) for d in docs]
    shared = FusedRuleBase(fp, session_applicants=24)
    alone = FusedRuleBase(fp, session_applicants=1)
    try:
        cohorts = shared.run_codes(contexts, cohort=7)
        for ctx, codes in zip(contexts, cohorts, strict=True):
            assert _multiset(shared.firings(codes, ctx)) == _multiset(alone.run(ctx))
    finally:
        shared.close()
        alone.close()


def test_sessions_are_shared_then_renewed_and_isolated() -> None:
    """1,100 evaluations on one rule base: sessions renewed every few applicants (never the 1,024
    cap), and an applicant's answer never depends on who shared the session."""
    book = imgpath.rulebook()
    fp = fused(program(book, AS_OF))
    a = Context(book, imgpath.Applicant.from_dict(DOC), AS_OF)
    b = Context(book, imgpath.Applicant.from_dict({"school": {"country": "US"}}), AS_OF)
    with FusedRuleBase(fp) as rb:
        first = _multiset(rb.run(a))
        for i in range(1100):
            rb.run(b)
            if i % 97 == 0:
                assert _multiset(rb.run(a)) == first


def test_worker_codes_build_the_same_evaluation_lazily() -> None:
    """What a worker sends back (codes, validated once) becomes the same evaluation, built only when asked."""
    book = imgpath.rulebook()
    docs = [DOC, {"school": {"country": "US"}}, {"school": {"country": "XX"}}, {"exams": []}]
    results = evaluate_codes(book, [(d, AS_OF) for d in docs], cohort=2)
    assert [r[0] for r in results] == ["ok", "ok", "invalid", "ok"]
    path, problem, _ = results[2][1]
    assert path == "school.country" and "ISO" in problem
    for doc, (status, when, codes) in zip(docs, results, strict=True):
        if status != "ok":
            with pytest.raises(InvalidFacts):
                imgpath.Applicant.from_dict(doc)
            continue
        lazy = Evaluation.from_codes(book, doc, when, codes)
        assert lazy._index is None and not isinstance(lazy._ctx, Context)  # nothing built yet
        full = imgpath.evaluate(doc, as_of=AS_OF)
        assert _multiset(lazy.firings) == _multiset(full.firings)
        assert lazy.to_dict() == full.to_dict()


def test_evaluate_many_matches_single_evaluations() -> None:
    """In this process (cohorts, lazy evaluations) and with two workers (codes sent back): the
    evaluations of one call to evaluate() each."""
    docs = [DOC, {"school": {"country": "US"}}, {"school": {"country": "CA"}, "exams": []}] * 10
    alone = [imgpath.evaluate(d, as_of=AS_OF).to_dict() for d in docs]
    assert [e.to_dict() for e in imgpath.evaluate_many(docs, as_of=AS_OF)] == alone
    assert [e.to_dict() for e in imgpath.evaluate_many(docs, as_of=AS_OF, workers=2)] == alone


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_document_in_a_batch_names_its_field(workers: int) -> None:
    """The evaluations before a bad document are yielded; the bad one raises, naming its field."""
    docs = [DOC, DOC, {"school": {"country": "XX"}}, DOC]
    got = []
    with pytest.raises(InvalidFacts) as info:
        for ev in imgpath.evaluate_many(docs, as_of=AS_OF, workers=workers):
            got.append(ev.verdict("img"))
    assert info.value.path == "school.country"
    assert got == [imgpath.Verdict.YES, imgpath.Verdict.YES]


# --------------------------------------------------------------------------- collisions and errors


@pytest.fixture()
def fresh() -> Any:
    book = imgpath.rulebook()
    fp = fused(program(book, AS_OF))
    fp.runtime.pop("versions", None)  # firing records rebuilt, so patched helpers are seen
    rb = FusedRuleBase(fp)
    yield book, fp, rb
    rb.close()
    fp.runtime.pop("versions", None)


def test_base_fact_collision_restarts_the_session(fresh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A base fact rejected as a duplicate (32-bit identity hash) makes the driver start a fresh
    session with nonces, for a single applicant and for a cohort, first batch or a stratum's release."""
    book, fp, rb = fresh
    contexts = [Context(book, imgpath.Applicant.from_dict(d), AS_OF)
                for d in (DOC, {"school": {"country": "US"}}, {"school": {"country": "PK"}, "exams": []})]
    expected = [_multiset(rb.run(c)) for c in contexts]
    real = dre.assert_facts
    for marker in ('"t":"begin"', '"t":"ctx@'):
        calls = {"n": 0}

        def once(handle: int, text: str, marker: str = marker, calls: dict[str, int] = calls) -> tuple[int, int]:
            code, off = real(handle, text)
            if marker in text and '"_n"' not in text and calls["n"] == 0:
                calls["n"] += 1
                return (2, off)  # ERR_EVENT_OBSERVED, as a hash collision would report it
            return code, off

        monkeypatch.setattr(engine_mod._dre, "assert_facts", once)
        if rb._live is not None:  # start on a fresh session, so the begin fact is asserted
            rb._live.end()
            rb._live = None
        got = rb.run_codes(contexts, cohort=3)
        assert calls["n"] == 1
        assert [_multiset(rb.firings(c, ctx)) for c, ctx in zip(got, contexts, strict=True)] == expected
        assert _multiset(rb.run(contexts[0])) == expected[0]
        monkeypatch.setattr(engine_mod._dre, "assert_facts", real)


def test_derived_fact_collision_is_never_silent(fresh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A derived conclusion fact wrongly reported as already seen is re-asserted with a nonce."""
    book, fp, rb = fresh
    ctx = Context(book, imgpath.Applicant.from_dict(DOC), AS_OF)
    expected = _multiset(rb.run(ctx))
    real = dre.assert_fact
    calls = {"n": 0, "rejected": 0}

    def flaky(handle: int, text: str) -> tuple[int, int]:
        calls["n"] += 1
        if '"t":"c:' in text and '"_n"' not in text and calls["n"] % 2 == 0:
            calls["rejected"] += 1
            return (2, 0)
        return real(handle, text)

    monkeypatch.setattr(engine_mod._dre, "assert_fact", flaky)
    assert _multiset(rb.run(ctx)) == expected
    assert calls["rejected"] > 0


def test_action_errors_name_the_rule_and_the_engine_stays_usable(fresh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while recording a firing (Rete rule or leaf rule) becomes EngineError with the rule id."""
    book, fp, rb = fresh
    doc = {"school": {"country": "IN", "graduated": "2022-06-30"}, "interest": {"states": ["TX"]},
           "exams": DOC["exams"]}  # the document test_engine uses: both rules fire for it
    ctx = Context(book, imgpath.Applicant.from_dict(doc), AS_OF)
    good = _multiset(rb.run(ctx))
    for rule_id in ("ecfmg.requirements.all_met", "ecfmg.exams.step1_step2ck"):
        assert any(f.rule_id == rule_id for f in rb.run(ctx))
        fp.runtime.pop("versions", None)
        original = engine_mod._value

        def boom(action: Any, match: Any, rule_id: str = rule_id) -> Any:
            if action.rule_id == rule_id:
                raise ZeroDivisionError("boom")
            return original(action, match)

        monkeypatch.setattr(engine_mod, "_value", boom)
        with pytest.raises(EngineError) as info:
            rb.run(ctx)
        assert info.value.rule_id == rule_id and "boom" in str(info.value)
        monkeypatch.setattr(engine_mod, "_value", original)
        fp.runtime.pop("versions", None)
        assert _multiset(rb.run(ctx)) == good


def test_a_condition_that_cannot_be_computed_names_it(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule whose condition fails at run time (a function on a value it cannot take) gives the
    same EngineError on both durable forms."""
    monkeypatch.setenv("IMGPATH_CACHE_DIR", "off")
    (rules / "zz_extra.toml").write_text("schema = 1\n" + _rule(
        "zz.bad", ["add_days(school.graduated, 999999999) > as_of"], "eras_ready"))
    try:
        book = load_rulebook(rules)
    except RuleError:
        pytest.skip("the loader refuses this condition before it can run")
    messages = []
    for engine in ("durable", "durable-classic"):
        with pytest.raises(EngineError) as info:
            imgpath.evaluate(DOC, as_of=AS_OF, rulebook=book, engine=engine)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------- only=


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(ips.applicants(), st.sampled_from(["img", "ecfmg_requirements_met", "may_start_acgme_residency",
                                          "licensable", "pathway_eligible"]))
def test_only_gives_the_full_answers_on_its_cone(doc: imgpath.Applicant, goal: str) -> None:
    book = imgpath.rulebook()
    full = imgpath.evaluate(doc, as_of=doc.as_of)
    part = imgpath.evaluate(doc, as_of=doc.as_of, only=[goal])
    cone = book.cone([goal])
    assert part.only == cone
    assert {c.label for c in part.conclusions} == {c.label for c in full.conclusions if c.name in cone}
    for c in part.conclusions:
        assert c == full.conclusion(c.name, **c.args)


def test_only_refuses_questions_outside_its_cone() -> None:
    ev = imgpath.evaluate(DOC, as_of=AS_OF, only="ecfmg_exams_met")
    assert ev.verdict("ecfmg_exams_met") is imgpath.Verdict.YES
    with pytest.raises(QueryError, match="only="):
        ev.verdict("licensable", state="TX")
    with pytest.raises(UnknownConclusion):
        imgpath.evaluate(DOC, as_of=AS_OF, only=["ecfmg_exam_met"])
    with pytest.raises(InvalidArguments):
        imgpath.evaluate(DOC, as_of=AS_OF, only=[])
    assert ev.with_facts(exams=[]).only == ev.only


# --------------------------------------------------------------------------- laziness and engines


def test_the_evaluation_index_is_built_on_the_first_question() -> None:
    ev = imgpath.evaluate(DOC, as_of=AS_OF)
    assert ev._index is None
    assert ev.verdict("img") is imgpath.Verdict.YES
    assert ev._index is not None


def test_verdict_alone_agrees_with_the_full_conclusion() -> None:
    """verdict() and value() skip sources and confidence, and say what conclusion() says."""
    ev = imgpath.evaluate(DOC, as_of=AS_OF)
    other = imgpath.evaluate(DOC, as_of=AS_OF)
    for key in ev.instances():
        name, args = key[0], dict(key[1])
        c = other.conclusion(name, **args)
        assert ev.verdict(name, **args) is c.verdict
        assert ev.value(name, **args) == (list(c.value) if c.kind == "set" else c.value)


def test_engines_are_named() -> None:
    for engine in ("durable", "durable-classic", "reference"):
        assert imgpath.evaluate(DOC, as_of=AS_OF, engine=engine).verdict("ecfmg_exams_met") is imgpath.Verdict.YES
    with pytest.raises(ValueError, match="durable-classic"):
        imgpath.evaluate(DOC, as_of=AS_OF, engine="rete")


def test_prepared_facts_are_json_the_engine_reads() -> None:
    """Facts are written from format strings: each one parses as JSON with its applicant and type."""
    book = imgpath.rulebook()
    fp = fused_rulebase(fused(program(book, AS_OF))).fused
    prep = prepare_fused(fp, Context(book, imgpath.Applicant.from_dict(DOC), AS_OF), 7)
    for body in [*prep.bodies, *prep.facts, *(b for bs in prep.later.values() for b in bs)]:
        fact = json.loads(body + "}")
        assert fact["p"] == 7 and isinstance(fact["t"], str)
        assert len(fact) <= alpha.MAX_PROPERTIES
