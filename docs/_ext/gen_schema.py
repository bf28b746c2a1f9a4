"""Regenerate the field tables of docs/reference/schema.md from the attrs model in src/imgpath/facts.py.

Run from the repository root after changing the applicant document:

    python docs/_ext/gen_schema.py > docs/reference/schema.md

Types, allowed values, bounds and what absence means come from the model itself; the one-line
meanings come from DESCRIBE below (a new field without a description stops the script).
"""

from __future__ import annotations

import attrs

from imgpath.facts import MAX_LIST, MAX_STRING, Applicant, key_of

_LISTS = ("exams", "licenses", "training", "practice")

#: One line per field: what it records (contract §3).
DESCRIBE = {
    "as_of": "The date the facts describe. `evaluate(..., as_of=...)` and `--as-of` win over it; "
             "without either, today is used.",
    "person.citizenship": "Every citizenship held.",
    "person.us_status": "U.S. immigration status now.",
    "person.in_us": "Physically in the U.S. now (matters for the H-1B payment).",
    "person.work_authorized": "Holds U.S. work authorization now (an EAD, a visa or a status).",
    "person.us_family": "Has a U.S.-citizen or permanent-resident spouse or child (the hardship waiver).",
    "person.waiver_212e": "Date a waiver of the 212(e) two-year home-residence requirement was granted (v1.1). "
                          "Absent inside a present `[person]`: no waiver. It counts for the H-1B payment when "
                          "granted on or before the petition's filing date (`offer.h1b_petition.filed`, else "
                          "`as_of`); a date after `as_of` is not yet known.",
    "school.name": "Name of the school that granted (or will grant) the basic medical degree; informational.",
    "school.country": "Where the school is. `PR` counts as the U.S.; `CA` is Canada.",
    "school.degree": "The degree. When absent, LCME accreditation implies MD and COCA implies DO.",
    "school.wdoms_listed": "Listed in the World Directory of Medical Schools.",
    "school.accreditors": "Accrediting agencies: `LCME`, `COCA`, `CACMS`, or the agency's name abroad (`NMC`...).",
    "school.wfme_recognized": "The school's accreditor is recognised by WFME (Pathway 3; since 2024 it no "
                              "longer decides ECFMG eligibility).",
    "school.ncfmea_comparable": "The accreditor has NCFMEA comparability (Pathway 4).",
    "school.joint_lcme_degree": "The degree is issued jointly with an LCME-accredited school (Pathway 5).",
    "school.ecfmg_note": "The WDOMS ECFMG sponsor note: a table `{ from = 1990 }` (optionally with `to`), "
                         "or `false` when the school has no note.",
    "school.ecfmg_note.from": "First graduation year the note covers.",
    "school.ecfmg_note.to": "Last graduation year the note covers.",
    "school.graduated": "Graduation date. A date after `as_of` is the *expected* graduation of a student "
                        "(v1.1): rules that need the degree in hand (the certificate, Step 3) read the "
                        "applicant as not yet graduated; rules that look at which graduation it will be "
                        "(IMG status by accreditation at graduation, NRMP category, a Pathway's graduation "
                        "cut-off, the sponsor note's years) read `expected_graduation` and list the "
                        "assumption that the student graduates then.",
    "school.expected_graduation": "*Read by rules, never given in a document*: `graduated` whether it "
                                  "lies before `as_of` or after it (then expected). A document that gives "
                                  "it is refused.",
    "school.osce_for_licensure": "The school runs an OSCE that the national regulator requires for "
                                 "licensure (Pathway 2).",
    "school.fifth_pathway": "Completed a Fifth Pathway program.",
    "exams[].exam": "Which examination this attempt was.",
    "exams[].date": "Test date. An attempt dated after `as_of` is not yet known and is ignored.",
    "exams[].applied": "Application date of the attempt (meant for the USMLE attempt-limit rule, which "
                       "today judges the limit in force at `as_of` instead).",
    "exams[].result": "Outcome of the attempt. An `invalidated` result is not a pass.",
    "exams[].score": "Numeric score, where reported.",
    "exams[].listening": "OET only: Listening sub-test score of this sitting.",
    "exams[].reading": "OET only: Reading sub-test score of this sitting.",
    "exams[].writing": "OET only: Writing sub-test score of this sitting.",
    "exams[].speaking": "OET only: Speaking sub-test score of this sitting.",
    "ecfmg.application_submitted": "The Application for ECFMG Certification is submitted.",
    "ecfmg.credentials_verified": "Final diploma and transcript are primary-source verified.",
    "ecfmg.certified": "Date the ECFMG certificate was issued.",
    "ecfmg.expires": "Expiry date printed on a Pathways-based certificate. Automatic extensions and the "
                     "permanent validation after 12 months of ACGME training are applied by the rules.",
    "ecfmg.pathway": "An accepted Pathway application: `{ number, season, accepted }`. A pathway accepted "
                     "after `as_of` is not yet known.",
    "ecfmg.pathway.number": "Pathway number.",
    "ecfmg.pathway.season": "The Match season the application was for.",
    "ecfmg.pathway.accepted": "Date the application was accepted.",
    "ecfmg.revalidated": "Season of an accepted Pathways Revalidation.",
    "licenses[].jurisdiction": "Where it was issued: a country code, or `US-TX` for a U.S. state.",
    "licenses[].kind": "Kind of license.",
    "licenses[].unrestricted": "Allows unsupervised practice.",
    "licenses[].issued": "Issue date. A license issued after `as_of` is not yet known and is ignored.",
    "licenses[].expires": "Expiry date. Absent with `no_expiry = true`: the license never expires.",
    "licenses[].no_expiry": "`true` for a license that never expires (v1.1); `expires` must then be absent.",
    "licenses[].good_standing": "In good standing (no discipline).",
    "training[].country": "Where the training took place.",
    "training[].accreditor": "Accreditor of the program.",
    "training[].kind": "Kind of postgraduate training.",
    "training[].specialty": "Specialty; informational.",
    "training[].start": "Start date. A period starting after `as_of` is not yet known and is ignored.",
    "training[].end": "End date (past or planned). An end after `as_of` reads as ongoing.",
    "training[].completed": "The program was completed. Read as `false` while `end` is after `as_of`.",
    "training[].visa": "Immigration status held during the training (`j1` here makes one subject to 212(e)).",
    "practice[].country": "Where the applicant practised as a physician (after training).",
    "practice[].start": "Start date. A period starting after `as_of` is not yet known and is ignored.",
    "practice[].end": "End date. An end after `as_of` reads as ongoing.",
    "practice[].unsupervised": "Practice without supervision.",
    "match.season": "The NRMP Main Residency Match year pursued; when absent, the first Match whose Match "
                    "Day is on or after `as_of`.",
    "match.eras_submitted": "The ERAS application is submitted.",
    "match.personal_statement": "A personal statement is written and attached in ERAS.",
    "match.mspe_and_transcript": "MSPE and transcript are uploaded (by ECFMG for IMGs, or the school).",
    "match.nrmp_registered": "Registered for the NRMP Match.",
    "match.rank_list_certified": "The rank-order list is certified.",
    "match.matched": "Matched to a program.",
    "match.letters": "Letters of recommendation.",
    "match.us_letters": "Letters from U.S. clinicians.",
    "match.us_clinical_months": "Months of U.S. clinical experience (observership, externship, elective).",
    "match.interviews": "Interviews received.",
    "offer.kind": "A residency position or a job offer.",
    "offer.state": "U.S. state of the position (postal code).",
    "offer.acgme_accredited": "The position is in an ACGME-accredited program.",
    "offer.start": "Start date. `may_start_acgme_residency`, `j1_eligible` and `h1b_eligible` are judged "
                   "on this date when it is given.",
    "offer.specialty": "Specialty; informational.",
    "offer.visa_sponsorship": "What the employer or program sponsors: `j1`, `h1b`.",
    "offer.cap_exempt": "The employer is H-1B cap-exempt.",
    "offer.statement_of_need": "A J-1 Statement of Need has been obtained.",
    "offer.end": "Planned end of the position.",
    "offer.full_time": "The position is full-time.",
    "offer.employer_type": "Kind of employer (alternative licensure routes).",
    "offer.employer_has_acgme_programs": "The employer sponsors ACGME-accredited programs.",
    "offer.hospital_owned": "The employer is owned or operated by a licensed hospital.",
    "offer.assessment_program": "The employer runs a board-approved assessment or evaluation program.",
    "offer.supervisor_board_certified": "A board-certified supervising physician is named.",
    "offer.underserved_area": "The position is in a HPSA, MUA or MUP.",
    "offer.h1b_petition": "The H-1B petition filed (or to be filed) for the offer: `{ filed, kind }`.",
    "offer.h1b_petition.filed": "Filing date of the petition.",
    "offer.h1b_petition.kind": "Kind of petition.",
    "interest.states": "States to answer state questions (`licensable`, `gme_years_required`, ...) for.",
}

