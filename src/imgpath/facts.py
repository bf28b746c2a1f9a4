"""The applicant document (contract §3) as typed, validated, immutable attrs classes.

A missing fact is *unknown*, never false: every field defaults to ``None``.
A list that is present is the complete record of its kind (``exams = []``
means no exam was ever taken). Validation is strict and every error names the
field path, so a bad document never reaches the rules:

>>> Applicant.from_dict({"exams": [{"exam": "step1", "date": "not-a-date"}]})
Traceback (most recent call last):
...
imgpath.errors.InvalidFacts: exams[0].date: expected an ISO date (YYYY-MM-DD), got 'not-a-date'

>>> a = Applicant.from_dict({"school": {"country": "IN", "graduated": "2022-06-30"}})
>>> a.school.graduated
datetime.date(2022, 6, 30)
>>> a.to_dict()
{'schema': 1, 'school': {'country': 'IN', 'graduated': '2022-06-30'}}
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from .errors import InvalidFacts

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "Applicant",
    "Ecfmg",
    "EcfmgNote",
    "Exam",
    "H1bPetition",
    "License",
    "Match",
    "Offer",
    "Pathway",
    "Person",
    "Practice",
    "School",
    "Interest",
    "Training",
    "DATE_RANGE",
    "absent_default",
    "defaulted_keys",
    "as_date",
    "bounded_repr",
    "field_meta",
    "fields_by_key",
    "key_of",
    "list_sections",
    "load_applicant",
    "section_classes",
    "unstructure",
]

#: Largest list the schema accepts; longer lists are rejected, not truncated.
MAX_LIST = 500
#: Longest string the schema accepts.
MAX_STRING = 2000
#: The dates a document (and ``as_of``) may hold: far enough from the calendar's ends that the
#: rules' date arithmetic (a season after as_of, ten years after a graduation) stays inside it.
DATE_RANGE = (_dt.date(1900, 1, 1), _dt.date(2199, 12, 31))

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW""".split()
)
#: U.S. states, DC and the territories, by postal code.
US_JURISDICTIONS = frozenset(
    """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
    NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY GU VI AS MP""".split()
)


def _spec(kind: str, **description: Any) -> Any:
    """An optional attrs field of the schema, described by :func:`_describe`."""
    return attrs.field(default=None, metadata={"imgpath": _describe(kind, **description)}, kw_only=True)


