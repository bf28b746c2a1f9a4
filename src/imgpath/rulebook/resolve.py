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
from .model import ConclusionSpec, Rule, Source, Table

__all__ = ["bare_refs", "check_rules"]

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
                conclusions: Mapping[str, ConclusionSpec]) -> None:
    """Raise RuleError at the first rule that names something that does not exist."""
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
        for name, node in r.args:
            checker.check(node, ex.render(node))
            checker.arg_domain(spec, name, node, ex.render(node))
        if r.value is not None:
            checker.check(r.value, ex.render(r.value))
    for spec in conclusions.values():
        for sid in spec.sources:
            if sid not in sources:
                raise RuleError(f"conclusion {spec.name}: unknown source {sid!r}{_hint(sid, sources)}")
    for table in tables.values():
        for key, row in table.rows.items():
            for col, cell in row.items():
                for sid in cell.sources:
                    if sid not in sources:
                        raise RuleError(f"table {table.name} row {key} column {col}: unknown source {sid!r}",
                                        file=table.file)


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


def _kind_words(kind: str) -> str:
    return {"bool": "true or false", "int": "a number", "number": "a number", "date": "a date",
            "countries": "country codes", "states": "state codes", "strings": "text"}.get(kind, "text")


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
