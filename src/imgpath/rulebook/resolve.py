"""Name resolution: what every name in a condition refers to, checked against facts, tables and conclusions.

A bare name that is a conclusion (``img``) becomes a :class:`~imgpath.expressions.Ref`; every field
path must exist in the applicant schema, every table column in its table, every conclusion with
its arguments; a literal compared with a field must be a value that field can hold (``'India'``
is not a country code, ``pathway_eligible(pathway=99)`` has no such instance). Errors name the
file, the rule and the condition, with a suggestion.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .. import expressions as ex
from ..errors import RuleError
from ..facts import fields_by_key, list_sections, section_classes
from .model import ConclusionSpec, Definition, Rule, Source, Table

__all__ = ["bare_refs", "check_rules", "expand"]

#: Literal types a field of each schema kind can be compared with.
_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,), "int": (int, float), "number": (int, float), "date": (_dt.date,),
    "str": (str,), "enum": (str,), "country": (str,), "countries": (str,), "state": (str,),
    "states": (str,), "strings": (str,), "jurisdiction": (str,),
}


def _hint(name: str, options: Iterable[str]) -> str:
    found = difflib.get_close_matches(name, [str(o) for o in options], n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def check_rules(rules: Iterable[Rule], sources: Mapping[str, Source], tables: Mapping[str, Table],
                conclusions: Mapping[str, ConclusionSpec], definitions: Mapping[str, Definition] | None = None) -> None:
    """Raise RuleError at the first rule (or definition) that names something that does not exist."""
    for d in (definitions or {}).values():
        for sid in d.sources:
            if sid not in sources:
                raise RuleError(f"define.{d.name}: unknown source {sid!r}{_hint(sid, sources)}; add it to "
                                "rules/sources.toml", file=d.file)
    for r in rules:
        if r.conclusion not in conclusions:
            raise RuleError(f"unknown conclusion {r.conclusion!r}{_hint(r.conclusion, conclusions)}",
                            file=r.file, rule_id=r.id)
        for sid in r.sources:
            if sid not in sources:
                raise RuleError(f"unknown source {sid!r}{_hint(sid, sources)}; add it to rules/sources.toml",
                                file=r.file, rule_id=r.id)
        spec = conclusions[r.conclusion]
        got = {k for k, _ in r.args}
        if got != set(spec.args):
            raise RuleError(f"conclusion {r.conclusion} takes arguments {sorted(spec.args) or 'none'}, "
                            f"the rule gives {sorted(got) or 'none'}", file=r.file, rule_id=r.id)
        if spec.kind == "boolean" and r.value is not None:
            raise RuleError(f"{r.conclusion} is yes/no; remove 'value'", file=r.file, rule_id=r.id)
        if spec.kind != "boolean" and r.value is None:
            raise RuleError(f"{r.conclusion} is a {spec.kind} conclusion; give 'value' or 'value_expr'",
                            file=r.file, rule_id=r.id)
        if spec.values and isinstance(r.value, ex.Const) and r.value.value not in spec.values:
            raise RuleError(f"value {r.value.value!r} is not one of {list(spec.values)}", file=r.file, rule_id=r.id)
        if r.for_table is not None:
            table = tables.get(r.for_table)
            if table is None or table.bind != "for":
                raise RuleError(f"'for' names {r.for_table!r}, which is not a table rules can range over",
                                file=r.file, rule_id=r.id)
        checker = _NameChecker(tables, conclusions, r)
        for node, text in zip((*r.when, *r.applies_to), (*r.when_text, *r.applies_to_text), strict=True):
            checker.check(node, text)
            if checker.type_of(node, text, {}) not in ("bool", "any"):
                raise checker.fail("a condition must be true or false; this is "
                                   f"{_TYPE_WORDS[checker.type_of(node, text, {})]}", text)
        for name, node in r.args:
            checker.check(node, ex.render(node))
            checker.type_of(node, ex.render(node), {})
            checker.arg_domain(spec, name, node, ex.render(node))
        if r.value is not None:
            checker.check(r.value, ex.render(r.value))
            checker.type_of(r.value, ex.render(r.value), {})
    for spec in conclusions.values():
        for sid in spec.sources:
            if sid not in sources:
                raise RuleError(f"conclusion {spec.name}: unknown source {sid!r}{_hint(sid, sources)}")
    for table in tables.values():
        for key, col, cell in table.cells():
            for sid in cell.sources:
                if sid not in sources:
                    raise RuleError(f"table {table.name} row {key} column {col}: unknown source {sid!r}"
                                    f"{_hint(sid, sources)}", file=table.file)


class _NameChecker:
    """Checks every name in a rule's conditions against facts, tables and conclusions."""

    CONTEXT = ("as_of",)

    def __init__(self, tables: Mapping[str, Table], conclusions: Mapping[str, ConclusionSpec], rule: Rule) -> None:
        self.tables = tables
        self.conclusions = conclusions
        self.rule = rule
        self.sections = section_classes()
        self.lists = list_sections()
        self.bound = {t.bind: t for t in tables.values() if t.bind != "for"}
        if rule.for_var:
            self.bound[rule.for_var] = tables[rule.for_table]  # type: ignore[index]

    def fail(self, problem: str, text: str) -> RuleError:
        return RuleError(problem, file=self.rule.file, rule_id=self.rule.id, text=text)

    def check(self, node: ex.Node, text: str, scope: Mapping[str, type] | None = None) -> None:
        scope = dict(scope or {})
        if isinstance(node, ex.Field):
            self.field(node, text, scope)
            return
        if isinstance(node, ex.Ref):
            if scope:
                raise self.fail("conclusions cannot be read inside any()/count()/...; "
                                "move the conclusion out of the aggregate", text)
            spec = self.conclusions.get(node.name)
            if spec is None:
                raise self.fail(f"unknown name {node.name!r}{_hint(node.name, [*self.conclusions, *self.sections])}",
                                text)
            if {k for k, _ in node.args} != set(spec.args):
                raise self.fail(f"{node.name} takes arguments {sorted(spec.args) or 'none'}", text)
            for name, arg in node.args:
                self.check(arg, text, scope)
                self.arg_domain(spec, name, arg, text)
            return
        if isinstance(node, ex.Quant):
            src = node.source
            if src.path or src.root not in self.lists:
                raise self.fail(f"{node.fn}() ranges over {', '.join(self.lists)}, got {src.dotted}", text)
            if node.var in self.sections or node.var in self.bound or node.var in scope:
                raise self.fail(f"the variable {node.var!r} hides another name; pick another", text)
            inner = {**scope, node.var: self.sections[src.root]}
            self.check(node.pred, text, inner)
            for e in node.extra:
                self.check(e, text, inner if node.fn in ("earliest", "latest") else scope)
            return
        if isinstance(node, ex.Cmp):
            self.check(node.left, text, scope)
            self.check(node.right, text, scope)
            self.literal(node, text, scope)
            if isinstance(node.right, ex.Ref) or (isinstance(node.left, ex.Ref) and ex.valued_ref_test(node) is None
                                                  and self.conclusions[node.left.name].kind != "boolean"):
                raise self.fail("compare a valued conclusion only as 'name == literal' or "
                                "'name in [literals]'", text)
            return
        for child in ex.children(node):
            self.check(child, text, scope)

    def arg_domain(self, spec: ConclusionSpec, name: str, arg: ex.Node, text: str) -> None:
        """A literal argument must name an instance that exists (``pathway=99`` does not)."""
        if not isinstance(arg, ex.Const):
            return
        domain = spec.args.get(name)
        if isinstance(arg.value, (tuple, list, dict)):
            raise self.fail(f"{spec.name}: argument {name} must be a single value, not a list", text)
        if isinstance(domain, str):
            table = self.tables.get(domain)
            if table is not None and arg.value not in table.rows:
                raise self.fail(f"{spec.name}({name}={arg.value!r}): no row {arg.value!r} in table {domain}"
                                f"{_hint(str(arg.value), map(str, table.rows))}", text)
        elif domain and arg.value not in domain:
            raise self.fail(f"{spec.name}({name}={arg.value!r}): {name} is one of {list(domain)}", text)

    def field(self, node: ex.Field, text: str, scope: Mapping[str, type]) -> None:
        root = node.root
        if root in scope:
            self.path(scope[root], node.path, node, text)
            return
        if root in self.CONTEXT:
            if node.path:
                raise self.fail(f"{root} has no fields", text)
            return
        if root in self.bound:
            table = self.bound[root]
            if len(node.path) != 1:
                raise self.fail(f"{root} is a row of table {table.name}: write {root}.<column>", text)
            col = node.path[0]
            if col != table.key and col not in table.columns:
                raise self.fail(f"table {table.name} has no column {col!r}"
                                f"{_hint(col, [table.key, *table.columns])}", text)
            return
        if root in self.sections:
            if root in self.lists:
                raise self.fail(f"{root} is a list; use any({root[0]} in {root}, ...) or count(...)", text)
            self.path(self.sections[root], node.path, node, text)
            return
        raise self.fail(f"unknown name {node.dotted!r}"
                        f"{_hint(root, [*self.sections, *self.bound, *self.CONTEXT, *self.conclusions])}", text)

    def path(self, cls: type, path: tuple[str, ...], node: ex.Field, text: str) -> None:
        if not path:
            raise self.fail(f"{node.dotted} is a section; name one of its fields", text)
        current: Any = cls
        for i, part in enumerate(path):
            known = fields_by_key(current)
            if part not in known:
                raise self.fail(f"{'.'.join((node.root, *path[:i]))} has no field {part!r}{_hint(part, known)}", text)
            meta = known[part].metadata["imgpath"]
            if i < len(path) - 1:
                if meta["cls"] is None or meta["kind"] == "list":
                    raise self.fail(f"{'.'.join((node.root, *path[: i + 1]))} has no fields", text)
                current = meta["cls"]

    def literal(self, node: ex.Cmp, text: str, scope: Mapping[str, type]) -> None:
        """A literal compared with a field must be a value the field can hold (catches typos and type slips)."""
        for fld, lit in ((node.left, node.right), (node.right, node.left)):
            if not (isinstance(fld, ex.Field) and isinstance(lit, ex.Const)):
                continue
            meta = self.field_meta(fld, scope)
            if not meta:
                continue
            values = lit.value if isinstance(lit.value, tuple) else (lit.value,)
            allowed = _KIND_TYPES.get(meta["kind"])
            for v in values:
                if v is None:
                    continue
                if allowed and (not isinstance(v, allowed) or (isinstance(v, bool) and bool not in allowed)):
                    raise self.fail(f"{fld.dotted} holds {_kind_words(meta['kind'])}; {v!r} can never match", text)
                if meta["choices"] and v not in meta["choices"]:
                    raise self.fail(f"{fld.dotted} is one of {', '.join(meta['choices'])}; "
                                    f"{v!r} can never match{_hint(str(v), meta['choices'])}", text)
                if meta["kind"] in ("country", "countries") and not (isinstance(v, str) and len(v) == 2
                                                                      and v.isupper()):
                    raise self.fail(f"{fld.dotted} holds ISO 3166 two-letter country codes; {v!r} can never "
                                    "match", text)

    def field_meta(self, fld: ex.Field, scope: Mapping[str, type]) -> dict[str, Any] | None:
        cls = scope.get(fld.root) or (self.sections.get(fld.root) if fld.root not in self.lists else None)
        if cls is None or not fld.path:
            return None
        current: Any = cls
        meta = None
        for part in fld.path:
            meta = fields_by_key(current)[part].metadata["imgpath"]
            current = meta["cls"]
        return meta

    # ------------------------------------------------------------------ types

    def type_of(self, node: ex.Node, text: str, scope: Mapping[str, type]) -> str:
        """The type of an expression (bool, number, date, str, list, object or any), checking every
        operator's operands: what would fail at evaluation ('in' without a list, a number compared
        with a date, a text used as a condition) fails here, naming the rule."""
        return self._type(node, text, scope)

    def _type(self, node: ex.Node, text: str, scope: Mapping[str, type]) -> str:
        if isinstance(node, ex.Const):
            v = node.value
            if v is None:
                return "any"
            if isinstance(v, bool):
                return "bool"
            if isinstance(v, (int, float)):
                return "number"
            if isinstance(v, _dt.date):
                return "date"
            if isinstance(v, tuple):
                return "list"
            return "str"
        if isinstance(node, ex.Field):
            return self._field_type(node, scope)
        if isinstance(node, ex.Ref):
            return "bool" if self.conclusions[node.name].kind == "boolean" else "any"
        if isinstance(node, (ex.And, ex.Or, ex.Not)):
            for part in ex.children(node):
                self._want(part, ("bool",), text, scope, "and/or/not take true/false conditions")
            return "bool"
        if isinstance(node, ex.Cmp):
            if ex.valued_ref_test(node) is not None:
                return "bool"
            left, right = self._type(node.left, text, scope), self._type(node.right, text, scope)
            if node.op in ("in", "notin"):
                if right not in ("list", "any"):
                    raise self.fail(f"'in' needs a list on its right; {ex.render(node.right)} is {_TYPE_WORDS[right]}",
                                    text)
                if left in ("list", "object"):
                    raise self.fail(f"'in' tests one value; {ex.render(node.left)} is {_TYPE_WORDS[left]}", text)
                return "bool"
            if "any" in (left, right):
                return "bool"
            if node.op in ("<", "<=", ">", ">="):
                if left != right or left not in ("number", "date"):
                    raise self.fail(f"{ex.render(node.left)} ({_TYPE_WORDS[left]}) cannot be ordered against "
                                    f"{ex.render(node.right)} ({_TYPE_WORDS[right]})", text)
            elif left != right and not {left, right} <= {"list"}:
                raise self.fail(f"{ex.render(node.left)} ({_TYPE_WORDS[left]}) is never equal to "
                                f"{ex.render(node.right)} ({_TYPE_WORDS[right]})", text)
            return "bool"
        if isinstance(node, ex.Arith):
            left, right = self._type(node.left, text, scope), self._type(node.right, text, scope)
            if node.op == "+" and {left, right} <= {"str", "any"} and "str" in (left, right):
                return "str"  # 'US-' + offer.state
            for side, t in ((node.left, left), (node.right, right)):
                if t not in ("number", "any"):
                    raise self.fail(f"arithmetic needs numbers; {ex.render(side)} is {_TYPE_WORDS[t]}", text)
            return "number"
        if isinstance(node, ex.Func):
            return self._func_type(node, text, scope)
        if isinstance(node, ex.Quant):
            inner = {**scope, node.var: self.sections[node.source.root]}
            self._want(node.pred, ("bool",), text, inner, f"the condition of {node.fn}() must be true or false")
            if node.fn in ("any", "all"):
                return "bool"
            if node.fn in ("count", "sum_years", "sum_years_since"):
                for e in node.extra:
                    self._want(e, ("date",), text, scope, f"{node.fn}() counts from a date")
                return "number"
            for e in node.extra:  # earliest / latest
                return self._type(e, text, inner)
            return "any"  # pragma: no cover
        return "any"  # pragma: no cover - every node kind is handled above

    def _want(self, node: ex.Node, types: tuple[str, ...], text: str, scope: Mapping[str, type], why: str) -> None:
        t = self._type(node, text, scope)
        if t != "any" and t not in types:
            raise self.fail(f"{why}; {ex.render(node)} is {_TYPE_WORDS[t]}", text)

    def _func_type(self, node: ex.Func, text: str, scope: Mapping[str, type]) -> str:
        name, args = node.name, node.args
        if name in ("present", "known"):
            for a in args:
                self._type(a, text, scope)
            return "bool"
        if name == "first_known":
            types = {self._type(a, text, scope) for a in args} - {"any"}
            if len(types) > 1:
                raise self.fail(f"first_known() takes values of one kind, got {', '.join(sorted(types))}", text)
            return types.pop() if types else "any"
        if name == "years_between":
            for a in args:
                self._want(a, ("date",), text, scope, "years_between() takes two dates")
            return "number"
        if name == "year":
            self._want(args[0], ("date",), text, scope, "year() takes a date")
            return "number"
        # add_years, add_months, add_days: a date and a number
        self._want(args[0], ("date",), text, scope, f"{name}() takes a date first")
        self._want(args[1], ("number",), text, scope, f"{name}() takes a number second")
        return "date"

    def _field_type(self, node: ex.Field, scope: Mapping[str, type]) -> str:
        root = node.root
        if root == "as_of":
            return "date"
        if root in self.bound and root not in scope:
            table = self.bound[root]
            col = node.path[0]
            if col == table.key:
                return "number" if table.key_type == "int" else "str"
            return _COLUMN_TYPES.get(table.columns.get(col, ""), "any")
        if not node.path:
            return "object"
        meta = self.field_meta(node, scope)
        return "any" if meta is None else _SCHEMA_TYPES.get(meta["kind"], "any")


