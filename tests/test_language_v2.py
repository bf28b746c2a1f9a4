"""Rule language v2: definitions, condition groups, plain literal arguments, dated tables (issue 15).

Each feature is checked to mean exactly what the long form it replaces means, on both engines.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

import imgpath
from imgpath import expressions as ex
from imgpath.errors import RuleError
from imgpath.rulebook import load_rulebook

SOURCES = """
[src-a]
url = "https://example.org/a"
title = "A"
publisher = "P"
kind = "primary"

[src-b]
url = "https://example.org/b"
title = "B"
publisher = "P"
kind = "secondary"
"""
CONCLUSIONS = """
[img]
description = "x"
[exams_met]
description = "y"
[gate]
description = "g"
[status]
kind = "value"
description = "s"
values = ["none", "enacted_not_operational", "in_force"]
args = { state = "states" }
"""
DEFINITIONS = """
schema = 2

[define.passed]
title = "A pass of this exam is on record"
params = ["exam"]
expr = "any(e in exams, e.exam == exam and e.result == 'pass')"

[define.US_JURISDICTIONS]
title = "The U.S., its territories and Puerto Rico"
value = ["US", "PR", "GU", "VI", "AS", "MP", "UM"]

[define.score_meets]
title = "A reported sub-score at the minimum, or a pass recorded without scores"
params = ["score", "minimum", "entry"]
expr = "score >= minimum or (not known(score) and entry.result == 'pass')"

[define.applicant_abroad]
title = "A graduate of a school abroad who passed both Steps"
when = ["img", "passed('step1')", "passed('step2ck')"]
"""
STATES = """
[table]
name = "states"
key = "code"
bind = "for"
scope = "interest.states"
[table.columns]
name = "str"
[states.TX]
name = "Texas"
[states.NY]
name = "New York"
"""
ALT = """
[table]
name = "alt"
key = "code"
bind = "for"
scope = "interest.states"
dated = ["status"]
[table.columns]
status = "str"

[[alt.TX.status]]
value = "none"
sources = ["src-b"]
confidence = "secondary"

[[alt.TX.status]]
from = 2025-06-22
value = "enacted_not_operational"
kind = "enacted"
sources = ["src-a"]

[[alt.TX.status]]
from = 2026-02-01
value = "in_force"
kind = "rules final"
sources = ["src-a"]

