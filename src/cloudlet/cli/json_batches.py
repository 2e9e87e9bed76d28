"""JSON point documents cut into requests of at most `size` points, for `cloudlet write`.

A document in the series, devices, table or list form of `POST /projects/{id}/points` is
taken apart into runs of points that share a frame (every key but the points: device,
precision, fields). Consecutive runs with the same frame are packed into one request and a
long run is cut across several, so every request is a document of the same form with the
same keys. NDJSON is one document a line; packing them means that a file of one-reading
lines does not cost a request a line. A document of a shape not known here is sent as it
is, alone, so that the server names what is wrong with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any


class Malformed(ValueError):
    """The input is not JSON; the message names where."""


@dataclass
class Part:
    """One request's document, the points (rows, items) in it and where they come from."""

    doc: Any
    points: int
    where: str


@dataclass
class _Run:
    """Points of one series (key: name, or device and name), or a table's rows or a list's
    items (key: ()), with the frame they are sent in."""

    form: str
    frame: dict[str, Any]
    key: tuple[str, ...]
    points: Any


def parse_document(body: bytes) -> Any:
    """A whole JSON file, or Malformed saying where it breaks."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        hint = " (one document a line? That is --format ndjson.)" \
            if error.msg == "Extra data" else ""
        raise Malformed(f"The file is not valid JSON: {error.msg} at line {error.lineno}, "
                        f"column {error.colno}.{hint}") from None
    except ValueError as error:  # not UTF-8 (or -16/-32)
        raise Malformed(f"The file is not valid JSON: {error}.") from None


def documents(stream: IO[bytes]) -> Iterator[tuple[int, Any, int]]:
    """(line number, document, bytes read so far) per non-blank NDJSON line."""
    used = 0
    for number, line in enumerate(stream, start=1):
        used += len(line)
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as error:
            raise Malformed(f"Line {number} is not valid JSON: {error.msg} at column "
                            f"{error.colno}.") from None
        except ValueError as error:
            raise Malformed(f"Line {number} is not valid JSON: {error}.") from None
        yield number, doc, used


def split_document(doc: Any, size: int) -> Iterator[Part]:
    """One document as requests of at most `size` points; a small one goes unchanged."""
    runs = _runs(doc)
    count = sum(_length(r.points) or 0 for r in runs or ())
    if runs is None or count <= size:
        yield Part(doc, count, "the document")
        return
    unit = {"list": "items", "table": "rows"}.get(runs[0].form, "points")
    packer = _Packer(size)
    done = 0
    for run in runs:
        for part in packer.add(run, 0):
            yield _numbered(part, done, unit)
            done += part.points
    for part in packer.flush():
        yield _numbered(part, done, unit)


def split_ndjson(stream: IO[bytes], size: int) -> Iterator[tuple[Part, int]]:
    """The documents of an NDJSON stream packed into requests of at most `size` points,
    each with the bytes read when it is ready; read a line at a time."""
    packer, used = _Packer(size), 0
    for number, doc, used in documents(stream):
        runs = _runs(doc)
        if runs is None:
            for part in packer.flush():
                yield part, used
            yield Part(doc, 0, f"line {number}"), used
            continue
        for run in runs:
            for part in packer.add(run, number):
                yield part, used
    for part in packer.flush():
        yield part, used


def _numbered(part: Part, done: int, unit: str) -> Part:
    span = f"{done + 1}" if part.points == 1 else f"{done + 1}–{done + part.points}"
    part.where = f"{unit[:-1] if part.points == 1 else unit} {span} of the document"
    return part


def _runs(doc: Any) -> list[_Run] | None:
    """The document's runs in order, or None for a shape left to the server to judge."""
    if isinstance(doc, list):
        return [_Run("list", {}, (), doc)]
    if not isinstance(doc, dict):
        return None
    if "series" in doc:
        frame = {k: v for k, v in doc.items() if k != "series"}
        series = doc["series"]
        if not isinstance(series, dict):
            return None
        runs = [_Run("series", frame, (str(name),), points) for name, points in series.items()]
    elif "devices" in doc:
        frame = {k: v for k, v in doc.items() if k != "devices"}
        if not isinstance(doc["devices"], dict) or not all(
                isinstance(s, dict) for s in doc["devices"].values()):
            return None
        runs = [_Run("devices", frame, (str(device), str(name)), points)
                for device, series in doc["devices"].items() for name, points in series.items()]
    elif "data" in doc and isinstance(doc["data"], list):
        runs = [_Run("table", {k: v for k, v in doc.items() if k != "data"}, (), doc["data"])]
    else:
        return None
    return runs if all(_length(r.points) is not None for r in runs) else None


def _length(points: Any) -> int | None:
    if isinstance(points, list):
        return len(points)
    if isinstance(points, dict):
        times, values = points.get("time"), points.get("value", points.get("values"))
        if isinstance(times, list) and isinstance(values, list) and len(times) == len(values):
            return len(times)
    return None


def _cut(points: Any, start: int, stop: int) -> Any:
    if isinstance(points, list):
        return points[start:stop]
    values = points.get("value", points.get("values"))
    return {"time": points["time"][start:stop], "value": values[start:stop]}


def _join(first: Any, then: Any) -> Any | None:
    """Two pieces of one series (or table, or list) as one; None when one is columnar and
    the other is not."""
    if isinstance(first, list) and isinstance(then, list):
        return first + then
    if isinstance(first, dict) and isinstance(then, dict):
        return {"time": first["time"] + then["time"], "value": first["value"] + then["value"]}
    return None


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Frames equal as JSON: Python's == takes `"device": 1` and `true` for the same."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@dataclass
class _Packer:
    """Fills a request with runs of one frame until it holds `size` points."""

    size: int
    form: str = ""
    frame: dict[str, Any] = field(default_factory=dict)
    pieces: dict[tuple[str, ...], Any] = field(default_factory=dict)
    count: int = 0
    lines: tuple[int, int] = (0, 0)

    def add(self, run: _Run, line: int) -> Iterator[Part]:
        if self.pieces and (run.form != self.form or not _same(run.frame, self.frame)):
            yield from self.flush()
        total, start = _length(run.points) or 0, 0
        while True:
            piece = _cut(run.points, start, start + min(total - start, self.size - self.count))
            if not self._place(run, piece, line):
                yield from self.flush()
                self._place(run, piece, line)
            start += _length(piece) or 0
            if self.count >= self.size:
                yield from self.flush()
            if start >= total:
                return

    def _place(self, run: _Run, piece: Any, line: int) -> bool:
        if not self.pieces:
            self.form, self.frame, self.lines = run.form, run.frame, (line, line)
        held = self.pieces.get(run.key)
        joined = piece if held is None else _join(held, piece)
        if joined is None:
            return False
        self.pieces[run.key] = joined
        self.count += _length(piece) or 0
        self.lines = (self.lines[0], line)
        return True

    def flush(self) -> Iterator[Part]:
        if not self.pieces:
            return
        first, last = self.lines
        where = f"line {first}" if first == last else f"lines {first}–{last}"
        yield Part(self._document(), self.count, where)
        self.pieces, self.count = {}, 0

    def _document(self) -> Any:
        if self.form == "list":
            return self.pieces[()]
        if self.form == "table":
            return {**self.frame, "data": self.pieces[()]}
        if self.form == "series":
            return {**self.frame, "series": {k[0]: v for k, v in self.pieces.items()}}
        devices: dict[str, dict[str, Any]] = {}
        for (device, name), points in self.pieces.items():
            devices.setdefault(device, {})[name] = points
        return {**self.frame, "devices": devices}
