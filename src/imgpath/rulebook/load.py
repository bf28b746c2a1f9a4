"""Reading a rules folder into records: every file's keys checked, every condition parsed.

The folder holds rule files (``*.toml`` with ``[[rule]]`` entries), ``sources.toml``,
``conclusions.toml`` and ``data/`` (parameter tables with a ``[table]`` header, and the planning,
calendar and reference files described by :data:`DATA_FILES`). Nothing is silently ignored: an
unknown key anywhere is an error naming the file and the key, with a suggestion, as OpenFisca's
parameter loader does. Names in conditions are resolved afterwards (:mod:`.resolve`).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .. import expressions as ex
from ..errors import RuleError
from ..facts import fields_by_key, section_classes
from .model import BEGINNING, END_OF_TIME, Cell, ConclusionSpec, Confidence, Definition, Rule, Series, Source, Step, Table
from .resolve import bare_refs, bind, expand, substitute

__all__ = ["DATA_FILES", "Folder", "Names", "cell_from", "check_number", "hint", "read_definitions", "read_folder", "read_law", "read_rule_file", "read_toml"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9_]+)*$")
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9\-_.]*$")
_CONFIDENCE = tuple(c.value for c in Confidence)
#: Largest magnitude of a number the engine holds exactly (larger ones are clamped).
ENGINE_MAX = 10**15


@attrs.frozen
class Folder:
    """What a rules folder holds, read and parsed, before the names are checked together."""

    rules: tuple[Rule, ...]
    sources: Mapping[str, Source]
    tables: Mapping[str, Table]
    conclusions: Mapping[str, ConclusionSpec]
    extras: Mapping[str, Any]
    definitions: Mapping[str, Definition] = attrs.field(factory=dict)
    law: Mapping[str, str] = attrs.field(factory=dict)


def read_law(path: Path) -> dict[str, str]:
    """The IMG rules digest (``rules/digest.md``) by id: ``R2.5.1`` -> its paragraph, ``R2.6`` -> its
    section heading, ``§8(d)`` -> an item of section 8. Rules cite these ids (``digest = [...]``);
    the docs show each rule beside them. An absent file gives an empty mapping."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    section = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#{2,4} (\d+(?:\.\d+)*)\.? (.*)$", line)
        if heading:
            section = heading.group(1)
            out.setdefault(f"R{section}", f"§{section} {heading.group(2).strip()}")
            continue
        bullet = re.match(r"^- \*\*(R[\d.]+)\b", line)
        if bullet:
            out[bullet.group(1)] = line[2:].strip()
            continue
        item = re.match(r"^- \*\*\(([a-z])\)", line)
        if item and section:
            out[f"§{section}({item.group(1)})"] = line[2:].strip()
            continue
        engine = re.search(r"\*\*(R[\d.]+)\*\*", line)
        if engine and engine.group(1) not in out:
            out[engine.group(1)] = line.strip()
    return out