[[alt.TX.status]]
from = 2026-06-01
value = "none"
kind = "repeal (announced only)"
expected = true
sources = ["src-b"]
"""


def folder(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "sources.toml").write_text(SOURCES)
    (tmp_path / "conclusions.toml").write_text(CONCLUSIONS)
    (tmp_path / "definitions.toml").write_text(DEFINITIONS)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "states.toml").write_text(STATES)
    (tmp_path / "data" / "alt.toml").write_text(ALT)
    (tmp_path / "r.toml").write_text(textwrap.dedent(rules))
    return tmp_path


def rule(rid: str, when: str, then: str = 'conclusion = "img"', extra: str = "", schema: int = 2) -> str:
    return (f'schema = {schema}\n[[rule]]\nid = "{rid}"\ntitle = "t"\nwhen = {when}\nthen = {{ {then} }}\n'
            f'sources = ["src-a"]\nconfidence = "primary"\n{extra}\n')


PASSED = {"exams": [{"exam": "step1", "result": "pass", "date": "2024-01-01"},
                    {"exam": "step2ck", "result": "fail", "date": "2024-02-01"}], "school": {"country": "IN"}}


@pytest.mark.parametrize("engine", ["durable", "reference"])
def test_a_definition_means_its_body(tmp_path: Path, engine: str) -> None:
    short = rule("a.short", '["passed(\'step1\')", "school.country not in US_JURISDICTIONS"]')
    long = rule("a.long", '''["any(e in exams, e.exam == 'step1' and e.result == 'pass')",
        "school.country not in ['US', 'PR', 'GU', 'VI', 'AS', 'MP', 'UM']"]''', 'conclusion = "exams_met"')
    book = load_rulebook(folder(tmp_path, short + long.replace("schema = 2\n", "")))
    a, b = book.rule("a.short"), book.rule("a.long")
    assert a.when == b.when  # expanded to the very same conditions
    assert a.when_text[0] == "passed('step1')" and a.defined == (("passed",), ("US_JURISDICTIONS",))
    for doc in (PASSED, {"exams": [], "school": {"country": "IN"}}, {"school": {"country": "PR"}}, {}):
        ev = imgpath.evaluate(doc, as_of=dt.date(2026, 1, 15), rulebook=book, engine=engine)
        assert ev.verdict("img") == ev.verdict("exams_met")


def test_parameters_with_fields_and_no_capture(tmp_path: Path) -> None:
    """score_meets(e.listening, 350, e): entry.result becomes e.result; a quantifier variable of the body
    that an argument also names is renamed rather than capturing it."""
    text = rule("a.oet", '''["any(e in exams, e.exam == 'oet' and score_meets(e.listening, 350, e))"]''')
    book = load_rulebook(folder(tmp_path, text))
    node = book.rule("a.oet").when[0]
    assert "e.result == 'pass'" in ex.render(node) and "not known(e.listening)" in ex.render(node)
    inner = rule("a.capture", '''["any(e in exams, passed(e.exam))"]''', 'conclusion = "gate"')
    book = load_rulebook(folder(tmp_path, text + inner.replace("schema = 2\n", "")))
    rendered = ex.render(book.rule("a.capture").when[0])
    assert "any(e1 in exams, e1.exam == e.exam" in rendered
    for doc, want in (({"exams": [{"exam": "oet", "result": "pass"}]}, "yes"),
                      ({"exams": [{"exam": "oet", "result": "fail"}]}, "unknown"),
                      ({"exams": [{"exam": "oet", "listening": 300}]}, "no")):
        ev = imgpath.evaluate(doc, as_of=dt.date(2026, 1, 15), rulebook=book)
        assert ev.verdict("img").value == want, doc


def test_a_group_is_spliced_into_when(tmp_path: Path) -> None:
    img = rule("a.img", '["school.country not in US_JURISDICTIONS"]')
    group = rule("a.group", '["applicant_abroad", "school.country == \'IN\'"]', 'conclusion = "gate"')
    book = load_rulebook(folder(tmp_path, img + group.replace("schema = 2\n", "")))
    r = book.rule("a.group")
    assert r.when_text == ("img", "passed('step1')", "passed('step2ck')", "school.country == 'IN'")
    assert r.defined[0] == ("applicant_abroad",)
    ev = imgpath.evaluate(PASSED, as_of=dt.date(2026, 1, 15), rulebook=book)
    wn = ev.why_not("gate")
    failing = [c.text for c in wn.checks[0].conditions if c.status == "fails"]
    assert failing == ["passed('step2ck')"]  # each condition of the group judged on its own line
    assert "means: any(e in exams, e.exam == 'step2ck' and e.result == 'pass')" in str(wn)  # and expanded


@pytest.mark.parametrize(("when", "message"), [
    ('["passed()"]', r"passed\(exam\): missing exam"),
    ('["passed(\'step1\', \'step2ck\')"]', "takes 1 argument"),
    ('["passed(exams=\'step1\')"]', "has no parameter 'exams'; did you mean 'exam'"),
    ('["US_JURISDICTIONS(1)"]', "named value; it takes no arguments"),
    ('["pased(\'step1\')"]', r"unknown function or definition pased\(\); did you mean 'passed'"),
])
def test_misused_definitions_name_the_rule(tmp_path: Path, when: str, message: str) -> None:
    with pytest.raises(RuleError, match=message) as info:
        load_rulebook(folder(tmp_path, rule("a.bad", when)))
    assert info.value.rule_id == "a.bad" and "r.toml" in str(info.value)


def test_definitions_may_not_hide_names_or_loop(tmp_path: Path) -> None:
    folder(tmp_path, rule("a.ok", '["img"]', 'conclusion = "gate"'))
    defs = tmp_path / "definitions.toml"
    defs.write_text(DEFINITIONS + '\n[define.img]\nexpr = "True"\n')
    with pytest.raises(RuleError, match="'img' already names something else"):
        load_rulebook(tmp_path)
    defs.write_text(DEFINITIONS + '\n[define.loop_a]\nexpr = "loop_b"\n[define.loop_b]\nexpr = "loop_a"\n')
    with pytest.raises(RuleError, match="defined in terms of itself"):
        load_rulebook(tmp_path)


def test_definitions_cite_sources_that_exist_and_count_as_cited(tmp_path: Path) -> None:
    """A definition restates the law: its sources must be in sources.toml (an unknown id names the
    definition and its file), and a source only a definition cites is cited (no unused-source)."""
    folder(tmp_path, rule("a.ok", '["img"]', 'conclusion = "gate"'))
    defs = tmp_path / "definitions.toml"
    defs.write_text(DEFINITIONS + '\n[define.abroad_school]\ntitle = "t"\nsources = ["src-x"]\nexpr = "img"\n')
    with pytest.raises(RuleError, match=r"define.abroad_school: unknown source 'src-x'") as info:
        load_rulebook(tmp_path)
    assert "definitions.toml" in str(info.value)
    defs.write_text(DEFINITIONS + '\n[define.abroad_school]\ntitle = "t"\nsources = "src-b"\nexpr = "img"\n')
    with pytest.raises(RuleError, match="sources must be a list of source ids"):
        load_rulebook(tmp_path)
    with (tmp_path / "sources.toml").open("a") as fh:
        fh.write('\n[src-c]\nurl = "https://example.org/c"\ntitle = "C"\npublisher = "P"\nkind = "primary"\n')
    defs.write_text(DEFINITIONS)
    assert any(i.code == "unused-source" and "src-c" in i.message for i in load_rulebook(tmp_path).lint())
    defs.write_text(DEFINITIONS + '\n[define.abroad_school]\ntitle = "t"\nsources = ["src-c"]\nexpr = "img"\n')
    book = load_rulebook(tmp_path)
    assert book.definitions["abroad_school"].sources == ("src-c",)
    assert not any(i.code == "unused-source" and "src-c" in i.message for i in book.lint())


def test_the_shipped_definitions_each_cite_a_source() -> None:
    import imgpath

    book = imgpath.rulebook()
    assert book.definitions and all(d.sources for d in book.definitions.values())


def test_plain_literal_arguments_in_schema_2(tmp_path: Path) -> None:
    v2 = rule("a.v2", '["img"]', 'conclusion = "status", args = { state = "TX" }, value = "in_force"')
    book = load_rulebook(folder(tmp_path, v2))
    assert book.rule("a.v2").args == (("state", ex.Const("TX")),)
    v1 = rule("a.v1", '["img"]', 'conclusion = "status", args = { state = "\'TX\'" }, value = "in_force"', schema=1)
    assert load_rulebook(folder(tmp_path, v1)).rule("a.v1").args == (("state", ex.Const("TX")),)
    bad = rule("a.v2", '["img"]', 'conclusion = "status", args = { state = "\'TX\'" }, value = "in_force"')
    with pytest.raises(RuleError, match="no row \"'TX'\" in table states"):
        load_rulebook(folder(tmp_path, bad))
    expr = rule("a.row", '["img"]', 'conclusion = "status", args = { state = { expr = "s.code" } }, value = "none"',
                extra='for = { s = "states" }')
    assert load_rulebook(folder(tmp_path, expr)).rule("a.row").args[0][1] == ex.Field("s", ("code",))


@pytest.mark.parametrize("engine", ["durable", "reference"])
@pytest.mark.parametrize(("day", "value", "confidence"), [
    ("2025-06-21", "none", "secondary"), ("2025-06-22", "enacted_not_operational", "primary"),
    ("2026-01-31", "enacted_not_operational", "primary"), ("2026-02-01", "in_force", "primary"),
    ("2026-06-01", "in_force", "primary"),  # an expected step never counts as reached
])
def test_a_dated_table_gives_the_value_in_force(tmp_path: Path, engine: str, day: str, value: str,
                                                confidence: str) -> None:
    text = rule("alt.status", "[]", 'conclusion = "status", args = { state = { expr = "s.code" } }, '
                'value = { expr = "s.status" }', extra='for = { s = "alt" }')
    book = load_rulebook(folder(tmp_path, text))
    ev = imgpath.evaluate({"interest": {"states": ["TX", "NY"]}}, as_of=dt.date.fromisoformat(day), rulebook=book,
                          engine=engine)
    c = ev.conclusion("status", state="TX")
    assert (c.value, c.confidence.value) == (value, confidence)
    assert ev.verdict("status", state="NY") is imgpath.Verdict.NO  # no row: no status
    assert dt.date(2025, 6, 22) in book.change_dates() and dt.date(2026, 6, 1) not in book.change_dates()


def test_table_names_are_the_lists_of_their_keys(tmp_path: Path) -> None:
    text = rule("a.keys", '["s.code not in alt"]', 'conclusion = "status", args = { state = { expr = "s.code" } }, '
                'value = "none"', extra='for = { s = "states" }')
    book = load_rulebook(folder(tmp_path, text))
    ev = imgpath.evaluate({"interest": {"states": ["TX", "NY"]}}, as_of=dt.date(2026, 1, 15), rulebook=book)
    assert ev.value("status", state="NY") == "none" and ev.verdict("status", state="TX") is imgpath.Verdict.NO


@pytest.mark.parametrize(("step", "message"), [
    ("[[alt.NY.status]]\nfrom = 2020-01-01\nvalue = 'none'\n[[alt.NY.status]]\nfrom = 2019-01-01\nvalue = 'none'\n",
     "steps must be in date order"),
    ("[[alt.NY.status]]\nvalue = 'none'\n[[alt.NY.status]]\nvalue = 'in_force'\n", "needs 'from'"),
    ("[[alt.NY.status]]\nvalue = 'none'\nexpectd = true\n", "unknown key 'expectd'; did you mean 'expected'"),
    ("alt.NY.status = 'none'\n", "a dated cell is a list of steps"),
])
def test_bad_dated_cells_name_the_table(tmp_path: Path, step: str, message: str) -> None:
    folder(tmp_path, rule("a.ok", '["img"]'))
    (tmp_path / "data" / "alt.toml").write_text(ALT.replace("[[alt.TX.status]]", step + "\n[[alt.TX.status]]", 1)
                                               if not step.startswith("alt.") else ALT + "\n[alt.NY]\nstatus = 'none'\n")
    with pytest.raises(RuleError, match=message) as info:
        load_rulebook(tmp_path)
    assert "alt.toml" in str(info.value)
