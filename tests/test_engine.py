"""The durable-rules driver: isolation, re-creation, errors that surface, hash collisions, engine traps."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

import imgpath
from imgpath import engine as engine_mod
from imgpath._internal.dre import engine as dre
from imgpath.compiler import encode, lowered
from imgpath.compiler import program as program_for
from imgpath.context import Context
from imgpath.engine import RuleBase, base_facts
from imgpath.errors import EngineError

AS_OF = dt.date(2026, 1, 15)
DOC = {"school": {"country": "IN", "graduated": "2022-06-30"}, "exams": [
    {"exam": "step1", "date": "2023-01-10", "result": "pass"}, {"exam": "step2ck", "date": "2023-08-10",
                                                               "result": "pass"}],
    "interest": {"states": ["TX"]}}


@pytest.fixture()
def program() -> object:
    return lowered(program_for(imgpath.rulebook(), AS_OF))


class TestLifecycle:
    def test_recreate_fifty_times_without_threads(self, program: object) -> None:
        """Re-creating the compiled ruleset 50 times (a Jupyter re-run, a hypothesis loop) never collides or
        starts threads."""
        before = threading.active_count()
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        results = []
        for _ in range(50):
            with RuleBase(program) as rb:
                results.append(sorted(map(repr, rb.run(ctx))))
        assert all(r == results[0] for r in results)
        assert threading.active_count() == before

    def test_reload_rulebook_fifty_times(self) -> None:
        """Loading the rulebook afresh 50 times and evaluating each time gives the same answer."""
        path = imgpath.rulebook().path
        answers = set()
        for _ in range(50):
            book = imgpath.load_rulebook(path)
            answers.add(imgpath.evaluate(DOC, as_of=AS_OF, rulebook=book).verdict("ecfmg_exams_met"))
        assert answers == {imgpath.Verdict.YES}

    def test_closed_rulebase_refuses(self, program: object) -> None:
        """A closed RuleBase says so instead of crashing."""
        rb = RuleBase(program)
        rb.close()
        rb.close()  # idempotent
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        with pytest.raises(EngineError, match="closed"):
            rb.run(ctx)

    def test_sessions_are_isolated(self, program: object) -> None:
        """Many sessions on one ruleset never see each other's facts (and are all deleted: no 1024 cap)."""
        book = imgpath.rulebook()
        a = Context(book, imgpath.Applicant.from_dict(DOC), AS_OF)
        b = Context(book, imgpath.Applicant.from_dict({"school": {"country": "US"}}), AS_OF)
        with RuleBase(program) as rb:
            first = sorted(map(repr, rb.run(a)))
            for _ in range(1100):
                rb.run(b)
            assert sorted(map(repr, rb.run(a))) == first


class TestErrors:
    # one rule fired by the Rete (it reads conclusions), one leaf rule fired by the driver
    @pytest.mark.parametrize("rule_id", ["ecfmg.requirements.all_met", "ecfmg.exams.step1_step2ck"])
    def test_action_exception_surfaces_with_rule_id(self, program: object, monkeypatch: pytest.MonkeyPatch,
                                                    rule_id: str) -> None:
        """An exception inside an action becomes EngineError naming the rule; the next evaluation works."""
        leaves = {leaf.rule_id for leaf in program.leaves}  # type: ignore[attr-defined]
        assert (rule_id in leaves) == (rule_id == "ecfmg.exams.step1_step2ck")
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        with RuleBase(program) as rb:
            good = sorted(map(repr, rb.run(ctx)))
            assert any(f.rule_id == rule_id for f in rb.run(ctx))
            original = engine_mod._value

            def boom(action: object, match: object) -> object:
                if action.rule_id == rule_id:  # type: ignore[attr-defined]
                    raise ZeroDivisionError("boom")
                return original(action, match)  # type: ignore[arg-type]

            monkeypatch.setattr(engine_mod, "_value", boom)
            with pytest.raises(EngineError) as info:
                rb.run(ctx)
            assert info.value.rule_id == rule_id
            assert "boom" in str(info.value)
            monkeypatch.setattr(engine_mod, "_value", original)
            assert sorted(map(repr, rb.run(ctx))) == good

    def test_hash_collision_is_never_silent(self, program: object, monkeypatch: pytest.MonkeyPatch) -> None:
        """A derived fact the engine wrongly reports as already seen is re-asserted with a nonce."""
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        with RuleBase(program) as rb:
            expected = sorted(map(repr, rb.run(ctx)))
            real = dre.assert_fact
            calls = {"n": 0}

            def flaky(handle: int, text: str) -> tuple[int, int]:
                calls["n"] += 1
                if '"c:' in text and '"_n"' not in text and calls["n"] % 3 == 0:
                    return (2, 0)  # ERR_EVENT_OBSERVED, as a 32-bit hash collision would report
                return real(handle, text)

            monkeypatch.setattr(engine_mod._dre, "assert_fact", flaky)
            assert sorted(map(repr, rb.run(ctx))) == expected

    def test_base_fact_collision_restarts_the_session(self, program: object, monkeypatch: pytest.MonkeyPatch) -> None:
        """A base fact rejected as a duplicate makes the driver start over with nonces, not drop it."""
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        with RuleBase(program) as rb:
            expected = sorted(map(repr, rb.run(ctx)))
            real = dre.assert_facts
            state = {"first": True}

            def once(handle: int, text: str) -> tuple[int, int]:
                code, off = real(handle, text)
                if state["first"]:
                    state["first"] = False
                    return (2, off)
                return code, off

            monkeypatch.setattr(engine_mod._dre, "assert_facts", once)
            assert sorted(map(repr, rb.run(ctx))) == expected


class TestEngineTraps:
    def test_floats_never_reach_the_engine_in_exponent_form(self) -> None:
        """durable-rules misparses 1e+18 and drops later facts: encode() writes plain numbers."""
        for value in (1e18, 1e-7, 5e-5, float("inf"), 2.5, 1 / 3):
            assert "e" not in json.dumps(encode(value)).lower() or json.dumps(encode(value)) == "0"

    def test_every_fact_has_a_type(self, program: object) -> None:
        """Every asserted fact carries a positive type test (a purely negative pattern loops forever)."""
        ctx = Context(imgpath.rulebook(), imgpath.Applicant.from_dict(DOC), AS_OF)
        facts = base_facts(program, ctx)  # type: ignore[arg-type]
        assert all(isinstance(f.get("t"), str) and f["t"] for f in facts)
        for definition in program.definitions.values():  # type: ignore[attr-defined]
            for pattern in definition["all"]:
                (_, cond), = pattern.items()
                tests = cond.get("$and", [cond])
                assert any("t" in t for t in tests) or "$ex" in cond

    def test_programs_compile_for_every_window(self) -> None:
        """Every set of rules in force on some date compiles within the engine's limits."""
        book = imgpath.rulebook()
        for day in [dt.date(2019, 1, 1), *book.change_dates()]:
            engine_program = lowered(program_for(book, day))
            for definition in engine_program.definitions.values():
                assert len(definition["all"]) <= 15
