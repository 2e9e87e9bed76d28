"""Geometry values on SQLite: decoding what the datasets domain stores, and writing text the way
PostGIS does, so both backends answer with the same WKT and GeoJSON.

Accepted input: (E)WKB bytes, hex (E)WKB text, WKT or EWKT (`SRID=4326;POINT(1 2)`) and GeoJSON
text. The canonical value that Cloudlet's SQLite functions return and store is **EWKB bytes**
(little-endian, with the SRID when it is not 0), which `shapely.from_wkb` reads back.
A geography value in flight carries a 5-byte prefix (`GEOG\\0`) before its EWKB; it is turned
back into plain EWKB whenever it is stored or shown.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

GEOGRAPHY_TAG = b"GEOG\x00"
WGS84 = 4326
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_EWKT = re.compile(r"^\s*SRID\s*=\s*(-?\d+)\s*;\s*(.*)$", re.S | re.I)


class GeometryError(ValueError):
    """A value that is not a geometry, or an operation PostGIS would refuse."""


@dataclass(frozen=True)
class Geo:
    """A decoded value: the shape, its SRID, and whether it is a geography."""

    shape: BaseGeometry
    srid: int = 0
    geography: bool = False

    def encode(self) -> bytes:
        shape = shapely.set_srid(self.shape, self.srid) if self.srid else self.shape
        wkb = shapely.to_wkb(shape, include_srid=bool(self.srid), byte_order=1)
        return GEOGRAPHY_TAG + wkb if self.geography else wkb

    def as_geometry(self) -> Geo:
        return Geo(self.shape, self.srid, False) if self.geography else self

    def as_geography(self) -> Geo:
        if self.geography:
            return self
        srid = self.srid or WGS84
        if srid != WGS84:
            raise GeometryError(f"Only lon/lat coordinate systems are supported in geography "
                                f"(SRID {WGS84}); this geometry has SRID {srid}.")
        check_lonlat(self.shape)
        return Geo(self.shape, srid, True)


def check_lonlat(shape: BaseGeometry) -> None:
    if shape.is_empty:
        return
    xmin, ymin, xmax, ymax = shape.bounds
    if ymin < -90 or ymax > 90:
        raise GeometryError("Coordinate values are out of range [-180 -90, 180 90] for "
                            "GEOGRAPHY type.")


def decode(value: Any) -> Geo | None:
    """Any accepted representation → `Geo` (None stays None); raises GeometryError."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return _decode_bytes(bytes(value))
    if isinstance(value, str):
        return _decode_text(value)
    raise GeometryError(f"A {type(value).__name__} value is not a geometry.")


@lru_cache(maxsize=4096)
def _decode_bytes(data: bytes) -> Geo:
    geography = data.startswith(GEOGRAPHY_TAG)
    body = data[len(GEOGRAPHY_TAG):] if geography else data
    try:
        shape = shapely.from_wkb(body)
    except Exception as exc:  # shapely raises GEOSException for malformed WKB
        raise GeometryError("The bytes are not a WKB geometry.") from exc
    return Geo(shape, int(shapely.get_srid(shape)), geography)


@lru_cache(maxsize=4096)
def _decode_text(text: str) -> Geo:
    stripped = text.strip()
    try:
        if _HEX.match(stripped):
            return _decode_bytes(bytes.fromhex(stripped))
        if stripped.startswith("{"):
            return from_geojson(stripped)
        match = _EWKT.match(stripped)
        srid = int(match.group(1)) if match else 0
        shape = shapely.from_wkt(match.group(2) if match else stripped)
    except GeometryError:
        raise
    except Exception as exc:
        raise GeometryError(f"parse error - invalid geometry: {text[:40]!r}") from exc
    return Geo(shape, srid)


def from_geojson(text: str) -> Geo:
    """GeoJSON → geometry with SRID 4326, as PostGIS 3 does."""
    try:
        shape = shapely.from_geojson(text)
    except Exception as exc:
        raise GeometryError(f"Invalid GeoJSON representation: {text[:40]!r}") from exc
    return Geo(shape, WGS84)


def is_geometry_bytes(value: bytes) -> bool:
    try:
        _decode_bytes(bytes(value))
    except GeometryError:
        return False
    return True


