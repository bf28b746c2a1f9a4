"""The condition language (docs/reference/rule-language.md): the whitelist parser and three-valued evaluation."""

from __future__ import annotations

import builtins
import datetime as dt
import itertools
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imgpath
from imgpath import RuleError
from imgpath import expressions as ex
from imgpath.expressions import NONE, UNKNOWN, Env, Interval, K, parse
from imgpath.facts import Exam, Practice, Training

AS_OF = dt.date(2026, 1, 15)
D = dt.date


# --------------------------------------------------------------------------- a plain Env


def make_env(facts: Mapping[str, Any] | None = None, *, as_of: dt.date = AS_OF,
             conclusions: Mapping[str, Any] | None = None) -> Env:
    """An Env over plain Python values: dicts and objects are walked by name; None and missing read as UNKNOWN.

    ``conclusions`` maps a conclusion name to a :class:`K` (boolean) or a value (valued conclusion).
    """
    facts = dict(facts or {})
    known = dict(conclusions or {})

    def lookup(f: ex.Field, env: Env) -> Any:
        if env.has_var(f.root):
            cur = env.var(f.root)
        elif f.root == "as_of":
            return env.as_of
        else:
            cur = facts.get(f.root, UNKNOWN)
        for part in f.path:
            if cur is UNKNOWN or cur is NONE:
                return cur
            cur = cur.get(part, UNKNOWN) if isinstance(cur, Mapping) else getattr(cur, part, UNKNOWN)
            if cur is None:
                cur = UNKNOWN
        return cur

    def conclusion(ref: ex.Ref, env: Env, values: tuple[Any, ...] | None) -> K:
        v = known.get(ref.name, K.U)
        if values is None:
            return v if isinstance(v, K) else K.T
        if v is K.U:
            return K.U
        return K.T if v in values else K.F

    return Env(as_of=as_of, lookup=lookup, conclusion=conclusion)


def T(text: str, **facts: Any) -> K:
    """Kleene truth of ``text`` with ``facts``."""
    return ex.truth(parse(text), make_env(facts))


def V(text: str, *, as_of: dt.date = AS_OF, **facts: Any) -> Any:
    """Value of ``text`` with ``facts``."""
    return ex.value(parse(text), make_env(facts, as_of=as_of))


# the four kinds of value a condition can see, and their truth
VALUES = {"t": True, "f": False, "u": UNKNOWN, "n": NONE}
TRUTH = {"t": K.T, "f": K.F, "u": K.U, "n": K.F}


# --------------------------------------------------------------------------- parsing: accepted forms


class TestParseAccepts:
    @pytest.mark.parametrize("text", [
        "school.country not in ['US', 'PR', 'CA']",
        "'LCME' in school.accreditors",
        "person.us_status in ['h1b', 'j1', 'f1', 'tn', 'other', 'none']",
        "any(e in exams, e.exam == 'step1' and e.result == 'pass')",
        "all(l in licenses, l.good_standing)",
        "count(e in exams, e.exam == 'step1') <= 1",
        "sum_years(t in training, t.accreditor in ['ACGME', 'AOA']) >= state.img_gme_years",
        "sum_years_since(p in practice, add_years(as_of, -5), p.country not in ['US', 'PR']) >= 3",
        "earliest(e in exams, e.result == 'pass', e.date) <= season.rol_deadline",
        "latest(t in training, t.completed, t.end)",
        "first_known(offer.start, as_of) <= ecfmg.expires",
        "present(school.graduated) and school.graduated <= date(2025, 6, 30)",
        "known(school.degree) or 'COCA' in school.accreditors",
        "school.graduated >= date('2025-06-30')",
        "year(school.graduated) >= school.ecfmg_note.from_",
        "years_between(school.graduated, as_of) < 3",
        "add_months(ecfmg.certified, 6) > as_of and add_days(as_of, 30) > as_of",
        "img and not licensable(state=state.code)",
        "pathway_eligible(pathway=1)",
        "nrmp_category == 'us_md'",
        "alt_pathway_status(state='TN') == 'in_force'",
        "nrmp_category in ['us_md', 'us_do', 'canadian']",
        "state.usmle_max_attempts_per_step < 0 or count(e in exams, e.exam == 'step1') <= 3",
        "count(e in exams, e.exam == 'step1') + count(e in exams, e.exam == 'step2ck') - 1 > 0",
        "1 <= match.letters < 10",
        "not (a and b) or c",
        "x == -1 and y == -2.5 and z == True and w != False",
        "a\n  and b\n  and c",
        "match.letters >= 0  # a comment",
    ])
    def test_documented_forms(self, text: str) -> None:
        """Every form the rule-language reference documents parses into a node."""
        assert isinstance(parse(text), ex.Node)

    def test_multi_line_condition(self) -> None:
        """A condition may span lines (a TOML multi-line string): line breaks are whitespace."""
        assert parse("a\n  and b\n  and c") == parse("a and b and c")
        assert parse("any(e in exams,\n    e.exam == 'step1')") == parse("any(e in exams, e.exam == 'step1')")

    @pytest.mark.parametrize(("text", "same_as"), [
        ("a  # first line\n and b", "a and b"),
        ("a and  # note\n  b", "a and b"),
        ("x == '''one\ntwo'''", "x == 'one\\ntwo'"),
    ], ids=["comment-drops-lines", "comment-mid-expression", "newline-in-literal"])
    def test_multi_line_condition_with_comment(self, text: str, same_as: str) -> None:
        """A comment ends at its line, and a literal keeps its newline: line joining never changes meaning."""
        assert parse(text) == parse(same_as)

    def test_keyword_attribute_reads_key(self) -> None:
        """``school.ecfmg_note.from_`` reads the document key ``from``."""
        assert parse("school.ecfmg_note.from_") == ex.Field("school", ("ecfmg_note", "from"))

    def test_date_literals(self) -> None:
        """``date(y, m, d)`` and ``date('YYYY-MM-DD')`` are literals, folded at parse time."""
        assert parse("date(2025, 6, 30)") == parse("date('2025-06-30')") == ex.Const(D(2025, 6, 30))

    def test_negative_number(self) -> None:
        """A minus sign before a number is folded into the literal."""
        assert parse("-5") == ex.Const(-5)

    def test_list_literal(self) -> None:
        """A list literal becomes a tuple constant."""
        assert parse("['a', 1, date(2020, 1, 1)]") == ex.Const(("a", 1, D(2020, 1, 1)))

    def test_chained_comparison_is_conjunction(self) -> None:
        """``a < b < c`` means ``a < b and b < c``."""
        assert parse("1 < x < 3") == parse("1 < x and x < 3")

    def test_conclusion_refs(self) -> None:
        """``conclusion_refs`` finds every referenced conclusion, keyword arguments sorted."""
        node = parse("img and licensable(state='TX') and pathway_eligible(pathway=1)")
        assert ex.conclusion_refs(node) == {"licensable", "pathway_eligible"}
        assert parse("f(b=1, a=2)") == ex.Ref("f", (("a", ex.Const(2)), ("b", ex.Const(1))))

    def test_every_rule_renders_back(self) -> None:
        """``render`` of every condition of the default rulebook parses back to the same node."""
        for rule in imgpath.rulebook().rules:
            for node in (*rule.when, *(n for _, n in rule.args), *([rule.value] if rule.value else [])):
                assert parse(ex.render(node)) == _refs_as_fields(node), (rule.id, ex.render(node))