TYPES = {
    "date": "date",
    "bool": "boolean",
    "int": "integer",
    "number": "number",
    "str": "string",
    "enum": "one of",
    "country": "country code",
    "countries": "list of country codes",
    "strings": "list of strings",
    "states": "list of state codes",
    "state": "state code",
    "jurisdiction": "country code or `US-XX`",
    "object": "table",
    "note": "table or `false`",
    "list": "list of tables",
}

ABSENT = {
    "unknown": "unknown",
    "none": "**none** (known not to exist)",
    "default": "**a default**",
}

_ABSENT_WORDS = {
    "school.graduated": "**none**: still a student",
    "school.expected_graduation": "**none**: no graduation date given",
    "licenses[].expires": "unknown; **none** when `no_expiry = true`",
    "school.ecfmg_note.to": "**none**: the note is open-ended",
    "ecfmg.certified": "**none**: no certificate",
    "ecfmg.revalidated": "**none**: no revalidation",
    "training[].end": "**none**: ongoing",
    "practice[].end": "**none**: ongoing",
    "offer.h1b_petition": "**default**: a `new` petition filed at `as_of`",
    "interest.states": "unknown: every state in the data is answered",
}


#: Read outside rule conditions: by sum_years()/sum_years_since() (a period's dates) and by the
#: evaluation context (the season, the states in scope).
_READ_IMPLICITLY = {"training.start", "training.end", "practice.start", "practice.end", "match.season",
                    "interest", "interest.states", "as_of"}