def _describe(
    kind: str,
    *,
    choices: tuple[str, ...] = (),
    absent: str = "unknown",
    event: bool = False,
    lo: float | None = None,
    hi: float | None = None,
    cls: type | None = None,
    doc: str = "",
    anchor: bool = False,
    planned: str = "",
    derived: str = "",
    assumption: str = "",
    needs_event: str = "",
    none_when: str = "",
    default: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the schema says of a field, for validation, lowering and the rule language.

    ``absent`` says what a missing value means inside a present section:
    ``unknown`` (the default), ``none`` (known not to exist, contract §3) or ``default`` (the
    section ``default`` describes, its values literals or ``"as_of"``, contract §6.2).
    ``event`` marks dates of things that happened: facts dated after ``as_of``
    are not yet known at ``as_of`` (contract §6.4). ``anchor`` marks the date that dates a whole
    list entry or object (an exam's ``date``, a Pathway's ``accepted``): one dated after ``as_of``
    is not known at all. ``planned`` names the field that keeps an event's date when it lies after
    ``as_of`` (the expected graduation); that field is ``derived`` from the event, never given in a
    document, and reading it while the event is still ahead lists ``assumption`` (with ``{value}``).
    ``needs_event`` makes a flag read false while that event of its entry lies after ``as_of`` (a
    training is not completed before its end). ``none_when`` names a flag of the same entry that,
    when true, makes an absent value known not to exist (``no_expiry``).
    """
    return {"kind": kind, "choices": choices, "absent": absent, "event": event,
            "lo": lo, "hi": hi, "cls": cls, "doc": doc, "anchor": anchor, "planned": planned,
            "derived": derived, "assumption": assumption, "needs_event": needs_event,
            "none_when": none_when, "default": dict(default or {})}


_frozen = attrs.frozen(kw_only=True)


@_frozen
class Person:
    """Who the applicant is and where they stand in U.S. immigration terms."""

    citizenship: tuple[str, ...] | None = _spec("countries", doc="all citizenships held")
    us_status: str | None = _spec("enum", choices=(
        "citizen", "permanent_resident", "daca", "h1b", "j1", "f1", "tn", "other", "none"))
    in_us: bool | None = _spec("bool", doc="physically in the U.S. now")
    work_authorized: bool | None = _spec("bool", doc="holds U.S. work authorization now")
    us_family: bool | None = _spec("bool", doc="has a U.S.-citizen or LPR spouse or child")
    waiver_212e: _dt.date | None = _spec("date", absent="none", event=True,
                                         doc="date a waiver of the 212(e) requirement was granted; absent: none")


@_frozen
class EcfmgNote:
    """The WDOMS ECFMG sponsor note: the graduation years it covers."""

    from_: int | None = attrs.field(default=None, metadata={"imgpath": {
        **_describe("int", lo=1800, hi=2200, doc="first graduation year covered"), "key": "from"}},
        kw_only=True)
    to: int | None = _spec("int", lo=1800, hi=2200, absent="none", doc="last year covered; absent = open")


@_frozen
class School:
    """The school that granted (or will grant) the basic medical degree."""

    name: str | None = _spec("str")
    country: str | None = _spec("country")
    degree: str | None = _spec("enum", choices=("MD", "DO", "MBBS", "other"))
    wdoms_listed: bool | None = _spec("bool")
    accreditors: tuple[str, ...] | None = _spec("strings")
    wfme_recognized: bool | None = _spec("bool")
    ncfmea_comparable: bool | None = _spec("bool")
    joint_lcme_degree: bool | None = _spec("bool")
    ecfmg_note: EcfmgNote | bool | None = _spec("note", cls=EcfmgNote,
                                                doc="sponsor note; false = the school has none")
    graduated: _dt.date | None = _spec("date", absent="none", event=True, planned="expected_graduation",
                                       doc="absent: still a student; a date after as_of is the expected "
                                           "graduation of a student (contract §6.4)")
    osce_for_licensure: bool | None = _spec("bool")
    fifth_pathway: bool | None = _spec("bool")
    expected_graduation: _dt.date | None = _spec(
        "date", absent="none", derived="graduated",
        assumption="the student graduates as expected on {value} (school.graduated is after as_of)",
        doc="read by rules, never given: the graduation date, past or expected; rules that look at "
            "which graduation it will be read it, rules that need the degree in hand read graduated")


@_frozen
class Exam:
    """One attempt at one examination."""

    exam: str | None = _spec("enum", choices=(
        "step1", "step2ck", "step2cs", "step3", "oet", "comlex1", "comlex2", "comlex3",
        "mccqe1", "texas_jp"))
    date: _dt.date | None = _spec("date", event=True, anchor=True, doc="test date")
    applied: _dt.date | None = _spec("date", event=True)
    result: str | None = _spec("enum", choices=("pass", "fail", "incomplete", "invalidated"))
    score: float | None = _spec("number", lo=0, hi=1000)
    listening: float | None = _spec("number", lo=0, hi=500)
    reading: float | None = _spec("number", lo=0, hi=500)
    writing: float | None = _spec("number", lo=0, hi=500)
    speaking: float | None = _spec("number", lo=0, hi=500)


@_frozen
class Pathway:
    """An accepted ECFMG Pathway application."""

    number: int | None = _spec("int", lo=1, hi=6)
    season: int | None = _spec("int", lo=2000, hi=2100)
    accepted: _dt.date | None = _spec("date", event=True, anchor=True,
                                      doc="a Pathway accepted after as_of is not known at as_of")


@_frozen
class Ecfmg:
    """The applicant's ECFMG record."""

    application_submitted: bool | None = _spec("bool")
    credentials_verified: bool | None = _spec("bool")
    certified: _dt.date | None = _spec("date", absent="none", event=True, doc="absent: no certificate")
    expires: _dt.date | None = _spec("date", doc="expiry printed on a Pathways-based certificate")
    pathway: Pathway | None = _spec("object", cls=Pathway)
    revalidated: int | None = _spec("int", lo=2000, hi=2100, absent="none",
                                    doc="season of an accepted Pathways Revalidation")


@_frozen
class License:
    """A license to practise medicine, anywhere."""

    jurisdiction: str | None = _spec("jurisdiction")
    kind: str | None = _spec("enum", choices=("full", "training", "provisional", "limited"))
    unrestricted: bool | None = _spec("bool")
    issued: _dt.date | None = _spec("date", event=True, anchor=True)
    expires: _dt.date | None = _spec("date", none_when="no_expiry",
                                     doc="absent with no_expiry = true: the license never expires")
    no_expiry: bool | None = _spec("bool", doc="true for a license that never expires (contract §3, v1.1)")
    good_standing: bool | None = _spec("bool")


@_frozen
class Training:
    """A period of postgraduate training (residency, fellowship, internship)."""

    country: str | None = _spec("country")
    accreditor: str | None = _spec("enum", choices=("ACGME", "AOA", "RCPSC", "CFPC", "other"))
    kind: str | None = _spec("enum", choices=("residency", "fellowship", "internship"))
    specialty: str | None = _spec("str")
    start: _dt.date | None = _spec("date", event=True, anchor=True)
    end: _dt.date | None = _spec("date", absent="none", event=True, doc="absent: ongoing")
    completed: bool | None = _spec("bool", needs_event="end", doc="reads false while its end is after as_of")
    visa: str | None = _spec("enum", choices=(
        "citizen", "permanent_resident", "daca", "h1b", "j1", "f1", "tn", "other", "none"))


@_frozen
class Practice:
    """A period of practice as a physician after training, in any country."""

    country: str | None = _spec("country")
    start: _dt.date | None = _spec("date", event=True, anchor=True)
    end: _dt.date | None = _spec("date", absent="none", event=True, doc="absent: ongoing")
    unsupervised: bool | None = _spec("bool")


@_frozen
class Match:
    """The applicant's residency application and NRMP Match status."""

    season: int | None = _spec("int", lo=2000, hi=2100, doc="the Match year pursued")
    eras_submitted: bool | None = _spec("bool")
    personal_statement: bool | None = _spec("bool")
    mspe_and_transcript: bool | None = _spec("bool")
    nrmp_registered: bool | None = _spec("bool")
    rank_list_certified: bool | None = _spec("bool")
    matched: bool | None = _spec("bool")
    letters: int | None = _spec("int", lo=0, hi=100)
    us_letters: int | None = _spec("int", lo=0, hi=100)
    us_clinical_months: float | None = _spec("number", lo=0, hi=600)
    interviews: int | None = _spec("int", lo=0, hi=1000)


@_frozen
class H1bPetition:
    """The H-1B petition filed (or to be filed) for the offer."""

    filed: _dt.date | None = _spec("date")
    kind: str | None = _spec("enum", choices=("new", "change_of_status", "extension", "amendment"))


@_frozen
class Offer:
    """A residency position or a job offer."""

    kind: str | None = _spec("enum", choices=("residency", "employment"))
    state: str | None = _spec("state")
    acgme_accredited: bool | None = _spec("bool")
    start: _dt.date | None = _spec("date")
    specialty: str | None = _spec("str")
    visa_sponsorship: tuple[str, ...] | None = _spec("strings")
    cap_exempt: bool | None = _spec("bool")
    statement_of_need: bool | None = _spec("bool")
    end: _dt.date | None = _spec("date")
    full_time: bool | None = _spec("bool")
    employer_type: str | None = _spec("enum", choices=(
        "hospital", "academic_health_system", "fqhc", "clinic", "group", "other"))
    employer_has_acgme_programs: bool | None = _spec("bool")
    hospital_owned: bool | None = _spec("bool")
    assessment_program: bool | None = _spec("bool")
    supervisor_board_certified: bool | None = _spec("bool")
    underserved_area: bool | None = _spec("bool")
    h1b_petition: H1bPetition | None = _spec("object", cls=H1bPetition, absent="default",
                                             default={"filed": "as_of", "kind": "new"},
                                             doc="absent: a new petition filed at as_of")


@_frozen
class Interest:
    """Which jurisdictions to answer licensure questions for."""

    states: tuple[str, ...] | None = _spec("states", doc="absent: every state in the data")


@_frozen
class Applicant:
    """One applicant's facts (contract §3). Every section and field is optional.

    >>> Applicant().person is None
    True
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    as_of: _dt.date | None = _spec("date", doc="the date the facts describe; an explicit as_of wins")
    person: Person | None = _spec("object", cls=Person)
    school: School | None = _spec("object", cls=School)
    exams: tuple[Exam, ...] | None = _spec("list", cls=Exam)
    ecfmg: Ecfmg | None = _spec("object", cls=Ecfmg)
    licenses: tuple[License, ...] | None = _spec("list", cls=License)
    training: tuple[Training, ...] | None = _spec("list", cls=Training)
    practice: tuple[Practice, ...] | None = _spec("list", cls=Practice)
    match: Match | None = _spec("object", cls=Match)
    offer: Offer | None = _spec("object", cls=Offer)
    interest: Interest | None = _spec("object", cls=Interest)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | None = None) -> Applicant:
        """Validate a document (what ``json.load`` or ``tomllib.load`` gives) into an Applicant.

        Raises :class:`~imgpath.InvalidFacts` listing every problem (``.errors``), each with its field path.
        """
        if not isinstance(data, Mapping):
            raise InvalidFacts("", f"expected a table/object at the top level, got {_kind_of(data)}",
                               file=file)
        body = dict(data)
        schema = body.pop("schema", 1)
        if schema != 1 or isinstance(schema, bool):
            raise InvalidFacts("schema", f"this imgpath reads schema 1, got {bounded_repr(schema)}", file=file)
        try:
            return _structure(cls, body, "")
        except InvalidFacts as err:
            if file is not None:
                raise InvalidFacts.collect([err], file=file) from None
            raise

    def to_dict(self) -> dict[str, Any]:
        """The document form: ISO date strings, absent fields omitted; ``from_dict`` inverts it."""
        out: dict[str, Any] = {"schema": self.SCHEMA_VERSION}
        out.update(unstructure(self))
        return out

    def evolve(self, **changes: Any) -> Applicant:
        """A copy with some sections replaced; sections may be given as dicts.

        >>> Applicant().evolve(person={"us_status": "citizen"}).person.us_status
        'citizen'
        """
        values = {}
        for name, value in changes.items():
            fld = _field(type(self), name, "")
            values[name] = value if value is None else _convert(fld, value, name)
        return attrs.evolve(self, **values)

    def with_facts(self, facts: Mapping[str, Any]) -> Applicant:
        """A copy with a partial document merged in, section by section (lists replaced whole).

        >>> a = Applicant.from_dict({"person": {"us_status": "none", "in_us": False}})
        >>> a.with_facts({"person": {"in_us": True}}).person
        Person(citizenship=None, us_status='none', in_us=True, work_authorized=None, us_family=None, waiver_212e=None)
        """
        doc = self.to_dict()
        for key, value in facts.items():
            if isinstance(value, Mapping) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
        return Applicant.from_dict(doc)


# --------------------------------------------------------------------------- structure


def field_meta(fld: attrs.Attribute) -> dict[str, Any]:  # type: ignore[type-arg]
    """What the schema declares of a field: kind, choices, what absence means, bounds, section class."""
    return fld.metadata["imgpath"]  # type: ignore[no-any-return]


_meta = field_meta


def key_of(fld: attrs.Attribute) -> str:  # type: ignore[type-arg]
    """The document key of an attrs field (``from_`` is spelled ``from``)."""
    return _meta(fld).get("key", fld.name)


@functools.cache
def fields_by_key(cls: type) -> dict[str, attrs.Attribute]:  # type: ignore[type-arg]
    """Document key → attrs field, for a section class (cached: the schema is fixed)."""
    return {key_of(f): f for f in attrs.fields(cls)}


def _field(cls: type, key: str, path: str) -> attrs.Attribute:  # type: ignore[type-arg]
    known = fields_by_key(cls)
    if key not in known:
        hint = difflib.get_close_matches(key, list(known), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(sorted(known))}"
        if len(key) > 60:  # an absurd key is quoted cut short, in the path too
            path = path[: len(path) - len(key)] + key[:57] + "..."
        raise InvalidFacts(path, f"unknown key {bounded_repr(key)}{suggestion}")
    return known[key]


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, (int, float)):
        return f"a number ({bounded_repr(value)})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, Mapping):
        return "a table/object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def bounded_repr(value: Any) -> str:
    """repr() cut to 60 characters that survives integers too long to print and values nested too deeply.

    Error messages quote user input through this, so a hostile document never yields a huge message.
    """
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to print"
    except RecursionError:
        return "a value nested too deeply to print"
    return text if len(text) <= 60 else text[:57] + "..."


def _structure(cls: type, data: Any, path: str) -> Any:
    """A section or entry from its document form; every problem in it is reported (contract §6.11)."""
    if not isinstance(data, Mapping):
        raise InvalidFacts(path, f"expected a table/object, got {_kind_of(data)}")
    values: dict[str, Any] = {}
    problems: list[InvalidFacts] = []
    for key, value in data.items():
        if not isinstance(key, str):
            problems.append(InvalidFacts(path, f"keys must be strings, got {_kind_of(key)}"))
            continue
        sub = f"{path}.{key}" if path else key
        try:
            fld = _field(cls, key, sub)
            derived = _meta(fld)["derived"]
            if derived:
                raise InvalidFacts(sub, f"is read from {derived} and cannot be given; give {derived} instead")
            if value is None:
                continue  # JSON null: the same as absent (unknown)
            values[fld.name] = _convert(fld, value, sub)
        except InvalidFacts as err:
            problems.append(err)
    if not problems:
        problems.extend(_cross_checks(cls, values, path))
    if problems:
        raise InvalidFacts.collect(problems)
    return cls(**values)


def _cross_checks(cls: type, values: Mapping[str, Any], path: str) -> list[InvalidFacts]:
    """Fields that contradict each other: a value given while its ``none_when`` flag says there is none."""
    out = []
    for fld in attrs.fields(cls):
        flag = _meta(fld)["none_when"]
        if flag and values.get(fld.name) is not None and values.get(flag) is True:
            where = f"{path}.{key_of(fld)}" if path else key_of(fld)
            out.append(InvalidFacts(where, f"is given while {flag} = true says there is none; remove one"))
    return out


def _convert(fld: attrs.Attribute, value: Any, path: str) -> Any:  # type: ignore[type-arg]
    meta = _meta(fld)
    kind = meta["kind"]
    if kind == "object":
        if isinstance(value, meta["cls"]):
            return value
        return _structure(meta["cls"], value, path)
    if kind == "list":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidFacts(path, f"expected a list of tables, got {_kind_of(value)}")
        if len(value) > MAX_LIST:
            raise InvalidFacts(path, f"at most {MAX_LIST} entries are accepted, got {len(value)}")
        return _each(value, lambda item, i: item if isinstance(item, meta["cls"])
                     else _structure(meta["cls"], item, f"{path}[{i}]"))
    if kind == "note":
        if value is False:
            return False
        if isinstance(value, EcfmgNote):
            return value
        if value is True:
            raise InvalidFacts(path, "expected a table like { from = 1990 } or false (no note), got true")
        note = _structure(EcfmgNote, value, path)
        if note.from_ is not None and note.to is not None and note.to < note.from_:
            raise InvalidFacts(f"{path}.to", f"must not be before 'from' ({note.from_}), got {note.to}")
        return note
    return _scalar(meta, value, path)


def _each(items: Any, convert: Any) -> tuple[Any, ...]:
    """Every item converted; the problems of all of them reported together."""
    out, problems = [], []
    for i, item in enumerate(items):
        try:
            out.append(convert(item, i))
        except InvalidFacts as err:
            problems.append(err)
    if problems:
        raise InvalidFacts.collect(problems)
    return tuple(out)


def _scalar(meta: dict[str, Any], value: Any, path: str) -> Any:
    kind = meta["kind"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidFacts(path, f"expected true or false, got {_kind_of(value)}")
        return value
    if kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidFacts(path, f"expected a number, got {_kind_of(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidFacts(path, f"expected a finite number, got {bounded_repr(value)}")
        if kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise InvalidFacts(path, f"expected a whole number, got {bounded_repr(value)}")
                value = int(value)
        lo, hi = meta["lo"], meta["hi"]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InvalidFacts(path, f"expected a value between {lo} and {hi}, got {bounded_repr(value)}")
        return value
    if kind == "date":
        return _date(value, path)
    if kind in ("countries", "strings", "states"):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidFacts(path, f"expected a list of strings, got {_kind_of(value)}")
        if len(value) > MAX_LIST:
            raise InvalidFacts(path, f"at most {MAX_LIST} entries are accepted, got {len(value)}")
        item_kind = {"countries": "country", "strings": "str", "states": "state"}[kind]
        items = _each(value, lambda v, i: _scalar({**meta, "kind": item_kind}, v, f"{path}[{i}]"))
        return tuple(dict.fromkeys(items))  # a set in document order
    if not isinstance(value, str):
        raise InvalidFacts(path, f"expected a string, got {_kind_of(value)}")
    if len(value) > MAX_STRING:
        raise InvalidFacts(path, f"at most {MAX_STRING} characters are accepted, got {len(value)}")
    if kind == "enum":
        if value not in meta["choices"]:
            hint = difflib.get_close_matches(value, meta["choices"], n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise InvalidFacts(path, f"expected one of {', '.join(meta['choices'])}, got {value!r}{extra}")
        return value
    if kind == "country":
        if value not in _ISO_COUNTRIES:
            hint = {"UK": "GB", "EN": "GB", "USA": "US"}.get(value.upper()) or (
                value.upper() if value.upper() in _ISO_COUNTRIES else None)
            extra = f"; did you mean {hint!r}?" if hint else ""
            raise InvalidFacts(path, f"expected an ISO 3166-1 alpha-2 country code, got {value!r}{extra}")
        return value
    if kind == "state":
        if value not in US_JURISDICTIONS:
            extra = f"; did you mean {value.upper()!r}?" if value.upper() in US_JURISDICTIONS else ""
            raise InvalidFacts(path, f"expected a U.S. postal code such as 'TX', got {value!r}{extra}")
        return value
    if kind == "jurisdiction":
        if value.startswith("US-") and value[3:] in US_JURISDICTIONS:
            return value
        if value in _ISO_COUNTRIES:
            return value
        hint = f"US-{value}" if value in US_JURISDICTIONS else None
        extra = f"; did you mean {hint!r}?" if hint else ""
        raise InvalidFacts(path, f"expected a country code or 'US-XX' for a U.S. state, got {value!r}{extra}")
    return value  # plain str


def _date(value: Any, path: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise InvalidFacts(path, f"expected a date without a time, got {value.isoformat()!r}")
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            value = _dt.date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, _dt.date):
        if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
            raise InvalidFacts(path, f"expected a date from {DATE_RANGE[0]} to {DATE_RANGE[1]}, got {value}")
        return value
    raise InvalidFacts(path, f"expected an ISO date (YYYY-MM-DD), got {_kind_of(value)}")


def as_date(value: Any, path: str = "as_of") -> _dt.date:
    """A date argument (``as_of``): a ``datetime.date`` or an ISO string, inside :data:`DATE_RANGE`.

    >>> as_date("2026-01-15")
    datetime.date(2026, 1, 15)
    >>> as_date("9999-12-31")
    Traceback (most recent call last):
    ...
    imgpath.errors.InvalidFacts: as_of: expected a date from 1900-01-01 to 2199-12-31, got 9999-12-31
    """
    return _date(value, path)


# --------------------------------------------------------------------------- unstructure


def _make_converter() -> cattrs.Converter:
    """cattrs unstructures the model: ISO dates, tuples as lists, absent (None) fields omitted.

    cattrs is imported here, on first use: importing it costs about 20 ms, a tenth of a cold start.
    """
    import cattrs
    from cattrs.gen import make_dict_unstructure_fn, override

    conv = cattrs.Converter()
    conv.register_unstructure_hook(_dt.date, lambda d: d.isoformat())
    for cls in (Person, EcfmgNote, School, Exam, Pathway, Ecfmg, License, Training, Practice, Match,
                H1bPetition, Offer, Interest, Applicant):
        overrides = {f.name: override(rename=key_of(f), omit_if_default=True) for f in attrs.fields(cls)}
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))
    return conv


@functools.cache
def _converter() -> cattrs.Converter:
    return _make_converter()  # built on first use: it costs more to build than most runs need


def unstructure(obj: Any) -> dict[str, Any]:
    """A section or entry as plain document data (dates as ISO strings, only the fields given)."""
    return _converter().unstructure(obj)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- loading


def load_applicant(path: str | Path) -> Applicant:
    """Read a ``.toml`` or ``.json`` applicant document; errors name the file and the field.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "a.toml")
    ...     _ = open(p, "w").write('[person]\\nus_status = "citizen"\\n')
    ...     load_applicant(p).person.us_status
    'citizen'
    """
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise InvalidFacts("", f"cannot read the file: {err.strerror or err}", file=name) from None
    suffix = p.suffix.lower()
    if not raw.strip():
        raise InvalidFacts("", "the file is empty: an applicant document gives at least one section, such as "
                           "[school] (docs/reference/schema.md)", file=name)
    try:
        if suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                              object_pairs_hook=_no_duplicate_keys)
        else:
            raise InvalidFacts("", "expected a .toml or .json file", file=name)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError) as err:
        if isinstance(err, InvalidFacts):
            raise
        problem = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise InvalidFacts("", f"not valid {suffix[1:].upper()}: {problem}", file=name) from None
    if isinstance(data, Mapping) and not set(data) - {"schema"}:
        raise InvalidFacts("", "the document is empty: give at least one section, such as [school] "
                           "(docs/reference/schema.md)", file=name)
    return Applicant.from_dict(data, file=name)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number imgpath accepts")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose key repeats is refused (JSON parsers silently keep the last; TOML refuses too)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {bounded_repr(k)} appears twice in one object")
        out[k] = v
    return out


def list_sections() -> tuple[str, ...]:
    """The sections that are lists of entries (``exams``, ``licenses``...), from the schema."""
    return tuple(fld.name for fld in attrs.fields(Applicant) if _meta(fld)["kind"] == "list")


def section_classes() -> dict[str, type]:
    """Every section class by its path prefix, e.g. ``{"person": Person, "exams": Exam, ...}``."""
    out: dict[str, type] = {}
    for fld in attrs.fields(Applicant):
        meta = _meta(fld)
        if meta["cls"] is not None:
            out[fld.name] = meta["cls"]
    return out


def absent_default(cls: type) -> dict[str, str]:
    """What an absent section of class ``cls`` stands for, as the schema declares it (contract §6.2):
    field → literal, or ``"as_of"`` for the evaluation date.

    >>> absent_default(H1bPetition)
    {'filed': 'as_of', 'kind': 'new'}
    """
    return dict(_absent_defaults()[cls])


def defaulted_keys() -> frozenset[str]:
    """Document keys of the records whose absence stands for a default (``h1b_petition``).

    >>> sorted(defaulted_keys())
    ['h1b_petition']
    """
    return frozenset(key_of(fld) for fld in _defaulted_fields())


@functools.cache
def _defaulted_fields() -> tuple[attrs.Attribute, ...]:  # type: ignore[type-arg]
    return tuple(fld for owner in (Applicant, *section_classes().values()) for fld in attrs.fields(owner)
                 if _meta(fld)["cls"] is not None and _meta(fld)["absent"] == "default")


@functools.cache
def _absent_defaults() -> dict[type, dict[str, str]]:
    return {_meta(fld)["cls"]: dict(_meta(fld)["default"]) for fld in _defaulted_fields()}