_SCHEMA_TYPES = {"bool": "bool", "int": "number", "number": "number", "date": "date", "str": "str", "enum": "str",
                 "country": "str", "state": "str", "jurisdiction": "str", "countries": "list", "strings": "list",
                 "states": "list", "object": "object", "note": "object", "list": "list"}
_COLUMN_TYPES = {"str": "str", "int": "number", "number": "number", "bool": "bool", "date": "date", "list": "list"}
_TYPE_WORDS = {"bool": "true/false", "number": "a number", "date": "a date", "str": "text", "list": "a list",
               "object": "a section, not a value", "any": "any value"}


def _kind_words(kind: str) -> str:
    return {"bool": "true or false", "int": "a number", "number": "a number", "date": "a date",
            "countries": "country codes", "states": "state codes", "strings": "text"}.get(kind, "text")


# --------------------------------------------------------------------------- definitions


def expand(node: ex.Node, defs: Mapping[str, Definition], shadow: frozenset[str] = frozenset(),
           tables: Mapping[str, Table] | None = None, used: set[str] | None = None) -> ex.Node:
    """``node`` with every use of a definition replaced by its body (arguments substituted).

    ``passed('step1')`` becomes ``any(e in exams, e.exam == 'step1' and e.result == 'pass')``;
    ``US_JURISDICTIONS`` becomes its list; a group of conditions used inside an expression
    becomes their conjunction; the name of a table rules range over (``alt_status``) becomes the
    list of its keys. Names in ``shadow`` (quantifier and row variables) are never expanded.
    ``used`` collects the definitions met, for explanations. Unknown calls are RuleErrors.
    """
    tables = tables or {}
    used = used if used is not None else set()

    def walk(n: ex.Node, shadow: frozenset[str]) -> ex.Node:
        if isinstance(n, ex.Field):
            if n.root in shadow:
                return n
            d = defs.get(n.root)
            if d is not None:
                if n.path:
                    raise RuleError(f"{d.name} is a definition; it has no field {n.path[0]!r}")
                return _use(d, (), {})
            table = tables.get(n.root)
            if table is not None and table.bind == "for" and not n.path:
                return ex.Const(tuple(table.rows))
            return n
        if isinstance(n, ex.Call):
            d = defs.get(n.name)
            if d is None:
                known = sorted(set(ex.FUNCTIONS) | set(ex.AGGREGATES) | set(defs))
                raise RuleError(f"unknown function or definition {n.name}(){_hint(n.name, known)}; calls with "
                                "positional arguments are functions or definitions (conclusions take keywords)")
            return _use(d, tuple(walk(a, shadow) for a in n.args), {})
        if isinstance(n, ex.Ref) and n.name in defs:
            return _use(defs[n.name], (), {k: walk(v, shadow) for k, v in n.args})
        if isinstance(n, ex.Quant):
            inner = shadow | {n.var}
            return attrs.evolve(n, pred=walk(n.pred, inner), extra=tuple(walk(e, inner) for e in n.extra))
        if isinstance(n, (ex.And, ex.Or)):
            return type(n)(tuple(walk(a, shadow) for a in n.args))
        if isinstance(n, ex.Not):
            return ex.Not(walk(n.arg, shadow))
        if isinstance(n, (ex.Cmp, ex.Arith)):
            left, right = walk(n.left, shadow), walk(n.right, shadow)
            if (isinstance(n, ex.Arith) and n.op == "+" and isinstance(left, ex.Const)
                    and isinstance(right, ex.Const) and isinstance(left.value, tuple)
                    and isinstance(right.value, tuple)):
                return ex.Const(left.value + right.value)  # two named lists joined: US_PLACES
            return attrs.evolve(n, left=left, right=right)
        if isinstance(n, ex.Func):
            return ex.Func(n.name, tuple(walk(a, shadow) for a in n.args))
        if isinstance(n, ex.Ref):
            return ex.Ref(n.name, tuple((k, walk(v, shadow)) for k, v in n.args))
        return n

    def _use(d: Definition, positional: tuple[ex.Node, ...], named: Mapping[str, ex.Node]) -> ex.Node:
        used.add(d.name)
        if d.kind == "value":
            if positional or named:
                raise RuleError(f"{d.name} is a named value; it takes no arguments")
            return ex.Const(d.value)
        args = bind(d, positional, named)
        parts = [substitute(b, args) for b in d.body]
        return parts[0] if len(parts) == 1 else ex.And(tuple(parts))

    return walk(node, shadow)


