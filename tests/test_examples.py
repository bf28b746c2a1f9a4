"""The bundled applicant documents (examples/*.toml): each persona gets the verdicts the law gives it.

Every expectation below is written from the law (the rules digest and the contract), not copied from
the library's output: the ones that define each persona (is this an IMG, which NRMP category, is a
visa needed, which Pathway, may they be ranked or start training, which licensure route is open).
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

import imgpath
from imgpath import Verdict

YES, NO, UNKNOWN = Verdict.YES, Verdict.NO, Verdict.UNKNOWN
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = sorted(EXAMPLES.glob("*.toml"))
ENGINES = ("durable", "reference")
_NOVALUE = object()


@attrs.frozen
class E:
    """One expected answer: a conclusion's verdict and, optionally, its value or members of its value."""

    name: str
    verdict: Verdict
    args: Mapping[str, Any] = attrs.field(factory=dict)
    value: Any = _NOVALUE
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    why: str = ""

    def problems(self, ev: imgpath.Evaluation) -> list[str]:
        label = self.name + (f"({', '.join(f'{k}={v!r}' for k, v in self.args.items())})" if self.args else "")
        got = ev.verdict(self.name, **self.args)
        value = ev.value(self.name, **self.args)
        out = []
        if got is not self.verdict:
            out.append(f"{label}: verdict {got.value}, expected {self.verdict.value}")
        if self.value is not _NOVALUE and value != self.value:
            out.append(f"{label}: value {value!r}, expected {self.value!r}")
        for member in self.includes:
            if member not in (value or ()):
                out.append(f"{label}: {member!r} missing from {value!r}")
        for member in self.excludes:
            if member in (value or ()):
                out.append(f"{label}: {member!r} must not be in {value!r}")
        if out and self.why:
            out[-1] += f"   [law: {self.why}]"
        return out