def _refs_as_fields(node: ex.Node) -> ex.Node:
    """The rulebook turns bare conclusion names into Refs after parsing; undo that for comparison."""
    import attrs

    if isinstance(node, ex.Ref) and not node.args:
        return ex.Field(node.name, ())
    if isinstance(node, (ex.And, ex.Or)):
        return type(node)(tuple(_refs_as_fields(a) for a in node.args))
    if isinstance(node, ex.Not):
        return ex.Not(_refs_as_fields(node.arg))
    if isinstance(node, (ex.Cmp, ex.Arith)):
        return attrs.evolve(node, left=_refs_as_fields(node.left), right=_refs_as_fields(node.right))
    if isinstance(node, ex.Func):
        return ex.Func(node.name, tuple(_refs_as_fields(a) for a in node.args))
    if isinstance(node, ex.Quant):
        return attrs.evolve(node, pred=_refs_as_fields(node.pred), extra=tuple(_refs_as_fields(e) for e in node.extra))
    if isinstance(node, ex.Ref):
        return ex.Ref(node.name, tuple((k, _refs_as_fields(v)) for k, v in node.args))
    return node


# --------------------------------------------------------------------------- parsing: rejected forms


REJECTED = {
    "dunder-call": "__import__('os')",
    "dunder-import-system": "__import__('os').system('echo pwned')",
    "underscore-name": "_secret",
    "underscore-attr": "school._country",
    "dunder-attr": "school.__class__",
    "subclasses-payload": "().__class__.__bases__[0].__subclasses__()",
    "subclasses-payload-2": "[].__class__.__mro__[1].__subclasses__()",
    "globals-payload": "present.__globals__",
    "attribute-on-call": "present(x).y",
    "attribute-on-literal": "'x'.upper()",
    "method-call": "school.country.lower()",
    "call-on-call": "present(x)(y)",
    "subscript": "exams[0]",
    "slice": "school.name[1:]",
    "lambda": "lambda: 1",
    "lambda-call": "(lambda: 1)()",
    "list-comprehension": "[e for e in exams]",
    "set-comprehension": "{e for e in exams}",
    "dict-comprehension": "{e: 1 for e in exams}",
    "generator-expression": "any(e for e in exams)",
    "bare-generator": "(e for e in exams)",
    "power": "2 ** 3",
    "multiply": "a * 2",
    "divide": "a / 2",
    "modulo": "'%s' % a",
    "bit-or": "a | b",
    "shift": "a << 1",
    "matmul": "a @ b",
    "invert": "~a",
    "unary-plus": "+a",
    "minus-on-name": "-a",
    "star-args": "present(*args)",
    "star-args-conclusion": "licensable(*a)",
    "double-star-kwargs": "licensable(**kw)",
    "f-string": "f'{school.country}'",
    "f-string-call": "f'{__import__(\"os\")}'",
    "walrus": "(x := 1)",
    "conditional": "a if b else c",
    "is": "a is None",
    "is-not": "a is not b",
    "none-literal": "None",
    "bytes-literal": "b'x'",
    "complex-literal": "1j",
    "ellipsis": "...",
    "dict-literal": "{'a': 1}",
    "set-literal": "{1, 2}",
    "nested-list": "[[1]]",
    "list-with-name": "[a]",
    "yield": "(yield x)",
    "await": "await x",
    "keyword-dunder-arg": "licensable(__class__=1)",
    "keyword-to-function": "present(x=1)",
    "keyword-to-aggregate": "any(e in exams, cond=True)",
    "aggregate-arity": "any(e in exams)",
    "aggregate-head": "any(e, e.exam == 'step1')",
    "aggregate-head-not-in": "any(e not in exams, True)",
    "aggregate-over-literal": "any(e in [1, 2], e == 1)",
    "aggregate-underscore-var": "any(_e in exams, True)",
    "function-arity": "present(a, b)",
    "first-known-arity": "first_known()",
    "date-bad": "date(2023, 2, 30)",
    "date-text-bad": "date('2023-02-30')",
    "date-not-literal": "date(x)",
    "date-keywords": "date(year=2020, month=1, day=1)",
    "date-arity": "date(2020, 1)",
    "date-float": "date(2020, 1, 1.5)",
    "date-datetime-text": "date('2020-01-01T00:00')",
    "inf-literal": "1e999",
    "negative-inf-literal": "-1e999",
    "long-string-literal": "'" + "x" * 201 + "'",
    "starred-expression": "*a",
    "syntax-error": "a ==",
    "statement": "import os",
    "assignment": "x = 1",
    "semicolon": "a; b",
    "null-byte": "a\x00",
    "too-long": "a and " * 1000 + "a",
    "deep-not": "not " * 100 + "a",
    "deep-parens": "(" * 500 + "a" + ")" * 500,
    "deep-lists": "[" * 100 + "]" * 100,
    "deep-minus": "-" * 3000 + "1",
    "deep-calls": "present(" * 80 + "a" + ")" * 80,
}


