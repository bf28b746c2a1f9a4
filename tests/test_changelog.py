"""The changelog of verdicts (docs/changelog.md) is complete and true: no probe's verdict or value
changed since its newest section was recorded, and that section's answers are the current ones."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import imgpath
from imgpath._internal.html import answer

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("gen_changelog", ROOT / "docs" / "_ext" / "gen_changelog.py")
gen = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(gen)  # type: ignore[union-attr]


def _newest_section() -> tuple[str, list[list[str]]]:
    page = gen.PAGE.read_text()
    sections = page.partition(gen.MARKER)[2].split("\n## ")
    body = sections[1] if sections[0].strip() == "" else sections[0]
    rows = [[c.strip().strip("`") for c in line.strip("|").split(" | ")]
            for line in body.splitlines() if line.startswith("| `")]
    return body, rows


def test_no_verdict_changed_since_the_newest_section() -> None:
    drifted = gen.drift()
    assert not drifted, (
        f"{len(drifted)} probe(s) now give other verdicts or values than when docs/changelog.md was last "
        f"recorded (e.g. {drifted[:3]}). If the rules changed on purpose, commit and run: python "
        "docs/_ext/gen_changelog.py record --since <the revision at the head of the newest section> --title "
        "'YYYY-MM-DD: what changed'")


def test_the_newest_section_gives_the_current_answers() -> None:
    body, rows = _newest_section()
    head = re.search(r"→ `[^`]+` \(rulebook `([0-9a-f]+)`\)", body)
    assert head, "the newest section names the rulebook it leads to"
    probes = dict(gen.probes())
    for probe, _, label, _, after, _ in rows:
        if probe not in probes:
            continue  # a probe removed since
        ev = imgpath.evaluate(probes[probe], engine="reference")
        (c,) = [c for c in ev.conclusions if c.label == label]
        assert answer(c.verdict.value, c.value, c.kind) == after.replace("\\|", "|"), (probe, label)


def test_the_fingerprints_cover_the_probes() -> None:
    import json

    recorded = json.loads(gen.FINGERPRINTS.read_text())["probes"]
    current = {p for p, _ in gen.probes()}
    assert len(recorded) >= 290 and len(set(recorded) & current) >= 0.9 * len(recorded)


def test_a_change_of_the_law_is_drift() -> None:
    reform = imgpath.rulebook().with_parameters({"states.TX.img_gme_years": 3})
    probes = {"examples/india-img-2027.toml", "examples/green-card-img.toml"}
    assert gen.drift(reform, only=probes) == ["examples/india-img-2027.toml"]  # she asks about Texas
    assert gen.drift(only=probes) == []


def test_an_edited_probe_document_is_a_new_probe_not_drift(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = gen.probes

    def edited():  # type: ignore[no-untyped-def]
        for ident, applicant in original():
            if ident == "examples/india-img-2027.toml":
                applicant = applicant.with_facts({"interest": {"states": ["NY"]}})
            yield ident, applicant

    monkeypatch.setattr(gen, "probes", edited)
    reform = imgpath.rulebook().with_parameters({"states.TX.img_gme_years": 3})
    assert gen.drift(reform, only={"examples/india-img-2027.toml"}) == []