# Key verdicts per example file, from the law (digest rule ids in `why`).
EXPECT: dict[str, list[E]] = {
    "india-img-2027.toml": [
        E("img", YES, why="R1.1: school in India"),
        E("nrmp_category", YES, value="non_us_citizen_img", why="R1.5"),
        E("pathway_eligible", YES, {"pathway": 1}, why="R2.7: unrestricted Indian license issued after the cutoff"),
        E("match_eligible", YES, why="R3.2.1: S1, S2CK, 2027 Pathway and OET met before the ROL deadline"),
        E("ecfmg_certified", NO, why="[ecfmg] present without `certified`: no certificate yet"),
        E("may_start_acgme_residency", NO, why="R3.3.2: no valid ECFMG certificate"),
        E("visa_needed", YES, why="R4.1: Indian citizen, no U.S. status"),
        E("gme_years_required", YES, {"state": "TX"}, value=2, why="digest 6.2: Texas asks 2 years of IMGs"),
        E("licensable", NO, {"state": "TX"}, why="R6.1.1: no U.S. GME, no Step 3"),
    ],
    "us-citizen-caribbean-img.toml": [
        E("img", YES, why="R1.1: Grenada is outside the U.S. and Canada, whatever the citizenship"),
        E("nrmp_category", YES, value="us_citizen_img", why="R1.5"),
        E("ecfmg_eligible", YES, why="R2.2.2: sponsor note covers the 2026 graduation"),
        E("pathway_eligible", YES, {"pathway": 3}, why="R2.7: WFME-recognized accreditor, recent graduate, no license"),
        E("ecfmg_requirements_met", YES, why="R2.5.1, R2.5.5: S1, S2CK, Pathway 3, OET, verified diploma"),
        E("match_eligible", YES, why="R3.2.1"),
        E("ecfmg_certified", NO, why="certificate not yet issued"),
        E("may_start_acgme_residency", NO, why="R3.3.2: no certificate in hand yet"),
        E("visa_needed", NO, why="R4.1.1: U.S. citizen"),
        E("h1b_fee_applies", NO, why="R4.3.3: no H-1B petition for a U.S. citizen"),
    ],
    "green-card-img.toml": [
        E("img", YES, why="R1.1"),
        E("nrmp_category", YES, value="non_us_citizen_img", why="R1.5: permanent residents are non-U.S.-citizen IMGs"),
        E("visa_needed", NO, why="R4.1.1: lawful permanent resident"),
        E("j1_eligible", NO, why="R4.2: a permanent resident is not an exchange visitor"),
        E("h1b_eligible", NO, why="R4.1.1: needs no visa"),
        E("ecfmg_certified", YES, why="R2.8.2: Pathway certificate valid until 2027-12-31"),
        E("pathway_eligible", NO, {"pathway": 1}, why="R2.5.4: already certified"),
        E("may_start_acgme_residency", YES, why="R3.3.1(c): certificate valid on 2026-07-01"),
    ],
    "mcgill-graduate.toml": [
        E("img", NO, why="R1.2, R5.1.2: LCME-accredited Canadian school, graduated before 2025-06-30"),
        E("nrmp_category", YES, value="canadian", why="R5.1.2"),
        E("ecfmg_eligible", NO, why="R5.1.2: no ECFMG certificate needed (or possible) for a Canadian school"),
        E("match_eligible", YES, why="R3.2.1: U.S./Canadian graduates may be ranked"),
        E("may_start_acgme_residency", YES, why="R3.3.1(a): graduate of an LCME-accredited Canadian school"),
        E("step3_eligible", YES, why="R2.9.4: LCME-accredited Canadian MD with S1 and S2CK"),
        E("visa_needed", YES, why="R4.1: Canadian citizen without U.S. status"),
        E("tn_allowed_for_residency", NO, why="R4.5.1: TN excludes clinical training"),
        E("j1_eligible", YES, why="R4.2.2: ACGME position and a Statement of Need"),
        E("gme_years_required", YES, {"state": "NY"}, value=1, why="digest 6.2: the U.S./Canadian figure applies"),
    ],
    "canadian-cacms-graduate-2026.toml": [
        E("img", UNKNOWN, why="R1.6, R5.1.3: the sources conflict for CACMS-only graduates after 2025-06-30"),
        E("nrmp_category", UNKNOWN, why="R5.1.3"),
        E("match_eligible", UNKNOWN, why="R5.1.3: depends on the unresolved IMG status"),
        E("may_start_acgme_residency", UNKNOWN, why="R3.3.1, R5.1.3: ACGME wording on CACMS unconfirmed"),
        E("gme_years_required", UNKNOWN, {"state": "WA"}, value=None, why="IMG and U.S. figures differ"),
        E("ecfmg_exams_met", YES, why="R2.5.1: S1 and S2CK passed"),
        E("visa_needed", YES, why="R4.1: Canadian citizen"),
        E("tn_allowed_for_residency", NO, why="R4.5.1"),
    ],
    "step2cs-era-certified-img.toml": [
        E("ecfmg_certified", YES, why="R2.8.1: CS-based standard certificate, no expiry"),
        E("ecfmg_clinical_skills_met", YES, why="R2.5.2: Step 2 CS pass"),
        E("ecfmg_communication_met", YES, why="R2.5.4: a CS pass means no OET"),
        E("pathway_eligible", NO, {"pathway": 1}, why="R2.5.4: a valid CS pass or certificate excludes the Pathways"),
        E("pathway_eligible", NO, {"pathway": 6}, why="R2.5.4"),
        E("match_eligible", YES, why="R3.2.1"),
        E("may_start_acgme_residency", YES, why="R3.3.1(c)"),
        E("step3_eligible", YES, why="R2.9.4: certified IMG"),
        E("subject_to_212e", NO, why="R4.2.4: no J-1 training"),
    ],
    "pathway6-cs-failure.toml": [
        E("pathway_eligible", YES, {"pathway": 6}, why="R2.5.6: failed CS, never passed"),
        E("pathway_eligible", NO, {"pathway": 1}, why="R2.5.6: Pathway 6 only, despite a qualifying license"),
        E("pathway_eligible", NO, {"pathway": 3}, why="R2.5.6"),
        E("usmle_barred", NO, why="R2.9.1: two CS failures are under the limit of four"),
        E("ecfmg_exams_met", YES, why="R2.5.1"),
        E("ecfmg_communication_met", NO, why="R2.5.5: no CS pass and no OET"),
        E("match_eligible", NO, why="R3.2.1: clinical and communication skills not yet met"),
        E("ecfmg_certified", NO, why="no certificate"),
    ],
    "h1b-step3-abroad.toml": [
        E("h1b_eligible", YES, why="R4.3.1: all three Steps, certified, H-1B-sponsoring program"),
        E("h1b_fee_applies", YES, why="R4.3.3: new petition after 2025-09-21 for someone abroad without an H-1B visa"),
        E("visa_needed", YES, why="R4.1"),
        E("j1_eligible", NO, why="R4.2.2(c): no Statement of Need"),
        E("subject_to_212e", NO, why="R4.2.4: no J-1 training"),
        E("may_start_acgme_residency", YES, why="R3.3.1(c): certificate valid on 2026-07-01"),
        E("step3_eligible", YES, why="R2.9.4"),
    ],
    "usmle-attempt-limit.toml": [
        E("usmle_barred", YES, why="R2.9.1: four Step 1 attempts without a pass, applications after 2021-07-01"),
        E("ecfmg_exams_met", NO, why="R2.5.1: Step 1 never passed"),
        E("match_eligible", NO, why="R3.2.1, R2.9.1"),
        E("step3_eligible", NO, why="R2.9.4"),
        E("ecfmg_certified", NO, why="R2.9.1 consequence: the exam requirement can never be met"),
        E("may_start_acgme_residency", NO, why="R3.3.2"),
    ],
    "daca-img.toml": [
        E("img", YES, why="R1.1: Barbados"),
        E("nrmp_category", YES, value="non_us_citizen_img", why="R1.5"),
        E("visa_needed", NO, why="R4.1.2: DACA with an EAD"),
        E("h1b_eligible", NO, why="needs no visa"),
        E("may_start_acgme_residency", YES, why="R3.3.1(c): certificate valid on 2026-07-01"),
        E("ecfmg_certified", YES, why="R2.8.2"),
    ],
    "tennessee-alternative-route.toml": [
        E("alt_pathway_status", YES, {"state": "TN"}, value="in_force", why="R7.0: applications open since 2025-03"),
        E("alt_pathway_eligible", YES, {"state": "TN"},
          why="digest 7 (TN): ECFMG, USMLE, 3 of the last 5 years abroad, work authorization, offer from an ACGME sponsor"),
        E("licensable", NO, {"state": "TN"}, why="digest 6.2: 3 years of U.S. or Canadian GME needed on the traditional route"),
        E("gme_years_required", YES, {"state": "TN"}, value=3, why="digest 6.2"),
        E("visa_needed", NO, why="R4.1.1: permanent resident"),
    ],
    "texas-doctor-act.toml": [
        E("alt_pathway_status", YES, {"state": "TX"}, value="in_force", why="R7.0: TMB application page live by 2026-11-25"),
        E("alt_pathway_eligible", YES, {"state": "TX"},
          why="digest 7 (TX): ECFMG-eligible degree, foreign license, residency abroad, JP, work authorization, hospital offer, S1, S2CK"),
        E("ecfmg_eligible", YES, why="R2.2.2"),
        E("ecfmg_certified", NO, why="the DOCTOR Act needs ECFMG eligibility, not a certificate"),
        E("licensable", NO, {"state": "TX"}, why="digest 6.2: 2 years of GME and Step 3 on the traditional route"),
        E("nrmp_category", YES, value="us_citizen_img", why="R1.5"),
        E("visa_needed", NO, why="R4.1.1: U.S. citizen"),
    ],
    "j1-resident-waiver.toml": [
        E("subject_to_212e", YES, why="R4.2.4: GME on an ECFMG J-1"),
        E("j1_waiver_options", YES, includes=("hardship", "iga", "persecution"), excludes=("no_objection",),
          why="R4.2.5: U.S.-citizen spouse; no-objection never available for GME"),
        E("ecfmg_certified", YES, why="R2.8.2: 12 months of ACGME training make the certificate permanent"),
        E("visa_needed", YES, why="R4.1: J-1 status"),
        E("step3_eligible", YES, why="R2.9.4"),
    ],
}

