"""Fuzzing rule files the way test_fuzz.py fuzzes applicant documents (issue 14).

Requirement: whatever a rule file holds (conditions built from the language's own names and
operators, absurd numbers, wrong TOML types and structures, bytes that are not UTF-8), loading,
linting and evaluating either work or raise ``RuleError`` naming the file (and the rule, when the
problem is in one); never another exception, never a hang, never unbounded memory. A watchdog
(``faulthandler.dump_traceback_later``) turns a hang, even one inside the C engine holding the GIL,
into a failure with a traceback instead of a stuck run.

    pytest tests/test_fuzz_rules.py                            # dev profile: 100 examples per test
    IMGPATH_PROFILE=thorough pytest tests/test_fuzz_rules.py   # 10,000 examples per test
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import json
import math
import resource
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import imgpath
from imgpath.errors import RuleError
from imgpath.rulebook import load_rulebook

FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])
AS_OF = dt.date(2026, 1, 15)
#: Seconds one example may take before the watchdog ends the run (a hang, not a slow test).
HANG = 120
#: Peak memory (resident set) the whole fuzz run may reach.
MAX_RSS_MB = 3000

SOURCES = """
[src-a]
url = "https://example.org/a"
title = "A"
publisher = "P"
kind = "primary"
"""
CONCLUSIONS = """
[img]
description = "x"
[other]
description = "y"
[gme]
kind = "value"
description = "z"
args = { state = "states" }
[pathway_eligible]
description = "p"
args = { pathway = [1, 2, 3] }
"""
TABLE = """
[table]
name = "states"
key = "code"
bind = "for"
scope = "interest.states"
[table.columns]
years = "number"
[states.TX]
years = { value = 2, sources = ["src-a"] }
[states.NY]
years = 3
"""
BASE_RULE = {
    "id": "f.one", "title": "t", "when": ["school.country != 'US'"], "then": {"conclusion": "img"},
    "sources": ["src-a"], "confidence": "primary",
}
OTHER_RULES = """
[[rule]]
id = "f.two"
title = "t"
when = ["img"]
then = { conclusion = "other" }
sources = ["src-a"]
confidence = "primary"

[[rule]]
id = "f.three"
title = "t"
for = { state = "states" }
when = ["img"]
then = { conclusion = "gme", args = { state = "state.code" }, value_expr = "state.years" }
sources = ["src-a"]
confidence = "primary"

[[rule]]
id = "f.four"
title = "t"
when = ["img"]
then = { conclusion = "pathway_eligible", args = { pathway = 1 } }
sources = ["src-a"]
confidence = "primary"
"""

# --------------------------------------------------------------------------- condition text

NAMES = ["school.country", "school.graduated", "school.name", "person.us_status", "person.in_us", "img",
         "other", "as_of", "ecfmg.certified", "match.season", "state.years", "state.code", "offer.start",
         "pathway_eligible(pathway=1)", "pathway_eligible(pathway=99)", "gme(state='TX')", "nosuch", "e.date",
         "__class__", "exams", "licenses"]
LITERALS = ["'US'", "'India'", "'IN'", "3", "-1", "0", "0.5", "1.5e-5", "1e308", "10**10**10", "2**64",
            "0.1234567891", "'2025-01-01'", "date(2025, 1, 1)", "date(2025, 2, 30)", "True", "None", "[]",
            "['US', 'CA']", "[1, [2]]", "{}", "'x' * 100000"]
OPS = ["==", "!=", "<", ">=", "in", "not in", "+", "-", "*", "/", "**", "%", "and", "or"]
FUNCS = ["any(e in exams, {})", "count(e in exams, {})", "all(l in licenses, {})", "present({})", "known({})",
         "not {}", "({})", "year({})", "add_years({}, 3)", "years_between({}, as_of)", "earliest(e in exams, e.date)",
         "sum_years(p in practice, {})", "lambda: {}", "[x for x in {}]", "{}.__dict__", "open({})", "eval({})"]

atom = st.sampled_from(NAMES + LITERALS)
condition = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(OPS), inner).map(" ".join),
        st.tuples(st.sampled_from(FUNCS), inner).map(lambda t: t[0].format(t[1])),
    ),
    max_leaves=12,
) | st.text(max_size=200)


def toml_value(v: Any) -> str:
    """A Python value as TOML (inline tables and arrays), for any shape hypothesis draws."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


