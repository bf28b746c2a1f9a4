"""The compiler's bounds: every engine limit is checked before the C engine sees a definition (issue 14).

Each case once exhausted memory, hung ``create_ruleset`` while holding the GIL, or failed only at
evaluation with an engine error code; now loading or lint refuses it with a RuleError naming the
file and the rule, quickly.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import shutil
import time
import weakref
from pathlib import Path

import pytest

import imgpath

from imgpath.compiler import alpha, lowered, program
from imgpath.compiler.fused import fused
from imgpath.errors import RuleError
from imgpath.rulebook import load_rulebook, rules_dir

AS_OF = dt.date(2026, 1, 15)


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target, ignore=shutil.ignore_patterns("scenarios"))
    return target


def _add_rules(folder: Path, text: str, conclusions: str = "") -> None:
    (folder / "zz_extra.toml").write_text("schema = 1\n" + text)
    if conclusions:
        with (folder / "conclusions.toml").open("a") as fh:
            fh.write("\n" + conclusions)


def _rule(rid: str, when: list[str], conclusion: str = "img") -> str:
    return (f'[[rule]]\nid = "{rid}"\ntitle = "t"\nwhen = {json.dumps(when)}\nthen = {{ conclusion = "{conclusion}" }}\n'
            'sources = ["ecfmg-ib-certification"]\nconfidence = "primary"\ndigest = ["R1.1"]\n\n')


def test_disjunct_product_is_bounded_before_it_is_built(rules: Path) -> None:
    """22 two-way 'or's on conclusions: 4 million engine rules; refused in well under a second."""
    _add_rules(rules, _rule("zz.blowup", ["ecfmg_certified or match_eligible"] * 22, "eras_ready"))
    book = load_rulebook(rules)
    start = time.process_time()
    with pytest.raises(RuleError) as info:
        lowered(program(book, AS_OF))
    assert time.process_time() - start < 5
    assert info.value.rule_id == "zz.blowup" and "more than 48 engine rules" in str(info.value)
    assert any(i.rule_id == "zz.blowup" and i.code == "engine-limit" for i in book.lint())


def test_too_many_fact_types_are_refused_before_the_engine_hangs(rules: Path) -> None:
    """A chain of 460 derived conclusions needs more fact types than create_ruleset survives."""
    n = 460
    conclusions = "".join(f'[chain_{i}]\nkind = "boolean"\ndescription = "link {i}"\ninternal = true\n\n'
                          for i in range(n))
    text = _rule("zz.chain.0", ["img"], "chain_0") + "".join(
        _rule(f"zz.chain.{i}", [f"chain_{i - 1}", f"school.name != 'School {i}'"], f"chain_{i}")
        for i in range(1, n))
    _add_rules(rules, text, conclusions)
    book = load_rulebook(rules)
    with pytest.raises(RuleError, match="fact types"):
        lowered(program(book, AS_OF))


def test_too_many_rules_on_one_fact_are_refused(rules: Path) -> None:
    """The engine keeps 256 beta children per alpha node (error 108): 300 rules reading img."""
    text = "".join(_rule(f"zz.many.r{i}", ["img", f"school.name == 'School {i}'"], "eras_ready")
                   for i in range(300))
    _add_rules(rules, text)
    book = load_rulebook(rules)
    with pytest.raises(RuleError, match="engine rules test the same fact") as info:
        lowered(program(book, AS_OF))
    assert info.value.rule_id and info.value.rule_id.startswith("zz.many.r")


def test_shipped_rules_are_within_every_bound() -> None:
    book = imgpath.rulebook()
    for day in [dt.date(2019, 1, 1), *book.change_dates()]:
        defs = lowered(program(book, day)).definitions
        assert alpha.beta_overflow(defs) is None
        assert sum(len(t) for t in alpha.fact_types(defs).values()) <= alpha.MAX_TYPES


@pytest.mark.parametrize("engine", ["durable", "durable-classic"])
def test_a_dropped_rulebook_is_freed_with_its_compiled_rulesets(rules: Path, engine: str) -> None:
    """Nothing module-level keeps an evaluated rulebook alive (60 load-evaluate-drop cycles reached 373 MB)."""
    refs = []
    for _ in range(3):
        book = load_rulebook(rules)
        imgpath.evaluate({"school": {"country": "IN"}}, as_of=AS_OF, rulebook=book, engine=engine)
        compiled = fused(program(book, AS_OF)) if engine == "durable" else lowered(program(book, AS_OF))
        rb = compiled.runtime["rulebase"]
        del compiled
        refs.append((weakref.ref(book), rb._finalizer))
        del book, rb
    gc.collect()
    assert all(ref() is None for ref, _ in refs)
    assert not any(fin.alive for _, fin in refs)  # the C rulesets were deleted too


def test_a_lowered_program_comes_back_from_the_disk_cache_unchanged(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The lowering is kept on disk (a fifth of a cold start): a second rulebook object with the same
    rules reads it back instead of lowering again, and gets the same engine form and the same
    answers as the first."""
    import sys

    import attrs

    lower_module = sys.modules["imgpath.compiler.lower"]  # (imgpath.compiler.lower is also a function)
    monkeypatch.setenv("IMGPATH_CACHE_DIR", str(tmp_path / "cache"))
    day = dt.date(2026, 1, 15)
    first_book, second_book = load_rulebook(rules_dir()), load_rulebook(rules_dir())
    assert first_book is not second_book and first_book.digest == second_book.digest
    first = lowered(program(first_book, day), fused=True)
    calls: list[object] = []
    real = lower_module.lower
    monkeypatch.setattr(lower_module, "lower", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = lowered(program(second_book, day), fused=True)
    assert not calls, "read back from disk, not lowered again"
    assert second.program.book is second_book
    for f in attrs.fields(type(first)):
        if f.name not in ("program", "runtime", "_read_memo", "conditions"):
            assert getattr(first, f.name) == getattr(second, f.name), f.name
    assert [(n, (t.node, t.row_var)) for n, t in first.conditions] == \
        [(n, (t.node, t.row_var)) for n, t in second.conditions]
    docs = [imgpath.example(name).to_dict() for name in ("india-img-2027", "tennessee-alternative-route",
                                                         "h1b-step3-abroad")]
    for doc in docs:
        a = imgpath.evaluate(doc, as_of=day, rulebook=first_book)
        b = imgpath.evaluate(doc, as_of=day, rulebook=second_book)
        assert a.to_dict()["conclusions"] == b.to_dict()["conclusions"]
