"""Datasets, rows and features as the native API shows them, and query parameters → filters.

Rows are JSON objects `{amigo_id, <column>: value, …}` with geometries as GeoJSON geometry
objects and timestamps as ISO 8601 UTC text; features are GeoJSON Features whose geometry is
the dataset's primary geometry and whose properties are the other columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping

from cloudlet.server.core.errors import Invalid
from cloudlet.server.datasets.columns import Column, coerce, iso
from cloudlet.server.datasets.storage import BBox, Filter, table_name
from cloudlet.server.datasets.storage.base import OPS

RESERVED_PARAMS = ("limit", "offset", "bbox", "format")
ORDERED = ("text", "integer", "real", "timestamp")


def geometry_json(geom: Any) -> dict[str, Any] | None:
    if geom is None:
        return None
    return mapping(geom)  # type: ignore[no-any-return]


def value_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, shapely.Geometry):
        return geometry_json(value)
    return value


def row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: value_json(v) for k, v in row.items()}


def feature_json(row: Mapping[str, Any], geometry_column: str | None) -> dict[str, Any]:
    properties = {k: value_json(v) for k, v in row.items() if k != geometry_column}
    return {"type": "Feature", "id": row["amigo_id"],
            "geometry": geometry_json(row.get(geometry_column)) if geometry_column else None,
            "properties": properties}


def feature_values(feature: Any, geometry_column: str | None, where: str = "") -> dict[str, Any]:
    """A GeoJSON Feature from a client → the row values it sets."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise Invalid(f"{where}expected a GeoJSON Feature (an object with type Feature).")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise Invalid(f"{where}properties must be an object.")
    values = {k: v for k, v in properties.items() if k != "amigo_id"}
    if "geometry" in feature:
        if geometry_column is None:
            raise Invalid(f"{where}this dataset has no geometry column.")
        values[geometry_column] = feature["geometry"]
    return values


def dataset_json(row: Mapping[str, Any], project_gid: str | None = None) -> dict[str, Any]:
    columns = [Column.of(c) for c in row["columns"]]
    geometry = next((c for c in columns if c.name == row["geometry_column"]), None)
    bbox = None
    if row["min_x"] is not None:
        bbox = [row["min_x"], row["min_y"], row["max_x"], row["max_y"]]
    shown = {
        "id": row["id"],
        "project": row["project_id"],
        "name": row["name"],
        "description": row["description"],
        "kind": row["kind"],
        "table_name": table_name(row["id"]),
        "columns": [{"name": "amigo_id", "type": "text", "geometry_type": None},
                    *(c.wire() for c in columns)],
        "geometry_column": row["geometry_column"],
        "geometry_type": geometry.geometry_type if geometry else None,
        "feature_count": row["feature_count"],
        "bbox": bbox,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if project_gid:
        shown["project_gid"] = project_gid
    return shown


def parse_bbox(text: str | None) -> BBox | None:
    if text is None or text == "":
        return None
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or any(p != p for p in parts):
        raise Invalid("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat.")
    minx, miny, maxx, maxy = parts
    if minx > maxx or miny > maxy:
        raise Invalid("bbox: the minimum must not exceed the maximum (min_lon,min_lat,"
                      "max_lon,max_lat).")
    return minx, miny, maxx, maxy


def parse_filters(params: Mapping[str, str], columns: list[Column]) -> list[Filter]:
    """`column=value` (equals) or `column__op=value`, op one of eq, ne, lt, le, gt, ge,
    contains (text), in (comma-separated) and isnull (true/false)."""
    by_name = {"amigo_id": Column("amigo_id", "text"), **{c.name: c for c in columns}}
    found = []
    for key, raw in params.items():
        if key in RESERVED_PARAMS:
            continue
        name, _, op = key.partition("__")
        op = op or "eq"
        column = by_name.get(name)
        if column is None:
            raise Invalid(f"Unknown filter {key!r}: no column {name!r} (the columns are "
                          f"{', '.join(by_name)}).")
        if op not in OPS:
            raise Invalid(f"Unknown filter operator {op!r} in {key!r}; use one of "
                          f"{', '.join(OPS)}.")
        if op == "isnull":
            if raw.lower() not in ("true", "false"):
                raise Invalid(f"{key} must be true or false.")
            found.append(Filter(column, op, raw.lower() == "true"))
            continue
        if column.type in ("json", "geometry"):
            raise Invalid(f"{key}: {column.type} columns can only be filtered with __isnull.")
        if op == "contains" and column.type != "text":
            raise Invalid(f"{key}: contains works on text columns only.")
        if op in ("lt", "le", "gt", "ge") and column.type not in ORDERED:
            raise Invalid(f"{key}: {column.type} columns have no order.")
        try:
            if op == "in":
                value: Any = [coerce(column, v) for v in raw.split(",")]
            elif op == "contains":
                value = raw
            else:
                value = coerce(column, raw)
        except ValueError as error:
            raise Invalid(f"{key}: {error}: {raw!r}.") from None
        found.append(Filter(column, op, value))
    return found
