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
import multiprocessing
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .compiler import Firing, program
from .context import Context
from .engine import COHORT, evaluate_codes
from .errors import InvalidFacts
from .evaluation import Evaluation, as_applicant, evaluate
from .facts import Applicant, bounded_repr, field_meta, fields_by_key, section_classes
from .rulebook import Rulebook, load_rulebook
from .rulebook import rulebook as default_rulebook

__all__ = ["evaluate_many", "flatten", "parallel_evaluate", "read_cohort", "result_row", "unflatten"]

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
            meta = field_meta(fields[part])
            if i < len(rest) - 1:
                target = target.setdefault(part, {})
                current = meta["cls"]
                continue
            target[part] = _typed(meta, text, column)
    return doc


def _section_class(section: str, column: str) -> type:
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

_worker_state: dict[str, Any] = {}


def _init_worker(rules_path: str | None, engine: str) -> None:
    """Pool initializer: one rulebook (and compiled rulesets) per process, malloc pinned (engine-notes §4)."""
    _pin_malloc()
    _worker_state["book"] = load_rulebook(rules_path) if rules_path else default_rulebook()
    _worker_state["engine"] = engine


def _pin_malloc() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _work(item: tuple[Any, _dt.date | None]) -> tuple[str, Any]:
    doc, as_of = item
    try:
        ev = evaluate(doc, as_of=as_of, rulebook=_worker_state["book"], engine=_worker_state["engine"])
    except InvalidFacts as err:
        return "invalid", str(err)
    return "ok", [(f.rule_id, f.mode, f.conclusion, f.args, f.value, f.row) for f in ev.firings]


def _work_codes(chunk: list[tuple[Any, _dt.date | None]]) -> list[tuple[str, Any, Any]]:
    """A chunk of the durable engine's work: documents validated here once, evaluated in cohorts,
    firings sent back as integer codes (see :func:`imgpath.engine.evaluate_codes`)."""
    return evaluate_codes(_worker_state["book"], chunk, cohort=COHORT)


def _work_row(item: tuple[Any, _dt.date | None, Any]) -> tuple[str, Any]:
    doc, as_of, conclusions = item
    try:
        ev = evaluate(doc, as_of=as_of, rulebook=_worker_state["book"], engine=_worker_state["engine"])
    except InvalidFacts as err:
        return "invalid", str(err)
    return "ok", result_row(ev, conclusions)


def _pool(workers: int, book: Any, engine: str) -> Any:
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    path = str(book.path) if book is not None and book.path else None
    return ctx.Pool(workers, initializer=_init_worker, initargs=(path, engine))


def evaluate_many(
    applicants: Iterable[Applicant | Mapping[str, Any]],
    *,
    as_of: _dt.date | None = None,
    workers: int | None = None,
    rulebook: Rulebook | None = None,
    engine: str = "durable",
    chunksize: int = 256,
) -> Iterator[Evaluation]:
    """Evaluate many applicants, in order; ``workers`` > 1 uses that many processes.

    With the durable engine, applicants are evaluated in cohorts sharing a session, and each
    :class:`Evaluation` is built lazily, when a question is asked of it.
    """
    if as_of is not None and (not isinstance(as_of, _dt.date) or isinstance(as_of, _dt.datetime)):
        raise InvalidFacts("as_of", f"expected a datetime.date, got {bounded_repr(as_of)}")
    if not workers or workers <= 1:
        if engine == "durable":
            yield from _serial_codes(applicants, as_of, rulebook or default_rulebook())
            return
        for a in applicants:
            yield evaluate(a, as_of=as_of, rulebook=rulebook, engine=engine)
        return
    yield from parallel_evaluate(applicants, as_of=as_of, workers=workers, rulebook=rulebook,
                                 engine=engine, chunksize=chunksize)