def hint(name: str, options: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest option, or ''."""
    found = difflib.get_close_matches(name, [str(o) for o in options], n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


@attrs.frozen
class Names:
    """What the names in a rule file can refer to: conclusions, tables, definitions, bound rows."""

    conclusions: Mapping[str, ConclusionSpec]
    tables: Mapping[str, Table] = attrs.field(factory=dict)
    definitions: Mapping[str, Definition] = attrs.field(factory=dict)

    @property
    def bound(self) -> set[str]:
        """Names of rows bound for every rule (``season``)."""
        return {t.bind for t in self.tables.values() if t.bind != "for"}


def read_folder(root: Path) -> Folder:
    """Read every file of a rules folder (``root``); RuleError naming the file on any problem."""
    if not root.is_dir():
        raise RuleError(f"{root} is not a folder of rules (it should hold sources.toml, conclusions.toml "
                        "and the rule files)")
    sources = _load_sources(root / "sources.toml", root)
    conclusions = _load_conclusions(root / "conclusions.toml", root)
    tables: dict[str, Table] = {}
    extras: dict[str, Any] = {}
    data_dir = root / "data"
    if data_dir.is_dir():
        for f in sorted(data_dir.glob("*.toml")):
            doc = read_toml(f, root)
            if "table" in doc:
                table = _load_table(f, doc, root)
                if table.name in tables:
                    raise RuleError(f"table {table.name!r} defined twice", file=_rel(f, root))
                tables[table.name] = table
            else:
                _check_shape(doc, DATA_FILES.get(f.stem), _rel(f, root), f.stem)
                extras[f.stem] = doc
    files = [f for f in sorted(root.glob("*.toml")) if f.name not in ("sources.toml", "conclusions.toml")]
    docs = [(f, read_toml(f, root)) for f in files]
    names = Names(conclusions, tables, read_definitions(docs, root, Names(conclusions, tables)))
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for f, doc in docs:
        for rule in _rules_of(doc, _rel(f, root), names):
            if rule.id in seen:
                raise RuleError(f"duplicate rule id (also in {seen[rule.id]})", file=rule.file, rule_id=rule.id)
            seen[rule.id] = rule.file
            rules.append(rule)
    return Folder(tuple(rules), sources, tables, conclusions, extras, names.definitions,
                  read_law(root / "digest.md"))


def read_rule_file(f: Path, root: Path | None, names: Names) -> list[Rule]:
    """The rules of one rule file, parsed and with definitions expanded (names are checked later)."""
    doc = read_toml(f, root)
    own = read_definitions([(f, doc)], root, names)
    if own:
        names = attrs.evolve(names, definitions={**names.definitions, **own})
    return _rules_of(doc, _rel(f, root), names)


def _rules_of(doc: dict[str, Any], file: str, names: Names) -> list[Rule]:
    unknown = set(doc) - {"rule", "schema", "about", "define"}
    if unknown:
        raise RuleError(f"unexpected top-level keys {sorted(unknown)}; rule files hold [[rule]] entries "
                        "and [define.<name>] definitions", file=file)
    schema = doc.get("schema", 1)
    if schema not in (1, 2):
        raise RuleError(f"schema must be 1 or 2, got {schema!r}", file=file)
    entries = doc.get("rule", [])
    if not isinstance(entries, list):
        raise RuleError("'rule' must be an array of tables: write [[rule]]", file=file)
    return [_load_rule(raw, file, i, names, schema) for i, raw in enumerate(entries)]


# --------------------------------------------------------------------------- definitions

_DEFINE_KEYS = {"title", "params", "expr", "when", "value", "notes", "sources"}


def read_definitions(docs: Iterable[tuple[Path, dict[str, Any]]], root: Path | None,
                     names: Names) -> dict[str, Definition]:
    """The ``[define.<name>]`` entries of rule files, each parsed and expanded in terms of the others.

    A definition is an expression with parameters (``expr``), a group of conditions (``when``)
    or a named value (``value``, e.g. a list of codes). Its name may not hide a conclusion, a
    section of the applicant, a table, a function or another definition; definitions may use one
    another but not themselves.
    """
    raw_defs: dict[str, tuple[str, dict[str, Any]]] = {}
    taken = {*names.conclusions, *section_classes(), *names.tables, *names.bound, *ex.FUNCTIONS, *ex.AGGREGATES,
             "as_of", "date"}
    for f, doc in docs:
        file = _rel(f, root)
        block = doc.get("define", {})
        if not isinstance(block, dict):
            raise RuleError("'define' holds [define.<name>] tables", file=file)
        for name, raw in block.items():
            if not isinstance(raw, dict):
                raise RuleError(f"define.{name}: expected a table with title and expr, when or value", file=file)
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or name in taken or name in raw_defs:
                why = "already names something else" if name in taken or name in raw_defs else "is not a name"
                raise RuleError(f"define.{name}: {name!r} {why}; pick another", file=file)
            extra = set(raw) - _DEFINE_KEYS
            if extra:
                bad = sorted(extra)[0]
                raise RuleError(f"define.{name}: unknown key {bad!r}{hint(bad, _DEFINE_KEYS)}", file=file)
            if sum(k in raw for k in ("expr", "when", "value")) != 1:
                raise RuleError(f"define.{name}: give exactly one of expr, when or value", file=file)
            raw_defs[name] = (file, raw)
    out: dict[str, Definition] = {}
    visiting: list[str] = []

    def build(name: str) -> Definition:
        if name in out:
            return out[name]
        if name in visiting:
            raise RuleError(f"define.{name}: defined in terms of itself ({' -> '.join([*visiting, name])})",
                            file=raw_defs[name][0])
        visiting.append(name)
        file, raw = raw_defs[name]
        params = raw.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) and p.isidentifier() for p in params):
            raise RuleError(f"define.{name}: params is a list of names", file=file)
        title = raw.get("title", "")
        if not isinstance(title, str):
            raise RuleError(f"define.{name}: title must be text", file=file)
        sources = raw.get("sources", [])
        if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
            raise RuleError(f"define.{name}: sources must be a list of source ids", file=file)
        if "value" in raw:
            value = raw["value"]
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, (list, dict)):
                    raise RuleError(f"define.{name}: a value is a literal or a list of literals", file=file)
                check_number(v, f"define.{name}", file)
            d = Definition(name, "value", (), (), (), tuple(value) if isinstance(value, list) else value, title, file,
                           tuple(sources))
        else:
            kind = "expr" if "expr" in raw else "when"
            texts = [raw["expr"]] if kind == "expr" else raw["when"]
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                raise RuleError(f"define.{name}: {kind} must be {'a condition' if kind == 'expr' else 'a list of conditions'}",
                                file=file)
            needed = {n for t in texts for n in _names_in(t, file, name)} & set(raw_defs)
            for dep in sorted(needed - {name} - set(params)):
                build(dep)
            if name in needed:
                build(name)  # reports the cycle
            local = frozenset(params)
            body = []
            for t in texts:
                try:
                    node = expand(ex.parse(t), out, local, names.tables)
                except RuleError as err:
                    raise RuleError(f"define.{name}: {err.problem}", file=file, text=t) from None
                body.append(bare_refs(node, names.conclusions, section_classes(), names.bound, local))
            d = Definition(name, kind, tuple(params), tuple(body), tuple(texts), None, title, file, tuple(sources))
        visiting.pop()
        out[name] = d
        return d

    for name in raw_defs:
        build(name)
    return out


def _names_in(text: str, file: str, name: str) -> set[str]:
    try:
        node = ex.parse(text)
    except RuleError as err:
        raise RuleError(f"define.{name}: {err.problem}", file=file, text=text) from None
    out: set[str] = set()
    for n in ex.walk(node):
        if isinstance(n, ex.Field):
            out.add(n.root)
        elif isinstance(n, (ex.Call, ex.Ref)):
            out.add(n.name)
    return out


def _rel(f: Path, root: Path | None) -> str:
    if root is None:
        return str(f)
    try:
        return str(Path("rules") / f.relative_to(root))
    except ValueError:
        return str(f)


def read_toml(f: Path, root: Path | None = None) -> dict[str, Any]:
    """A TOML file as a dict; a missing, undecodable or malformed file is a RuleError naming it."""
    file = _rel(f, root)
    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        raise RuleError("file not found", file=file) from None
    except OSError as err:
        raise RuleError(f"cannot read the file: {err.strerror or err}", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise RuleError(f"not UTF-8 text (byte {raw[err.start]:#04x} on line {line}); save the file as UTF-8",
                        file=file) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RuleError(f"not valid TOML: {err}", file=file) from None
    except RecursionError:
        raise RuleError("not valid TOML: nested too deeply", file=file) from None


# --------------------------------------------------------------------------- numbers


def check_number(value: Any, where: str, file: str | None, rule_id: str | None = None) -> None:
    """Refuse a number the engine cannot hold exactly (it would be clamped or rounded on the way).

    The engine's JSON reader misreads exponents, so imgpath writes floats as plain decimals of at
    most six places, and clamps magnitudes at 10**15 (:func:`imgpath.compiler.encode`).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    problem = ""
    if isinstance(value, float) and not math.isfinite(value):
        problem = f"{value} is not a number the rules can use"
    elif abs(value) >= ENGINE_MAX:
        problem = f"{_short(value)} is too large (the engine holds numbers below 10**15 exactly)"
    elif isinstance(value, float) and not value.is_integer() and (round(value, 6) != value or abs(value) < 1e-4):
        problem = f"{value!r} has more precision than the engine keeps (six decimal places, magnitudes from 0.0001)"
    if problem:
        raise RuleError(f"{where}: {problem}", file=file, rule_id=rule_id)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} digits)"


