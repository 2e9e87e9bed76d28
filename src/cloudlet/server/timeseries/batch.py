"""What every ingest form parses into: blocks of (timestamps in µs, float64 values) for one
series of one device, or one stream, validated before anything is written.

Time units are explicit: integer epochs come with a precision (`s`, `ms`, `us`, `ns`, or the
iobeam and InfluxDB spellings); strings are ISO-8601 (naive means UTC). Values must be finite
numbers (booleans count as 1 and 0); `null` means "no point". Problems are collected per row
and raised together, so one 400 names every offending row (up to a cap) and nothing is written.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries.codec import F64, I64

MIN_TS = -2_208_988_800_000_000  # 1900-01-01T00:00:00Z in µs
MAX_TS = 7_258_118_400_000_000  # 2200-01-01T00:00:00Z in µs
MAX_ERRORS = 20
RESERVED = frozenset({"time", "time_offset", "all"})
DEVICE_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,100}$")

# precision name -> µs per unit (negative: units per µs, i.e. divide)
PRECISIONS: dict[str, int] = {
    "s": 1_000_000, "sec": 1_000_000, "second": 1_000_000, "seconds": 1_000_000,
    "ms": 1_000, "msec": 1_000, "millisecond": 1_000, "milliseconds": 1_000,
    "us": 1, "usec": 1, "u": 1, "µ": 1, "µs": 1, "microsecond": 1, "microseconds": 1,
    "ns": -1_000, "nsec": -1_000, "n": -1_000, "nanosecond": -1_000, "nanoseconds": -1_000,
    "m": 60_000_000, "h": 3_600_000_000,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def precision_factor(name: str | None) -> int | None:
    """µs per unit for a precision name (None: none given)."""
    if name is None or name == "":
        return None
    factor = PRECISIONS.get(name.strip().lower() if name != "µ" else name)
    if factor is None:
        raise Invalid(f"Unknown time precision {name!r}; use s, ms, us or ns.")
    return factor


@dataclass
class Block:
    """Points for one series of one device (`device` + `series`) or one stream (`stream`)."""

    ts: I64
    values: F64
    series: str | None = None
    device: str | None = None  # a device key or gid; None: the token's own device
    stream: str | None = None  # a stream gid
    tags: dict[str, str] | None = None
    ordered: bool = False  # known sorted and unique (the parser checked)


@dataclass
class Batch:
    blocks: list[Block] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(b.ts) for b in self.blocks)


class Problems:
    """Row errors collected while parsing one request: the first `MAX_ERRORS` in body order
    (by series, or line, in order of appearance, then row), whatever order the checks ran
    in (a series' timestamps are checked before its values)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.total = 0
        self._keys: list[tuple[int, int, int]] = []  # sorted, beside `errors`
        self._groups: dict[str, int] = {}

    def add(self, where: str, message: str, **fields: Any) -> None:
        self.total += 1
        group, _, row = where.rpartition(" ")
        if not (row.isascii() and row.isdigit() and len(row) < 19):
            group, row = where, "0"
        key = (self._groups.setdefault(group, len(self._groups)), int(row), self.total)
        if len(self.errors) == MAX_ERRORS and key > self._keys[-1]:
            return
        at = bisect.bisect(self._keys, key)
        self._keys.insert(at, key)
        self.errors.insert(at, {"where": where, "message": message, **fields})
        if len(self.errors) > MAX_ERRORS:
            self._keys.pop()
            self.errors.pop()

    def raise_if_any(self) -> None:
        if not self.total:
            return
        shown = "; ".join(f"{e['where']}: {e['message']}" for e in self.errors[:3])
        more = f" (and {self.total - 3} more)" if self.total > 3 else ""
        raise Invalid(f"Nothing was written: {self.total} bad row(s): {shown}{more}.",
                      errors=self.errors)


_GOOD_NAMES: set[str] = set()


def check_series_name(name: object) -> str:
    if name in _GOOD_NAMES:
        return name  # type: ignore[return-value]
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"A series name must be a non-empty string, not {name!r}.")
    if name.lower() in RESERVED:
        raise Invalid(f"{name!r} is reserved and can't name a series "
                      "(time, time_offset and all are reserved, in any case).")
    if len(name) > 100 or any(ord(c) < 32 for c in name):
        raise Invalid(f"Series name {name[:40]!r}… must be at most 100 printable characters.")
    if len(_GOOD_NAMES) < 100_000:
        _GOOD_NAMES.add(name)
    return name


def check_device_key(key: object) -> str:
    if not isinstance(key, str) or not DEVICE_KEY.match(key):
        raise Invalid(f"Device key {key!r} must be 1-100 characters of A-Z a-z 0-9 _ : -.")
    if key.lower().startswith("d--"):
        raise Invalid(f"Device key {key!r} can't start with 'd--' (that is how gids start).")
    return key


# --- values ------------------------------------------------------------------------------

