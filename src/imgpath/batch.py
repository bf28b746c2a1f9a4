"""Cohorts: flattened CSV / JSONL input read row by row, evaluated in workers, one output row per applicant.

CSV columns are field paths of the applicant document (contract §3):
``person.citizenship`` (several values separated by ``;``), ``school.country``,
``school.ecfmg_note.from``, ``exams[0].exam``, ``exams[0].date``,
``offer.h1b_petition.kind``... An empty cell is absent (unknown); a column
``exams`` (or ``licenses``, ``training``, ``practice``) holding ``[]`` says the
list is known to be empty. Two more columns are read: ``id`` (copied to the
output) and ``as_of``. JSONL input is one applicant document per line
(optionally with ``id``).

Nothing is lost: every input row ends in the output or in the error file, with the physical line
it starts on and every problem found in it. A file whose header names an unknown column is
refused before any work (a misspelt column would leave a fact unknown in every row).

>>> row = flatten({"person": {"citizenship": ["IN", "GB"]}, "exams": [{"exam": "step1", "result": "pass"}]})
>>> row
{'person.citizenship': 'IN;GB', 'exams[0].exam': 'step1', 'exams[0].result': 'pass'}
>>> unflatten(row)
{'person': {'citizenship': ['IN', 'GB']}, 'exams': [{'exam': 'step1', 'result': 'pass'}]}
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as _dt
import difflib
import functools
import json
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from ._output import Files, UnusablePath
from ._workers import Pool, parallel_evaluate
from .errors import InvalidFacts, WorkerCrashed
from .engine import COHORT, evaluate_codes
from .evaluation import Evaluation, as_applicant, evaluate
from .facts import Applicant, as_date, bounded_repr, field_meta, fields_by_key, section_classes
from .rulebook import Rulebook
from .rulebook import rulebook as default_rulebook

__all__ = ["CohortRow", "evaluate_many", "flatten", "parallel_evaluate", "read_cohort", "result_row", "run_batch", "unflatten"]

_LISTS = ("exams", "licenses", "training", "practice")
_NAME = r"[a-z_][a-z0-9_]*"
_PATH = re.compile(rf"^({_NAME})(?:\[(\d+)\])?((?:\.{_NAME})*)$")
_MAX_INDEX = 999  # exams[1000].date would make a thousand empty attempts: surely a typo
_CHUNK = 64  # rows per task: small enough that finished rows reach the disk often


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
    """The document form of flat cells, typed by the schema; raises InvalidFacts naming the column.

    Every problem is collected: the error's ``errors`` lists them all, each with its column.
    """
    problems: list[tuple[str, str]] = []
    cells: list[tuple[_Column, str]] = []
    for name, text in row.items():
        try:
            cells.append((_column(name), text))
        except InvalidFacts as err:
            problems.append((err.path, err.problem))
    doc, more = _unflatten(cells)
    problems.extend(more)
    if problems:
        raise InvalidFacts(*problems[0], errors=tuple(InvalidFacts(path, problem) for path, problem in problems))
    return doc


# --------------------------------------------------------------------------- columns


@attrs.frozen
class _Column:
    """A checked column name: what it sets in the document (``kind`` is id, as_of, empty_list or field)."""

    name: str
    kind: str
    section: str = ""
    index: int | None = None
    parts: tuple[str, ...] = ()
    meta: Mapping[str, Any] | None = attrs.field(default=None, eq=False)

    @property
    def key(self) -> tuple[Any, ...]:
        """The field it sets, whatever the spelling (``exams[01].date`` is ``exams[1].date``)."""
        return (self.kind, self.section, self.index, self.parts)

    def put(self, doc: dict[str, Any], text: str) -> None:
        """Set this column's field in ``doc`` from a cell's text; InvalidFacts if the text does not fit."""
        if self.kind == "as_of":
            doc["as_of"] = text.strip()
            return
        if self.kind == "empty_list":
            if text.strip() != "[]":
                raise InvalidFacts(self.name, "a list column holds only [] (known to be empty)")
            doc.setdefault(self.section, [])
            return
        if self.index is not None:
            entries = doc.setdefault(self.section, [])
            while len(entries) <= self.index:
                entries.append({})
            target = entries[self.index]
        else:
            target = doc.setdefault(self.section, {})
        for part in self.parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InvalidFacts(self.name, f"conflicts with the column that sets {part} itself")
        if isinstance(target.get(self.parts[-1]), dict):
            raise InvalidFacts(self.name, "conflicts with the columns that set its fields")
        assert self.meta is not None
        target[self.parts[-1]] = _typed(self.meta, text, self.name)


@functools.lru_cache(maxsize=2048)
def _column(name: str) -> _Column:
    """The column a header cell names; InvalidFacts (with a suggestion) if it names no field."""

    if name == "id":
        return _Column(name, "id")
    if name == "as_of":
        return _Column(name, "as_of")
    m = _PATH.match(name)
    if not m:
        raise InvalidFacts(name, "not a field path (like school.country or exams[0].date)")
    section, index_text, rest = m.group(1), m.group(2), tuple(p for p in m.group(3).split(".") if p)
    index = int(index_text) if index_text is not None else None
    classes = section_classes()
    if section not in classes:
        raise InvalidFacts(name, f"unknown section {section!r}{_hint(section, [*classes, 'id', 'as_of'])}")
    if section in _LISTS:
        if index is None and not rest:
            return _Column(name, "empty_list", section)
        if index is None:
            raise InvalidFacts(name, f"{section} entries need an index, like {section}[0].{rest[0]}")
        if index > _MAX_INDEX:
            raise InvalidFacts(name, f"at most {_MAX_INDEX + 1} {section} entries (index 0 to {_MAX_INDEX})")
    elif index is not None:
        raise InvalidFacts(name, f"{section} is not a list: write {section}.{rest[0] if rest else 'field'}")
    current: Any = classes[section]
    meta: Mapping[str, Any] | None = None
    for i, part in enumerate(rest):
        if current is None:
            raise InvalidFacts(name, f"{'.'.join(rest[:i])} is a value, not a table")
        fields = fields_by_key(current)
        if part not in fields:
            raise InvalidFacts(name, f"unknown field {part!r}{_hint(part, fields)}")
        meta = field_meta(fields[part])
        current = meta["cls"]
    if meta is None or (meta["kind"] == "object"):
        where = f"{section}[{index}]" if index is not None else ".".join((section, *rest))
        example = next(iter(fields_by_key(current)))
        raise InvalidFacts(name, f"{where} is a table: name one of its fields, like {where}.{example}")
    return _Column(name, "field", section, index, rest, meta)


def _hint(name: str, options: Iterable[str]) -> str:
    found = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def _unflatten(cells: Iterable[tuple[_Column, str | None]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The document from checked columns and their cells, and each cell's problem (that cell is left out)."""
    doc: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column, text in cells:
        if column.kind == "id" or text is None or not text.strip():
            continue
        try:
            column.put(doc, text)
        except InvalidFacts as err:
            problems.append((err.path, err.problem))
    return doc, problems


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
        except ValueError:  # not a number, or more digits than Python converts
            raise InvalidFacts(column, f"expected a number, got {bounded_repr(text)}") from None
    if kind in ("countries", "strings", "states"):
        return [t.strip() for t in text.split(";") if t.strip()]
    if kind == "note" and text.lower() == "false":
        return False
    return text