# --- text the way PostGIS writes it ------------------------------------------------------

def fmt(number: float, decimals: int) -> str:
    """PostGIS's `lwprint_double`: the shortest text that reads back as the number, rounded to
    at most `decimals` decimals, trailing zeros trimmed; exponent notation below 1e-8 and from
    1e15 up."""
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    size = abs(number)
    if size >= 1e15 or 0 < size < 1e-8:
        mantissa, _, exponent = f"{number:.{decimals}e}".partition("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    shortest = decimal.Decimal(repr(number))
    if -int(shortest.as_tuple().exponent) <= decimals:
        text = format(shortest, "f")
    else:
        text = f"{number:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _coords(seq: Any, decimals: int) -> str:
    return ",".join(" ".join(fmt(c, decimals) for c in xyz) for xyz in _tuples(seq))


def _tuples(seq: Any) -> list[tuple[float, ...]]:
    return [tuple(c) for c in seq.coords]


_WKT_NAMES = {"Point": "POINT", "LineString": "LINESTRING", "LinearRing": "LINESTRING",
              "Polygon": "POLYGON", "MultiPoint": "MULTIPOINT",
              "MultiLineString": "MULTILINESTRING", "MultiPolygon": "MULTIPOLYGON",
              "GeometryCollection": "GEOMETRYCOLLECTION"}


def to_wkt(shape: BaseGeometry, decimals: int = 15) -> str:
    """`ST_AsText`: `POINT(1 2)`, `MULTIPOINT((1 2),(3 4))`, `POINT EMPTY`, …"""
    name = _WKT_NAMES[shape.geom_type]
    if shape.has_z and not shape.is_empty and name != "GEOMETRYCOLLECTION":
        name += " Z "
    if shape.is_empty:
        return f"{name} EMPTY"
    return name + _wkt_body(shape, decimals)


def _wkt_body(shape: BaseGeometry, decimals: int) -> str:
    kind = shape.geom_type
    if kind in ("Point", "LineString", "LinearRing"):
        return f"({_coords(shape, decimals)})"
    if kind == "Polygon":
        rings = [shape.exterior, *shape.interiors]  # type: ignore[attr-defined]
        return "(" + ",".join(f"({_coords(r, decimals)})" for r in rings) + ")"
    if kind == "GeometryCollection":
        return "(" + ",".join(to_wkt(g, decimals) for g in shape.geoms) + ")"  # type: ignore[attr-defined]
    return "(" + ",".join(
        _wkt_body(g, decimals) if not g.is_empty else "EMPTY"
        for g in shape.geoms  # type: ignore[attr-defined]
    ) + ")"


def _json_coords(seq: Any, decimals: int) -> str:
    return ",".join("[" + ",".join(fmt(c, decimals) for c in xyz) + "]" for xyz in _tuples(seq))


def to_geojson(shape: BaseGeometry, decimals: int = 9) -> str:
    """`ST_AsGeoJSON`: compact JSON text with PostGIS's number formatting."""
    kind = shape.geom_type
    if kind == "GeometryCollection":
        parts = ",".join(to_geojson(g, decimals) for g in shape.geoms)  # type: ignore[attr-defined]
        return f'{{"type":"GeometryCollection","geometries":[{parts}]}}'
    name = "LineString" if kind == "LinearRing" else kind
    return f'{{"type":"{name}","coordinates":{_json_body(shape, decimals)}}}'


def _json_body(shape: BaseGeometry, decimals: int) -> str:
    kind = shape.geom_type
    if shape.is_empty:
        return "[]"
    if kind == "Point":
        return _json_coords(shape, decimals)
    if kind in ("LineString", "LinearRing"):
        return f"[{_json_coords(shape, decimals)}]"
    if kind == "Polygon":
        rings = [shape.exterior, *shape.interiors]  # type: ignore[attr-defined]
        return "[" + ",".join(f"[{_json_coords(r, decimals)}]" for r in rings) + "]"
    return "[" + ",".join(_json_body(g, decimals) for g in shape.geoms) + "]"  # type: ignore[attr-defined]


def to_geojson_object(shape: BaseGeometry) -> Any:
    """GeoJSON as a JSON value, for result rows."""
    return json.loads(to_geojson(shape))