# --------------------------------------------------------------------------- data files

#: The shape of each data file that is not a parameter table: nested keys, ``"*"`` for any key,
#: a list of one shape for arrays of tables, and a type name for leaves. The applicant patches of
#: ``actions`` (``set``, ``add``) are checked against the applicant schema instead.
_EVENT = {"id": "str", "title": "str", "date": "date", "estimated": "bool", "confidence": "confidence",
          "sources": "list", "note": "str"}
_DATED = {"from": "date", "until": "date", "law": "str", "confidence": "confidence", "sources": "list",
          "note": "str"}
DATA_FILES: dict[str, Any] = {
    "actions": {
        "schema": "int",
        "default_goal": "str",
        "training_start": "str",
        "actions": {"*": {"action": "str", "add": "patch-add", "set": "patch-set", "unless": "str",
                          "blocked": "str", "requires": "str", "requires_now": "str", "after": "list",
                          "deadline": "str", "deadline_for": {"*": "str"}, "each": {"*": "list"},
                          "smaller_first": "bool", "sources": "list", "assumption": "str", "note": "str"}},
        "events": {"*": {"title": "str", "months_before_start": "int", "confidence": "confidence",
                         "sources": "list", "note": "str"}},
        "consequences": {"*": {"text": "str", "goals": "list"}},
        "advice": {"conclusion": "str", "goals": "list", "text": {"*": "str"}},
    },
    "calendar": {"schema": "int", "seasons": {"*": {"events": [_EVENT]}}},
    "horizon": {"schema": "int", "last_season": "int", "checked": "date", "warn_after_months": "int",
                "season_figures": "str", "season_deadline": {"column": "str", "name": "str"},
                "unpublished": {"*": "str"}},
    "display": {"schema": "int", "summary": {"conclusions": "list", "title": "str"}},
    "visa_dates": {
        "schema": "int",
        "conrad30": {"authorized": [_DATED], "lapses": [_DATED],
                     "status": {"as_of": "date", "confidence": "confidence", "current_authority_until": "date-or-unknown",
                                "note": "str", "sources": "list"}},
        "h1b_payment": {"confidence": "confidence", "effective": "date", "effective_time": "str",
                        "expires": "date", "extended": "bool-or-unknown", "note": "str", "proclamation": "str",
                        "sources": "list"},
    },
}
_LEAF_TYPES = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "date": lambda v: isinstance(v, _dt.date) and not isinstance(v, _dt.datetime),
    "list": lambda v: isinstance(v, list),
    "confidence": lambda v: v in _CONFIDENCE,
    "bool-or-unknown": lambda v: v == "unknown" or isinstance(v, bool),
    "date-or-unknown": lambda v: v == "unknown" or (isinstance(v, _dt.date) and not isinstance(v, _dt.datetime)),
}