# --------------------------------------------------------------------------- reading


@attrs.frozen
class CohortRow:
    """One input row: the physical line it starts on, its id, its document and its problems.

    ``doc`` is None when the row could not be read at all (bad bytes, a wrong number of cells, a
    duplicate id); with problems and a document, the document holds the cells that could be read.
    ``problems`` are ``(field path or "", problem)`` pairs.
    """

    line: int
    id: str
    doc: dict[str, Any] | None
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def error(self) -> str:
        """Every problem, as one line."""
        return "; ".join(f"{path}: {problem}" if path else problem for path, problem in self.problems)


def read_cohort(path: Path) -> Iterator[CohortRow]:
    """Every applicant of a .csv or .jsonl file, in order, read or with its problems.

    What makes the whole file unusable (the extension, UTF-16 text, a header naming unknown
    columns) raises :class:`~imgpath.InvalidFacts` here, before any row is returned.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidFacts("", "a cohort is a .csv or .jsonl file", file=str(path))
    try:
        fh = path.open("rb")
    except OSError as err:
        raise InvalidFacts("", f"cannot read it: {err.strerror or err}", file=str(path)) from None
    try:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (len(head) == 4 and b"\0" in head):
            raise InvalidFacts("", "this is UTF-16 text (Excel's 'Unicode Text'); save it as CSV UTF-8",
                               file=str(path))
        rows = _csv_rows(fh, path) if suffix == ".csv" else _jsonl_rows(fh)
        first = next(rows, None)  # the header is checked now, not when the caller starts reading
    except BaseException:
        fh.close()
        raise
    return _chain(first, rows, fh)


def _chain(first: CohortRow | None, rows: Iterator[CohortRow], fh: IO[bytes]) -> Iterator[CohortRow]:
    with fh:
        if first is not None:
            yield first
            yield from rows


class _Lines:
    """The physical lines of a binary file as text (a leading BOM dropped); lines that are not UTF-8
    are decoded with replacement characters, so parsing goes on, and remembered by number."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.number = 0
        self.bad: dict[int, str] = {}

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            self.bad[self.number] = _not_utf8(raw, err)
            return raw.decode("utf-8", "replace")

    def take(self, first: int, last: int) -> list[str]:
        """The encoding problems of lines ``first``..``last`` (forgotten once taken)."""
        return [self.bad.pop(n) for n in range(first, last + 1) if n in self.bad]


