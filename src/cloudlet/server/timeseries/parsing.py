"""The JSON and CSV ingest forms → a `Batch`.

- series:  `{"device": D, "series": {"temp": [[t, v], …]}}`; a series may also be columnar,
           `{"time": [t, …], "value": [v, …]}` — the fastest form to send and to parse;
- devices: `{"devices": {D: {"temp": …, "hum": …}, D2: {…}}}`: the series form for several
           devices in one request;
- table:   `{"device": D, "fields": ["time", "temp", "hum"], "data": [[t, 21.5, null], …]}`
           (seed 003's DataStore; `null` means no point for that series at that time);
- list:    `[{"stream": "s--…", "timestamp": t, "value": v}, …]`, or items naming
           `device` and `series` instead of `stream`;
- CSV:     a `time,series…` header, then rows; empty cells mean no point.

Timestamps: integer (or fractional) epochs in the stated precision, or ISO-8601 strings.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries.batch import (
    RESERVED,
    Batch,
    Block,
    Problems,
    block,
    micros_of,
    precision_factor,
    values_of,
)


def parse_json(body: bytes, precision: str | None) -> Batch:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        # NaN and Infinity are not JSON (but Python's json.dumps writes them), and orjson
        # refuses numbers past a double's range: read those, so that the refusal names
        # their rows as for any other non-finite value
        if b"NaN" not in body and b"Infinity" not in body and "infinity" not in str(error):
            raise Invalid(f"The request body is not valid JSON: {error}.") from None
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise Invalid(f"The request body is not valid JSON: {error}.") from None
    return parse_document(doc, precision)


def parse_document(doc: Any, precision: str | None) -> Batch:
    """A decoded JSON body in any of the forms above."""
    problems = Problems()
    if isinstance(doc, list):
        batch = _list_form(doc, precision_factor(precision), problems)
    elif isinstance(doc, dict):
        unit = doc.get("precision", doc.get("timefmt", precision))
        if unit is not None and not isinstance(unit, str):
            raise Invalid("precision must be a string such as 'ms'.")
        factor = precision_factor(unit)
        device = doc.get("device")
        if device is not None and not isinstance(device, str | int):
            raise Invalid("device must be a device key or gid.")
        device = None if device is None else str(device)
        if "series" in doc:
            batch = _series_form(doc["series"], device, factor, problems)
        elif "devices" in doc:
            if not isinstance(doc["devices"], dict):
                raise Invalid("devices must be an object of device keys to series.")
            batch = Batch()
            for key, series in doc["devices"].items():
                batch.blocks.extend(_series_form(series, str(key), factor, problems).blocks)
        elif "fields" in doc or "data" in doc:
            batch = table(doc.get("fields"), doc.get("data"), device, factor, problems)
        else:
            raise Invalid("Send {device, series: {name: [[t, v], …]}}, "
                          "{device, fields: [\"time\", …], data: [[t, …], …]} or a list of "
                          "{stream, timestamp, value}.")
    else:
        raise Invalid("The body must be a JSON object or list.")
    problems.raise_if_any()
    return batch


def _series_form(series: Any, device: str | None, factor: int | None, problems: Problems
                 ) -> Batch:
    if not isinstance(series, dict):
        raise Invalid("series must be an object of series names to points.")
    batch = Batch()
    for name, points in series.items():
        where = f"series {name!r}"
        if isinstance(points, dict):
            times, values = points.get("time"), points.get("value", points.get("values"))
            if not isinstance(times, list) or not isinstance(values, list) or len(times) != len(
                    values):
                problems.add(where, "a columnar series needs lists `time` and `value` of "
                             "equal length")
                continue
        elif isinstance(points, list):
            try:
                pairs_ok = set(map(len, points)) <= {2} and all(
                    isinstance(p, list) for p in points[:1])
            except TypeError:
                pairs_ok = False
            if not pairs_ok:
                for i, p in enumerate(points):
                    if not isinstance(p, list) or len(p) != 2:
                        problems.add(f"{where} row {i}", "each point must be [time, value]")
                continue
            times, values = ([], []) if not points else map(list, zip(*points, strict=True))
        else:
            problems.add(where, "points must be a list of [time, value] or "
                         "{time: [...], value: [...]}")
            continue
        ts = micros_of(times, factor, problems, where)
        vals, present = values_of(values, problems, where)
        batch.blocks.append(block(ts, vals, present, device=device, series=str(name)))
    return batch


def table(fields: Any, data: Any, device: str | None, factor: int | None,
          problems: Problems | None = None) -> Batch:
    """The table form: `fields` names the columns (one of them `time`), `data` the rows."""
    own = problems is None
    problems = problems or Problems()
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise Invalid("fields must be a list of column names, one of them \"time\".")
    lowered = [f.lower() for f in fields]
    if lowered.count("time") != 1:
        raise Invalid("fields must name exactly one \"time\" column.")
    for name in fields:
        if name.lower() in RESERVED - {"time"}:
            raise Invalid(f"{name!r} is reserved and can't name a series.")
    if len(set(fields)) != len(fields):
        raise Invalid("fields must not repeat a name.")
    if not isinstance(data, list):
        raise Invalid("data must be a list of rows.")
    width = len(fields)
    try:
        ok = set(map(len, data)) <= {width} and all(isinstance(r, list) for r in data[:1])
    except TypeError:
        ok = False
    if not ok:
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                problems.add(f"row {i}", f"each row must be a list of {width} cells")
        problems.raise_if_any()
    columns = list(map(list, zip(*data, strict=True))) if data else [[] for _ in fields]
    time_at = lowered.index("time")
    ts = micros_of(columns[time_at], factor, problems, "time")
    batch = Batch()
    for i, name in enumerate(fields):
        if i == time_at:
            continue
        vals, present = values_of(columns[i], problems, f"column {name!r}")
        batch.blocks.append(block(ts, vals, present, device=device, series=name))
    if own:
        problems.raise_if_any()
    return batch


def _list_form(items: list[Any], factor: int | None, problems: Problems) -> Batch:
    groups: dict[tuple[str | None, str | None, str | None], tuple[list[Any], list[Any]]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.add(f"item {i}", "must be an object {stream, timestamp, value}")
            continue
        stream, device, series = item.get("stream"), item.get("device"), item.get("series")
        if stream is None and series is None:
            problems.add(f"item {i}", "needs `stream` (a gid), or `series` and `device`")
            continue
        stamp = item.get("timestamp", item.get("time"))
        if stamp is None or "value" not in item:
            problems.add(f"item {i}", "needs `timestamp` and `value`")
            continue
        key = (None if stream is None else str(stream), None if device is None else
               str(device), None if series is None else str(series))
        times, values = groups.setdefault(key, ([], []))
        times.append(stamp)
        values.append(item["value"])
    batch = Batch()
    for (stream, device, series), (times, values) in groups.items():
        where = f"stream {stream}" if stream else f"series {series!r}"
        ts = micros_of(times, factor, problems, where)
        vals, present = values_of(values, problems, where)
        batch.blocks.append(block(ts, vals, present, stream=stream, device=device,
                                  series=series))
    return batch


def parse_csv(body: bytes, precision: str | None, device: str | None) -> Batch:
    """`time,series…` rows; integer times need `precision`, others are ISO-8601."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The CSV body is not UTF-8.") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        return Batch()
    header = [h.strip() for h in rows[0]]
    data = rows[1:]
    problems = Problems()
    width = len(header)
    for i, row in enumerate(data, start=2):
        if len(row) != width:
            problems.add(f"line {i}", f"has {len(row)} cells, the header has {width}")
    problems.raise_if_any()
    factor = precision_factor(precision)
    converted: list[list[Any]] = []
    time_at = [h.lower() for h in header].index("time") if "time" in [
        h.lower() for h in header] else -1
    for row in data:
        cells: list[Any] = []
        for j, cell in enumerate(row):
            cell = cell.strip()
            if j == time_at:
                cells.append(_csv_time(cell))
            else:
                cells.append(_csv_value(cell))
        converted.append(cells)
    batch = table(header, converted, device, factor, problems)
    problems.raise_if_any()
    return batch


def _csv_time(cell: str) -> Any:
    if cell.lstrip("-").isdigit():
        return int(cell)
    try:
        return float(cell) if cell and cell[0] in "-0123456789." and "T" not in cell and \
            "-" not in cell[1:] else cell
    except ValueError:
        return cell


def _csv_value(cell: str) -> Any:
    if cell == "":
        return None
    try:
        return float(cell)
    except ValueError:
        return cell  # refused as not a number, naming the row


__all__ = ["Block", "parse_csv", "parse_document", "parse_json", "table"]
