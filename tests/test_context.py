"""imgpath.context: what an applicant's document says on ``as_of``.

``known_at`` hides what is dated after ``as_of`` (an exam not yet taken, a Pathway accepted later, a
training not yet completed). It runs on every evaluation, so it reads the schema once per class
(``_plan``); the property test holds it to the plain reading of the schema, field by field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from imgpath import strategies as ips
from imgpath.context import _later, known_at, planned_at
from imgpath.facts import Applicant, field_meta, key_of, section_classes


def _plain_truncate(obj: Any, as_of: dt.date) -> Any:
    """The schema read field by field on every call (the form before the per-class plan)."""
    changes: dict[str, Any] = {}
    fields = attrs.fields(type(obj))
    for fld in fields:
        value = getattr(obj, fld.name)
        meta = field_meta(fld)
        if meta["derived"]:
            source = getattr(obj, next(f.name for f in fields if key_of(f) == meta["derived"]))
            if source != value:
                changes[fld.name] = source
            continue
        if value is None or value is False:
            continue
        if meta["kind"] == "list":
            kept = tuple(_plain_truncate(item, as_of) for item in value if not _later(item, as_of))
            if kept != value:
                changes[fld.name] = kept
        elif meta["kind"] in ("object", "note") and attrs.has(type(value)):
            if _later(value, as_of):
                changes[fld.name] = None
                continue
            new = _plain_truncate(value, as_of)
            if new is not value:
                changes[fld.name] = new
        elif meta["event"] and isinstance(value, dt.date) and value > as_of:
            changes[fld.name] = None
    for fld in fields:
        event = field_meta(fld)["needs_event"]
        if event and getattr(obj, fld.name) and changes.get(event, 1) is None:
            changes[fld.name] = False
    return attrs.evolve(obj, **changes) if changes else obj


def _plain_planned(applicant: Applicant, as_of: dt.date) -> dict[str, dt.date]:
    out = {}
    for section, cls in section_classes().items():
        obj = getattr(applicant, section, None)
        if obj is None or isinstance(obj, tuple):
            continue
        for fld in attrs.fields(cls):
            meta = field_meta(fld)
            value = getattr(obj, fld.name)
            if meta["planned"] and isinstance(value, dt.date) and value > as_of:
                out[f"{section}.{meta['planned']}"] = value
    return out


@given(app=st.one_of(ips.applicants(), ips.imgs(), ips.canadian_graduates()), as_of=ips.as_of_dates())
def test_known_at_is_the_schema_read_field_by_field(app: Applicant, as_of: dt.date) -> None:
    assert known_at(app, as_of) == _plain_truncate(app, as_of)
    assert planned_at(app, as_of) == _plain_planned(app, as_of)


def test_what_is_dated_later_is_hidden() -> None:
    """An exam after as_of is not yet taken; a training ending after as_of is not yet completed; a
    graduation ahead is the expected graduation, not a degree in hand."""
    app = Applicant.from_dict({
        "school": {"country": "CA", "graduated": "2024-05-30"},
        "exams": [{"exam": "step1", "date": "2023-05-01", "result": "pass"},
                  {"exam": "step2ck", "date": "2024-09-01", "result": "pass"}],
        "training": [{"country": "US", "kind": "residency", "start": "2023-07-01", "end": "2024-06-30",
                      "completed": True}]})
    seen = known_at(app, dt.date(2024, 1, 15))
    assert [e.exam for e in seen.exams] == ["step1"]
    assert seen.training[0].completed is False
    assert seen.school.graduated is None and seen.school.expected_graduation == dt.date(2024, 5, 30)
    assert planned_at(app, dt.date(2024, 1, 15)) == {"school.expected_graduation": dt.date(2024, 5, 30)}
    assert known_at(app, dt.date(2024, 12, 31)).exams == app.exams