def _check_shape(doc: Any, shape: Any, file: str, path: str) -> None:
    if shape is None:
        raise RuleError(f"unknown data file {Path(file).name!r}{hint(Path(file).stem, DATA_FILES)}: a data file is "
                        "a parameter table (with a [table] header) or one of " + ", ".join(sorted(DATA_FILES)),
                        file=file)
    if isinstance(shape, dict):
        if not isinstance(doc, dict):
            raise RuleError(f"{path}: expected a table", file=file)
        for k, v in doc.items():
            sub = shape.get(k, shape.get("*"))
            if sub is None:
                raise RuleError(f"{path}: unknown key {k!r}{hint(k, shape)}", file=file)
            _check_shape(v, sub, file, f"{path}.{k}")
        return
    if isinstance(shape, list):
        if not isinstance(doc, list):
            raise RuleError(f"{path}: expected an array of tables ([[...]])", file=file)
        for i, item in enumerate(doc):
            _check_shape(item, shape[0], file, f"{path}[{i}]")
        return
    if shape in ("patch-set", "patch-add"):
        _check_patch(doc, file, path, adds=shape == "patch-add")
        return
    if not _LEAF_TYPES[shape](doc):
        raise RuleError(f"{path}: expected {'one of ' + ', '.join(_CONFIDENCE) if shape == 'confidence' else 'a ' + shape}"
                        f", got {doc!r}", file=file)


def _check_patch(doc: Any, file: str, path: str, *, adds: bool) -> None:
    """``set``/``add`` of a planning action: sections and fields of the applicant document."""
    sections = section_classes()
    if not isinstance(doc, dict):
        raise RuleError(f"{path}: expected a table of sections", file=file)
    for section, fields in doc.items():
        if section not in sections:
            raise RuleError(f"{path}: unknown section {section!r}{hint(section, sections)}", file=file)
        _check_fields(sections[section], fields, file, f"{path}.{section}")


def _check_fields(cls: type, fields: Any, file: str, path: str) -> None:
    if not isinstance(fields, dict):
        raise RuleError(f"{path}: expected a table of fields", file=file)
    known = fields_by_key(cls)
    for name, value in fields.items():
        if name not in known:
            raise RuleError(f"{path}: {cls.__name__} has no field {name!r}{hint(name, known)}", file=file)
        sub = known[name].metadata["imgpath"]["cls"]
        if isinstance(value, dict) and sub is not None:
            _check_fields(sub, value, file, f"{path}.{name}")


