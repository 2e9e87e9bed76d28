"""CSV (and TSV): UTF-8, a header row, types inferred per column, lat/lon → a point.

Inference, per column over its non-empty cells: boolean (true/false), integer (64-bit, no
leading zeros, so zip codes stay text), real, timestamp (ISO 8601 with a time of day), else
text. Columns named lat/latitude and lon/lng/long/longitude become a `location` point (and
stay as real columns); a column named wkt/geometry/geom/the_geom/location/shape whose cells
are all WKT becomes the geometry instead. An `amigo_id` column gives the rows their ids.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely

from cloudlet.server.datasets.columns import (
    INT64,
    Column,
    check_geometry,
    geometry_name,
    parse_timestamp,
    sql_name,
    unique_names,
)
from cloudlet.server.datasets.ids import new_amigo_ids
from cloudlet.server.datasets.readers.plan import (
    BATCH,
    BadFile,
    Plan,
    Progress,
    primary_geometry_name,
)

LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon", "lng", "long")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "location", "shape", "wkb_geometry")
DELIMITERS = (",", ";", "\t", "|")
_LEADING_ZERO = re.compile(r"[-+]?0\d+")
_INT = re.compile(r"[-+]?(0|[1-9]\d*)")
_REAL = re.compile(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)")
csv.field_size_limit(16 * 1024 * 1024)


def _lines(fh: IO[bytes], filename: str, progress: Progress | None) -> Iterator[str]:
    """Decoded lines, with the line number of any byte that is not UTF-8."""
    done = 0
    for number, raw in enumerate(fh, 1):
        done += len(raw)
        if progress and number % 20000 == 0:
            progress(done)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadFile(
                f"{filename}, line {number}: byte 0x{raw[error.start]:02x} at column "
                f"{error.start + 1} is not valid UTF-8; save the file as UTF-8 and upload "
                "it again.", file=filename, line=number) from None
    if progress:
        progress(done)


def _kind(value: str) -> str:
    low = value.lower()
    if low in ("true", "false"):
        return "boolean"
    if _LEADING_ZERO.fullmatch(value):
        return "text"  # 007, 02139: codes, not numbers
    if _INT.fullmatch(value):
        return "integer" if INT64[0] <= int(value) <= INT64[1] else "real"
    if _REAL.fullmatch(value):
        return "real"
    try:
        parse_timestamp(value, strict=True)
        return "timestamp"
    except ValueError:
        return "text"


_FITS = {"integer": lambda v: _INT.fullmatch(v) is not None,
         "real": lambda v: _REAL.fullmatch(v) is not None or _INT.fullmatch(v) is not None,
         "boolean": lambda v: v.lower() in ("true", "false")}


def _widen(current: str, value: str) -> str:
    if current == "text":
        return current
    fits = _FITS.get(current)
    if fits is not None and fits(value) and not _LEADING_ZERO.fullmatch(value):
        return current  # the common case: one more value of the column's type
    found = _kind(value)
    if current == "empty" or found == current:
        return found
    if {current, found} == {"integer", "real"}:
        return "real"
    return "text"


def _delimiter(path: Path, filename: str) -> str:
    if filename.lower().endswith(".tsv"):
        return "\t"
    with path.open("rb") as fh:
        head = fh.readline(1 << 20).decode("utf-8", "replace")
    counts = {d: head.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _number(value: str, what: str, limit: float, where: str, line: int, filename: str
            ) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or abs(number) > limit:
        reason = "is not a number" if not math.isfinite(number) else f"is outside ±{limit:g}"
        raise BadFile(f"{where}: {what} {value!r} {reason}.", file=filename, line=line)
    return number


def scan_csv(path: Path, filename: str, name: str, progress: Progress | None = None) -> Plan:
    delimiter = _delimiter(path, filename)

    def records(progress: Progress | None) -> Iterator[tuple[int, list[str]]]:
        with path.open("rb") as fh:
            reader = csv.reader(_lines(fh, filename, progress), delimiter=delimiter)
            try:
                for row in reader:
                    if row or reader.line_num == 1:
                        yield reader.line_num, row
            except csv.Error as error:
                raise BadFile(f"{filename}, line {reader.line_num}: {error}.",
                              file=filename, line=reader.line_num) from None

    rows = records(progress)
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise BadFile(f"{filename} is empty: a CSV file needs a header row.", file=filename,
                      line=1)
    header = first[1]
    names = [sql_name(h, i) for i, h in enumerate(header)]
    id_index = names.index("amigo_id") if "amigo_id" in names else None
    data_index = [i for i in range(len(header)) if i != id_index]
    data_names = unique_names([header[i] for i in data_index], {"amigo_id"})
    width = len(header)
    kinds = ["empty"] * len(data_index)
    wkt_ok = [data_names[j] in WKT_NAMES for j in range(len(data_index))]
    wkt_types: list[set[str]] = [set() for _ in data_index]
    lat = next((j for j, n in enumerate(data_names) if n in LAT_NAMES), None)
    lon = next((j for j, n in enumerate(data_names) if n in LON_NAMES), None)
    seen_ids: set[str] = set()
    count = 0
    for line, row in rows:
        if len(row) != width:
            raise BadFile(f"{filename}, line {line}: {len(row)} field"
                          f"{'' if len(row) == 1 else 's'}, but the header has {width}.",
                          file=filename, line=line)
        count += 1
        if id_index is not None:
            amigo_id = row[id_index].strip()
            if not amigo_id or len(amigo_id) > 64 or amigo_id in seen_ids:
                raise BadFile(f"{filename}, line {line}: amigo_id {amigo_id!r} is "
                              + ("used twice." if amigo_id in seen_ids else
                                 "not a valid id (1-64 characters)."),
                              file=filename, line=line)
            seen_ids.add(amigo_id)
        for j, i in enumerate(data_index):
            value = row[i]
            if value == "":
                continue
            kinds[j] = _widen(kinds[j], value)
            if wkt_ok[j]:
                try:
                    geom = check_geometry(shapely.from_wkt(value))
                    wkt_types[j].add(geometry_name(geom))
                except (shapely.errors.GEOSException, ValueError):
                    wkt_ok[j] = False
        if lat is not None and lon is not None:
            a, b = row[data_index[lat]], row[data_index[lon]]
            where = f"{filename}, line {line}"
            if (a == "") != (b == ""):
                raise BadFile(f"{where}: latitude and longitude must both be given or both "
                              "be empty.", file=filename, line=line)
            if a != "":
                _number(a, f"latitude ({data_names[lat]})", 90, where, line, filename)
                _number(b, f"longitude ({data_names[lon]})", 180, where, line, filename)

    geometry_index = next((j for j in range(len(data_index))
                           if wkt_ok[j] and wkt_types[j]), None)
    columns: list[Column] = []
    for j, n in enumerate(data_names):
        if j == geometry_index:
            types = wkt_types[j]
            columns.append(Column(n, "geometry", types.pop() if len(types) == 1 else "geometry"))
        elif j in (lat, lon) and lat is not None and lon is not None:
            columns.append(Column(n, "real"))
        else:
            columns.append(Column(n, "text" if kinds[j] == "empty" else kinds[j]))
    geometry_column = None
    point = geometry_index is None and lat is not None and lon is not None
    if geometry_index is not None:
        geometry_column = data_names[geometry_index]
    elif point:
        geometry_column = primary_geometry_name(set(data_names))
        columns.append(Column(geometry_column, "geometry", "point"))

    def finish(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Ids and lat/lon points for a whole batch at once."""
        if id_index is None:
            for out, amigo_id in zip(batch, new_amigo_ids(len(batch)), strict=True):
                out["amigo_id"] = amigo_id
        if point:
            la_name, lo_name = data_names[lat], data_names[lon]  # type: ignore[index]
            lats = np.array([r[la_name] for r in batch], dtype=float)
            lons = np.array([r[lo_name] for r in batch], dtype=float)
            points = shapely.points(lons, lats)
            points[np.isnan(lats)] = None
            for out, geom in zip(batch, points.tolist(), strict=True):
                out[geometry_column] = geom  # type: ignore[index]
        return batch

    def read(progress: Progress | None) -> Iterator[list[dict[str, Any]]]:
        converters = [_converter(c) for c in columns[: len(data_index)]]
        pairs = list(zip(data_index, data_names, converters, strict=True))
        batch: list[dict[str, Any]] = []
        rows = records(progress)
        next(rows)
        for _line, row in rows:
            out: dict[str, Any] = {}
            if id_index is not None:
                out["amigo_id"] = row[id_index].strip()
            for i, name, convert in pairs:
                value = row[i]
                out[name] = None if value == "" else convert(value)
            batch.append(out)
            if len(batch) >= BATCH:
                yield finish(batch)
                batch = []
        if batch:
            yield finish(batch)

    return Plan(name=name, filename=filename, format="csv", columns=columns,
                geometry_column=geometry_column, count=count, read=read)


def _converter(column: Column) -> Any:
    if column.type == "integer":
        return int
    if column.type == "real":
        return float
    if column.type == "boolean":
        return lambda v: v.lower() == "true"
    if column.type == "timestamp":
        return parse_timestamp
    if column.type == "geometry":
        return lambda v: check_geometry(shapely.from_wkt(v))
    return str
