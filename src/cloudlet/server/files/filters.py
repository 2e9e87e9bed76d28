"""The Mongo-style filter over files and folders, compiled to SQL for SQLite (JSON1) and
PostgreSQL (jsonb) with the same meaning on both.

    {"size": {"$gt": 1000}, "run": 3, "$or": [{"tags": "raw"}, {"site.name": "roof"}]}

Top-level keys are the built-in fields (`BUILTINS`); any other key, or one starting with
`metadata.`, is a dotted path into the metadata. Conditions on one object are ANDed;
`$or`/`$and` take lists of filters. Operators: `$eq $ne $lt $lte $gt $gte $in $nin $exists
$string_contains`; a bare value means `$eq`.

Meaning, for a field holding value v (an array counts as its elements, as in MongoDB):
- `$eq x`: some element equals x (numbers numerically, no type coercion: `1` is not `"1"`
  nor `true`); `$eq null` also matches a missing field. `$in`: some element equals one of.
- `$ne`, `$nin`: the negation, so they also match objects without the field.
- `$lt $lte $gt $gte`: some element of the same kind (number with number, string with
  string, by code point) compares so; `$string_contains`: some string element contains it.
- `$exists`: whether the field is there at all (a JSON null is there).
Sorting puts missing, then null, false, true, numbers, strings, arrays and objects, with id
as the last key; the same on both databases.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.sql.elements import BindParameter, TextClause

from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.schema import UTCDateTime

OPERATORS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$exists",
             "$string_contains")
ORDERING = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
MAX_CONDITIONS = 200
MAX_DEPTH = 10
MAX_IN = 1000
_BIND = re.compile(r":f\d+\b")
_PG_TEXT = "e.v #>> '{}'"  # a jsonb scalar as text


@dataclass(frozen=True)
class Builtin:
    sql: str
    kind: str  # int | str | datetime | tags


BUILTINS: dict[str, Builtin] = {
    "id": Builtin("file_nodes.id", "int"),
    "name": Builtin("file_nodes.name", "str"),
    "type": Builtin("file_nodes.kind", "str"),
    "parent": Builtin("file_nodes.parent_id", "int"),
    "size": Builtin("file_nodes.size", "int"),
    "content_type": Builtin("file_nodes.content_type", "str"),
    "version": Builtin("file_nodes.version", "int"),
    "created_by": Builtin("file_nodes.created_by", "int"),
    "created_on": Builtin("file_nodes.created_on", "datetime"),
    "updated_on": Builtin("file_nodes.updated_on", "datetime"),
    "md5": Builtin("file_blobs.md5", "str"),
    "sha256": Builtin("file_blobs.sha256", "str"),
    "etag": Builtin("file_blobs.sha256", "str"),
    "multipart_etag": Builtin("file_blobs.multipart_etag", "str"),
    "tags": Builtin("file_nodes.tags", "tags"),
}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fits(value: Any) -> bool:
    """Integers both databases hold exactly (64-bit)."""
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


@dataclass
class Compiler:
    postgres: bool
    binds: list[BindParameter[Any]] = field(default_factory=list)
    conditions: int = 0

    def bind(self, value: Any, type_: Any = None) -> str:
        name = f"f{len(self.binds)}"
        self.binds.append(bindparam(name, value, type_=type_))
        return f":{name}"

    # --- the document -------------------------------------------------------------------

    def document(self, doc: Any, depth: int = 0) -> str:
        if not isinstance(doc, dict):
            raise Invalid("A filter is a JSON object, like {\"size\": {\"$gt\": 10}}.")
        if depth > MAX_DEPTH:
            raise Invalid(f"The filter nests $or/$and deeper than {MAX_DEPTH} levels.")
        parts: list[str] = []
        for key, cond in doc.items():
            if key in ("$or", "$and"):
                if not isinstance(cond, list) or not cond:
                    raise Invalid(f"{key} takes a non-empty list of filters.")
                inner = [self.document(d, depth + 1) for d in cond]
                joiner = " OR " if key == "$or" else " AND "
                parts.append("(" + joiner.join(inner) + ")")
            elif key.startswith("$"):
                raise Invalid(f"Unknown operator {key!r} at the top of the filter; use $or, "
                              "$and or a field name.")
            else:
                parts.append(self.field(key, cond))
        return "(" + " AND ".join(parts) + ")" if parts else "(1 = 1)"

    def field(self, key: str, cond: Any) -> str:
        if isinstance(cond, dict):
            ops = list(cond)
            if not ops or not all(isinstance(op, str) and op.startswith("$") for op in ops):
                raise Invalid(
                    f"The condition on {key!r} must be a value or operators like "
                    "{\"$gt\": 1}; reach into nested metadata with dotted names (\"a.b\")."
                )
            return "(" + " AND ".join(self.operator(key, op, cond[op]) for op in ops) + ")"
        return self.operator(key, "$eq", cond)

    def operator(self, key: str, op: str, operand: Any) -> str:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise Invalid(f"The filter has more than {MAX_CONDITIONS} conditions.")
        if op not in OPERATORS:
            raise Invalid(f"Unknown operator {op!r} on {key!r}; use one of "
                          f"{', '.join(o[1:] for o in OPERATORS)}.", operator=op)
        _check_operand(key, op, operand)
        if op == "$ne":
            return f"(NOT {self.operator(key, '$eq', operand)})"
        if op == "$nin":
            return f"(NOT {self.operator(key, '$in', operand)})"
        if op == "$in":
            if not operand:
                return "(1 = 0)"
            return "(" + " OR ".join(self.operator(key, "$eq", v) for v in operand) + ")"
        builtin = BUILTINS.get(key)
        if builtin is not None and builtin.kind != "tags":
            return self.column(key, builtin, op, operand)
        if builtin is not None:
            return self.json_condition("file_nodes.tags", [], op, operand)
        path = metadata_path(key)
        return self.json_condition("file_nodes.metadata", path, op, operand)

    # --- built-in columns ---------------------------------------------------------------

    def column(self, key: str, builtin: Builtin, op: str, operand: Any) -> str:
        col = builtin.sql
        if op == "$exists":
            return f"({col} IS NOT NULL)" if operand else f"({col} IS NULL)"
        if op == "$eq" and operand is None:
            return f"({col} IS NULL)"
        if builtin.kind == "datetime":
            if not isinstance(operand, str):
                return "(1 = 0)"
            when = _parse_time(key, operand)
            sign = "=" if op == "$eq" else ORDERING.get(op)
            if sign is None:  # string_contains on a time
                return "(1 = 0)"
            return f"({col} {sign} {self.bind(when, UTCDateTime())})"
        if builtin.kind == "int":
            if not _number(operand):
                return "(1 = 0)"
            sign = "=" if op == "$eq" else ORDERING.get(op)
            if sign is None:
                return "(1 = 0)"
            return f"({col} {sign} {self.bind(operand)})"
        # str columns
        if not isinstance(operand, str):
            return "(1 = 0)"
        if op == "$string_contains":
            return f"({self._contains(col, self.bind(operand, String()))})"
        sign = "=" if op == "$eq" else ORDERING[op]
        return f"({self._c(col)} {sign} {self.bind(operand, String())})"

    def _c(self, expr: str) -> str:
        """Strings compare by code point on both databases."""
        return f'({expr}) COLLATE "C"' if self.postgres else expr

    def _contains(self, expr: str, needle: str) -> str:
        if self.postgres:
            return f"strpos({expr}, {needle}) > 0"
        return f"instr({expr}, {needle}) > 0"

    # --- JSON values (metadata paths and tags) ------------------------------------------

    def json_condition(self, column: str, path: list[str], op: str, operand: Any) -> str:
        if op == "$exists":
            present = self._present(column, path)
            return f"({present})" if operand else f"(NOT {present})"
        element = self._element_predicate(op, operand)
        any_element = f"EXISTS (SELECT 1 FROM {self._elements(column, path)} WHERE {element})"
        if op == "$eq" and operand is None:
            return f"((NOT {self._present(column, path)}) OR {any_element})"
        return f"({any_element})"

    def _value_pg(self, column: str, path: list[str]) -> str:
        expr = column
        for key in path:
            expr = f"({expr} -> CAST({self.bind(key, String())} AS text))"
        return expr

    def _path_sqlite(self, path: list[str]) -> str:
        return self.bind("$" + "".join(f'."{k}"' for k in path), String())

    def _present(self, column: str, path: list[str]) -> str:
        if not path:
            return f"{column} IS NOT NULL"
        if self.postgres:
            return f"{self._value_pg(column, path)} IS NOT NULL"
        return f"json_type({column}, {self._path_sqlite(path)}) IS NOT NULL"

    def _elements(self, column: str, path: list[str]) -> str:
        """A table of the value's elements (`e`): an array's items, else the value alone,
        and no rows for a missing value."""
        if self.postgres:
            v = self._value_pg(column, path)
            return (f"jsonb_array_elements(CASE WHEN {v} IS NULL THEN CAST('[]' AS jsonb) "
                    f"WHEN jsonb_typeof({v}) = 'array' THEN {v} ELSE jsonb_build_array({v}) "
                    "END) AS e(v)")
        p = self._path_sqlite(path) if path else self.bind("$", String())
        return (f"json_each(CASE WHEN json_type({column}, {p}) IS NULL THEN '[]' "
                f"WHEN json_type({column}, {p}) = 'array' THEN json_extract({column}, {p}) "
                f"ELSE json_array({column} -> {p}) END) AS e")

    def _element_predicate(self, op: str, x: Any) -> str:
        if self.postgres:
            kind = "jsonb_typeof(e.v)"
            if op == "$eq":
                return f"e.v = CAST({self.bind(json.dumps(x), String())} AS jsonb)"
            if op == "$string_contains":
                needle = self.bind(x, String())
                return (f"CASE WHEN {kind} = 'string' THEN "
                        f"{self._contains(_PG_TEXT, needle)} "
                        "ELSE false END")
            sign = ORDERING[op]
            if _number(x):
                return (f"CASE WHEN {kind} = 'number' THEN "
                        f"CAST({_PG_TEXT} AS numeric) {sign} "
                        f"CAST({self.bind(x)} AS numeric) ELSE false END")
            return (f"CASE WHEN {kind} = 'string' THEN "
                    f"{self._c(_PG_TEXT)} {sign} "
                    f"{self.bind(x, String())} ELSE false END")
        if op == "$eq":
            if x is None:
                return "e.type = 'null'"
            if isinstance(x, bool):
                return f"e.type = '{'true' if x else 'false'}'"
            if _number(x):
                return f"(e.type IN ('integer', 'real') AND e.value = {self.bind(x)})"
            return f"(e.type = 'text' AND e.value = {self.bind(x, String())})"
        if op == "$string_contains":
            return f"(e.type = 'text' AND instr(e.value, {self.bind(x, String())}) > 0)"
        sign = ORDERING[op]
        if _number(x):
            return f"(e.type IN ('integer', 'real') AND e.value {sign} {self.bind(x)})"
        return f"(e.type = 'text' AND e.value {sign} {self.bind(x, String())})"

    # --- sorting ------------------------------------------------------------------------

    def order_by(self, spec: str | None) -> list[str]:
        """`"name"`, `"-size"`, `"run,-created_on"`: sort keys, then id."""
        keys: list[str] = []
        for raw in (spec or "").split(","):
            item = raw.strip()
            if not item:
                continue
            desc = item.startswith("-")
            name = item.lstrip("-+")
            way = "DESC" if desc else "ASC"
            nulls = "NULLS LAST" if desc else "NULLS FIRST"
            builtin = BUILTINS.get(name)
            if builtin is not None and builtin.kind != "tags":
                col = self._c(builtin.sql) if builtin.kind == "str" else builtin.sql
                keys.append(f"{col} {way} {nulls}")
                continue
            if builtin is not None:
                column, path = "file_nodes.tags", []
            else:
                column, path = "file_nodes.metadata", metadata_path(name)
            keys.extend(f"{k} {way} {nulls}" for k in self._json_sort(column, path))
        keys.append("file_nodes.id ASC")
        return keys

    def _json_sort(self, column: str, path: list[str]) -> list[str]:
        if self.postgres:
            v = self._value_pg(column, path) if path else column
            t = f"jsonb_typeof({v})"
            rank = (f"CASE WHEN {v} IS NULL THEN 0 WHEN {t} = 'null' THEN 1 "
                    f"WHEN {v} = CAST('false' AS jsonb) THEN 2 "
                    f"WHEN {v} = CAST('true' AS jsonb) THEN 3 "
                    f"WHEN {t} = 'number' THEN 4 WHEN {t} = 'string' THEN 5 "
                    f"WHEN {t} = 'array' THEN 6 ELSE 7 END")
            scalar = f"{v} #>> '{{}}'"
            num = f"CASE WHEN {t} = 'number' THEN CAST({scalar} AS numeric) END"
            txt = f"CASE WHEN {t} = 'string' THEN {self._c(scalar)} END"
            return [rank, num, txt]
        p = self._path_sqlite(path) if path else self.bind("$", String())
        t = f"json_type({column}, {p})"
        rank = (f"CASE WHEN {t} IS NULL THEN 0 WHEN {t} = 'null' THEN 1 "
                f"WHEN {t} = 'false' THEN 2 WHEN {t} = 'true' THEN 3 "
                f"WHEN {t} IN ('integer', 'real') THEN 4 WHEN {t} = 'text' THEN 5 "
                f"WHEN {t} = 'array' THEN 6 ELSE 7 END")
        num = f"CASE WHEN {t} IN ('integer', 'real') THEN json_extract({column}, {p}) END"
        txt = f"CASE WHEN {t} = 'text' THEN json_extract({column}, {p}) END"
        return [rank, num, txt]


def metadata_path(key: str) -> list[str]:
    """`"a.b"` or `"metadata.a.b"` → ["a", "b"]."""
    path = key.split(".")
    if path[0] == "metadata" and len(path) > 1:
        path = path[1:]
    if any(not p or '"' in p for p in path):
        raise Invalid(f"Bad field name {key!r}: dotted names of non-empty keys without '\"'.")
    return path


def _check_operand(key: str, op: str, operand: Any) -> None:
    name = op[1:]
    values = operand if isinstance(operand, list) else [operand]
    if not all(_fits(v) for v in values):
        raise Invalid(f"{name} on {key!r}: integers must fit in 64 bits.")
    if op in ("$eq", "$ne") and not _scalar(operand):
        raise Invalid(f"{name} on {key!r} takes a string, number, boolean or null.")
    if op in ORDERING and not (_number(operand) or isinstance(operand, str)):
        raise Invalid(f"{name} on {key!r} takes a number or a string.")
    if op in ("$in", "$nin"):
        if not isinstance(operand, list) or not all(_scalar(v) for v in operand):
            raise Invalid(f"{name} on {key!r} takes a list of strings, numbers, booleans "
                          "or nulls.")
        if len(operand) > MAX_IN:
            raise Invalid(f"{name} on {key!r} takes at most {MAX_IN} values.")
    if op == "$exists" and not isinstance(operand, bool):
        raise Invalid(f"exists on {key!r} takes true or false.")
    if op == "$string_contains" and not isinstance(operand, str):
        raise Invalid(f"string_contains on {key!r} takes a string.")


def _parse_time(key: str, value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{key!r} compares with an ISO 8601 time, not {value!r}.") from None
    if when.tzinfo is None:
        raise Invalid(f"{key!r} compares with a time that has a zone (…Z or +00:00).")
    return when


@dataclass(frozen=True)
class Compiled:
    where: TextClause
    order_by: list[TextClause]


def compile_query(doc: Any, sort: str | None, *, postgres: bool) -> Compiled:
    compiler = Compiler(postgres=postgres)
    where = compiler.document(doc if doc is not None else {})
    order = compiler.order_by(sort)
    binds = compiler.binds
    # one bind list shared by where and order: each clause binds only the names it uses
    return Compiled(
        where=_clause(where, binds),
        order_by=[_clause(o, binds) for o in order],
    )


def _clause(sql: str, binds: list[BindParameter[Any]]) -> TextClause:
    used = [b for b in binds if f":{b.key}" in _names(sql)]
    return text(sql).bindparams(*used)


def _names(sql: str) -> set[str]:
    return set(_BIND.findall(sql))


