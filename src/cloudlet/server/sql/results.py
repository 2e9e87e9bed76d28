"""What both sandboxes hand back, and how it becomes the answer's `columns` and `data`."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cloudlet.server.sql.geometry import GEOGRAPHY_TAG, GeometryError, decode, to_geojson_object
from cloudlet.server.sql.geometry import to_wkt as wkt_of
from cloudlet.server.sql.spatial import GEOMETRY_RESULTS, PREDICATES
from cloudlet.server.sql.wall import function_name


@dataclass
class Rows:
    names: list[str]
    kinds: list[str | None]  # the column's kind where the backend knows it (PostgreSQL)
    rows: list[tuple[Any, ...]]
    total: int  # a read: rows in the whole result; a write: rows changed


# PostgreSQL type names → the answer's column types
PG_KINDS = {
    "int2": "integer", "int4": "integer", "int8": "integer", "oid": "integer",
    "float4": "number", "float8": "number", "numeric": "number",
    "text": "string", "varchar": "string", "bpchar": "string", "name": "string",
    "uuid": "string", "bool": "boolean", "date": "date", "timestamp": "datetime",
    "timestamptz": "datetime", "time": "time", "json": "json", "jsonb": "json",
    "bytea": "bytes", "geometry": "geometry", "geography": "geometry",
}
_BOOLEAN_NODES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not,
                  exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.NullSafeEQ,
                  exp.NullSafeNEQ, exp.Exists, exp.Boolean)


def expression_kind(node: exp.Expression) -> str | None:
    """What a select-list entry yields when its form says so (SQLite has no result types:
    this is how its 0/1 become false/true and its blobs geometries)."""
    while isinstance(node, exp.Alias | exp.Paren):
        node = node.this
    if isinstance(node, _BOOLEAN_NODES):
        return "boolean"
    if isinstance(node, exp.Cast):
        to = node.args["to"].this
        if to in (exp.DataType.Type.GEOMETRY, exp.DataType.Type.GEOGRAPHY):
            return "geometry"
        if to == exp.DataType.Type.BOOLEAN:
            return "boolean"
        return None
    if isinstance(node, exp.Func):
        name = function_name(node)
        if name in PREDICATES or name in ("bool_and", "bool_or"):
            return "boolean"
        if name in GEOMETRY_RESULTS:
            return "geometry"
    return None


def _value_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | decimal.Decimal):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            decode(bytes(value))
        except GeometryError:
            return "bytes"
        return "geometry"
    if isinstance(value, dict | list):
        return "json"
    return "string"


def column_kinds(result: Rows, hints: list[str | None], by_name: dict[str, str]) -> list[str]:
    kinds: list[str] = []
    for i, name in enumerate(result.names):
        kind = result.kinds[i] if i < len(result.kinds) else None
        if kind is None and i < len(hints):
            kind = hints[i]
        if kind is None:
            kind = by_name.get(name)
        if kind is None:
            kind = next((k for row in result.rows if (k := _value_kind(row[i])) is not None),
                        None)
        kinds.append(kind or "string")
    return kinds


def unique_names(names: list[str]) -> list[str]:
    """Row objects need distinct keys: a repeated name gets `_1`, `_2`, …"""
    seen: dict[str, int] = {}
    out: list[str] = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            seen[candidate] = 0
            out.append(candidate)
        else:
            seen[name] = 0
            out.append(name)
    return out


def shape_value(value: Any, kind: str, geometry_format: str) -> Any:
    if value is None:
        return None
    if kind == "geometry":
        geo = decode(bytes(value) if isinstance(value, memoryview) else value)
        assert geo is not None
        return wkt_of(geo.shape) if geometry_format == "wkt" else to_geojson_object(geo.shape)
    if kind == "boolean":
        return bool(value)
    if kind == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and kind == "integer" \
            else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return (data[len(GEOGRAPHY_TAG):] if data.startswith(GEOGRAPHY_TAG) else data).hex()
    return value


def answer_rows(result: Rows, hints: list[str | None], geometry_format: str,
                by_name: dict[str, str] | None = None
                ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    kinds = column_kinds(result, hints, by_name or {})
    names = unique_names(result.names)
    columns = [{"name": n, "type": k} for n, k in zip(names, kinds, strict=True)]
    data = [
        {n: shape_value(v, k, geometry_format) for n, k, v in zip(names, kinds, row, strict=True)}
        for row in result.rows
    ]
    return columns, data