#: Positional calls parse as calls of definitions (rule language v2) and are refused when the
#: rulebook resolves names: nothing is ever called.
UNKNOWN_CALLS = {
    "eval-positional": "eval('1')",
    "exec-positional": "exec('import os')",
    "open-positional": "open('/etc/passwd')",
    "getattr-positional": "getattr(school, 'country')",
    "conclusion-positional": "licensable('TX')",
}


@pytest.mark.parametrize("text", list(UNKNOWN_CALLS.values()), ids=list(UNKNOWN_CALLS))
def test_positional_calls_are_definitions_or_refused(text: str) -> None:
    from imgpath.rulebook.resolve import expand

    node = parse(text)
    assert isinstance(node, ex.Call)
    with pytest.raises(RuleError, match="unknown function or definition"):
        expand(node, {})


class TestParseRejects:
    @pytest.mark.parametrize("text", list(REJECTED.values()), ids=list(REJECTED))
    def test_rejected_with_rule_error(self, text: str) -> None:
        """Anything outside the language is rejected with RuleError (quoting the text) and nothing else."""
        with pytest.raises(RuleError) as info:
            parse(text)
        assert type(info.value) is RuleError
        assert info.value.text is not None

    @pytest.mark.parametrize("value", [None, 1, b"a == b", ["a"], ex.Const(1)])
    def test_non_string(self, value: Any) -> None:
        """A condition that is not a string is a RuleError, not a TypeError."""
        with pytest.raises(RuleError):
            parse(value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("text", ["", "   ", "\n", "a) or (b", "x) and (y", "(a", "a)"])
    def test_not_an_expression(self, text: str) -> None:
        """Empty and unbalanced texts are not conditions and are rejected."""
        with pytest.raises(RuleError):
            parse(text)

    @pytest.mark.parametrize("text", ["date(100000000000000000000, 1, 1)", "date(2020, 1, 100000000000000000000)"])
    def test_date_with_huge_integer(self, text: str) -> None:
        """``date()`` with an enormous argument is a RuleError like any other invalid date."""
        with pytest.raises(RuleError):
            parse(text)

    def test_error_quotes_text(self) -> None:
        """The RuleError says what is wrong and quotes the condition."""
        with pytest.raises(RuleError) as info:
            parse("__import__('os')")
        assert "'_'" in info.value.problem and "__import__('os')" in str(info.value)

    def test_no_code_runs_while_parsing(self) -> None:
        """Parsing (and evaluating) payloads never calls anything: a canary in builtins is never tripped."""
        with canary() as hits:
            payloads = ["imgpath_canary()", "imgpath_canary(x=1)", "__import__('builtins').imgpath_canary()",
                        "().__class__.__bases__[0].__subclasses__()", "[imgpath_canary() for x in exams]",
                        "(lambda: imgpath_canary())()", "f'{imgpath_canary()}'", "imgpath_canary"]
            for text in payloads:
                try:
                    node = parse(text)
                except RuleError:
                    continue
                ex.truth(node, make_env())
        assert hits == []


@contextmanager
def canary() -> Iterator[list[str]]:
    """Install ``imgpath_canary`` in builtins: calling it records a hit (it must never be called)."""
    hits: list[str] = []
    builtins.imgpath_canary = lambda *a, **k: hits.append("called")  # type: ignore[attr-defined]
    try:
        yield hits
    finally:
        del builtins.imgpath_canary  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- render


class TestRender:
    @pytest.mark.parametrize("text", ["a and (b or c)", "not (a and b)", "x not in ['a', 'b']",
                                      "school.ecfmg_note.from_ <= 1990", "date(2020, 1, 1) < as_of",
                                      "sum_years_since(p in practice, add_years(as_of, -5), p.unsupervised) >= 5",
                                      "earliest(e in exams, e.result == 'pass', e.date)",
                                      "licensable(state='TX')", "a - b - c", "-3 < x"])
    def test_round_trip(self, text: str) -> None:
        """``parse(render(parse(t))) == parse(t)`` for the forms the rules use."""
        node = parse(text)
        assert parse(ex.render(node)) == node

    @pytest.mark.parametrize("text", ["a - (b - c)", "a + (b - c)", "(a and b) == c", "(not a) == b",
                                      "x == (y in [1])", "(a < b) + 1"])
    def test_round_trip_needs_parentheses(self, text: str) -> None:
        """Rendering keeps the parentheses a nested operand needs, so the text means the same node."""
        node = parse(text)
        assert parse(ex.render(node)) == node


# --------------------------------------------------------------------------- Kleene logic


def formulas() -> st.SearchStrategy[str]:
    """Boolean formulas over a, b, c with and/or/not."""
    leaf = st.sampled_from(["a", "b", "c"])
    return st.recursive(leaf, lambda s: st.one_of(
        st.tuples(s, s).map(lambda t: f"({t[0]} and {t[1]})"),
        st.tuples(s, s).map(lambda t: f"({t[0]} or {t[1]})"),
        s.map(lambda x: f"not {x}")), max_leaves=8)


class TestKleene:
    @pytest.mark.parametrize(("a", "b"), list(itertools.product(VALUES, repeat=2)))
    def test_and_or_tables(self, a: str, b: str) -> None:
        """``and`` is the minimum and ``or`` the maximum of F < U < T (NONE counts as false)."""
        facts = {"a": VALUES[a], "b": VALUES[b]}
        assert T("a and b", **facts) is min(TRUTH[a], TRUTH[b])
        assert T("a or b", **facts) is max(TRUTH[a], TRUTH[b])

    @pytest.mark.parametrize("a", list(VALUES))
    def test_not_table(self, a: str) -> None:
        """``not`` swaps T and F and keeps U (``not`` of a known-absent fact is true)."""
        assert T("not a", a=VALUES[a]) is {K.T: K.F, K.F: K.T, K.U: K.U}[TRUTH[a]]

    def test_short_circuit_false_beats_unknown(self) -> None:
        """A false part decides ``and`` even next to unknowns; a true part decides ``or``."""
        assert T("u and f and u", u=UNKNOWN, f=False) is K.F
        assert T("u or t or u", u=UNKNOWN, t=True) is K.T

    def test_unknown_stays_unknown(self) -> None:
        """Without a deciding part the result is unknown, never false."""
        assert T("u and t", u=UNKNOWN, t=True) is K.U
        assert T("u or f", u=UNKNOWN, f=False) is K.U
        assert T("not u", u=UNKNOWN) is K.U

    def test_missing_name_is_unknown(self) -> None:
        """A name with no value at all reads as unknown."""
        assert T("nothing_here") is K.U and T("school.country == 'IN'") is K.U

    @pytest.mark.parametrize("text", ["1", "'x'", "date(2020, 1, 1)", "['a']"])
    def test_non_boolean_as_condition(self, text: str) -> None:
        """A number, string, date or list used as a condition is a RuleError."""
        with pytest.raises(RuleError):
            T(text)

    @given(st.data())
    def test_refinement_monotone(self, data: st.DataObject) -> None:
        """Kleene monotonicity: a T or F result never changes when an unknown input becomes known."""
        text = data.draw(formulas(), label="formula")
        start = data.draw(st.fixed_dictionaries({v: st.sampled_from(list(VALUES)) for v in "abc"}))
        before = T(text, **{k: VALUES[v] for k, v in start.items()})
        refined = {k: (data.draw(st.sampled_from("tfn")) if v == "u" else v) for k, v in start.items()}
        after = T(text, **{k: VALUES[v] for k, v in refined.items()})
        if before is not K.U:
            assert after is before
        assert after is not K.U

    @given(formulas(), formulas(), st.fixed_dictionaries({v: st.sampled_from(list(VALUES)) for v in "abc"}))
    def test_de_morgan(self, p: str, q: str, assign: dict[str, str]) -> None:
        """De Morgan's laws hold in the three-valued logic."""
        facts = {k: VALUES[v] for k, v in assign.items()}
        assert T(f"not (({p}) and ({q}))", **facts) is T(f"not ({p}) or not ({q})", **facts)
        assert T(f"not (({p}) or ({q}))", **facts) is T(f"not ({p}) and not ({q})", **facts)


# --------------------------------------------------------------------------- comparisons


class TestComparisons:
    @pytest.mark.parametrize(("text", "expected"), [
        ("n == 'x'", K.F), ("n != 'x'", K.T), ("n < 3", K.F), ("n >= 3", K.F), ("n == n", K.F),
        ("n in ['x', 'y']", K.F), ("n not in ['x', 'y']", K.T), ("'x' in n", K.F), ("'x' not in n", K.T),
        ("n == as_of", K.F), ("as_of > n", K.F),
    ])
    def test_with_none(self, text: str, expected: K) -> None:
        """A comparison with a known-absent value is false; ``!=`` and ``not in`` are true."""
        assert T(text, n=NONE) is expected

    @pytest.mark.parametrize("text", ["u == 'x'", "u != 'x'", "u < 3", "u in ['x']", "u not in ['x']",
                                      "'x' in u", "'x' not in u", "u == n", "n != u"])
    def test_with_unknown(self, text: str) -> None:
        """Any comparison with an unknown value is unknown, even against a known-absent one."""
        assert T(text, u=UNKNOWN, n=NONE) is K.U

    def test_bool_is_not_int(self) -> None:
        """``True == 1`` is false in the rule language (booleans and numbers never compare equal)."""
        assert T("t == 1", t=True) is K.F and T("t != 1", t=True) is K.T and T("1 == 1.0") is K.T
        assert T("1 in [True]") is K.F

    def test_boolean_values_compare(self) -> None:
        """Comparing a truth value with a boolean literal works, unknown stays unknown."""
        assert T("(a and b) == True", a=True, b=True) is K.T
        assert T("(a and b) == False", a=True, b=UNKNOWN) is K.U

    def test_dates_compare(self) -> None:
        """Dates compare chronologically with date literals and as_of."""
        assert T("d <= date(2025, 6, 30)", d=D(2025, 6, 30)) is K.T
        assert T("d < as_of", d=D(2026, 1, 15)) is K.F

    @pytest.mark.parametrize("text", ["'a' < 1", "d < 'x'", "d > 3"])
    def test_incomparable_types(self, text: str) -> None:
        """Ordering values of different types is a RuleError, not a TypeError."""
        with pytest.raises(RuleError):
            T(text, d=D(2020, 1, 1))

    def test_in_needs_a_list(self) -> None:
        """``in`` with a non-list on the right is a RuleError (no substring tests)."""
        with pytest.raises(RuleError):
            T("'a' in 'abc'")

    def test_in_list_field(self) -> None:
        """``in`` reads a list field on the right."""
        assert T("'LCME' in acc", acc=("LCME", "CACMS")) is K.T
        assert T("'COCA' in acc", acc=("LCME",)) is K.F

    def test_valued_conclusion(self) -> None:
        """A valued conclusion compared with a literal asks whether a rule concluded that value."""
        env = make_env(conclusions={"nrmp_category": "us_md", "img": K.F})
        # bare names parse as fields; the rulebook turns those naming conclusions into Refs
        category = ex.Ref("nrmp_category")
        assert ex.truth(ex.Cmp("==", category, ex.Const("us_md")), env) is K.T
        assert ex.truth(ex.Cmp("in", category, ex.Const(("us_do", "canadian"))), env) is K.F
        assert ex.truth(ex.Not(ex.Ref("img")), env) is K.T
        assert ex.truth(parse("licensable(state='TX')"), env) is K.U
        assert ex.truth(parse("pathway_eligible(pathway=1) or img"), env) is K.U


# --------------------------------------------------------------------------- aggregates


def ns(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


class TestCountIntervals:
    exams = (Exam(exam="step1", result="fail"), Exam(exam=None, result="fail"), Exam(exam="oet"))

    def test_bounds(self) -> None:
        """``count`` over entries whose condition is unknown gives bounds: lo counts T, hi counts T and U."""
        assert V("count(e in exams, e.exam == 'step1')", exams=self.exams) == Interval(1, 2)

    @pytest.mark.parametrize(("op", "k", "expected"), [
        ("==", 1, K.U), ("==", 0, K.F), ("==", 3, K.F), (">=", 1, K.T), (">", 2, K.F), ("<", 3, K.T),
        ("<=", 1, K.U), ("<=", 2, K.T), ("!=", 0, K.T), ("!=", 1, K.U), (">", 0, K.T), ("<", 1, K.F),
    ])
    def test_comparisons_with_bounds(self, op: str, k: int, expected: K) -> None:
        """A comparison with a count is decided when every count in the bounds agrees, else unknown."""
        assert T(f"count(e in exams, e.exam == 'step1') {op} {k}", exams=self.exams) is expected

    def test_exact_when_known(self) -> None:
        """With every condition known, the count is exact."""
        exams = (Exam(exam="step1"), Exam(exam="step1"), Exam(exam="oet"))
        assert V("count(e in exams, e.exam == 'step1')", exams=exams) == Interval(2, 2)
        assert T("count(e in exams, e.exam == 'step1') == 2", exams=exams) is K.T

    def test_unknown_list(self) -> None:
        """Over an unknown list the count is anywhere from 0 to infinity."""
        assert V("count(e in exams, True)") == Interval(0, math.inf)
        assert T("count(e in exams, True) >= 0") is K.T
        assert T("count(e in exams, True) >= 1") is K.U
        assert T("count(e in exams, True) < 0") is K.F

    def test_empty_and_none_list(self) -> None:
        """An empty (or known-absent) list counts exactly zero."""
        assert V("count(e in exams, True)", exams=()) == Interval(0, 0)
        assert V("count(e in exams, True)", exams=NONE) == Interval(0, 0)

    def test_arithmetic_on_bounds(self) -> None:
        """Adding and subtracting counts adds and subtracts their bounds."""
        assert V("count(e in exams, e.exam == 'step1') + 1", exams=self.exams) == Interval(2, 3)
        assert V("count(e in exams, e.exam == 'step1') - count(e in exams, e.exam == 'oet')",
                 exams=self.exams) == Interval(-1, 1)  # [1, 2] - [1, 2]

    @given(st.lists(st.sampled_from([True, False, None]), max_size=6), st.integers(-1, 7),
           st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    def test_bounds_sound_and_tight(self, marks: list[bool | None], k: int, op: str) -> None:
        """The interval verdict is T (F) exactly when every completion of the unknowns makes it true (false)."""
        items = tuple(ns(x=m) for m in marks)
        got = T(f"count(e in items, e.x) {op} {k}", items=items)
        unknown = [i for i, m in enumerate(marks) if m is None]
        outcomes = set()
        for fill in itertools.product([True, False], repeat=len(unknown)):
            full = list(marks)
            for i, v in zip(unknown, fill, strict=True):
                full[i] = v
            n = sum(bool(m) for m in full)
            outcomes.add({"==": n == k, "!=": n != k, "<": n < k, "<=": n <= k, ">": n > k, ">=": n >= k}[op])
        expected = K.T if outcomes == {True} else K.F if outcomes == {False} else K.U
        assert got is expected


class TestAnyAll:
    @pytest.mark.parametrize(("marks", "any_", "all_"), [
        ([], K.F, K.T), ([True], K.T, K.T), ([False], K.F, K.F), ([None], K.U, K.U),
        ([False, None], K.U, K.F), ([True, None], K.T, K.U), ([True, False], K.T, K.F),
    ])
    def test_quantifiers(self, marks: list[bool | None], any_: K, all_: K) -> None:
        """``any`` is the Kleene or over entries, ``all`` the Kleene and (vacuous truth on an empty list)."""
        items = tuple(ns(x=m) for m in marks)
        assert T("any(e in items, e.x)", items=items) is any_
        assert T("all(e in items, e.x)", items=items) is all_

    def test_over_unknown_list(self) -> None:
        """Over an unknown list both quantifiers are unknown."""
        assert T("any(e in items, e.x)") is K.U and T("all(e in items, e.x)") is K.U

    def test_variable_is_scoped(self) -> None:
        """The quantifier variable is visible inside its condition only."""
        items = (ns(x=True),)
        assert T("any(e in items, e.x) and e.x", items=items) is K.U  # outer e is unbound: unknown


class TestSumYears:
    acgme: ClassVar[dict[str, str]] = {"country": "US", "accreditor": "ACGME", "kind": "residency"}

    def test_three_year_residency(self) -> None:
        """2023-07-01..2026-06-30 counts as 36 months (3 years), end day included."""
        training = (Training(**self.acgme, start=D(2023, 7, 1), end=D(2026, 6, 30)),)
        for as_of in (D(2026, 6, 30), D(2026, 7, 1), D(2030, 1, 1)):
            got = V("sum_years(t in training, t.accreditor == 'ACGME')", as_of=as_of, training=training)
            assert got == Interval(3.0, 3.0), as_of

    def test_one_day_short(self) -> None:
        """Until the last day of the period has passed, the whole 36 months are not yet counted."""
        training = (Training(**self.acgme, start=D(2023, 7, 1), end=D(2026, 6, 30)),)
        got = V("sum_years(t in training, True)", as_of=D(2026, 6, 29), training=training)
        assert got.hi < 3 and got.exact

    def test_ongoing_counted_to_as_of(self) -> None:
        """Ongoing training (no end) counts up to as_of in whole months."""
        training = (Training(**self.acgme, start=D(2023, 7, 1)),)
        assert V("sum_years(t in training, True)", as_of=D(2025, 1, 15), training=training) == Interval(1.5, 1.5)
        assert V("sum_years(t in training, True)", as_of=D(2023, 7, 30), training=training) == Interval(0, 0)

    def test_future_end_counted_to_as_of(self) -> None:
        """A period ending after as_of counts only the time up to as_of."""
        training = (Training(**self.acgme, start=D(2023, 7, 1), end=D(2026, 6, 30)),)
        assert V("sum_years(t in training, True)", as_of=D(2024, 7, 1), training=training) == Interval(1.0, 1.0)

    def test_condition_filters_and_sums(self) -> None:
        """Only matching periods are summed; several periods add up."""
        training = (Training(**self.acgme, start=D(2020, 7, 1), end=D(2021, 6, 30)),
                    Training(country="CA", accreditor="RCPSC", start=D(2021, 7, 1), end=D(2023, 6, 30)),
                    Training(**self.acgme, start=D(2023, 7, 1), end=D(2024, 12, 31)))
        assert V("sum_years(t in training, t.accreditor == 'ACGME')", training=training) == Interval(2.5, 2.5)
        assert V("sum_years(t in training, True)", training=training) == Interval(4.5, 4.5)

    def test_unknown_condition_widens(self) -> None:
        """A period whose condition is unknown counts toward the upper bound only."""
        training = (Training(start=D(2023, 7, 1), end=D(2026, 6, 30)),)
        got = V("sum_years(t in training, t.accreditor == 'ACGME')", training=training, as_of=D(2027, 1, 1))
        assert got == Interval(0.0, 3.0)
        assert V("sum_years(t in training, t.accreditor == 'ACGME') >= 3", training=training,
                 as_of=D(2027, 1, 1)) is K.U
        assert V("sum_years(t in training, t.accreditor == 'ACGME') >= 2.5", training=training,
                 as_of=D(2026, 1, 15)) is K.U
        assert V("sum_years(t in training, t.accreditor == 'ACGME') > 2.5", training=training,
                 as_of=D(2026, 1, 15)) is K.F

    def test_unknown_start(self) -> None:
        """A matching period without a start date makes the upper bound infinite."""
        training = (Training(**self.acgme),)
        assert V("sum_years(t in training, True)", training=training) == Interval(0.0, math.inf)

    def test_unknown_list(self) -> None:
        """Over an unknown list the sum is anywhere from 0 to infinity; an empty list sums to 0."""
        assert V("sum_years(t in training, True)") == Interval(0, math.inf)
        assert V("sum_years(t in training, True)", training=()) == Interval(0, 0)

    def test_sum_years_since(self) -> None:
        """``sum_years_since`` counts only time after ``since`` (here the last 5 years before as_of)."""
        practice = (Practice(country="IN", start=D(2015, 1, 1)),)
        text = "sum_years_since(p in practice, add_years(as_of, -5), p.country not in ['US', 'PR'])"
        assert V(text, practice=practice) == Interval(5.0, 5.0)
        old = (Practice(country="IN", start=D(2010, 1, 1), end=D(2015, 12, 31)),)
        assert V(text, practice=old) == Interval(0, 0)
        recent = (Practice(country="IN", start=D(2024, 1, 1), end=D(2024, 12, 31)),)
        assert V(text, practice=recent) == Interval(1.0, 1.0)

    def test_sum_years_since_unknown_and_none_since(self) -> None:
        """An unknown ``since`` gives no bound; a known-absent one counts everything."""
        practice = (Practice(country="IN", start=D(2020, 1, 1), end=D(2021, 12, 31)),)
        assert V("sum_years_since(p in practice, s, True)", practice=practice, s=UNKNOWN) == Interval(0, math.inf)
        assert V("sum_years_since(p in practice, s, True)", practice=practice, s=NONE) == Interval(2.0, 2.0)


class TestDateFunctions:
    @pytest.mark.parametrize(("a", "b", "years"), [
        (D(2019, 3, 1), D(2026, 2, 28), 6), (D(2019, 3, 1), D(2026, 3, 1), 7), (D(2020, 1, 1), D(2020, 1, 1), 0),
        (D(2020, 2, 29), D(2021, 2, 28), 0), (D(2020, 2, 29), D(2021, 3, 1), 1), (D(2020, 2, 29), D(2024, 2, 29), 4),
        (D(2026, 2, 28), D(2019, 3, 1), -6),
    ])
    def test_years_between(self, a: dt.date, b: dt.date, years: int) -> None:
        """``years_between`` counts whole years (anniversaries passed), negative when b precedes a."""
        assert V("years_between(a, b)", a=a, b=b) == years

    @given(st.dates(D(1900, 1, 1), D(2100, 12, 31)), st.dates(D(1900, 1, 1), D(2100, 12, 31)))
    def test_years_between_antisymmetric(self, a: dt.date, b: dt.date) -> None:
        """``years_between(a, b) == -years_between(b, a)``."""
        assert ex.years_between(a, b) == -ex.years_between(b, a)

    @given(st.dates(D(1900, 1, 1), D(2100, 12, 31)).filter(lambda d: d.day <= 28), st.integers(0, 50))
    def test_add_years_then_years_between(self, d: dt.date, n: int) -> None:
        """For days 1-28, ``years_between(d, add_years(d, n)) == n`` and one day less is ``n - 1``."""
        later = V("add_years(d, n)", d=d, n=n)
        assert ex.years_between(d, later) == n
        if n:
            assert ex.years_between(d, later - dt.timedelta(days=1)) == n - 1

    @pytest.mark.parametrize(("n", "expected"), [(1, D(2025, 2, 28)), (4, D(2028, 2, 29)), (-1, D(2023, 2, 28)),
                                                 (-4, D(2020, 2, 29)), (0, D(2024, 2, 29))])
    def test_add_years_on_feb_29(self, n: int, expected: dt.date) -> None:
        """``add_years`` from Feb 29 lands on Feb 28 in common years and Feb 29 in leap years."""
        assert V(f"add_years(date(2024, 2, 29), {n})") == expected

    def test_add_months_clamps(self) -> None:
        """``add_months`` clamps to the last day of a shorter month."""
        assert V("add_months(date(2023, 1, 31), 1)") == D(2023, 2, 28)
        assert V("add_months(date(2024, 1, 31), 1)") == D(2024, 2, 29)
        assert V("add_months(date(2023, 3, 31), -1)") == D(2023, 2, 28)
        assert V("add_months(date(2023, 11, 15), 3)") == D(2024, 2, 15)

    def test_add_days_and_year(self) -> None:
        """``add_days`` and ``year`` do what they say."""
        assert V("add_days(date(2024, 2, 28), 2)") == D(2024, 3, 1)
        assert V("year(d)", d=D(2022, 6, 30)) == 2022

    def test_functions_propagate_missing(self) -> None:
        """A function of an unknown argument is unknown; of a known-absent one, known-absent."""
        assert V("add_years(d, 1)", d=UNKNOWN) is UNKNOWN
        assert V("years_between(d, as_of)", d=NONE) is NONE
        assert T("add_years(d, 1) < as_of", d=NONE) is K.F
        assert T("add_years(d, 1) < as_of", d=UNKNOWN) is K.U

    def test_function_of_count_rejected(self) -> None:
        """Date functions refuse counts and sums (intervals)."""
        with pytest.raises(RuleError):
            V("year(count(e in exams, True))")

    def test_unsuitable_arguments(self) -> None:
        """Date functions given the wrong types raise RuleError, not TypeError."""
        with pytest.raises(RuleError):
            V("year('x')")
        with pytest.raises(RuleError):
            V("add_days(date(2020, 1, 1), date(2020, 1, 1))")
        with pytest.raises(RuleError):
            V("add_days(date(9999, 12, 31), 1)")

    @pytest.mark.parametrize("text", ["add_days(date(2020, 1, 1), 'x')", "add_years(date(1, 1, 1), -1)",
                                      "add_months(date(9999, 12, 1), 1)"])
    def test_out_of_range_or_bad_arguments(self, text: str) -> None:
        """Date arithmetic leaving the calendar or given a non-number raises RuleError like other misuse."""
        with pytest.raises(RuleError):
            V(text)


class TestPresentKnownFirstKnown:
    @pytest.mark.parametrize(("a", "present", "known"), [("t", K.T, K.T), ("f", K.T, K.T), ("n", K.F, K.T),
                                                         ("u", K.U, K.F)])
    def test_present_and_known(self, a: str, present: K, known: K) -> None:
        """``present`` is T for a value, F when known absent, U when unknown; ``known`` is never unknown."""
        assert T("present(a)", a=VALUES[a]) is present
        assert T("known(a)", a=VALUES[a]) is known

    def test_present_of_field(self) -> None:
        """``present`` applies to a nested field of a section."""
        assert T("present(school.graduated)", school={"graduated": D(2022, 6, 30)}) is K.T
        assert T("present(school.graduated)", school={"graduated": NONE}) is K.F
        assert T("present(school.graduated)", school={}) is K.U

    def test_first_known(self) -> None:
        """``first_known`` gives the first argument with a value, skipping unknown and known-absent ones."""
        assert V("first_known(a, b, c)", a=UNKNOWN, b=NONE, c="x") == "x"
        assert V("first_known(a, b)", a=D(2026, 7, 1), b=UNKNOWN) == D(2026, 7, 1)
        assert V("first_known(offer.start, as_of)") == AS_OF
        assert V("first_known(a, b)", a=UNKNOWN, b=NONE) is UNKNOWN
        assert V("first_known(a, b, c, d, e, f, g, h)", h=1) == 1


class TestEarliestLatest:
    exams = (Exam(exam="step1", result="fail", date=D(2022, 1, 10)),
             Exam(exam="step1", result="pass", date=D(2022, 6, 1)),
             Exam(exam="step2ck", result="pass", date=D(2023, 3, 5)),
             Exam(exam="oet", result="fail", date=D(2021, 1, 1)))

    def test_earliest_and_latest(self) -> None:
        """``earliest``/``latest`` give the extreme value among the matching entries."""
        assert V("earliest(e in exams, e.result == 'pass', e.date)", exams=self.exams) == D(2022, 6, 1)
        assert V("latest(e in exams, e.result == 'pass', e.date)", exams=self.exams) == D(2023, 3, 5)
        assert V("earliest(e in exams, e.exam in ['step1', 'step2ck'], e.date)", exams=self.exams) == D(2022, 1, 10)

    def test_no_match_is_none(self) -> None:
        """No matching entry (or an empty list) gives NONE: known not to exist."""
        assert V("earliest(e in exams, e.exam == 'step3', e.date)", exams=self.exams) is NONE
        assert V("latest(e in exams, True, e.date)", exams=()) is NONE

    def test_unknowns(self) -> None:
        """An unknown list, an entry with an unknown condition or an unknown date make the result unknown."""
        assert V("earliest(e in exams, True, e.date)") is UNKNOWN
        maybe = (*self.exams, Exam(exam="step1", date=D(2020, 1, 1)))  # result unknown
        assert V("earliest(e in exams, e.result == 'pass', e.date)", exams=maybe) is UNKNOWN
        undated = (*self.exams, Exam(exam="step1", result="pass"))
        assert V("latest(e in exams, e.result == 'pass', e.date)", exams=undated) is UNKNOWN

    def test_years_between_extremes(self) -> None:
        """The time-limit idiom: years between the first and the last pass."""
        text = ("years_between(earliest(e in exams, e.result == 'pass', e.date), "
                "latest(e in exams, e.result == 'pass', e.date)) < 7")
        assert T(text, exams=self.exams) is K.T
        assert T(text, exams=()) is K.F  # no pass at all: known absent, so the comparison is false


class TestEnv:
    def test_bind_does_not_leak(self) -> None:
        """``Env.bind`` returns a new Env; the original keeps its variables."""
        env = make_env()
        inner = env.bind("e", 1)
        assert inner.var("e") == 1 and not env.has_var("e") and env.var("e") is UNKNOWN

    def test_conclusion_without_callback(self) -> None:
        """Reading a conclusion where none can be read is a RuleError."""
        env = Env(as_of=AS_OF, lookup=lambda f, e: UNKNOWN)
        with pytest.raises(RuleError):
            ex.truth(parse("licensable(state='TX')"), env)

    def test_none_and_unknown_are_singletons(self) -> None:
        """NONE and UNKNOWN keep their identity through pickling (``is`` tests stay valid)."""
        import pickle

        assert pickle.loads(pickle.dumps(NONE)) is NONE and pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
