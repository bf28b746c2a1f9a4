"""Loading rules: bad files fail with file, rule id and text; the linter finds what loading cannot."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import attrs
import pytest

import imgpath
from imgpath.errors import RuleError
from imgpath.rulebook import load_rulebook, rules_dir

MINI_SOURCES = """
[src-a]
url = "https://example.org/a"
title = "A"
publisher = "P"
kind = "primary"
retrieved = 2026-01-01

[src-b]
url = "https://example.org/b"
title = "B"
publisher = "P"
kind = "secondary"
"""
MINI_CONCLUSIONS = """
[img]
description = "x"
[other]
description = "y"
"""


def book_with(tmp_path: Path, rules: str, *, sources: str = MINI_SOURCES,
              conclusions: str = MINI_CONCLUSIONS) -> Path:
    (tmp_path / "sources.toml").write_text(sources)
    (tmp_path / "conclusions.toml").write_text(conclusions)
    (tmp_path / "r.toml").write_text(textwrap.dedent(rules))
    return tmp_path


GOOD = """
[[rule]]
id = "a.one"
title = "t"
when = ["school.country != 'US'"]
then = { conclusion = "img" }
sources = ["src-a"]
confidence = "primary"
digest = ["R1.1"]

[[rule]]
id = "a.two"
title = "t"
when = ["img"]
then = { conclusion = "other" }
sources = ["src-b"]
confidence = "secondary"
digest = ["R1.1"]
"""


class TestLoading:
    def test_default_rulebook_loads_and_is_cached(self) -> None:
        """The packaged rulebook loads once per process."""
        assert imgpath.rulebook() is imgpath.rulebook()
        assert len(imgpath.rulebook().rules) > 100

    def test_small_rulebook_evaluates(self, tmp_path: Path) -> None:
        """A rulebook from any folder can be evaluated with."""
        book = load_rulebook(book_with(tmp_path, GOOD))
        ev = imgpath.evaluate({"school": {"country": "IN"}}, rulebook=book)
        assert ev.verdict("other") is imgpath.Verdict.YES
        assert ev.conclusion("other").confidence == "secondary"

    @pytest.mark.parametrize(("mutation", "message"), [
        (("school.country != 'US'", "school.contry != 'US'"), "did you mean 'country'"),
        (("school.country != 'US'", "__import__('os')"), "names starting with '_'"),
        (("school.country != 'US'", "[x for x in exams]"), "comprehensions"),
        (("school.country != 'US'", "lambda: 1"), "lambdas"),
        (("school.country != 'US'", "open('x')"), "keyword arguments only"),
        (("school.country != 'US'", "exams[0].date"), "Subscript"),
        (("school.country != 'US'", "school.country ="), "not a valid expression"),
        (('conclusion = "img"', 'conclusion = "imgg"'), "did you mean 'img'"),
        (('sources = ["src-a"]', 'sources = ["src-z"]'), "unknown source"),
        (('confidence = "primary"', 'confidence = "certain"'), "confidence must be"),
        (("when = [\"img\"]", "when = [\"imgs\"]"), "unknown name"),
        (("school.country != 'US'", "any(e in exams, e.exam == 'stepone')"), "can never match"),
    ])
    def test_bad_rule_names_file_rule_and_text(self, tmp_path: Path, mutation: tuple[str, str], message: str) -> None:
        """A bad rule fails to load with the file, the rule id and the offending text."""
        old, new = mutation
        with pytest.raises(RuleError) as info:
            load_rulebook(book_with(tmp_path, GOOD.replace(old, new, 1)))
        text = str(info.value)
        assert message in text
        assert "r.toml" in text and "rule a." in text

    def test_duplicate_ids(self, tmp_path: Path) -> None:
        """Two rules with one id are refused."""
        with pytest.raises(RuleError, match="duplicate rule id"):
            load_rulebook(book_with(tmp_path, GOOD + GOOD))

    def test_cycle_through_negation(self, tmp_path: Path) -> None:
        """A conclusion that depends on its own negation is a load (compile) error."""
        rules = GOOD.replace('when = ["img"]', 'when = ["not other"]')
        with pytest.raises(RuleError, match="cycle through negation"):
            load_rulebook(book_with(tmp_path, rules))


class TestLint:
    def test_packaged_rulebook_is_clean(self) -> None:
        """CI fails on any lint error; the packaged rules have none."""
        assert [str(i) for i in imgpath.rulebook().lint() if i.level == "error"] == []

    def test_unused_source_and_unreachable_conclusion(self, tmp_path: Path) -> None:
        """Unused sources and conclusions no rule reaches are reported."""
        conclusions = MINI_CONCLUSIONS + "[never]\ndescription = 'z'\n"
        sources = MINI_SOURCES + '[src-c]\nurl = "https://e.org/c"\ntitle = "C"\npublisher = "P"\nkind = "primary"\n'
        issues = load_rulebook(book_with(tmp_path, GOOD, sources=sources, conclusions=conclusions)).lint()
        codes = {i.code for i in issues if i.level == "error"}
        assert {"unused-source", "unreachable-conclusion"} <= codes

    def test_overlapping_versions(self, tmp_path: Path) -> None:
        """Versions of one rule (one group) whose effective windows overlap are reported."""
        versions = GOOD.replace('digest = ["R1.1"]\n', 'digest = ["R1.1"]\ngroup = "g"\n'
                                'effective = { from = 2020-01-01, until = 2022-12-31 }\n', 1)
        versions += GOOD.replace('"a.one"', '"a.three"').replace('"a.two"', '"a.four"').replace(
            'digest = ["R1.1"]\n', 'digest = ["R1.1"]\ngroup = "g"\neffective = { from = 2022-06-01 }\n', 1)
        issues = load_rulebook(book_with(tmp_path, versions)).lint()
        assert any(i.code == "overlapping-versions" for i in issues)

    def test_confidence_above_sources(self, tmp_path: Path) -> None:
        """A rule claiming primary confidence on secondary sources only is flagged."""
        rules = GOOD.replace('sources = ["src-b"]\nconfidence = "secondary"', 'sources = ["src-b"]\nconfidence = "primary"')
        issues = load_rulebook(book_with(tmp_path, rules)).lint()
        assert any(i.code == "confidence-above-sources" for i in issues)

    def test_planning_data_names_real_conclusions(self, tmp_path: Path) -> None:
        """Planning data (data/actions.toml) naming an unknown conclusion, goal or advice value is an error."""
        book_with(tmp_path, GOOD, conclusions=MINI_CONCLUSIONS + '[advice]\nkind = "set"\nvalues = ["a", "b"]\n'
                  'description = "v"\n')
        (tmp_path / "r.toml").write_text(textwrap.dedent(GOOD) + textwrap.dedent('''
            [[rule]]
            id = "a.advice"
            title = "t"
            when = ["img"]
            then = { conclusion = "advice", value = "a" }
            sources = ["src-a"]
            confidence = "primary"
            digest = ["R1.1"]
            '''))
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "actions.toml").write_text(textwrap.dedent('''
            [actions.x]
            action = "do x"
            requires = "imgg"
            [advice]
            conclusion = "advice"
            goals = ["img", "othr"]
            [advice.text]
            a = "fine"
            c = "not a value"
            '''))
        errors = [i.message for i in load_rulebook(tmp_path).lint() if i.level == "error"]
        assert any("actions.x.requires" in m and "'img'" in m for m in errors)
        assert any("advice.goals" in m and "'othr'" in m for m in errors)
        assert any("advice.text.c" in m for m in errors)
        assert not any("advice.text.a" in m or "'img', which" in m for m in errors)


def test_rules_dir_is_the_checkout_or_the_package() -> None:
    """The rules folder is found both in a checkout and in an installed wheel."""
    assert (rules_dir() / "conclusions.toml").exists()
    assert shutil.which("imgpath") or True


# --------------------------------------------------------------------------- reforms

def test_with_parameters_changes_one_figure_and_leaves_the_base_alone() -> None:
    base = imgpath.rulebook()
    reform = base.with_parameters({"states.TX.img_gme_years": 3, "seasons.2027.oet_writing_min": 350},
                                  name="what if")
    cell = reform.tables["states"].cell("TX", "img_gme_years")
    assert (cell.value, cell.note) == (3, "reform")
    assert cell.sources == base.tables["states"].cell("TX", "img_gme_years").sources  # kept unless given
    assert base.tables["states"].cell("TX", "img_gme_years").value == 2
    assert reform.tables["seasons"].cell(2027, "oet_writing_min").value == 350
    assert reform.digest != base.digest and reform.name == "what if"
    doc = {"school": {"country": "IN", "graduated": "2020-06-30"}, "interest": {"states": ["TX"]}}
    assert imgpath.evaluate(doc, rulebook=reform).value("gme_years_required", state="TX") == 3
    assert imgpath.evaluate(doc, rulebook=base).value("gme_years_required", state="TX") == 2


@pytest.mark.parametrize(("change", "message"), [
    ({"states.TX.img_gme_yrs": 3}, "no column 'img_gme_yrs'; did you mean 'img_gme_years'"),
    ({"state.TX.img_gme_years": 3}, "no table 'state'; did you mean 'states'"),
    ({"states.XX.img_gme_years": 3}, "has no row 'XX'"),
    ({"seasons.abc.oet_writing_min": 350}, "rows of table seasons are whole numbers"),
    ({"seasons.2031.oet_writing_min": 350}, "has no row '2031'"),
    ({"states.TX.img_gme_years": "three"}, "expected a number"),
    ({"states.TX": 3}, "write table.row.column"),
])
def test_with_parameters_refuses_what_is_not_in_the_tables(change: dict, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        imgpath.rulebook().with_parameters(change)


def test_with_parameters_adds_a_row_only_when_asked() -> None:
    reform = imgpath.rulebook().with_parameters({"seasons.2031.oet_writing_min": 350}, add_rows=True)
    assert reform.tables["seasons"].cell(2031, "oet_writing_min").value == 350


def test_with_rules_replaces_a_rule_by_id_from_a_file(tmp_path: Path) -> None:
    base = imgpath.rulebook()
    old = base.rule("alt.tx.status.in_force")
    (tmp_path / "reform.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "alt.tx.status.in_force"
        title = "What if Texas's route had opened on 2026-02-01"
        when = []
        then = { conclusion = "alt_pathway_status", args = { state = "'TX'" }, value = "in_force" }
        effective = { from = 2026-02-01 }
        sources = ["tx-tmb-provisional-page"]
        confidence = "unconfirmed"
        """))
    closed = attrs.evolve(base.rule("alt.tx.status.enacted_rules_adopted"), effective_until=dt.date(2026, 1, 31))
    reform = base.with_rules(tmp_path / "reform.toml").with_rules([closed])
    assert len(reform.rules) == len(base.rules)
    assert reform.rule("alt.tx.status.in_force").effective_from.isoformat() == "2026-02-01"
    assert base.rule("alt.tx.status.in_force") == old
    doc = {"interest": {"states": ["TX"]}}
    on = dt.date(2026, 6, 1)
    assert imgpath.evaluate(doc, as_of=on, rulebook=reform).value("alt_pathway_status", state="TX") == "in_force"
    assert imgpath.evaluate(doc, as_of=on, rulebook=base).value("alt_pathway_status", state="TX") == \
        "enacted_not_operational"


def test_with_rules_checks_the_new_rules_like_any_rule_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(textwrap.dedent("""
        [[rule]]
        id = "reform.bad"
        title = "t"
        when = ["img"]
        then = { conclusion = "imgg" }
        sources = ["nowhere"]
        confidence = "primary"
        """))
    with pytest.raises(RuleError, match="imgg|nowhere"):
        imgpath.rulebook().with_rules(tmp_path / "bad.toml")