def unread_fields() -> set[str]:
    """Field paths (``exams.score``, lists without ``[]``) that no rule of the default rulebook reads."""
    from imgpath import expressions as ex
    from imgpath.rulebook import rulebook

    read: set[str] = set()
    for rule in rulebook().rules:
        nodes = [*rule.when, *(n for _, n in rule.args), *([rule.value] if rule.value is not None else [])]
        for node in nodes:
            bound = {q.var: q.source.root for q in ex.walk(node) if isinstance(q, ex.Quant)}
            for q in ex.walk(node):
                if isinstance(q, ex.Field):
                    read.add(".".join((bound.get(q.root, q.root), *q.path)))
    out: set[str] = set()

    def walk(cls: type, pre: str) -> None:
        for f in attrs.fields(cls):
            meta = f.metadata["imgpath"]
            path = pre + key_of(f)
            if path not in read and path not in _READ_IMPLICITLY and not any(r.startswith(path + ".") for r in read):
                out.add(path)
            if meta["cls"] is not None:
                walk(meta["cls"], path + ".")

    walk(Applicant, "")
    return out


UNREAD = unread_fields()


def _type(meta: dict) -> str:
    kind = meta["kind"]
    text = TYPES[kind]
    if kind == "enum":
        text = "one of " + ", ".join(f"`{c}`" for c in meta["choices"])
    if meta["lo"] is not None:
        text += f" ({meta['lo']:g}–{meta['hi']:g})"
    return text


