"""imgpath.parameters and `imgpath params`: every figure of the data, with its window, sources and
confidence; new tables appear without code changes; filters by season, state and date."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import pytest

import imgpath
from imgpath.cli import main
from imgpath.rulebook import load_rulebook, rules_dir
from imgpath.rulebook.model import Series


def test_every_sourced_figure_of_every_table_is_a_parameter() -> None:
    """Every cell, and every step of a dated cell (expected steps included), is a parameter value."""
    book = imgpath.rulebook()
    found = {(p.name, p.key, p.window.start, p.expected) for p in imgpath.parameters()}
    for table in book.tables.values():
        for key, row in table.rows.items():
            for column, cell in row.items():
                steps = cell.steps if isinstance(cell, Series) else (None,)
                if table.columns[column] == "str" and not any((s.cell if s else cell).sources for s in steps):
                    continue  # a label (a state's name) or a free-text note, not a figure
                names = {(n, k) for n, k, _, _ in found}
                assert (f"{table.name}.{column}", key) in names, (table.name, key, column)
                for step in steps:
                    if step is not None:
                        assert (f"{table.name}.{column}", key, step.start, step.expected) in found, (key, step)


def test_a_dated_cell_gives_one_value_per_step_with_its_window() -> None:
    """Tennessee's route status: each step holds from its day to the day before the next reached step."""
    history = [p for p in imgpath.parameters() if p.name == "alt_status.status" and p.key == "TN"]
    assert len(history) >= 2
    reached = [p for p in history if not p.expected]
    for a, b in zip(reached, reached[1:]):
        assert a.window.end == b.window.start - dt.timedelta(days=1)
    assert reached[-1].window.until is None or any(p.expected for p in history)


def test_a_new_table_appears_without_code_changes(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(rules_dir(), root, ignore=shutil.ignore_patterns("scenarios"))
    (root / "data" / "fees.toml").write_text(textwrap.dedent("""
        schema = 1
        [table]
        name = "fees"
        key = "code"
        bind = "for"
        description = "Application fees"
        [table.columns]
        usd = "number"
        [fees.ecfmg_application]
        usd = { value = 160, confidence = "secondary", sources = ["ecfmg-ib-certification"] }
        """))
    book = load_rulebook(root)
    (fee,) = imgpath.parameters("fees", rulebook=book)
    assert (fee.name, fee.key, fee.value, fee.confidence.value, fee.path) == (
        "fees.usd", "ecfmg_application", 160, "secondary", "fees.ecfmg_application.usd")
    assert fee.sources[0].id == "ecfmg-ib-certification" and fee.window.until is None


def test_a_season_value_applies_from_the_day_after_the_previous_match_day() -> None:
    book = imgpath.rulebook()
    (p,) = imgpath.parameters("oet_writing_min", season=2027)
    assert p.window.start == book.tables["seasons"].cell(2026, "match_day").value + dt.timedelta(days=1)
    assert p.window.end == book.tables["seasons"].cell(2027, "match_day").value
    day = book.tables["seasons"].cell(2026, "match_day").value
    assert [x.season for x in imgpath.parameters("oet_writing_min", on=day)] == [2026]
    assert [x.season for x in imgpath.parameters("oet_writing_min", on=day + dt.timedelta(days=1))] == [2027]
    # the season an evaluation reads on that date is the parameter's season
    assert imgpath.evaluate({}, as_of=day + dt.timedelta(days=1)).season == 2027


def test_history_lists_every_season_in_order() -> None:
    history = imgpath.parameters("oet_writing_min").history("seasons.oet_writing_min")
    seasons = [p.season for p in history]
    assert seasons == sorted(seasons) and seasons[0] == 2021 and len(seasons) >= 7
    assert all(p.path == f"seasons.{p.season}.oet_writing_min" for p in history)


def test_filters_by_state_and_dated_records_by_date() -> None:
    tx = imgpath.parameters(state="TX")
    assert tx and {p.state for p in tx} == {"TX"}
    assert {p.name for p in tx} >= {"states.img_gme_years", "states.usmle_max_attempts_per_step"}
    both = imgpath.parameters(state="TX", season=2026)
    assert {p.state for p in both} == {"TX", None} and {p.season for p in both} == {None, 2026}
    lapse = imgpath.parameters("conrad30.lapses")
    assert lapse and all(p.window.start > dt.date(2025, 1, 1) for p in lapse)
    in_force = imgpath.parameters("conrad30.authorized", on=dt.date(2025, 10, 15))
    assert list(in_force) == []  # the 2025 lapse: no authorisation in force
    assert len(imgpath.parameters("conrad30.authorized", on=dt.date(2025, 12, 1))) == 1


def test_unknown_names_and_states_are_refused_with_a_suggestion() -> None:
    with pytest.raises(imgpath.QueryError, match="did you mean 'oet_writing_min'"):
        imgpath.parameters("oet_writng_min")
    with pytest.raises(imgpath.QueryError, match="no parameter for state 'XX'"):
        imgpath.parameters(state="XX")
    assert len(imgpath.parameters(season=1990)) == 0
    assert "holds seasons 2021" in str(imgpath.parameters(season=1990))


def test_a_reform_shows_in_the_parameters_of_its_rulebook() -> None:
    reform = imgpath.rulebook().with_parameters({"states.TX.img_gme_years": 3})
    (p,) = imgpath.parameters("states.TX.img_gme_years", rulebook=reform)
    assert (p.value, p.note) == (3, "reform")
    assert imgpath.parameters("states.TX.img_gme_years")[0].value == 2


def test_renderings() -> None:
    p = imgpath.parameters("oet_writing_min")
    doc = json.loads(json.dumps(p.to_dict()))
    assert doc["format"] == "imgpath.parameters/1" and doc["parameters"][0]["window"]["from"] == "2020-03-21"
    assert doc["rulebook"]["digest"] == imgpath.rulebook().digest
    text = str(p)
    assert "seasons.oet_writing_min" in text and "season 2027" in text and "2026-03-21 – 2027-03-19" in text
    html = p._repr_html_()
    assert "<table>" in html and "iatrox-2026-oet" in html
    pd = pytest.importorskip("pandas")
    frame = p.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame["season"]) == [x.season for x in p]


def test_the_params_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "oet_writing_min", "--season", "2027"]) == 0
    out = capsys.readouterr().out
    assert "seasons.oet_writing_min" in out and "300" in out and "unconfirmed" in out
    assert main(["params", "img_gme_years", "--state", "TX", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(x["name"], x["key"], x["value"]) for x in doc["parameters"]] == [("states.img_gme_years", "TX", 2)]
    assert main(["params", "--as-of", "2026-01-15", "--format", "json"]) == 0
    seasons = {x["season"] for x in json.loads(capsys.readouterr().out)["parameters"]}
    assert seasons == {None, 2026}
    assert main(["params", "oet_writng_min"]) == 2
    assert "did you mean 'oet_writing_min'" in capsys.readouterr().err
