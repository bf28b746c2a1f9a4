"""The durable-rules path and the reference evaluator agree on every firing (hence every conclusion)."""

from __future__ import annotations

from hypothesis import given, settings

import imgpath
from imgpath import strategies as ips


def _firings(ev: imgpath.Evaluation) -> set[tuple[object, ...]]:
    return {(f.rule_id, f.mode, f.conclusion, f.args, f.value, f.row) for f in ev.firings}


@settings(max_examples=2000 if __import__("os").environ.get("CI") else 300)
@given(ips.applicants())
def test_rete_agrees_with_reference(doc: imgpath.Applicant) -> None:
    """Two engines, one IR: any difference is a bug in one of them (architecture boundary)."""
    durable = imgpath.evaluate(doc, as_of=doc.as_of)
    reference = imgpath.evaluate(doc, as_of=doc.as_of, engine="reference")
    a, b = _firings(durable), _firings(reference)
    assert a == b, f"only durable: {sorted(map(str, a - b))}\nonly reference: {sorted(map(str, b - a))}"
    for c in reference.conclusions:
        assert durable.conclusion(c.name, **c.args) == c