def table(cls: type, prefix: str) -> list[str]:
    rows = ["| field | type | absent means | what it records |", "|---|---|---|---|"]

    def walk(c: type, pre: str) -> None:
        for f in attrs.fields(c):
            meta = f.metadata["imgpath"]
            path = pre + key_of(f)
            if path not in DESCRIBE:
                raise SystemExit(f"gen_schema.py: describe the new field {path!r} in DESCRIBE")
            absent = _ABSENT_WORDS.get(path, ABSENT[meta["absent"]])
            shown = path[len(prefix):]
            note = " *Recorded; no rule reads it today.*" if path.replace("[]", "") in UNREAD else ""
            rows.append(f"| `{shown}` | {_type(meta)} | {absent} | {DESCRIBE[path]}{note} |")
            if meta["cls"] is not None and meta["kind"] in ("object", "note"):
                walk(meta["cls"], path + ".")

    walk(cls, prefix)
    return rows


HEAD = """\
# The applicant document

<!-- The field tables are generated by docs/_ext/gen_schema.py from src/imgpath/facts.py. -->

An applicant is a document: a TOML or JSON file, or a Python dict with the same keys (what
`tomllib.load` or `json.load` gives). `imgpath.load_applicant(path)` reads a file and
`imgpath.Applicant.from_dict(d)` validates a dict; `imgpath.evaluate` accepts either the `Applicant`
or the plain dict. This page is schema version **1**; the example applicant used throughout the
documentation is `examples/india-img-2027.toml`.

## Rules that apply to every field

**Everything is optional; a missing fact is unknown, never false.** Leaving a fact out makes the
verdicts that depend on it UNKNOWN, and `why_not` names the missing field path; it never turns a YES
into a NO. In JSON, `null` is the same as leaving the key out.

**A list that is present is the complete record of its kind.** `exams = []` says no exam was ever
taken, `licenses = []` that none is held; an absent list means the record is unknown.

**Some fields say what their absence means** (the *absent means* column below): `graduated`,
`certified`, `revalidated`, `ecfmg_note.to`, a period's `end` and the offer's `h1b_petition`. That
meaning holds **whenever the section holding the field is present**. If the whole section is absent,
the field is unknown like any other: without an `[ecfmg]` section, whether a certificate exists is
unknown (unless other facts decide it: no certificate can exist without Step 1 and Step 2 CK
passed).

**Facts are those known at `as_of`.** List entries dated after `as_of` — an exam not yet sat
(`date`), a license not yet issued (`issued`), training or practice not yet begun (`start`) — are
ignored, and event dates after `as_of` (`graduated`, `certified`, `applied`, a period's `end`, a
pathway's `accepted`) read as not having happened yet. One document can therefore be evaluated on
several dates. The one planned fact is `school.graduated`: after `as_of` it is the student's expected
graduation, still read where a rule asks *which* graduation it will be (`school.expected_graduation`),
with the assumption listed on the conclusion.

**Dates lie between 1900-01-01 and 2199-12-31**, `as_of` included (an ISO string is accepted for it as
for any document date); anything outside is refused, so date arithmetic in the rules never leaves the
calendar.

**Validation is strict, and every error names the field path.** Unknown keys, wrong types, values
outside the allowed set and impossible dates are rejected with `imgpath.InvalidFacts` (a
`ValueError`) before any rule runs, often with a suggestion. Every problem of the document is
reported at once (`InvalidFacts.errors`, each with its `path` and `problem`), and the command line
prints them all:

```text
imgpath: invalid input: /tmp/bad3.toml: 2 problems
  exams[0].exam: expected one of step1, step2ck, step2cs, step3, oet, comlex1, comlex2, comlex3, mccqe1, texas_jp, got 'step 1'; did you mean 'step1'?
  school.country: expected an ISO 3166-1 alpha-2 country code, got 'UK'; did you mean 'GB'?
```

An empty file (or one that gives no section) is refused too, naming the file.

| value | accepted form |
|---|---|
| date | an ISO date `YYYY-MM-DD` (a TOML date, or a string in JSON); a date with a time is rejected |
| country code | ISO 3166-1 alpha-2 (`IN`, `GB`, `US`, `PR`; `UK` and `USA` are rejected with a hint) |
| state code | U.S. postal code: the 50 states, `DC`, `PR`, `GU`, `VI`, `AS`, `MP` |
| boolean | `true` / `false` only (not `1`, not `"yes"`) |
| number | finite; integers where the type says so (`3.0` is accepted as `3`) |
| list | at most {max_list} entries; lists of strings are de-duplicated, keeping the first occurrence |
| string | at most {max_string} characters |

The top-level key `schema` must be `1` when given.

```toml
schema = 1
as_of = 2026-11-25            # optional; an explicit as_of argument wins
```

| field | type | absent means | what it records |
|---|---|---|---|
| `schema` | integer | 1 | Version of the document format; only 1 is read. |
| `as_of` | date | unknown | {as_of} |
"""