def values_of(raw: Sequence[Any], problems: Problems, where: str, first_row: int = 0
              ) -> tuple[F64, np.ndarray | None]:
    """float64 values and a mask of present ones (None: all present); bad rows go to
    `problems`."""
    try:
        arr = np.asarray(raw)
    except (ValueError, OverflowError):
        arr = np.asarray(raw, dtype=object)
    if arr.ndim == 1 and arr.dtype.kind in "iufb":
        values = arr.astype(np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            for i in np.flatnonzero(~finite)[:MAX_ERRORS]:
                problems.add(f"{where} row {first_row + int(i)}",
                             f"{raw[i]!r} is not a finite number")
        return values, None
    values = np.empty(len(raw), np.float64)
    present = np.ones(len(raw), dtype=bool)
    for i, x in enumerate(raw):
        if x is None:
            present[i] = False
            values[i] = 0.0
        elif isinstance(x, bool | int | float) and not isinstance(x, np.ndarray):
            try:
                v = float(x)
            except OverflowError:
                v = math.inf
            if not math.isfinite(v):
                problems.add(f"{where} row {first_row + i}", f"{x!r} is not a finite number")
            values[i] = v
        else:
            problems.add(f"{where} row {first_row + i}",
                         f"{_show(x)} is not a number")
            values[i] = 0.0
    return values, (None if present.all() else present)


def _show(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


# --- times -------------------------------------------------------------------------------

def micros_of(raw: Sequence[Any], factor: int | None, problems: Problems, where: str,
              first_row: int = 0) -> I64:
    """Timestamps in µs from epoch numbers (in `factor` units) or ISO-8601 strings."""
    try:
        arr = np.asarray(raw)
    except (ValueError, OverflowError):
        arr = np.asarray(raw, dtype=object)
    if arr.ndim == 1 and arr.dtype.kind == "i":
        if factor is None:
            problems.add(where, "integer timestamps need their unit: give precision "
                         "(s, ms, us or ns), or use ISO-8601 strings")
            return np.zeros(len(raw), np.int64)
        return _scale_ints(arr.astype(np.int64), factor, problems, where, first_row)
    if arr.ndim == 1 and arr.dtype.kind == "f":
        if factor is None:
            problems.add(where, "numeric timestamps need their unit: give precision "
                         "(s, ms, us or ns), or use ISO-8601 strings")
            return np.zeros(len(raw), np.int64)
        micros = arr * factor if factor > 0 else arr / -factor
        bad = ~np.isfinite(micros) | (micros < MIN_TS) | (micros > MAX_TS)
        for i in np.flatnonzero(bad)[:MAX_ERRORS]:
            problems.add(f"{where} row {first_row + int(i)}",
                         f"timestamp {raw[i]!r} is out of range (years 1900-2200)")
        return np.where(bad, 0, np.round(np.where(bad, 0, micros))).astype(np.int64)
    if arr.ndim == 1 and arr.dtype.kind == "U" and all(isinstance(x, str) for x in raw):
        return iso_micros(list(raw), problems, where, first_row)
    out = np.zeros(len(raw), np.int64)
    for i, x in enumerate(raw):
        out[i] = one_micros(x, factor, problems, f"{where} row {first_row + i}")
    return out


def _scale_ints(ts: I64, factor: int, problems: Problems, where: str, first_row: int) -> I64:
    if factor > 0:
        lo, hi = -(-MIN_TS // factor), MAX_TS // factor
        bad = (ts < lo) | (ts > hi)
        out = ts * factor
    else:
        out = ts // -factor
        bad = (out < MIN_TS) | (out > MAX_TS)
    if bad.any():
        for i in np.flatnonzero(bad)[:MAX_ERRORS]:
            problems.add(f"{where} row {first_row + int(i)}",
                         f"timestamp {int(ts[i])} is out of range (years 1900-2200)")
        out = np.where(bad, 0, out)
    return out.astype(np.int64)


def one_micros(x: Any, factor: int | None, problems: Problems, where: str) -> int:
    """One timestamp of any accepted kind, in µs (0 after recording a problem)."""
    if isinstance(x, str):
        return parse_iso(x, problems, where)
    if isinstance(x, bool) or not isinstance(x, int | float):
        problems.add(where, f"timestamp {_show(x)} is neither an epoch number nor ISO-8601")
        return 0
    if factor is None:
        problems.add(where, "numeric timestamps need their unit: give precision "
                     "(s, ms, us or ns), or use ISO-8601 strings")
        return 0
    try:
        micros = x * factor if factor > 0 else (x // -factor if isinstance(x, int)
                                                else x / -factor)
        value = int(round(micros))
    except (OverflowError, ValueError):
        value = MAX_TS + 1
    if not MIN_TS <= value <= MAX_TS:
        problems.add(where, f"timestamp {_show(x)} is out of range (years 1900-2200)")
        return 0
    return value


def parse_iso(text: str, problems: Problems, where: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        problems.add(where, f"timestamp {_show(text)} is not ISO-8601")
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    value = (moment - _EPOCH) // _MICRO
    if not MIN_TS <= value <= MAX_TS:
        problems.add(where, f"timestamp {_show(text)} is out of range (years 1900-2200)")
        return 0
    return int(value)


_MICRO = datetime.resolution  # timedelta(microseconds=1)


def iso_micros(texts: list[str], problems: Problems, where: str, first_row: int = 0) -> I64:
    """Many ISO-8601 strings at once: numpy parses the plain UTC ones (`…Z` or no zone),
    anything else goes one by one."""
    if all(t.endswith("Z") and "T" in t for t in texts):
        try:
            parsed = np.array([t[:-1] for t in texts], dtype="datetime64[us]")
            values = parsed.astype(np.int64)
            if ((values >= MIN_TS) & (values <= MAX_TS)).all():
                return values
        except ValueError:
            pass
    return np.array([parse_iso(t, problems, f"{where} row {first_row + i}")
                     for i, t in enumerate(texts)], dtype=np.int64)


def block(ts: I64, values: F64, present: np.ndarray | None, **where: Any) -> Block:
    if present is not None:
        ts, values = ts[present], values[present]
    return Block(ts=ts, values=values, **where)


def now_micros() -> int:
    return (datetime.now(UTC) - _EPOCH) // _MICRO
