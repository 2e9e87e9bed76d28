"""GeoJSON FeatureCollections, read as a stream (ijson), never whole into memory.

Property types come from the JSON values: booleans, integers, reals (integers mixed with
reals are real), strings (ISO 8601 date-times become timestamps), objects and arrays become
json, and a property mixing other types is json. Geometries must be longitude/latitude
(RFC 7946); their type decides the geometry column's (mixed types: `geometry`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from cloudlet.server.datasets.columns import (
    INT64,
    Column,
    geometry_name,
    parse_geometry,
    parse_timestamp,
    unique_names,
)
from cloudlet.server.datasets.ids import new_amigo_id
from cloudlet.server.datasets.readers.plan import (
    BATCH,
    BadFile,
    Plan,
    Progress,
    primary_geometry_name,
)

WGS84_NAMES = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326",
               "urn:ogc:def:crs:OGC::CRS84")


class _Counting:
    """A file wrapper reporting bytes read, for progress."""

    def __init__(self, fh: IO[bytes], progress: Progress | None) -> None:
        self.fh, self.progress, self.done = fh, progress, 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.done += len(data)
        if self.progress:
            self.progress(self.done)
        return data


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if INT64[0] <= value <= INT64[1] else "real"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        try:
            parse_timestamp(value, strict=True)
            return "timestamp"
        except ValueError:
            return "text"
    return "json"


def _merge(current: str | None, found: str) -> str:
    if current is None or current == found:
        return found
    if {current, found} == {"integer", "real"}:
        return "real"
    if {current, found} == {"text", "timestamp"}:
        return "text"
    return "json"


def _check_top(path: Path, filename: str) -> None:
    """The document is an object with type FeatureCollection (and no foreign CRS)."""
    with path.open("rb") as fh:
        try:
            for n, (prefix, event, value) in enumerate(ijson.parse(fh)):
                if n == 0 and event != "start_map":
                    raise BadFile(f"{filename} is not a GeoJSON object.", file=filename)
                if prefix == "crs.properties.name" and str(value) not in WGS84_NAMES:
                    raise BadFile(f"{filename} uses the CRS {value!r}; GeoJSON imports must "
                                  "be WGS 84 longitude/latitude (EPSG:4326).", file=filename)
                if prefix == "type" and event == "string":
                    if value != "FeatureCollection":
                        raise BadFile(f"{filename}: GeoJSON must be a FeatureCollection, "
                                      f"not a {value}.", file=filename)
                    return
        except ijson.JSONError as error:
            raise BadFile(f"{filename} is not valid JSON: {error}.", file=filename) from None
    raise BadFile(f"{filename}: GeoJSON must be a FeatureCollection (no top-level type).",
                  file=filename)


def _features(path: Path, filename: str, progress: Progress | None
              ) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as fh:
        counted = _Counting(fh, progress)
        number = 0
        try:
            for number, feature in enumerate(
                    ijson.items(counted, "features.item", use_float=True), 1):
                yield number, feature
        except ijson.JSONError as error:
            raise BadFile(f"{filename}: invalid JSON after feature {number}: {error}.",
                          file=filename, feature=number + 1) from None
        except UnicodeDecodeError:
            raise BadFile(f"{filename}: bytes after feature {number} are not valid UTF-8.",
                          file=filename, feature=number + 1) from None


def _check_feature(number: int, feature: Any, filename: str) -> tuple[Any, dict[str, Any]]:
    where = f"{filename}, feature {number}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise BadFile(f"{where}: not a GeoJSON Feature (an object with type Feature).",
                      file=filename, feature=number)
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadFile(f"{where}: properties must be an object.", file=filename, feature=number)
    raw = feature.get("geometry")
    geometry = None
    if raw is not None:
        try:
            geometry = parse_geometry(raw)
        except ValueError as error:
            raise BadFile(f"{where}: {error}.", file=filename, feature=number) from None
    return geometry, properties


def scan_geojson(path: Path, filename: str, name: str, progress: Progress | None = None
                 ) -> Plan:
    _check_top(path, filename)
    keys: dict[str, str | None] = {}  # property name → kind (None while only nulls seen)
    geometry_types: set[str] = set()
    seen_ids: set[str] = set()
    count = 0
    for number, feature in _features(path, filename, progress):
        geometry, properties = _check_feature(number, feature, filename)
        count = number
        if geometry is not None and not geometry.is_empty:
            geometry_types.add(geometry_name(geometry))
        for key, value in properties.items():
            if key == "amigo_id":
                if not isinstance(value, str) or not value or len(value) > 64 \
                        or value in seen_ids:
                    raise BadFile(f"{filename}, feature {number}: amigo_id {value!r} is "
                                  + ("used twice." if value in seen_ids else
                                     "not a valid id (text, 1-64 characters)."),
                                  file=filename, feature=number)
                seen_ids.add(value)
                continue
            current = keys.get(key)
            keys[key] = current if value is None else _merge(current, _json_kind(value))
    raw_names = list(keys)
    names = unique_names(raw_names, {"amigo_id"})
    geometry_column = primary_geometry_name(set(names))
    columns = [Column(n, keys[k] or "text") for n, k in zip(names, raw_names, strict=True)]
    geometry_type = geometry_types.pop() if len(geometry_types) == 1 else "geometry"
    columns.append(Column(geometry_column, "geometry", geometry_type))
    by_key = dict(zip(raw_names, columns, strict=False))
    has_ids = bool(seen_ids)

    def read(progress: Progress | None) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        for number, feature in _features(path, filename, progress):
            geometry, properties = _check_feature(number, feature, filename)
            row: dict[str, Any] = {
                "amigo_id": properties.get("amigo_id") if has_ids and properties.get(
                    "amigo_id") else new_amigo_id(),
                geometry_column: None if geometry is None or geometry.is_empty else geometry,
            }
            for key, value in properties.items():
                column = by_key.get(key)
                if column is not None:
                    row[column.name] = _typed(column, value)
            batch.append(row)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    return Plan(name=name, filename=filename, format="geojson", columns=columns,
                geometry_column=geometry_column, count=count, read=read)


def _typed(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "timestamp":
        return parse_timestamp(value)
    if column.type == "real":
        return float(value)
    if column.type == "text" and not isinstance(value, str):
        return str(value)
    return value