SECTIONS = [
    ("person", "`[person]`", "Who the applicant is in U.S. immigration terms."),
    ("school", "`[school]`", "The school that granted (or will grant) the basic medical degree."),
    ("exams", "`[[exams]]`", "One entry per attempt, in any order."),
    ("ecfmg", "`[ecfmg]`", "The applicant's ECFMG record."),
    ("licenses", "`[[licenses]]`", "Licenses to practise medicine, anywhere."),
    ("training", "`[[training]]`", "Postgraduate training: residency, fellowship, internship."),
    ("practice", "`[[practice]]`", "Practice as a physician after training, in any country."),
    ("match", "`[match]`", "The residency application and the NRMP Match."),
    ("offer", "`[offer]`", "A residency position or a job offer."),
    ("interest", "`[interest]`", "Which states to answer state-by-state questions for."),
]

TAIL = """\
## The example document

`examples/india-img-2027.toml`, the applicant of the [tutorial](../tutorial/first-evaluation.md):

```toml
{example}```

## Documents in Python

```python
import imgpath

a = imgpath.Applicant.from_dict({{"school": {{"country": "IN", "graduated": "2022-06-30"}}}})
a.school.graduated                     # datetime.date(2022, 6, 30)
a.to_dict()                            # {{'schema': 1, 'school': {{'country': 'IN', 'graduated': '2022-06-30'}}}}
a.with_facts({{"exams": []}})            # a copy with sections merged in (lists replaced whole)
a.evolve(person={{"us_status": "citizen"}})  # a copy with whole sections replaced
```

`Applicant` objects are immutable (attrs, frozen); `to_dict()` and `from_dict()` round-trip. In a
cohort file the same fields are flattened into columns (`school.country`, `exams[0].date`): see
[Batch a cohort](../howto/batch-a-cohort.md).
"""


def main() -> None:
    from pathlib import Path

    out = [HEAD.format(max_list=MAX_LIST, max_string=MAX_STRING, as_of=DESCRIBE["as_of"])]
    fields = {f.name: f for f in attrs.fields(Applicant)}
    for name, title, blurb in SECTIONS:
        meta = fields[name].metadata["imgpath"]
        out.append(f"## {title}\n")
        if name in _LISTS:
            blurb += " A present list is the complete record; `[]` means none."
        elif name == "interest":
            blurb += (" Without it, every row of the states table (50 states, DC and PR) is answered; with it,"
                      " asking about another state raises `ValueError`.")
        else:
            blurb += " An absent section leaves every field in it unknown."
        out.append(blurb)
        out.append("")
        prefix = f"{name}[]." if name in _LISTS else f"{name}."
        out.extend(table(meta["cls"], prefix))
        out.append("")
    example = Path("examples/india-img-2027.toml").read_text(encoding="utf-8")
    out.append(TAIL.format(example=example))
    print("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
