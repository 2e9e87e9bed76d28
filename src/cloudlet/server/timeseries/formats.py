"""Wire formats of query results: JSON rows, NDJSON, CSV, Arrow IPC stream and Parquet.

Rows are `{stream, timestamp, time, value, output_value}` (+ `count` when downsampled), or
the subset `fields=` names, always in that order: `timestamp` is ISO-8601 UTC with
microseconds, `time` epoch µs; only the chosen columns are encoded. Text formats are encoded
PIECE_ROWS rows at a time without a Python object per row: orjson writes each numpy column in C,
the column texts are cut into per-row pieces with one `replace` + `split`, the fixed-width
ISO timestamps come from lookup tables, and one `join` interleaves the pieces (measured
here: several million rows/s, against about one million for orjson over a dict per row).
Arrow and Parquet write one record batch (or row group) per block through pyarrow, which
is optional (the `arrow` extra).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import orjson

from cloudlet.server.core.errors import Invalid, NotAcceptable
from cloudlet.server.timeseries.codec import I64
from cloudlet.server.timeseries.queries import Block

MEDIA_TYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
BINARY = ("arrow", "parquet")
COLUMNS = ("stream", "timestamp", "time", "value", "output_value")
# Rows of text encoded at once: measured in isolation here, about 40% less CPU per row at
# 4,096 rows than at 65,536 (a piece's work stays in the CPU caches; inside the server on a
# shared machine the gain is within the noise). Pieces are joined into sends of SEND_ROWS
# rows, as each send has its own cost; a JSON page is streamed send by send.
PIECE_ROWS = 4096
SEND_ROWS = 16_384

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_DIGITS = {k: np.array([f"{i:0{k}d}".encode() for i in range(10**k)], f"S{k}")
           for k in (1, 2, 3, 4)}
_DIGITS3, _DIGITS4 = _DIGITS[3], _DIGITS[4]
_CLOCK = np.array([f"{h:02d}:{m:02d}:{s:02d}".encode() for h in range(24) for m in range(60)
                   for s in range(60)], "S8")


def pick(format: str | None, accept: str | None) -> str:
    """The answer's format: `format=` wins, then the first known type `Accept` names,
    then JSON."""
    if format:
        name = format.strip().lower()
        if name not in MEDIA_TYPES:
            raise Invalid(f"format must be one of {', '.join(MEDIA_TYPES)}, not {format!r}.")
        return require(name)
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        for name, known in MEDIA_TYPES.items():
            if media == known.split(";")[0]:
                return require(name)
    return "json"


def require(name: str) -> str:
    """406 for Arrow and Parquet on a server without pyarrow."""
    if name in BINARY and importlib.util.find_spec("pyarrow") is None:
        raise NotAcceptable(f"{name} needs pyarrow on the server (pip install "
                            "'cloudlet[arrow]'); ask for json, ndjson or csv instead.")
    return name


# --- text rows -----------------------------------------------------------------------------

def _dates(days: I64) -> list[bytes]:
    """`YYYY-MM-DDT` of days since the epoch (civil-from-days, proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return [f"{y:04d}-{m:02d}-{d:02d}T".encode() for y, m, d in
            zip(year.tolist(), month.tolist(), day.tolist(), strict=True)]


class _Fixed:
    """Rows of fixed-width text built field by field: a numpy structured array of byte
    strings, so each field is one strided copy (much faster than uint8 columns)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.fields: list[tuple[int, Any]] = []  # (width, array of S<width> or bytes)

    def add(self, values: Any, width: int) -> None:
        """A field; text the same in every row joins the text before it when that is too
        (a copy fewer)."""
        if isinstance(values, bytes) and self.fields and isinstance(self.fields[-1][1], bytes):
            before = self.fields[-1][1]
            self.fields[-1] = (width + len(before), before + values)
        else:
            self.fields.append((width, values))

    def iso(self, ts: I64) -> None:
        """`2026-01-02T03:04:05.123456` (26 bytes)."""
        secs, micros = np.divmod(ts, 1_000_000)
        days, clock = np.divmod(secs, 86400)
        unique, where = np.unique(days, return_inverse=True)
        self.add(np.array(_dates(unique), "S11")[where.ravel()], 11)
        self.add(_CLOCK[clock], 8)
        self.add(b".", 1)
        self.add(_DIGITS3[micros // 1000], 3)
        self.add(_DIGITS3[micros % 1000], 3)

    def digits(self, values: I64, width: int) -> None:
        """Non-negative integers of exactly `width` digits."""
        groups = []
        while width > 0:
            values, low = np.divmod(values, 10_000)
            step = min(4, width)
            groups.append((_DIGITS4[low] if step == 4 else _DIGITS[step][low], step))
            width -= step
        for group, step in reversed(groups):
            self.add(group, step)

    def rows(self) -> list[bytes]:
        offsets = np.cumsum([0] + [w for w, _ in self.fields]).tolist()
        dtype = np.dtype({"names": [f"f{i}" for i in range(len(self.fields))],
                          "formats": [f"S{w}" for w, _ in self.fields],
                          "offsets": offsets[:-1], "itemsize": offsets[-1]})
        text = np.empty(self.n, dtype)
        for i, (_, values) in enumerate(self.fields):
            text[f"f{i}"] = values
        return text.view(f"S{offsets[-1]}").tolist()


def _pieces(column: Any, suffix: bytes, prefix: bytes = b"") -> list[bytes]:
    """Each value's JSON text between `prefix` and `suffix`."""
    body = orjson.dumps(np.ascontiguousarray(column), option=_NUMPY)[1:-1]
    out = body.replace(b",", suffix + b"\x00" + prefix).split(b"\x00")
    out[0] = prefix + out[0]
    out[-1] += suffix
    return out


def _interleave(n: int, columns: list[list[bytes]]) -> bytes:
    k = len(columns)
    if k == 1:
        return b"".join(columns[0])
    parts: list[bytes] = [b""] * (n * k)
    for i, column in enumerate(columns):
        parts[i::k] = column
    return b"".join(parts)


def columns(fields: str | None, downsampled: bool) -> tuple[str, ...]:
    """The columns `fields=` names, in the documented order (None: all of them); 400 for
    unknown or empty names, and for `count` without `every`."""
    known = COLUMNS + (("count",) if downsampled else ())
    if fields is None:
        return known
    names = [name.strip() for name in fields.split(",")]
    wrong = [name for name in names if name not in COLUMNS + ("count",)]
    if wrong:
        raise Invalid(f"fields names unknown or empty columns {wrong!r}; the columns are "
                      f"{', '.join(COLUMNS)} and count (with every=).", field="fields")
    if "count" in names and not downsampled:
        raise Invalid("fields: count is a column of downsampled rows only; add every=.",
                      field="fields")
    return tuple(name for name in known if name in names)


def _rows(block: Block, gids: list[str], chosen: tuple[str, ...], opens: dict[str, bytes],
          closes: dict[str, bytes], start: bytes, end: bytes) -> bytes:
    """The block's rows: for each row `start`, then each chosen column as
    `opens[c] value closes[c]`, separated by commas, then `end`. Only the chosen columns
    are encoded. Runs of fixed-width columns (the ISO timestamp always; the stream when
    its gids have one length; the epoch µs when the times have one number of digits) are
    built as one fixed-width text per row; the others as per-row pieces, and one `join`
    interleaves them."""
    n = len(block)
    if not n:
        return b""
    seps = [start + opens[chosen[0]]]
    seps += [closes[a] + b"," + opens[b] for a, b in zip(chosen, chosen[1:], strict=False)]
    seps.append(closes[chosen[-1]] + end)
    heads = [g.encode() for g in gids]
    size = len(heads[0]) if len({len(h) for h in heads}) == 1 else 0
    ts = block.ts
    width = 0
    if "time" in chosen:
        lo, hi = int(ts.min()), int(ts.max())
        width = len(str(hi)) if lo >= 10 ** (len(str(hi)) - 1) else 0
    out: list[list[bytes]] = []
    fixed: _Fixed | None = None
    for i, name in enumerate(chosen):
        lead, tail = (seps[0] if i == 0 else b""), seps[i + 1]
        if name == "timestamp" or (name == "stream" and size) or (name == "time" and width):
            if fixed is None:
                fixed = _Fixed(n)
            if lead:
                fixed.add(lead, len(lead))
            if name == "timestamp":
                fixed.iso(ts)
            elif name == "time":
                fixed.digits(ts, width)
            else:
                fixed.add(heads[0] if len(heads) == 1 else
                          np.array(heads, f"S{size}")[block.stream], size)
            fixed.add(tail, len(tail))
            continue
        if fixed is not None:
            out.append(fixed.rows())
            fixed = None
        if name == "stream":
            table = [lead + h + tail for h in heads]
            out.append([table[j] for j in block.stream.tolist()])
        else:
            out.append(_pieces(ts if name == "time" else getattr(block, name), tail, lead))
    if fixed is not None:
        out.append(fixed.rows())
    return _interleave(n, out)


_STRINGS = ("stream", "timestamp")
_JSON_OPENS = {c: b'"' + c.encode() + (b'":"' if c in _STRINGS else b'":')
               for c in (*COLUMNS, "count")}
_JSON_CLOSES = {c: b'Z"' if c == "timestamp" else b'"' if c in _STRINGS else b""
                for c in (*COLUMNS, "count")}
_CSV_OPENS = dict.fromkeys((*COLUMNS, "count"), b"")
_CSV_CLOSES = {c: b"Z" if c == "timestamp" else b"" for c in (*COLUMNS, "count")}


def _chosen(block: Block, chosen: tuple[str, ...] | None) -> tuple[str, ...]:
    return chosen or COLUMNS + (() if block.count is None else ("count",))


def json_rows(block: Block, gids: list[str], end: bytes,
              chosen: tuple[str, ...] | None = None) -> bytes:
    """The block's rows as JSON objects of the `chosen` columns (default: all), each
    followed by `end` (b"\\n" for NDJSON, b"," between the rows of a JSON array)."""
    return _rows(block, gids, _chosen(block, chosen), _JSON_OPENS, _JSON_CLOSES, b"{",
                 b"}" + end)


def csv_header(downsampled: bool, chosen: tuple[str, ...] | None = None) -> bytes:
    return (",".join(chosen or columns(None, downsampled)) + "\n").encode()


def csv_rows(block: Block, gids: list[str], chosen: tuple[str, ...] | None = None) -> bytes:
    return _rows(block, gids, _chosen(block, chosen), _CSV_OPENS, _CSV_CLOSES, b"", b"\n")


def _encoded(blocks: Iterable[Block], encode: Callable[[Block], bytes]) -> Iterator[bytes]:
    """The blocks' text, encoded PIECE_ROWS rows at a time, in sends of SEND_ROWS rows."""
    for block in blocks:
        for send in range(0, len(block), SEND_ROWS):
            part = block.part(slice(send, send + SEND_ROWS))
            yield b"".join([encode(part.part(slice(start, start + PIECE_ROWS)))
                            for start in range(0, len(part), PIECE_ROWS)])


def ndjson(blocks: Iterable[Block], gids: list[str], chosen: tuple[str, ...] | None = None
           ) -> Iterator[bytes]:
    yield from _encoded(blocks, lambda piece: json_rows(piece, gids, b"\n", chosen))


def csv(blocks: Iterable[Block], gids: list[str], downsampled: bool,
        chosen: tuple[str, ...] | None = None) -> Iterator[bytes]:
    yield csv_header(downsampled, chosen)
    yield from _encoded(blocks, lambda piece: csv_rows(piece, gids, chosen))


def json_page(page: Any, next_url: str | None, previous_url: str | None,
              chosen: tuple[str, ...] | None = None) -> Iterator[bytes]:
    """The JSON envelope `{count, next, previous, results}` of one query page, in sends of
    SEND_ROWS rows: a large page is streamed, never held as one text. The links come
    first, so a reader can ask for the next page before this one has arrived."""
    gids = [s["gid"] for s in page.streams]
    yield orjson.dumps({"count": page.count, "next": next_url,
                        "previous": previous_url})[:-1] + b',"results":['
    held = b""  # the last send waits: its last row has no comma after it
    for rows in _encoded([page.block],
                         lambda piece: json_rows(piece, gids, b",", chosen)):
        if held:
            yield held
        held = rows
    yield held[:-1] + b"]}"


# --- Arrow and Parquet ---------------------------------------------------------------------

class _Drain:
    """A write-only file pyarrow writes into; `take` hands over what it holds so far."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _schema(downsampled: bool, chosen: tuple[str, ...] | None) -> Any:
    """The binary columns: `time` is a timestamp type, so it stands for both `timestamp`
    and `time` of the text formats."""
    import pyarrow as pa

    wanted = set(chosen or columns(None, downsampled))
    if "timestamp" in wanted:
        wanted.add("time")
    fields = [("stream", pa.string()), ("time", pa.timestamp("us", tz="UTC")),
              ("value", pa.float64()), ("output_value", pa.float64()),
              ("count", pa.int64())]
    return pa.schema([f for f in fields if f[0] in wanted])


def _batch(block: Block, gids: Any, schema: Any) -> Any:
    import pyarrow as pa

    make = {"stream": lambda: gids.take(pa.array(block.stream)),
            "time": lambda: pa.array(block.ts, pa.int64()).cast(schema.field("time").type),
            "value": lambda: pa.array(block.value),
            "output_value": lambda: pa.array(block.output_value),
            "count": lambda: pa.array(block.count, pa.int64())}
    return pa.RecordBatch.from_arrays([make[name]() for name in schema.names],
                                      schema=schema)


def arrow(blocks: Iterable[Block], gids: list[str], downsampled: bool,
          chosen: tuple[str, ...] | None = None) -> Iterator[bytes]:
    """An Arrow IPC stream: a schema, then one record batch per block."""
    import pyarrow as pa

    schema, names, sink = _schema(downsampled, chosen), pa.array(gids, pa.string()), _Drain()
    with pa.ipc.new_stream(sink, schema) as writer:
        for block in blocks:
            if len(block):
                writer.write_batch(_batch(block, names, schema))
                yield sink.take()
    yield sink.take()


def parquet(blocks: Iterable[Block], gids: list[str], downsampled: bool,
            chosen: tuple[str, ...] | None = None) -> Iterator[bytes]:
    """A Parquet file: one row group per block, the footer at the end."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, names, sink = _schema(downsampled, chosen), pa.array(gids, pa.string()), _Drain()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for block in blocks:
            if len(block):
                writer.write_batch(_batch(block, names, schema))
                yield sink.take()
    yield sink.take()