def _not_utf8(raw: bytes, err: UnicodeDecodeError) -> str:
    return (f"not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
            "save the file as UTF-8 (Excel: CSV UTF-8)")


def _csv_rows(fh: IO[bytes], path: Path) -> Iterator[CohortRow]:
    lines = _Lines(fh)
    reader = csv.reader(lines)
    last = 0  # the last physical line read so far

    def next_row() -> tuple[int, list[str] | None, str]:
        """(first line, cells, csv problem) of the next row; cells None at the end of the file."""
        nonlocal last
        try:
            cells = next(reader)
            problem = ""
        except StopIteration:
            return last + 1, None, ""
        except csv.Error as err:
            cells, problem = [], f"cannot be read as CSV: {err}"
        start, last = last + 1, reader.line_num
        return start, cells, problem

    with _field_limit():
        while True:  # the header: the first line that is not blank
            start, header, problem = next_row()
            if header is None:
                return
            bad = lines.take(start, last)
            if problem or bad:
                raise InvalidFacts("", f"line {start}: {problem or bad[0]}", file=str(path))
            if not _blank(header):
                break
        columns = _header([h.strip() for h in header], start, path)
        id_at = next((i for i, c in enumerate(columns) if c.kind == "id"), None)
        seen: dict[str, int] = {}
        ordinal = 0
        while True:
            start, cells, problem = next_row()
            if cells is None:
                return
            bad = lines.take(start, last)
            if not problem and not bad and _blank(cells):
                continue
            ordinal += 1
            rid = (cells[id_at].strip() if id_at is not None and id_at < len(cells) else "") or str(ordinal)
            problems = [("", p) for p in (problem, *bad) if p]
            if not problems and len(cells) != len(columns):
                what = "too many" if len(cells) > len(columns) else "too few"
                count = f"{len(cells)} cells where the header has {len(columns)} ({what}: check the commas)"
                problems.append(("", count))
            if problems:
                yield CohortRow(start, rid, None, tuple(problems))
                continue
            if rid in seen:
                yield CohortRow(start, rid, None, (("id", f"duplicate id {rid!r} (first on line {seen[rid]})"),))
                continue
            seen[rid] = start
            doc, cell_problems = _unflatten(zip(columns, cells, strict=True))
            yield CohortRow(start, rid, doc, tuple(cell_problems))