# The same persona on the two sides of a change in the law (rule windows by as_of).
DATED: list[tuple[str, dt.date, E]] = [
    ("h1b-step3-abroad.toml", dt.date(2025, 9, 20), E("h1b_fee_applies", NO, why="R4.3.3: before 2025-09-21")),
    ("h1b-step3-abroad.toml", dt.date(2025, 9, 21), E("h1b_fee_applies", YES, why="R4.3.3: from 2025-09-21")),
    ("texas-doctor-act.toml", dt.date(2026, 11, 24),
     E("alt_pathway_status", YES, {"state": "TX"}, value="enacted_not_operational", why="R7.0")),
    ("texas-doctor-act.toml", dt.date(2026, 11, 24),
     E("alt_pathway_eligible", NO, {"state": "TX"}, why="contract 6.5: NO until in force")),
    ("tennessee-alternative-route.toml", dt.date(2025, 3, 30),
     E("alt_pathway_eligible", NO, {"state": "TN"}, why="R7.0: applications not yet open")),
]

# What-if: one fact changed.
WHAT_IF: list[tuple[str, dict[str, Any], E]] = [
    ("h1b-step3-abroad.toml", {"person": {"in_us": True, "us_status": "h1b", "work_authorized": True}},
     E("h1b_fee_applies", NO, why="R4.3.3: holders of a valid H-1B visa are exempt")),
    ("daca-img.toml", {"person": {"work_authorized": False}},
     E("visa_needed", YES, why="R4.1.2, contract 6.8: DACA without an EAD")),
    ("tennessee-alternative-route.toml", {"offer": {"employer_has_acgme_programs": False}},
     E("alt_pathway_eligible", NO, {"state": "TN"}, why="digest 7 (TN): provider with accredited residency programs")),
]


