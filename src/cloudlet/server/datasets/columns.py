"""Column types, SQL-safe column names, and turning wire values into typed values.

Typed values inside the server: text → str, integer → int, real → float, boolean → bool,
timestamp → aware UTC datetime, json → any JSON value, geometry → a 2D shapely geometry in
longitude/latitude (SRID 4326). Each storage backend encodes them its own way.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cloudlet.server.core.errors import Invalid

TYPES = ("text", "integer", "real", "boolean", "timestamp", "json", "geometry")
GEOMETRY_TYPES = ("point", "linestring", "polygon", "multipoint", "multilinestring",
                  "multipolygon", "geometry")
GEOMETRY_ALIASES = {"line": "linestring", "multiline": "multilinestring", "any": "geometry"}
_SHAPELY_NAMES = {"Point": "point", "LineString": "linestring", "Polygon": "polygon",
                  "MultiPoint": "multipoint", "MultiLineString": "multilinestring",
                  "MultiPolygon": "multipolygon", "GeometryCollection": "geometry"}
RESERVED = ("amigo_id",)
MAX_NAME = 63  # PostgreSQL's identifier limit
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    geometry_type: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "geometry_type": self.geometry_type}

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Column:
        return cls(raw["name"], raw["type"], raw.get("geometry_type"))


def sql_name(raw: str, position: int) -> str:
    """A column name users can write in SQL unquoted: lowercase letters, digits, `_`."""
    text = unicodedata.normalize("NFKD", str(raw)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if not text:
        text = f"column_{position + 1}"
    if text[0].isdigit():
        text = f"c_{text}"
    return text[:MAX_NAME]


def unique_names(raws: list[str], taken: set[str] | None = None) -> list[str]:
    """SQL names for a header, made unique (`name`, `name_2`, …)."""
    used = set(taken or ())
    names = []
    for i, raw in enumerate(raws):
        base = sql_name(raw, i)
        name, n = base, 2
        while name in used:
            suffix = f"_{n}"
            name, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
        used.add(name)
        names.append(name)
    return names


def check_columns(raw: list[dict[str, Any]], *, reserved: tuple[str, ...] = RESERVED,
                  existing: tuple[str, ...] = ()) -> list[Column]:
    """Columns as a caller declared them: valid names and types, no duplicates."""
    columns: list[Column] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        name = str(item.get("name", ""))
        kind = str(item.get("type", "")).lower()
        where = f"columns[{i}]"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise Invalid(f"{where}: column name {name!r} must be 1-63 lowercase letters, "
                          "digits or _, not starting with a digit.")
        if name in existing:
            raise Invalid(f"{where}: the dataset already has a column {name!r}.")
        if name in reserved or name in seen:
            raise Invalid(f"{where}: column name {name!r} is "
                          + ("reserved." if name in reserved else "used twice."))
        if kind not in TYPES:
            raise Invalid(f"{where}: unknown type {kind!r}; use one of {', '.join(TYPES)}.")
        geometry_type = None
        if kind == "geometry":
            asked = str(item.get("geometry_type") or "geometry").lower()
            geometry_type = GEOMETRY_ALIASES.get(asked, asked)
            if geometry_type not in GEOMETRY_TYPES:
                raise Invalid(f"{where}: unknown geometry_type {asked!r}; use one of "
                              f"{', '.join(GEOMETRY_TYPES)}.")
        seen.add(name)
        columns.append(Column(name, kind, geometry_type))
    return columns


# --- values ----------------------------------------------------------------------------------

def geometry_name(geom: BaseGeometry) -> str:
    return _SHAPELY_NAMES.get(geom.geom_type, "geometry")


def check_geometry(geom: BaseGeometry, column: Column | None = None) -> BaseGeometry:
    """2D, finite, within longitude/latitude, and of the column's geometry type."""
    if geom.has_z:
        geom = shapely.force_2d(geom)
    if not geom.is_empty:
        minx, miny, maxx, maxy = geom.bounds
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
            raise ValueError("coordinates must be finite numbers")
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise ValueError(
                f"coordinates ({minx:g}, {miny:g}) .. ({maxx:g}, {maxy:g}) are outside "
                "longitude -180..180 / latitude -90..90; geometry must be WGS 84 "
                "longitude/latitude (EPSG:4326)")
    if column is not None and column.geometry_type not in (None, "geometry"):
        if geometry_name(geom) != column.geometry_type:
            raise ValueError(f"a {geom.geom_type} does not fit a {column.geometry_type} column")
    return geom


def parse_geometry(value: Any, column: Column | None = None) -> BaseGeometry:
    """A GeoJSON geometry object or WKT text → a checked shapely geometry."""
    try:
        if isinstance(value, dict):
            if "type" not in value or ("coordinates" not in value
                                       and "geometries" not in value):
                raise ValueError("a GeoJSON geometry needs type and coordinates")
            geom = shape(value)
        elif isinstance(value, str):
            geom = shapely.from_wkt(value)
        else:
            raise ValueError("a geometry is a GeoJSON object or WKT text")
    except (shapely.errors.GEOSException, TypeError, KeyError, IndexError,
            AttributeError) as error:
        raise ValueError(f"not a valid geometry: {error}") from None
    return check_geometry(geom, column)


def parse_timestamp(value: Any, *, strict: bool = False) -> datetime:
    """ISO 8601 text (no zone means UTC) or epoch seconds; `strict` wants a time of day."""
    if isinstance(value, bool):
        raise ValueError("not a timestamp")
    if isinstance(value, int | float) and not strict:
        if not math.isfinite(value):
            raise ValueError("not a timestamp")
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise ValueError("not a timestamp")
    text = value.strip()
    if strict and not re.match(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d", text):
        raise ValueError("not a timestamp")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def coerce(column: Column, value: Any) -> Any:
    """A wire (JSON) value as the column's typed value; None stays None. ValueError if not."""
    if value is None:
        return None
    kind = column.type
    if kind == "text":
        if isinstance(value, str):
            return value
        if isinstance(value, bool | dict | list):
            raise ValueError("expected text")
        return str(value)
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            value = int(value)
        if not isinstance(value, int) or not INT64[0] <= value <= INT64[1]:
            raise ValueError("expected a 64-bit integer")
        return value
    if kind == "real":
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, str):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("expected a finite number")
        return float(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError("expected true or false")
    if kind == "timestamp":
        return parse_timestamp(value)
    if kind == "json":
        return value
    return parse_geometry(value, column)


def coerce_row(columns: dict[str, Column], values: dict[str, Any], *, where: str = ""
               ) -> dict[str, Any]:
    """A wire row → typed values; unknown columns and bad values are a clear Invalid."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        column = columns.get(name)
        if column is None:
            known = ", ".join(columns) or "none"
            raise Invalid(f"{where}unknown column {name!r}; the columns are: {known}.")
        try:
            typed[name] = coerce(column, value)
        except ValueError as error:
            raise Invalid(f"{where}column {name!r} ({column.type}): {error}: {value!r:.80}."
                          ) from None
    return typed


def iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")