def _blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _header(names: list[str], line: int, path: Path) -> list[_Column]:
    """The checked columns; every unknown or repeated column is named at once (InvalidFacts)."""
    columns: list[_Column] = []
    problems: list[str] = []
    first: dict[tuple[Any, ...], str] = {}
    for name in names:
        try:
            column = _column(name)
        except InvalidFacts as err:
            problems.append(str(err))
            continue
        if column.key in first:
            problems.append(f"{name}: the same field as the column {first[column.key]}")
        first.setdefault(column.key, name)
        columns.append(column)
    if problems:
        raise InvalidFacts("", f"line {line}: the header names columns that are not fields, so every row "
                               f"would lose them; fix or remove them: {'; '.join(problems)}", file=str(path))
    return columns


@contextlib.contextmanager
def _field_limit() -> Iterator[None]:
    """Cells of any size are read (the csv module stops at 128 KiB and loses its place in the file);
    an oversized cell then fails validation like any other bad value, for its row only."""
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _jsonl_rows(fh: IO[bytes]) -> Iterator[CohortRow]:
    seen: dict[str, int] = {}
    for n, raw in enumerate(fh, start=1):
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield CohortRow(n, str(n), None, (("", _not_utf8(raw, err)),))
            continue
        if not text.strip():
            continue
        doc, problem = _json(text)
        if problem:
            yield CohortRow(n, str(n), None, (("", problem),))
            continue
        assert isinstance(doc, dict)
        rid, id_problem = _json_id(doc.pop("id", None), n)
        if id_problem:
            yield CohortRow(n, rid, None, (("id", id_problem),))
        elif rid in seen:
            yield CohortRow(n, rid, None, (("id", f"duplicate id {rid!r} (first on line {seen[rid]})"),))
        else:
            seen[rid] = n
            yield CohortRow(n, rid, doc, ())


def _json(text: str) -> tuple[Any, str]:
    """(document, "") or (None, what is wrong with the line)."""
    try:
        doc = json.loads(text)
    except RecursionError:
        return None, "nested too deeply to read (not an applicant document)"
    except json.JSONDecodeError as err:
        return None, f"not valid JSON: {err.msg} (column {err.colno})"
    except ValueError as err:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        return None, f"a number too long to read: {str(err).split(':')[0]}"
    if not isinstance(doc, dict):
        return None, "each line must be a JSON object (an applicant document)"
    return doc, ""


def _json_id(value: Any, line: int) -> tuple[str, str]:
    if value is None or value == "":
        return str(line), ""
    if isinstance(value, str):
        return value, ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), ""
    return str(line), f"expected a string or an integer, got {bounded_repr(value)}"


# --------------------------------------------------------------------------- evaluating


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


def _problems(err: InvalidFacts) -> tuple[tuple[str, str], ...]:
    """Every (path, problem) of an InvalidFacts (contract §6.11: ``errors`` lists them all)."""
    return tuple((e.path, e.problem) for e in err.errors)


def _error(row: CohortRow, problems: Iterable[tuple[str, str]], internal: bool = False) -> dict[str, Any]:
    """An error-file record: line, id, every problem as text and as a list; ``internal`` for a bug."""
    found = CohortRow(row.line, row.id, None, tuple(problems))
    record: dict[str, Any] = {"line": row.line, "id": row.id, "error": found.error,
                              "errors": [{"path": p, "problem": m} for p, m in found.problems]}
    if internal:
        record["internal"] = True
    return record


def _evaluate_rows(state: dict[str, Any], chunk: tuple[Any, Any, list[CohortRow]]) -> list[tuple[str, dict[str, Any]]]:
    """In a worker (or inline): ("row", output row), ("error", record) or ("internal", record) per row."""
    as_of, conclusions, rows = chunk
    out: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        if row.doc is None:
            out.append(("error", _error(row, row.problems)))
            continue
        try:
            applicant = Applicant.from_dict(row.doc)
        except InvalidFacts as err:
            out.append(("error", _error(row, row.problems + _problems(err))))
            continue
        if row.problems:
            out.append(("error", _error(row, row.problems)))
            continue
        try:
            ev = evaluate(applicant, as_of=as_of, rulebook=state["book"], engine=state["engine"])
            out.append(("row", {"id": row.id, **result_row(ev, conclusions)}))
        except InvalidFacts as err:
            out.append(("error", _error(row, _problems(err))))
        except Exception as err:  # noqa: BLE001 - a bug for this row: recorded, reported, exit 1
            problem = f"internal error, please report it: {type(err).__name__}: {err}"
            out.append(("internal", _error(row, [("", problem)], internal=True)))
    return out


