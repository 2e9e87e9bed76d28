"""Exports as a stream of bytes, a batch of rows at a time: CSV (geometries as WKT, so a
re-import finds them again) or a GeoJSON FeatureCollection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import shapely

from cloudlet.server.datasets.columns import Column, iso
from cloudlet.server.datasets.wire import feature_json

FORMATS = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, shapely.Geometry):
        return shapely.to_wkt(value, rounding_precision=-1, trim=True)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def csv_stream(columns: list[Column], batches: Iterator[list[dict[str, Any]]]
               ) -> Iterator[bytes]:
    names = ["amigo_id", *(c.name for c in columns)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for batch in batches:
        writer.writerows([_cell(row.get(n)) for n in names] for row in batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def geojson_stream(geometry_column: str | None, batches: Iterator[list[dict[str, Any]]]
                   ) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for batch in batches:
        parts = [orjson.dumps(feature_json(row, geometry_column)) for row in batch]
        if parts:
            yield (b"" if first else b",") + b",\n".join(parts)
            first = False
    yield b"]}\n"