# --------------------------------------------------------------------------- sources, conclusions, tables


def _load_sources(f: Path, root: Path) -> dict[str, Source]:
    file = _rel(f, root)
    out: dict[str, Source] = {}
    for sid, raw in read_toml(f, root).items():
        if sid == "schema":
            continue
        if not isinstance(raw, dict) or not _SOURCE_ID.match(sid):
            raise RuleError(f"source {sid!r}: expected a table with url, title, publisher, kind", file=file)
        missing = {"url", "title", "publisher", "kind"} - set(raw)
        if missing:
            raise RuleError(f"source {sid}: missing {sorted(missing)}", file=file)
        extra = set(raw) - {"url", "title", "publisher", "kind", "retrieved", "note"}
        if extra:
            raise RuleError(f"source {sid}: unknown keys {sorted(extra)}", file=file)
        if raw["kind"] not in ("primary", "secondary"):
            raise RuleError(f"source {sid}: kind must be primary or secondary, got {raw['kind']!r}", file=file)
        retrieved = raw.get("retrieved")
        if retrieved is not None and not _LEAF_TYPES["date"](retrieved):
            raise RuleError(f"source {sid}: retrieved must be a date", file=file)
        out[sid] = Source(sid, raw["url"], raw["title"], raw["publisher"], raw["kind"], retrieved,
                          str(raw.get("note", "")))
    return out


def _load_conclusions(f: Path, root: Path) -> dict[str, ConclusionSpec]:
    file = _rel(f, root)
    out: dict[str, ConclusionSpec] = {}
    keys = {"kind", "description", "args", "values", "digest", "internal", "judged", "never_yes", "sources",
            "confidence"}
    for name, raw in read_toml(f, root).items():
        if name == "schema":
            continue
        if not isinstance(raw, dict):
            raise RuleError(f"conclusion {name}: expected a table", file=file)
        extra = set(raw) - keys
        if extra:
            bad = sorted(extra)[0]
            raise RuleError(f"conclusion {name}: unknown key {bad!r}{hint(bad, keys)}", file=file)
        kind = raw.get("kind", "boolean")
        if kind not in ("boolean", "value", "set"):
            raise RuleError(f"conclusion {name}: kind must be boolean, value or set", file=file)
        if raw.get("confidence", "primary") not in _CONFIDENCE:
            raise RuleError(f"conclusion {name}: confidence must be one of {', '.join(_CONFIDENCE)}", file=file)
        args = {}
        for arg, domain in (raw.get("args") or {}).items():
            args[arg] = tuple(domain) if isinstance(domain, list) else domain
        out[name] = ConclusionSpec(name, kind, raw.get("description", ""), args, tuple(raw.get("values", ())),
                                   tuple(raw.get("digest", ())), bool(raw.get("internal", False)),
                                   raw.get("judged", ""), bool(raw.get("never_yes", False)),
                                   tuple(raw.get("sources", ())), raw.get("confidence", "primary"))
    return out


_COLUMN_TYPES = ("str", "int", "number", "bool", "date", "list")
_TABLE_KEYS = {"name", "key", "key_type", "bind", "columns", "defaults", "scope", "description", "horizon",
               "default_match_day", "dated"}