def _chunks(rows: Iterator[CohortRow], as_of: _dt.date | None,
            conclusions: list[tuple[str, dict[str, Any]]] | None) -> Iterator[tuple[Any, Any, list[CohortRow]]]:
    chunk: list[CohortRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            yield as_of, conclusions, chunk
            chunk = []
    if chunk:
        yield as_of, conclusions, chunk


# --------------------------------------------------------------------------- the command


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt for the duration of a run."""


def evaluate_many(
    applicants: Iterable[Applicant | Mapping[str, Any]],
    *,
    as_of: _dt.date | str | None = None,
    workers: int | None = None,
    rulebook: Rulebook | None = None,
    engine: str = "durable",
    chunksize: int = 256,
    mp_context: Any = None,
) -> Iterator[Evaluation]:
    """Evaluate many applicants, in order; ``workers`` > 1 uses that many processes.

    ``mp_context`` (``"spawn"``, ``"forkserver"``, ``"fork"`` or a context) chooses how workers
    start, else ``multiprocessing.set_start_method``, else fork on Linux (docs: Batch a cohort).
    Raises :class:`~imgpath.WorkerCrashed` if a worker process dies. With the durable engine,
    applicants are evaluated in cohorts sharing a session and each :class:`Evaluation` is built
    lazily, when a question is asked of it; a document that fails validation raises when its turn
    comes (the evaluations before it have been yielded).
    """
    when = as_date(as_of) if as_of is not None else None
    if not workers or workers <= 1:
        if engine == "durable":
            yield from _serial_codes(applicants, when, rulebook or default_rulebook())
            return
        for a in applicants:
            yield evaluate(a, as_of=when, rulebook=rulebook, engine=engine)
        return
    yield from parallel_evaluate(applicants, as_of=when, workers=workers, rulebook=rulebook,
                                 engine=engine, chunksize=chunksize, mp_context=mp_context)


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


def run_batch(ns: Any) -> int:
    """The ``imgpath batch`` command: evaluate a cohort file, write results and an error file.

    Exit status: 0 when every row is in the output; 2 when some rows went to the error file (the
    others are all written) or when the run was refused before any work (bad arguments, paths or
    header); 1 on an internal error (the finished rows are kept); 130 on Ctrl-C, 143 on SIGTERM.
    """
    out_path: Path = ns.output
    err_path: Path = ns.errors or out_path.with_name(out_path.name + ".errors.jsonl")
    try:
        if out_path.suffix.lower() not in (".csv", ".jsonl"):
            raise InvalidFacts("", "the output must be a .csv or .jsonl file", file=str(out_path))
        if not ns.file.is_file():
            raise InvalidFacts("", "no such file" if not ns.file.exists() else "not a file", file=str(ns.file))
        if ns.workers is not None and ns.workers < 1:
            raise InvalidFacts("", f"--workers must be 1 or more, got {ns.workers}")
        book = default_rulebook()
        conclusions = _selected(book, ns.conclusions)
        files = Files(out_path, err_path, ns.file)
    except (InvalidFacts, UnusablePath) as err:
        print(f"imgpath: {err}", file=sys.stderr)
        return 2
    try:
        rows = read_cohort(ns.file)
    except InvalidFacts as err:
        files.discard()
        print(f"imgpath: {err}", file=sys.stderr)
        return 2
    progress = _Progress(ns.file, show=not ns.no_progress and sys.stderr.isatty())
    stop: BaseException | None = None
    internal = 0
    try:
        with _sigterm_as_interrupt() as terminated, \
                contextlib.closing(_outcomes(rows, ns, book, conclusions)) as results:
            for outcomes in results:
                for kind, record in outcomes:
                    (files.row if kind == "row" else files.error)(record)
                    internal += kind == "internal"
                files.flush()
                progress.update(len(outcomes))
    except (KeyboardInterrupt, WorkerCrashed) as err:
        stop = err
    except OSError as err:  # the disk filled up, the folder went away...
        print(f"imgpath: the run stopped on a file error: {err}", file=sys.stderr)
        with contextlib.suppress(OSError):
            out, _ = files.keep_partial()
            print(f"imgpath: {files.rows} finished row(s) kept in {out}", file=sys.stderr)
        return 1
    except BaseException:
        files.keep_partial()
        raise
    finally:
        progress.close()
    if stop is not None:
        return _stopped(stop, files, terminated=bool(terminated))
    files.commit()
    print(f"imgpath: wrote {files.rows} row(s) to {out_path}", file=sys.stderr)
    if files.error_count:
        print(f"imgpath: {files.error_count} row(s) not evaluated; see {err_path}", file=sys.stderr)
    if internal:
        print(f"imgpath: {internal} of them hit an internal error (a bug: please report it with the row)",
              file=sys.stderr)
        return 1
    return 2 if files.error_count else 0


def _outcomes(rows: Iterator[CohortRow], ns: Any, book: Any,
              conclusions: list[tuple[str, dict[str, Any]]] | None) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    chunks = _chunks(rows, ns.as_of, conclusions)
    if not ns.workers or ns.workers <= 1:
        state = {"book": book, "engine": "durable"}
        for chunk in chunks:
            yield _evaluate_rows(state, chunk)
        return
    with Pool(ns.workers, book, "durable") as pool:
        yield from pool.imap(_evaluate_rows, chunks, salvage=True)


def _stopped(stop: BaseException, files: Any, *, terminated: bool) -> int:
    """Keep what finished as OUTPUT.partial; one line says why the run stopped; the exit status.

    ``terminated``: this process got SIGTERM (with its workers, a whole process group is often
    stopped at once: their deaths then are not a crash).
    """
    with _signals_deferred():
        out, err = files.keep_partial()
        kept = f"{files.rows} finished row(s) kept in {out}"
        if err is not None:
            kept += f" and {files.error_count} error(s) in {err}"
        if terminated:
            print(f"imgpath: terminated; {kept}", file=sys.stderr)
            return 128 + signal.SIGTERM
        if isinstance(stop, WorkerCrashed):
            print(f"imgpath: {stop}; the run stopped: {kept} (rerun to finish)", file=sys.stderr)
            return 1
        print(f"imgpath: interrupted; {kept}", file=sys.stderr)
        return 128 + signal.SIGINT


def _selected(book: Any, text: str | None) -> list[tuple[str, dict[str, Any]]] | None:
    """The --conclusions names, checked against the rulebook before any work."""
    if not text:
        return None
    out = []
    for name in (n.strip() for n in text.split(",")):
        if not name:
            continue
        try:
            spec = book.conclusion(name)
        except KeyError as err:
            raise InvalidFacts("--conclusions", err.args[0]) from None
        if spec.args:
            raise InvalidFacts("--conclusions", f"{name} takes {', '.join(spec.args)}=...: only conclusions "
                                                "without arguments can be named (the full output has the others)")
        out.append((name, {}))
    return out


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM raises :class:`_Terminated` in the main thread while a run goes (finished rows are kept);
    the list yielded records that it came."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        raise _Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM while the finished rows are being kept waits until they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Progress:
    """The progress bar on a terminal, made at the first finished chunk: after the workers have
    started, so they are not forked beside tqdm's monitor thread; nothing at all when hidden."""

    def __init__(self, path: Path, show: bool) -> None:
        self.path, self.show, self.bar = path, show, None

    def update(self, n: int) -> None:
        if not self.show:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self._count(), unit="applicant", desc="imgpath")
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _count(self) -> int | None:
        """Roughly how many rows (the line count)."""
        try:
            with self.path.open("rb") as fh:
                lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        except OSError:
            return None
        return max(0, lines - (1 if self.path.suffix.lower() == ".csv" else 0))