scalars = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.floats(), st.booleans(),
                    st.text(max_size=60), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=10)
RULE_KEYS = [*BASE_RULE, "effective", "for", "assumptions", "digest", "group", "notes", "advisory", "bogus"]


@st.composite
def rule_files(draw: st.DrawFn) -> bytes:
    rule: dict[str, Any] = dict(BASE_RULE)
    rule["when"] = draw(st.lists(condition, min_size=0, max_size=5))
    for key in draw(st.lists(st.sampled_from(RULE_KEYS), max_size=3)):
        rule[key] = draw(values)
    if draw(st.booleans()):
        rule["then"] = draw(st.sampled_from([
            {"conclusion": "gme", "args": {"state": draw(st.sampled_from(["'TX'", "state.code", "1.5e20"]))},
             "value": draw(scalars)},
            {"conclusion": "pathway_eligible", "args": {"pathway": draw(st.sampled_from([1, 99, "x", 1.5]))}},
            {"conclusion": "img", "verdict": draw(st.sampled_from(["yes", "unknown", "maybe"]))},
            {"conclusion": draw(st.text(max_size=20))},
        ]))
    lines = ["[[rule]]"]
    for k, v in rule.items():
        lines.append(f"{json.dumps(k)} = {toml_value(v)}")
    text = "\n".join(lines) + "\n\n" + OTHER_RULES
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 0:  # sometimes: bytes that are not UTF-8, or truncated TOML
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.sampled_from([b"\xff\xfe", b"\xe9", b"[[", b"= [" * 2000]))
    return data


@contextmanager
def watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def _check(folder: Path) -> None:
    try:
        book = load_rulebook(folder)
    except RuleError as err:
        assert err.file, f"RuleError without a file: {err}"
        event("refused at load")
        return
    try:
        issues = book.lint()
    except RuleError as err:  # pragma: no cover - lint reports problems, it should not raise
        raise AssertionError(f"lint raised instead of reporting: {err}") from err
    if any(i.level == "error" for i in issues):
        assert all(i.file or i.rule_id for i in issues if i.level == "error")
        event("lint errors")
        return
    event("evaluated")
    for engine in ("durable", "reference"):
        try:
            ev = imgpath.evaluate({"school": {"country": "IN"}, "interest": {"states": ["TX"]}}, as_of=AS_OF,
                                  rulebook=book, engine=engine)
            ev.to_dict(missing=False)
        except RuleError as err:
            assert err.file and err.rule_id, f"RuleError at evaluation without file and rule: {err}"


@FUZZ
@given(data=rule_files())
def test_rule_files_load_or_fail_with_rule_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "sources.toml").write_text(SOURCES)
        (folder / "conclusions.toml").write_text(CONCLUSIONS)
        (folder / "data").mkdir()
        (folder / "data" / "states.toml").write_text(TABLE)
        (folder / "r.toml").write_bytes(data)
        with watchdog():
            _check(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 < MAX_RSS_MB


@FUZZ
@given(key=st.sampled_from(["table", "columns", "row", "cell"]), value=values)
def test_table_files_load_or_fail_with_rule_error(key: str, value: Any) -> None:
    table = {
        "table": TABLE.replace('[table]\nname = "states"', f'[table]\nname = "states"\nextra = {toml_value(value)}'),
        "columns": TABLE.replace('years = "number"', f"years = {toml_value(value)}"),
        "row": TABLE.replace("[states.NY]\nyears = 3", f"[states.NY]\nyears = 3\nzz = {toml_value(value)}"),
        "cell": TABLE.replace("[states.NY]\nyears = 3", f"[states.NY]\nyears = {toml_value(value)}"),
    }[key]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "sources.toml").write_text(SOURCES)
        (folder / "conclusions.toml").write_text(CONCLUSIONS)
        (folder / "data").mkdir()
        (folder / "data" / "states.toml").write_text(table)
        (folder / "r.toml").write_text(OTHER_RULES)
        with watchdog():
            _check(folder)
