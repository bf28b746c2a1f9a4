"""Cohorts: flattened CSV / JSONL input, worker processes, one output row per applicant.

CSV columns are field paths of the applicant document (contract §3):
``person.citizenship`` (several values separated by ``;``), ``school.country``,
``school.ecfmg_note.from``, ``exams[0].exam``, ``exams[0].date``,
``offer.h1b_petition.kind``... An empty cell is absent (unknown); a column
``exams`` (or ``licenses``, ``training``, ``practice``) holding ``[]`` says the
list is known to be empty. Two more columns are read: ``id`` (copied to the
output) and ``as_of``. JSONL input is one applicant document per line
(optionally with ``id``).

>>> row = flatten({"person": {"citizenship": ["IN", "GB"]}, "exams": [{"exam": "step1", "result": "pass"}]})
>>> row
{'person.citizenship': 'IN;GB', 'exams[0].exam': 'step1', 'exams[0].result': 'pass'}
>>> unflatten(row)
{'person': {'citizenship': ['IN', 'GB']}, 'exams': [{'exam': 'step1', 'result': 'pass'}]}
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidFacts
from .facts import Applicant, bounded_repr, fields_by_key

__all__ = ["flatten", "parallel_evaluate", "read_cohort", "result_row", "unflatten"]

_LISTS = ("exams", "licenses", "training", "practice")
_PATH = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?((?:\.[a-z_]+)*)$")


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """An applicant document as flat ``path -> text`` cells (the CSV form)."""
    out: dict[str, str] = {}
    for key, value in doc.items():
        if key == "schema":
            continue
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(flatten(value, path))
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{path}[{i}]"))
        elif isinstance(value, list):
            out[path] = "[]" if not value and key in _LISTS else ";".join(map(str, value))
        elif isinstance(value, bool):
            out[path] = "true" if value else "false"
        elif isinstance(value, (_dt.date,)):
            out[path] = value.isoformat()
        else:
            out[path] = str(value)
    return out


def unflatten(row: Mapping[str, str]) -> dict[str, Any]:
    """The document form of flat cells, typed by the schema; raises InvalidFacts naming the column."""
    from .facts import _meta  # type: ignore[attr-defined]

    doc: dict[str, Any] = {}
    for column, text in row.items():
        if column in ("id",) or text is None or text == "":
            continue
        m = _PATH.match(column)
        if not m:
            raise InvalidFacts(column, "not a field path (like school.country or exams[0].date)")
        section, index, rest = m.group(1), m.group(2), [p for p in m.group(3).split(".") if p]
        if section == "as_of":
            doc["as_of"] = text
            continue
        if section in _LISTS and index is None and not rest:
            if text.strip() != "[]":
                raise InvalidFacts(column, "a list column holds only [] (known to be empty)")
            doc.setdefault(section, [])
            continue
        cls = _section_class(section, column)
        if section in _LISTS:
            if index is None:
                raise InvalidFacts(column, f"{section} entries need an index, like {section}[0].{rest[0] if rest else 'date'}")
            entries = doc.setdefault(section, [])
            while len(entries) <= int(index):
                entries.append({})
            target = entries[int(index)]
        else:
            target = doc.setdefault(section, {})
        current: Any = cls
        for i, part in enumerate(rest):
            fields = fields_by_key(current)
            if part not in fields:
                raise InvalidFacts(column, f"unknown field {part!r}")
            meta = _meta(fields[part])
            if i < len(rest) - 1:
                target = target.setdefault(part, {})
                current = meta["cls"]
                continue
            target[part] = _typed(meta, text, column)
    return doc


def _section_class(section: str, column: str) -> type:
    from .facts import section_classes

    classes = section_classes()
    if section not in classes:
        raise InvalidFacts(column, f"unknown section {section!r}")
    return classes[section]


def _typed(meta: Mapping[str, Any], text: str, column: str) -> Any:
    kind = meta["kind"]
    text = text.strip()
    if kind == "bool":
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise InvalidFacts(column, f"expected true or false, got {bounded_repr(text)}")
    if kind in ("int", "number"):
        try:
            return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            raise InvalidFacts(column, f"expected a number, got {bounded_repr(text)}") from None
    if kind in ("countries", "strings", "states"):
        return [t.strip() for t in text.split(";") if t.strip()]
    if kind == "note" and text.lower() == "false":
        return False
    return text


def read_cohort(path: Path) -> Iterator[tuple[int, str, dict[str, Any] | None, str]]:
    """(line number, id, document or None, error) for every applicant of a .csv or .jsonl file."""
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8") as fh:
        if suffix == ".csv":
            for n, row in enumerate(csv.DictReader(fh), start=2):
                rid = row.get("id") or str(n - 1)
                try:
                    yield n, rid, unflatten(row), ""
                except InvalidFacts as err:
                    yield n, rid, None, str(err)
        elif suffix in (".jsonl", ".ndjson"):
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as err:
                    yield n, str(n), None, f"not valid JSON: {err.msg}"
                    continue
                if not isinstance(doc, dict):
                    yield n, str(n), None, "each line must be a JSON object (an applicant document)"
                    continue
                rid = str(doc.pop("id", n))
                yield n, rid, doc, ""
        else:
            raise InvalidFacts("", "a cohort is a .csv or .jsonl file", file=str(path))


def result_row(ev: Any, conclusions: Iterable[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """One flat output row: ``as_of``, ``season`` and one column per conclusion (verdict, or value)."""
    row: dict[str, Any] = {"as_of": ev.as_of.isoformat(), "season": ev.season}
    items = [ev.conclusion(n, **a) for n, a in conclusions] if conclusions is not None else list(ev.conclusions)
    for c in items:
        if c.kind == "boolean" or c.value is None:
            row[c.label] = c.verdict.value
        else:
            row[c.label] = ";".join(map(str, c.value)) if isinstance(c.value, tuple) else c.value
    return row


# --------------------------------------------------------------------------- processes

from ._workers import Pool, parallel_evaluate  # noqa: E402  (re-exported: evaluate_many imports it from here)


def _work_rows(state: dict[str, Any], chunk: list[tuple[Any, _dt.date | None, Any]]) -> list[tuple[str, Any]]:
    from .evaluation import evaluate

    out: list[tuple[str, Any]] = []
    for doc, as_of, conclusions in chunk:
        try:
            ev = evaluate(doc, as_of=as_of, rulebook=state["book"], engine=state["engine"])
        except InvalidFacts as err:
            out.append(("invalid", str(err)))
            continue
        out.append(("ok", result_row(ev, conclusions)))
    return out


def run_batch(ns: Any) -> int:
    """The ``imgpath batch`` command: evaluate a cohort file, write results and an error file."""
    out_path: Path = ns.output
    err_path: Path = ns.errors or out_path.with_name(out_path.name + ".errors.jsonl")
    if out_path.suffix.lower() not in (".csv", ".jsonl"):
        raise InvalidFacts("", "the output must be a .csv or .jsonl file", file=str(out_path))
    if not ns.file.exists():
        raise InvalidFacts("", "no such file", file=str(ns.file))
    records = list(read_cohort(ns.file))
    conclusions = None
    if ns.conclusions:
        conclusions = [(name.strip(), {}) for name in ns.conclusions.split(",") if name.strip()]
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    good = []
    for line, rid, doc, problem in records:
        if doc is None:
            errors.append({"line": line, "id": rid, "error": problem})
            continue
        try:
            applicant = Applicant.from_dict(doc)
        except InvalidFacts as err:
            errors.append({"line": line, "id": rid, "error": str(err)})
            continue
        good.append((line, rid, applicant))
    progress = _progress(len(good), disable=ns.no_progress or not sys.stderr.isatty())
    if ns.workers and ns.workers > 1:
        from .rulebook import rulebook

        with Pool(ns.workers, rulebook(), "durable") as pool:
            items = [(a, ns.as_of, conclusions) for _, _, a in good]
            chunks = (items[i:i + 64] for i in range(0, len(items), 64))
            results = (r for chunk in pool.imap(_work_rows, chunks) for r in chunk)
            for (line, rid, _), (status, payload) in zip(good, results, strict=True):
                if status == "ok":
                    rows.append({"id": rid, **payload})
                else:
                    errors.append({"line": line, "id": rid, "error": payload})
                progress.update(1)
    else:
        from .evaluation import evaluate

        for line, rid, applicant in good:
            ev = evaluate(applicant, as_of=ns.as_of)
            rows.append({"id": rid, **result_row(ev, conclusions)})
            progress.update(1)
    progress.close()
    _write(out_path, rows)
    if errors:
        err_path.write_text("".join(json.dumps(e) + "\n" for e in errors), encoding="utf-8")
        print(f"imgpath: {len(errors)} row(s) failed validation; see {err_path}", file=sys.stderr)
    print(f"imgpath: wrote {len(rows)} row(s) to {out_path}", file=sys.stderr)
    return 0


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".jsonl":
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
    else:
        columns: dict[str, None] = {}
        for r in rows:
            columns.update(dict.fromkeys(r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _progress(total: int, disable: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=disable, unit="applicant", desc="imgpath")