def bind(d: Definition, positional: tuple[ex.Node, ...], named: Mapping[str, ex.Node]) -> dict[str, ex.Node]:
    """Parameter -> argument for one use of ``d``; a RuleError on a missing, extra or unknown one."""
    sig = f"{d.name}({', '.join(d.params)})"
    if len(positional) > len(d.params):
        raise RuleError(f"{sig} takes {len(d.params)} argument(s), got {len(positional)}")
    args = dict(zip(d.params, positional, strict=False))
    for k, v in named.items():
        if k not in d.params:
            raise RuleError(f"{sig} has no parameter {k!r}{_hint(k, d.params)}")
        if k in args:
            raise RuleError(f"{sig}: {k} given twice")
        args[k] = v
    missing = [p for p in d.params if p not in args]
    if missing:
        raise RuleError(f"{sig}: missing {', '.join(missing)}")
    return args


def substitute(body: ex.Node, args: Mapping[str, ex.Node]) -> ex.Node:
    """``body`` with each parameter replaced by its argument (``entry.result`` with ``entry = e``
    becomes ``e.result``). A quantifier variable of the body that an argument also names is renamed,
    so ``any(e in exams, ...)`` inside a definition never captures an argument's ``e``."""
    free = {n.root for a in args.values() for n in ex.walk(a) if isinstance(n, ex.Field)}

    def walk(n: ex.Node, renames: Mapping[str, str]) -> ex.Node:
        if isinstance(n, ex.Field):
            if n.root in renames:
                return ex.Field(renames[n.root], n.path)
            if n.root in args:
                arg = args[n.root]
                if not n.path:
                    return arg
                if isinstance(arg, ex.Field):
                    return ex.Field(arg.root, (*arg.path, *n.path))
                raise RuleError(f"parameter {n.root} is used as {ex.render(n)} but given {ex.render(arg)}, "
                                "which has no fields")
            return n
        if isinstance(n, ex.Quant):
            var = n.var
            inner = dict(renames)
            if var in free or var in renames:
                fresh = next(f"{var}{i}" for i in range(1, 1000) if f"{var}{i}" not in free)
                inner[var] = fresh
                var = fresh
            else:
                inner.pop(var, None)
            return ex.Quant(n.fn, var, walk(n.source, renames), walk(n.pred, inner),
                            tuple(walk(e, inner) for e in n.extra))
        if isinstance(n, (ex.And, ex.Or)):
            return type(n)(tuple(walk(a, renames) for a in n.args))
        if isinstance(n, ex.Not):
            return ex.Not(walk(n.arg, renames))
        if isinstance(n, (ex.Cmp, ex.Arith)):
            return attrs.evolve(n, left=walk(n.left, renames), right=walk(n.right, renames))
        if isinstance(n, (ex.Func, ex.Call)):
            return type(n)(n.name, tuple(walk(a, renames) for a in n.args))
        if isinstance(n, ex.Ref):
            return ex.Ref(n.name, tuple((k, walk(v, renames)) for k, v in n.args))
        return n

    return walk(body, {})