def _load_table(f: Path, doc: dict[str, Any], root: Path) -> Table:
    meta = doc["table"]
    file = _rel(f, root)
    if not isinstance(meta, dict):
        raise RuleError("[table] must be a table", file=file)
    extra = set(meta) - _TABLE_KEYS
    if extra:
        bad = sorted(extra)[0]
        raise RuleError(f"[table] has unknown key {bad!r}{hint(bad, _TABLE_KEYS)}", file=file)
    for key in ("name", "key", "bind"):
        if key not in meta:
            raise RuleError(f"[table] needs {key!r}", file=file)
    name = meta["name"]
    unexpected = set(doc) - {"table", "schema", name}
    if unexpected:
        raise RuleError(f"unexpected top-level keys {sorted(unexpected)}; a table file holds [table] and "
                        f"[{name}.<key>] rows", file=file)
    columns = dict(meta.get("columns", {}))
    for col, typ in columns.items():
        if typ not in _COLUMN_TYPES:
            raise RuleError(f"column {col}: type must be one of {_COLUMN_TYPES}", file=file)
    key_type = meta.get("key_type", "str")
    dated = meta.get("dated", [])
    if not isinstance(dated, list) or any(c not in columns for c in dated):
        raise RuleError("[table] dated lists columns of [table.columns] whose cells change over time", file=file)
    rows: dict[Any, dict[str, Cell | Series]] = {}
    for raw_key, raw_row in (doc.get(name) or {}).items():
        if key_type == "int" and not str(raw_key).lstrip("-").isdigit():
            raise RuleError(f"{name}.{raw_key}: the key must be a whole number", file=file)
        key: Any = int(raw_key) if key_type == "int" else raw_key
        if not isinstance(raw_row, dict):
            raise RuleError(f"{name}.{raw_key}: expected a table of cells", file=file)
        row: dict[str, Cell | Series] = {}
        for col, raw in raw_row.items():
            where = f"{name}.{raw_key}.{col}"
            if col not in columns:
                raise RuleError(f"{name}.{raw_key}: unknown column {col!r}{hint(col, columns)}; declare it "
                                "in [table.columns]", file=file)
            if col in dated:
                row[col] = _series(raw, columns[col], where, file)
                continue
            cell = cell_from(raw if isinstance(raw, dict) else {"value": raw}, columns[col], where, file)
            row[col] = cell
        for col, default in (meta.get("defaults") or {}).items():
            if col not in columns:
                raise RuleError(f"[table.defaults] names unknown column {col!r}", file=file)
            row.setdefault(col, Cell(_check_cell(default, columns[col], f"{name}.defaults.{col}", file),
                                     "primary", (), "default: absence has this meaning"))
        rows[key] = row
    settings = {k: v for k, v in meta.items() if k in ("horizon", "default_match_day", "dated")}
    return Table(name, meta["key"], key_type, meta["bind"], columns, rows, meta.get("scope"), file,
                 meta.get("description", ""), settings)


def _series(raw: Any, typ: str, where: str, file: str) -> Series:
    """A dated cell: ``[[table.KEY.column]]`` steps ``{ from, value, confidence, sources, note, expected, kind }``."""
    if not isinstance(raw, list) or not raw or not all(isinstance(x, dict) for x in raw):
        raise RuleError(f"{where}: a dated cell is a list of steps, [[{where}]] with from and value", file=file)
    steps: list[Step] = []
    for i, step in enumerate(raw):
        at = f"{where}[{i}]"
        extra = set(step) - {"from", "value", "confidence", "sources", "note", "expected", "kind"}
        if extra:
            bad = sorted(extra)[0]
            raise RuleError(f"{at}: unknown key {bad!r}{hint(bad, ['from', 'expected', 'kind', 'note'])}", file=file)
        start = step.get("from", BEGINNING if i == 0 else None)
        if not isinstance(start, _dt.date) or isinstance(start, _dt.datetime):
            raise RuleError(f"{at}: every step after the first needs 'from', a date", file=file)
        if steps and start <= steps[-1].start:
            raise RuleError(f"{at}: steps must be in date order ({start} is not after {steps[-1].start})", file=file)
        expected = step.get("expected", False)
        kind = step.get("kind", "")
        if not isinstance(expected, bool) or not isinstance(kind, str):
            raise RuleError(f"{at}: expected is true or false, kind is text", file=file)
        cell = cell_from({k: v for k, v in step.items() if k in ("value", "confidence", "sources", "note")}, typ, at,
                         file)
        steps.append(Step(start, cell, expected, kind))
    return Series(tuple(steps))


def cell_from(raw: Mapping[str, Any], typ: str, where: str, file: str) -> Cell:
    """A table cell from ``{ value, confidence, sources, note }`` (a bare value is ``{ value }``)."""
    extra = set(raw) - {"value", "confidence", "sources", "note"}
    if extra or "value" not in raw:
        raise RuleError(f"{where}: a cell is {{ value, confidence, sources, note }}", file=file)
    conf = raw.get("confidence", "primary")
    if conf not in _CONFIDENCE:
        raise RuleError(f"{where}: confidence must be one of {_CONFIDENCE}", file=file)
    sources = raw.get("sources", ())
    if not isinstance(sources, (list, tuple)) or not all(isinstance(x, str) for x in sources):
        raise RuleError(f"{where}: sources must be a list of source ids", file=file)
    return Cell(_check_cell(raw["value"], typ, where, file), conf, tuple(sources), str(raw.get("note", "")))