def parallel_evaluate(applicants: Iterable[Any], *, as_of: _dt.date | None, workers: int, rulebook: Any,
                      engine: str, chunksize: int = 256) -> Iterator[Any]:
    """Evaluate in ``workers`` processes; evaluations come back in input order.

    With the durable engine, each worker validates its documents (once: the parent does not),
    evaluates them in cohorts and sends back firing codes; each :class:`Evaluation` is built
    lazily, when a question is asked of it. A document that fails validation raises
    :class:`~imgpath.InvalidFacts` when its turn comes (the evaluations before it have been
    yielded).
    """
    book = rulebook or default_rulebook()
    if engine == "durable":
        yield from _parallel_codes(applicants, as_of=as_of, workers=workers, rulebook=rulebook, book=book,
                                   chunksize=chunksize)
        return
    items = list(applicants)
    docs = [as_applicant(a) for a in items]  # every document is checked before any is evaluated
    # a mapping travels as itself (pickling a dict costs a tenth of pickling the Applicant); the
    # worker validates it again, in parallel with the others
    sent = [(a if type(a) is dict else d, as_of) for a, d in zip(items, docs, strict=True)]
    chunksize = max(1, min(chunksize, len(sent) // (workers * 4) or 1))
    with _pool(workers, rulebook, engine) as pool:
        for doc, (status, payload) in zip(docs, pool.imap(_work, sent, chunksize=chunksize), strict=True):
            if status != "ok":  # pragma: no cover - documents were validated above
                raise InvalidFacts("", payload)
            when = as_of or doc.as_of or _dt.date.today()
            firings = [Firing(*f) for f in payload]
            yield Evaluation(program(book, when), Context(book, doc, when), firings, engine)


def _serial_codes(applicants: Iterable[Any], as_of: _dt.date | None, book: Rulebook) -> Iterator[Evaluation]:
    """In this process: applicants validated one by one (a bad one raises when its turn comes),
    evaluated a cohort at a time, evaluations built lazily."""
    chunk: list[Applicant] = []

    def flush() -> Iterator[Evaluation]:
        results = evaluate_codes(book, [(app, as_of) for app in chunk], cohort=COHORT)
        for app, (_, when, codes) in zip(chunk, results, strict=True):
            yield Evaluation.from_codes(book, app, when, codes)
        chunk.clear()

    for a in applicants:
        try:
            app = as_applicant(a)
        except InvalidFacts:
            yield from flush()
            raise
        chunk.append(app)
        if len(chunk) == COHORT:
            yield from flush()
    yield from flush()


def _parallel_codes(applicants: Iterable[Any], *, as_of: _dt.date | None, workers: int, rulebook: Any, book: Any,
                    chunksize: int) -> Iterator[Evaluation]:
    items = list(applicants)
    # a plain dict travels as itself (pickling an Applicant costs ~20x more) and is validated by the worker
    sent = [(a if type(a) is dict or isinstance(a, Applicant) else as_applicant(a), as_of) for a in items]
    size = max(1, min(chunksize, len(sent) // (workers * 4) or 1))
    chunks = [sent[i:i + size] for i in range(0, len(sent), size)]
    with _pool(workers, rulebook, "durable") as pool:
        done = 0
        for results in pool.imap(_work_codes, chunks):
            for status, payload, codes in results:
                doc = sent[done][0]
                done += 1
                if status != "ok":
                    path, problem, file = payload
                    raise InvalidFacts(path, problem, file=file)
                yield Evaluation.from_codes(book, doc, payload, codes)


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
        with _pool(ns.workers, None, "durable") as pool:
            items = [(a, ns.as_of, conclusions) for _, _, a in good]
            for (line, rid, _), (status, payload) in zip(good, pool.imap(_work_row, items, chunksize=64),
                                                         strict=True):
                if status == "ok":
                    rows.append({"id": rid, **payload})
                else:
                    errors.append({"line": line, "id": rid, "error": payload})
                progress.update(1)
    else:
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