def bare_refs(node: ex.Node, conclusions: Mapping[str, ConclusionSpec], sections: Iterable[str],
              bound: Iterable[str], local: frozenset[str] = frozenset()) -> ex.Node:
    """Turn bare names that are conclusions (``img``) into :class:`~imgpath.expressions.Ref` nodes."""
    sections = frozenset(sections)
    bound = frozenset(bound)

    def walk(n: ex.Node, local: frozenset[str]) -> ex.Node:
        if isinstance(n, ex.Field):
            if (not n.path and n.root in conclusions and n.root not in local
                    and n.root not in sections and n.root not in bound and n.root != "as_of"):
                return ex.Ref(n.root, ())
            return n
        if isinstance(n, ex.Quant):
            inner = local | {n.var}
            return attrs.evolve(n, pred=walk(n.pred, inner), extra=tuple(walk(e, inner) for e in n.extra))
        if isinstance(n, (ex.And, ex.Or)):
            return type(n)(tuple(walk(a, local) for a in n.args))
        if isinstance(n, ex.Not):
            return ex.Not(walk(n.arg, local))
        if isinstance(n, (ex.Cmp, ex.Arith)):
            return attrs.evolve(n, left=walk(n.left, local), right=walk(n.right, local))
        if isinstance(n, ex.Func):
            return ex.Func(n.name, tuple(walk(a, local) for a in n.args))
        if isinstance(n, ex.Ref):
            return ex.Ref(n.name, tuple((k, walk(v, local)) for k, v in n.args))
        return n

    return walk(node, local)