def _check_cell(value: Any, typ: str, where: str, file: str) -> Any:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "date": isinstance(value, _dt.date) and not isinstance(value, _dt.datetime),
        "list": isinstance(value, list),
    }[typ]
    if not ok:
        raise RuleError(f"{where}: expected a {typ}, got {_short(value)}", file=file)
    check_number(value, where, file)
    return tuple(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------- rules

_RULE_KEYS = {"id", "title", "when", "then", "effective", "sources", "confidence", "notes", "for",
              "assumptions", "digest", "group", "advisory", "applies_to"}


def _load_rule(raw: Any, file: str, index: int, names: Names, schema: int) -> Rule:
    """One ``[[rule]]`` entry, parsed, with definitions expanded and bare conclusion names resolved.

    In a ``schema = 2`` file an argument or value written as a plain string is that literal
    (``args = { state = "TN" }``) and an expression says so (``{ expr = "state.code" }``); in
    ``schema = 1`` files every argument string is an expression (``"'TN'"``).
    """
    if not isinstance(raw, dict):
        raise RuleError(f"rule #{index + 1}: expected a table", file=file)
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleError(f"rule #{index + 1}: 'id' must be a dotted lowercase name like 'ecfmg.exams_met'",
                        file=file, rule_id=str(rid)[:80] if rid else None)

    def fail(problem: str, text: str | None = None) -> RuleError:
        return RuleError(problem, file=file, rule_id=rid, text=text)

    extra = set(raw) - _RULE_KEYS
    if extra:
        bad = sorted(extra)[0]
        raise fail(f"unknown key {bad!r}{hint(bad, _RULE_KEYS)}")
    for key in ("title", "when", "then", "sources", "confidence"):
        if key not in raw:
            raise fail(f"missing {key!r}")
    for key, kind in (("title", str), ("notes", str), ("group", str), ("advisory", bool)):
        if key in raw and not isinstance(raw[key], kind):
            raise fail(f"'{key}' must be {'text' if kind is str else 'true or false'}")
    for key in ("digest", "assumptions"):
        if key in raw and (not isinstance(raw[key], list) or not all(isinstance(x, str) for x in raw[key])):
            raise fail(f"'{key}' must be a list of strings")
    when_raw = raw["when"]
    if not isinstance(when_raw, list) or not all(isinstance(w, str) for w in when_raw):
        raise fail("'when' must be a list of condition strings")
    then = raw["then"]
    if not isinstance(then, dict) or "conclusion" not in then:
        raise fail("'then' must be a table with 'conclusion'")
    extra_then = set(then) - {"conclusion", "args", "value", "value_expr", "verdict"}
    if extra_then:
        raise fail(f"'then' has unknown keys {sorted(extra_then)}")
    if not isinstance(then["conclusion"], str):
        raise fail("'then.conclusion' must be a conclusion name")
    confidence = raw["confidence"]
    if confidence not in _CONFIDENCE:
        raise fail(f"confidence must be one of {', '.join(_CONFIDENCE)}")
    srcs = raw["sources"]
    if not isinstance(srcs, list) or not all(isinstance(s, str) for s in srcs):
        raise fail("'sources' must be a list of source ids")
    effective = raw.get("effective", {})
    if not isinstance(effective, dict) or set(effective) - {"from", "until"}:
        raise fail("'effective' is { from = DATE, until = DATE }")
    start = effective.get("from", BEGINNING)
    until = effective.get("until", END_OF_TIME)
    for d in (start, until):
        if not isinstance(d, _dt.date) or isinstance(d, _dt.datetime):
            raise fail(f"effective dates must be dates, got {d!r}")
    if until < start:
        raise fail(f"effective window ends ({until}) before it starts ({start})")
    for_var = for_table = None
    if "for" in raw:
        f = raw["for"]
        if not isinstance(f, dict) or len(f) != 1 or not all(isinstance(v, str) for v in f.values()):
            raise fail("'for' is { var = \"table\" }, e.g. { state = \"states\" }")
        ((for_var, for_table),) = f.items()
    local_bound = names.bound | ({for_var} if for_var else set())
    sections = set(section_classes())
    shadow = frozenset({for_var} if for_var else set())

    def parse(text: str, used: set[str] | None = None) -> ex.Node:
        try:
            node = expand(ex.parse(text), names.definitions, shadow, names.tables, used)
        except RuleError as err:
            raise fail(err.problem, text) from None
        for n in ex.walk(node):
            if isinstance(n, ex.Const):
                for v in (n.value if isinstance(n.value, tuple) else (n.value,)):
                    try:
                        check_number(v, "a number in this condition", file, rid)
                    except RuleError as err:
                        raise fail(err.problem, text) from None
        return bare_refs(node, names.conclusions, sections, local_bound)

    when: list[ex.Node] = []
    texts: list[str] = []
    defined: list[tuple[str, ...]] = []
    for w in when_raw:
        group = _group_use(w, names.definitions)
        if group is not None:  # a group of conditions: spliced in, each condition its own line
            d, node = group
            try:
                args = bind(d, node.args if isinstance(node, ex.Call) else (),
                            dict(node.args) if isinstance(node, ex.Ref) else {})
            except RuleError as err:
                raise fail(err.problem, w) from None
            for body, text in zip(d.body, d.text, strict=True):
                part = substitute(body, args)
                when.append(bare_refs(part, names.conclusions, sections, local_bound))
                texts.append(text if not args else ex.render(part))
                defined.append((d.name,))
            continue
        used: set[str] = set()
        when.append(parse(w, used))
        texts.append(w)
        defined.append(tuple(sorted(used)))
    applies_raw = raw.get("applies_to", [])
    if not isinstance(applies_raw, list) or not all(isinstance(w, str) for w in applies_raw):
        raise fail("'applies_to' must be a list of condition strings (whom the rule is for)")
    args = []
    raw_args = then.get("args") or {}
    if not isinstance(raw_args, dict):
        raise fail("'then.args' is a table: { state = \"TX\" }")
    for k, v in sorted(raw_args.items()):
        args.append((k, _operand(v, f"then.args.{k}", schema, parse, fail, file, rid)))
    value: ex.Node | None = None
    if "value" in then:
        value = _operand(then["value"], "then.value", schema, parse, fail, file, rid, literal=True)
    if "value_expr" in then:
        if not isinstance(then["value_expr"], str):
            raise fail("'then.value_expr' must be an expression")
        value = parse(then["value_expr"])
    verdict = then.get("verdict", "yes")
    if verdict not in ("yes", "unknown"):
        raise fail("'then.verdict' is 'yes' (the default) or 'unknown' (sources conflict)")
    assumptions = raw.get("assumptions", [])
    return Rule(
        id=rid, title=raw["title"], conclusion=then["conclusion"], when=tuple(when),
        when_text=tuple(texts), args=tuple(args), value=value, verdict=verdict,
        effective_from=start, effective_until=until, sources=tuple(srcs), confidence=confidence,
        for_var=for_var, for_table=for_table, assumptions=tuple(assumptions),
        digest=tuple(raw.get("digest", ())), group=raw.get("group", ""), notes=raw.get("notes", ""),
        file=file, advisory=raw.get("advisory", False), defined=tuple(defined),
        applies_to=tuple(parse(w) for w in applies_raw), applies_to_text=tuple(applies_raw),
    )


def _group_use(text: str, defs: Mapping[str, Definition]) -> tuple[Definition, ex.Node] | None:
    """A ``when`` entry that is exactly a use of a group definition (``pathways_applicant``)."""
    try:
        node = ex.parse(text)
    except RuleError:
        return None
    name = node.root if isinstance(node, ex.Field) and not node.path else getattr(node, "name", None)
    if not isinstance(node, (ex.Field, ex.Call, ex.Ref)) or name not in defs or defs[name].kind != "when":
        return None
    return defs[name], node


def _operand(v: Any, where: str, schema: int, parse: Any, fail: Any, file: str, rid: str,
             literal: bool = False) -> ex.Node:
    """A conclusion argument or value: a literal, or an expression (``{ expr = ... }``; in schema 1
    files a string argument is an expression too)."""
    if isinstance(v, dict):
        if set(v) != {"expr"} or not isinstance(v["expr"], str):
            raise fail(f"'{where}' is a literal or {{ expr = \"...\" }}")
        return parse(v["expr"])  # type: ignore[no-any-return]
    if isinstance(v, list):
        if not literal:
            raise fail(f"'{where}' must be a single value, not a list")
        for item in v:
            if isinstance(item, (list, dict)):
                raise fail(f"'{where}' is a literal or a list of literals")
            check_number(item, where, file, rid)
        return ex.Const(tuple(v))
    check_number(v, where, file, rid)
    if isinstance(v, str) and schema == 1 and not literal:
        return parse(v)  # type: ignore[no-any-return]
    return ex.Const(v)