@functools.cache
def _evaluate(name: str, engine: str, as_of: dt.date | None = None) -> imgpath.Evaluation:
    return imgpath.evaluate(imgpath.load_applicant(EXAMPLES / name), as_of=as_of, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_verdicts(name: str, engine: str) -> None:
    """Each example persona gets the verdicts the law gives it, on both engines."""
    ev = _evaluate(name, engine)
    problems = [p for e in EXPECT[name] for p in e.problems(ev)]
    assert not problems, f"{name} ({engine}, as of {ev.as_of}):\n  " + "\n  ".join(problems)


def test_every_example_has_expectations() -> None:
    """Every examples/*.toml file has an entry in the expectations table, and every entry a file."""
    files = {p.name for p in FILES}
    assert files == set(EXPECT), (f"without expectations: {sorted(files - set(EXPECT))}; "
                                  f"expectations without a file: {sorted(set(EXPECT) - files)}")


def test_expectations_are_substantial() -> None:
    """Each persona is pinned by at least three expected verdicts."""
    thin = {name: len(es) for name, es in EXPECT.items() if len(es) < 3}
    assert not thin, f"fewer than 3 expectations: {thin}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_document_shape(path: Path) -> None:
    """Each example opens with a comment naming its persona and carries its own as_of date."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{path.name} must start with a comment saying who it is"
    doc = tomllib.loads(text)
    assert isinstance(doc.get("as_of"), dt.date), f"{path.name} needs an as_of date"
    assert doc.get("interest", {}).get("states"), f"{path.name} should name its states of interest"


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_engines_agree_on_examples(name: str) -> None:
    """The durable-rules engine and the reference evaluator give identical conclusions for each example."""
    a = _evaluate(name, "durable").to_dict()["conclusions"]
    b = _evaluate(name, "reference").to_dict()["conclusions"]
    assert a == b


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "as_of", "expect"), DATED,
                         ids=[f"{n}@{d}:{e.name}" for n, d, e in DATED])
def test_examples_across_law_changes(name: str, as_of: dt.date, expect: E, engine: str) -> None:
    """A persona evaluated on either side of a dated change in the law gets that date's answer."""
    ev = _evaluate(name, engine, as_of)
    assert not expect.problems(ev), expect.problems(ev)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "facts", "expect"), WHAT_IF,
                         ids=[f"{n}:{e.name}" for n, _, e in WHAT_IF])
def test_example_what_ifs(name: str, facts: dict[str, Any], expect: E, engine: str) -> None:
    """Changing one deciding fact of a persona (with_facts) flips the conclusion it decides."""
    before = _evaluate(name, engine)
    after = before.with_facts(facts)
    assert not expect.problems(after), expect.problems(after)
    assert any(c.name == expect.name for c in imgpath.diff(before, after))
