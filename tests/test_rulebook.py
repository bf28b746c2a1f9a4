"""Loading rules: bad files fail with file, rule id and text; the linter finds what loading cannot."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

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
        (("school.country != 'US'", "open('x')"), "unknown function or definition open()"),
        (("school.country != 'US'", "exams[0].date"), "Subscript"),
        (("school.country != 'US'", "school.country ="), "not a valid expression"),
        (('conclusion = "img"', 'conclusion = "imgg"'), "did you mean 'img'"),
        (('sources = ["src-a"]', 'sources = ["src-z"]'), "unknown source"),
        (('confidence = "primary"', 'confidence = "certain"'), "confidence must be"),
        (("when = [\"img\"]", "when = [\"imgs\"]"), "unknown name"),
        (("school.country != 'US'", "any(e in exams, e.exam == 'stepone')"), "can never match"),
        # issue 14 #9: what lint used to pass and evaluation failed on, or silently changed
        (("school.country != 'US'", "school.country > 3"), "can never match"),
        (("school.country != 'US'", "school.country == 'India'"), "two-letter country codes"),
        (("school.country != 'US'", "any(e in exams, e.score > 0.000015)"), "more precision than the engine keeps"),
        (("school.country != 'US'", "any(e in exams, e.score > 150000000000000000000)"), "too large"),
        (("school.country != 'US'", "any(e in exams, e.score > 0.1234567891)"), "more precision"),
        (('then = { conclusion = "img" }', 'then = { conclusion = "img", args = { state = ["TX"] } }'),
         "must be a single value"),
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


    @pytest.mark.parametrize(("cell", "message"), [
        ("18446744073709551617", "too large"),
        ("nan", "not a number the rules can use"),
        ("1.5e-5", "more precision"),
    ])
    def test_table_cells_the_engine_cannot_hold_are_refused(self, tmp_path: Path, cell: str, message: str) -> None:
        book_with(tmp_path, GOOD)
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "t.toml").write_text(textwrap.dedent(f'''
            [table]
            name = "t"
            key = "code"
            bind = "for"
            [table.columns]
            n = "number"
            [t.TX]
            n = {cell}
            '''))
        with pytest.raises(RuleError, match=message) as info:
            load_rulebook(tmp_path)
        assert "t.toml" in str(info.value) and "t.TX.n" in str(info.value)

    def test_conclusion_arguments_outside_their_domain(self, tmp_path: Path) -> None:
        conclusions = MINI_CONCLUSIONS + '[pathway_eligible]\ndescription = "p"\nargs = { pathway = [1, 2] }\n'
        rules = GOOD + GOOD.replace("a.one", "a.three").replace("a.two", "a.four").replace(
            'then = { conclusion = "img" }', 'then = { conclusion = "pathway_eligible", args = { pathway = 1 } }')
        load_rulebook(book_with(tmp_path, rules, conclusions=conclusions))
        with pytest.raises(RuleError, match=r"pathway_eligible\(pathway=99\): pathway is one of \[1, 2\]"):
            load_rulebook(book_with(tmp_path, rules.replace('when = ["img"]', 'when = ["pathway_eligible(pathway=99)"]'),
                                    conclusions=conclusions))

    def test_undecodable_and_deeply_nested_files_name_the_file(self, tmp_path: Path) -> None:
        book_with(tmp_path, GOOD)
        (tmp_path / "r.toml").write_bytes(b'# caf\xe9\n' + textwrap.dedent(GOOD).encode())
        with pytest.raises(RuleError, match=r"r.toml: not UTF-8 text \(byte 0xe9 on line 1\)"):
            load_rulebook(tmp_path)
        (tmp_path / "r.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
        with pytest.raises(RuleError, match="r.toml"):
            load_rulebook(tmp_path)

    def test_typo_in_a_data_file_is_an_error(self, tmp_path: Path) -> None:
        """An unknown key in data/actions.toml used to be ignored silently."""
        book_with(tmp_path, GOOD)
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "actions.toml").write_text(
            '[actions.x]\naction = "do x"\nrequiers = "img"\n')
        with pytest.raises(RuleError, match="unknown key 'requiers'; did you mean 'requires'"):
            load_rulebook(tmp_path)
        (tmp_path / "data" / "actions.toml").write_text(
            '[actions.x]\naction = "do x"\nset = { ecfmg = { certifed = true } }\n')
        with pytest.raises(RuleError, match="has no field 'certifed'; did you mean 'certified'"):
            load_rulebook(tmp_path)


def _cli(*args: str) -> tuple[int, str, str]:
    out = subprocess.run([sys.executable, "-m", "imgpath", *args], capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


def test_reload_picks_up_edited_rules() -> None:
    """importlib.reload(imgpath) in Jupyter loads the rules again (issue 14 #11)."""
    code = ("import importlib, imgpath; a = imgpath.rulebook(); importlib.reload(imgpath); "
            "b = imgpath.rulebook(); assert a is not b; imgpath.rulebook.cache_clear(); "
            "assert imgpath.rulebook() is not b; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


class TestLint:
    def test_stale_sources_warn_and_are_listed(self, tmp_path: Path) -> None:
        """A source last checked more than a year before 'today' is a warning, never an error (issue 13 #7)."""
        import datetime as dt

        from imgpath.lint import stale_sources

        book = load_rulebook(book_with(tmp_path, GOOD))
        assert not [i for i in book.lint(today=dt.date(2026, 6, 1)) if i.code == "stale-source" and "src-a" in i.message]
        issues = book.lint(today=dt.date(2027, 1, 2))
        stale = [i for i in issues if i.code == "stale-source"]
        assert {i.level for i in stale} == {"warning"}
        assert any("'src-a': last checked 2026-01-01, 366 days ago" in i.message for i in stale)
        assert any("'src-b': never checked" in i.message for i in stale)
        assert [sid for sid, _, _ in stale_sources(book, dt.date(2027, 1, 2))] == ["src-b", "src-a"]
        code, out, _ = _cli("rules", "--stale", "--today", "2027-01-02", "--path", str(tmp_path))
        assert code == 0 and "src-a  last checked 2026-01-01 (366 days ago)" in out and "2 of 2 sources" in out

    def test_lint_prints_the_primary_share_per_file(self, tmp_path: Path) -> None:
        from imgpath.lint import primary_share

        book = load_rulebook(book_with(tmp_path, GOOD))
        assert [str(s) for s in primary_share(book)] == ["rules/r.toml: 1/2 primary (50 %)",
                                                          "all rules: 1/2 primary (50 %)"]
        code, out, _ = _cli("rules", "--lint", "--path", str(tmp_path))
        assert "rules/r.toml: 1/2 primary (50 %)" in out and "all rules: 1/2 primary (50 %)" in out

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
    """A reform file replaces alt.status (every state but Texas, from the table) and adds a rule
    opening Texas's route on 2026-02-01; the base rulebook is unchanged."""
    base = imgpath.rulebook()
    old = base.rule("alt.status")
    (tmp_path / "reform.toml").write_text(textwrap.dedent("""
        schema = 2

        [[rule]]
        id = "alt.status"
        title = "Every state's status from the table, except Texas"
        for = { s = "alt_status" }
        when = ["s.code != 'TX'"]
        then = { conclusion = "alt_pathway_status", args = { state = { expr = "s.code" } }, value = { expr = "s.status" } }
        sources = ["fsmb-advisory-recs"]
        confidence = "primary"

        [[rule]]
        id = "reform.tx.open"
        title = "What if Texas's route had opened on 2026-02-01"
        when = []
        then = { conclusion = "alt_pathway_status", args = { state = "TX" }, value = "in_force" }
        effective = { from = 2026-02-01 }
        sources = ["tx-tmb-provisional-page"]
        confidence = "unconfirmed"
        """))
    reform = base.with_rules(tmp_path / "reform.toml")
    assert len(reform.rules) == len(base.rules) + 1
    assert reform.rule("alt.status").title.endswith("except Texas")
    assert reform.rule("reform.tx.open").effective_from.isoformat() == "2026-02-01"
    assert base.rule("alt.status") == old
    doc = {"interest": {"states": ["TX", "TN"]}}
    on = dt.date(2026, 6, 1)
    after = imgpath.evaluate(doc, as_of=on, rulebook=reform)
    before = imgpath.evaluate(doc, as_of=on, rulebook=base)
    assert after.value("alt_pathway_status", state="TX") == "in_force"
    assert before.value("alt_pathway_status", state="TX") == "enacted_not_operational"
    assert after.value("alt_pathway_status", state="TN") == before.value("alt_pathway_status", state="TN")


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
