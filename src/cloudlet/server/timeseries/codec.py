"""The chunk codec: one stream's points, time-ordered, packed into one blob.

A chunk holds sorted, unique int64 timestamps (µs) and their float64 values. Layout (all
little-endian)::

    byte 0      format: 1 = raw, 2 = zlib
    bytes 1-4   n, the point count (uint32)
    payload     raw:  n int64 timestamps, then n float64 values
                zlib: zlib of (first timestamp, n-1 int64 deltas, n uint64 XOR-of-previous
                      value bits) — sensor data changes slowly, so both compress well

Writes on the hot path store raw chunks (no compression cost); the compactor rewrites them
compressed. `merge` is the one rule of overwrites: for equal timestamps the later input wins.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

RAW, ZLIB = 1, 2
_HEADER = struct.Struct("<BI")
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class CodecError(ValueError):
    """A blob is not a chunk this codec wrote."""


def encode(ts: I64, values: F64, *, compress: bool = False) -> bytes:
    """Pack sorted unique timestamps and their values into one chunk blob."""
    n = len(ts)
    if len(values) != n:
        raise ValueError("timestamps and values differ in length")
    ts = np.ascontiguousarray(ts, dtype="<i8")
    values = np.ascontiguousarray(values, dtype="<f8")
    if not compress:
        return _HEADER.pack(RAW, n) + ts.tobytes() + values.tobytes()
    deltas = np.diff(ts, prepend=np.int64(0))  # first element: the first timestamp itself
    bits = values.view("<u8")
    xored = bits ^ np.concatenate((np.zeros(1, "<u8"), bits[:-1]))
    payload = zlib.compress(deltas.tobytes() + xored.tobytes(), 6)
    return _HEADER.pack(ZLIB, n) + payload


def decode(blob: bytes | memoryview) -> tuple[I64, F64]:
    """The (timestamps, values) of a chunk blob."""
    blob = bytes(blob)
    if len(blob) < _HEADER.size:
        raise CodecError("chunk too short")
    kind, n = _HEADER.unpack_from(blob)
    body = blob[_HEADER.size:]
    if kind == ZLIB:
        body = zlib.decompress(body)
    elif kind != RAW:
        raise CodecError(f"unknown chunk format {kind}")
    if len(body) != 16 * n:
        raise CodecError(f"chunk of {n} points has {len(body)} payload bytes")
    first = np.frombuffer(body, "<i8", n)
    second = np.frombuffer(body, "<u8", n, offset=8 * n)
    if kind == RAW:
        return first.astype(np.int64), second.view("<f8").astype(np.float64)
    ts = np.cumsum(first).astype(np.int64)
    bits = np.bitwise_xor.accumulate(second)
    return ts, bits.view("<f8").astype(np.float64)


def merge(parts: list[tuple[I64, F64]]) -> tuple[I64, F64]:
    """Points of several inputs, sorted by time; for equal timestamps the later input wins.

    Inputs that are each sorted and follow one another in time (the usual case: disjoint
    chunks in order) are concatenated without sorting.
    """
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(parts) == 1 and _strictly_increasing(parts[0][0]):
        return parts[0]
    ts = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    if _strictly_increasing(ts):  # each sorted, and each after the one before: one check
        return ts, values
    # stable sort by time keeps input order among equal timestamps; keep each run's last
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    last = np.ones(len(ts), dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    return ts[last], values[last]


def dedupe_last(ts: I64, values: F64) -> tuple[I64, F64]:
    """One batch's points sorted by time, the last of equal timestamps winning."""
    return merge([(ts, values)])


def _strictly_increasing(ts: I64) -> bool:
    return len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1]))


def split_sizes(n: int, target: int) -> list[int]:
    """Sizes of about-equal pieces of at most `target` points covering n points."""
    if n <= target:
        return [n]
    pieces = -(-n // target)
    base, extra = divmod(n, pieces)
    return [base + (1 if i < extra else 0) for i in range(pieces)]
