"""InfluxDB line protocol → a `Batch`: measurement → device key, field → series name, tags
kept as metadata of the device's stream.

    weather,site=roof temperature=21.5,humidity=40i,ok=true 1700000000000000000

Fields may be floats, integers (`40i`, `40u`) or booleans (stored as 1 and 0); string fields
are refused, since a point is a number. A line without a timestamp takes the server's time.

Two parsers give the same answers: a vectorized one for the common shape (no escapes, no
quotes: every line is `key fields timestamp`), where C-level `bytes.split` and numpy do the
work, and a line-by-line one that handles every escape and names the offending line. The
fast one hands over to the careful one at the first surprise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries.batch import (
    MAX_ERRORS,
    MAX_TS,
    MIN_TS,
    RESERVED,
    Batch,
    Block,
    Problems,
    now_micros,
)

_TRUE = {b"t", b"T", b"true", b"True", b"TRUE"}
_FALSE = {b"f", b"F", b"false", b"False", b"FALSE"}
_SEPARATORS = np.frombuffer(b" \n", np.uint8)


def parse(body: bytes, factor: int, *, default_ts: int | None = None) -> Batch:
    """Parse a whole body. `factor`: µs per timestamp unit (negative: units per µs)."""
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    if not body.endswith(b"\n"):
        body += b"\n"
    now = now_micros() if default_ts is None else default_ts
    fast = _parse_fast(body, factor)
    if fast is not None:
        return fast
    return _parse_lines(body, factor, now)


# --- the vectorized path -------------------------------------------------------------------

# escapes, strings, comments, and whitespace that `bytes.split` cuts at but the careful
# parser keeps inside a value
_REFUSED = (b"\\", b'"', b"#", b"\t", b"\r", b"\x0b", b"\x0c")


def _parse_fast(body: bytes, factor: int) -> Batch | None:
    """Every line `key fields ts`, no escapes, quotes, comments, blank lines or tabs; else
    None. Works on byte positions: Python objects are made only for what numpy can't
    read (values that aren't plain decimals, timestamps of varying width) and for a body
    whose shape differs from the previous one's."""
    if any(c in body for c in _REFUSED) or b"\n\n" in body or body[:1] == b"\n":
        return None
    arr = np.frombuffer(body, np.uint8)
    seps = np.flatnonzero(arr <= 32)  # ' ' and '\n' (other whitespace was refused)
    if len(seps) % 3 or not len(seps):
        return None
    kinds = arr[seps]
    if not ((kinds[0::3] == 32).all() and (kinds[1::3] == 32).all()
            and (kinds[2::3] == 10).all()):
        return None
    key_end, field_end, line_end = seps[0::3], seps[1::3], seps[2::3]
    line_start = np.empty_like(line_end)
    line_start[0] = 0
    line_start[1:] = line_end[:-1] + 1
    if ((key_end <= line_start).any() or (field_end - key_end < 2).any()
            or (line_end - field_end < 2).any()):
        return None  # an empty token (a double space)
    # '=' and ',' by section: the nth separator ends the key (n % 3 == 0), the fields (1)
    # or the timestamp (2)
    eqs, commas = np.flatnonzero(arr == 61), np.flatnonzero(arr == 44)
    eq_section = np.searchsorted(seps, eqs) % 3
    comma_section = np.searchsorted(seps, commas) % 3
    if (eq_section == 2).any() or (comma_section == 2).any():
        return None
    eqs, commas = eqs[eq_section == 1], commas[comma_section == 1]
    value_end = np.sort(np.concatenate([commas, field_end]))  # ',' or ' ' after a value
    name_start = np.sort(np.concatenate([commas, key_end])) + 1
    if len(eqs) != len(value_end) or (eqs <= name_start).any() or (
            value_end - eqs < 2).any():
        return None  # a piece without exactly one '=', an empty name or value
    n, m = len(line_end), len(eqs)
    counts = None if m == n else np.diff(np.searchsorted(eqs, field_end), prepend=0)
    raw_ts = _integers(body, arr, field_end + 1, line_end)
    if raw_ts is None:
        return None
    ts = _scale(raw_ts, factor)
    if ts is None:
        return None
    values = _decimals(arr, eqs + 1, value_end)
    if values is None:
        raw_values = [body[s:e] for s, e in zip((eqs + 1).tolist(), value_end.tolist(),
                                                strict=True)]
        try:
            values = np.fromiter(map(float, raw_values), np.float64, m)
        except ValueError:
            values = _typed_values(raw_values)
            if values is None:
                return None
    if not np.isfinite(values).all():
        return None
    # the shape (the body less its values and timestamps): every key with its ' ', every
    # field name with its '=', and how many fields each line has
    shape = _gather(arr, np.concatenate([line_start, name_start]),
                    np.concatenate([key_end, eqs]) + 1).tobytes()
    if counts is not None:
        shape += counts.tobytes()
    global _LAYOUT
    layout = _LAYOUT
    if layout is None or layout.shape != shape:
        keys = [body[s:e] for s, e in zip(line_start.tolist(), key_end.tolist(), strict=True)]
        names = [body[s:e] for s, e in zip(name_start.tolist(), eqs.tolist(), strict=True)]
        layout = _Layout.of(shape, keys, names, counts)
        if layout is None:
            return None
        _LAYOUT = layout
    return layout.batch(ts, values)


class _Layout:
    """Where each value of a body goes: which series (block) and in what order. Built from
    the lines' keys and field names, and kept for the next body, since a client usually
    sends the same series in the same order every time: then only values and timestamps are
    new, and grouping costs one comparison of the bodies' shapes (each body less its values
    and timestamps)."""

    def __init__(self, shape: bytes, line_of: np.ndarray, order: np.ndarray,
                 starts: list[int], ends: list[int],
                 series: list[tuple[str, str, dict[str, str]]]) -> None:
        self.shape = shape
        self.line_of, self.order, self.starts, self.ends = line_of, order, starts, ends
        self.first = np.array(starts, np.int64)
        self.series = series

    @classmethod
    def of(cls, shape: bytes, keys: list[bytes], names: list[bytes],
           counts: np.ndarray | None) -> _Layout | None:
        n, m = len(keys), len(names)
        line_of = np.arange(n) if counts is None else np.repeat(np.arange(n), counts)
        key_index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        key_of_line = np.fromiter(map(key_index.__getitem__, keys), np.int64, n)
        name_index = {f: i for i, f in enumerate(dict.fromkeys(names))}
        if b"" in name_index:
            return None
        name_of_piece = np.fromiter(map(name_index.__getitem__, names), np.int64, m)
        parsed_keys = [_split_key(k) for k in key_index]
        names_text = [f.decode("utf-8", "replace") for f in name_index]
        if any(k is None for k in parsed_keys) or any(x.lower() in RESERVED
                                                      for x in names_text):
            return None
        # tags in another order name the same series: the careful parser groups those
        if len({(m, tuple(sorted(t.items()))) for m, t in parsed_keys}) < len(parsed_keys):  # type: ignore[misc]
            return None
        code = key_of_line[line_of] * len(name_index) + name_of_piece
        order = np.argsort(code, kind="stable")
        code_sorted = code[order]
        bounds = (np.flatnonzero(np.diff(code_sorted)) + 1).tolist()
        starts, ends = [0, *bounds], [*bounds, m]
        series = []
        for s in starts:
            c = int(code_sorted[s])
            measurement, tags = parsed_keys[c // len(name_index)]  # type: ignore[misc]
            series.append((measurement, names_text[c % len(name_index)], tags))
        return cls(shape, line_of, order, starts, ends, series)

    def batch(self, ts: np.ndarray, values: np.ndarray) -> Batch:
        grouped_ts, grouped_values = ts[self.line_of][self.order], values[self.order]
        # one vectorized check of every series at once: increasing within each group
        rising = np.ones(len(grouped_ts), dtype=bool)
        rising[1:] = grouped_ts[1:] > grouped_ts[:-1]
        rising[self.first] = True
        ordered = np.logical_and.reduceat(rising, self.first).tolist()
        batch = Batch()
        for (measurement, name, tags), s, e, ok in zip(self.series, self.starts, self.ends,
                                                       ordered, strict=True):
            batch.blocks.append(Block(ts=grouped_ts[s:e], values=grouped_values[s:e],
                                      device=measurement, series=name,
                                      tags=dict(tags) or None, ordered=ok))
        return batch


_LAYOUT: _Layout | None = None


def _integers(body: bytes, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray
              ) -> np.ndarray | None:
    """int64 of the decimal tokens body[starts:ends]: as a digit matrix when all are as wide
    (timestamps usually are), else one by one (once per distinct token); None if one is not
    an integer."""
    n = len(starts)
    widths = ends - starts
    width = int(widths[0])
    if 0 < width <= 19 and (widths == width).all():
        digits = arr[starts[:, None] + _OFFSETS[:width]] - np.uint8(48)
        if width <= 15 and (digits <= 9).all():
            return (digits.astype(np.float64) @ _POW10[width - 1::-1]).astype(np.int64)
        if (digits <= 9).all():
            # two dot products, each exact in float64 (below 2**53), joined as integers
            high = digits[:, :-9].astype(np.float64) @ _POW10[width - 10::-1]
            low = digits[:, -9:].astype(np.float64) @ _POW10[8::-1]
            if width < 19 or high.max() <= (2**63 - 1) // 10**9 - 1:
                return high.astype(np.int64) * 10**9 + low.astype(np.int64)
    tokens = [body[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    try:
        distinct = dict.fromkeys(tokens)  # lines of one write often share their timestamp
        if len(distinct) * 2 < n:
            as_int = {s: int(s) for s in distinct}
            return np.fromiter(map(as_int.__getitem__, tokens), np.int64, n)
        return np.fromiter(map(int, tokens), np.int64, n)
    except (ValueError, OverflowError):
        return None


def _decimals(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """float64 of plain decimal tokens arr[starts:ends] (`-12.5`, `3`, `.5`: at most 15
    digits, no exponent), exactly as `float()` reads them: the digits make an integer
    below 2**53 and the power of ten is exact, so one division rounds correctly. None when
    a token is anything else."""
    lengths = ends - starts
    firsts = np.cumsum(lengths) - lengths  # where each token starts among the gathered chars
    token_of = np.repeat(np.arange(len(starts)), lengths)
    chars = _gather(arr, starts, ends)
    digits = chars - np.uint8(48)
    is_digit = digits <= 9
    is_dot = chars == 46
    minus = chars == 45
    if not (is_digit | is_dot | minus).all() or minus.sum() != minus[firsts].sum():
        return None
    n_digits = np.add.reduceat(is_digit, firsts, dtype=np.int64)
    if (n_digits < 1).any() or (n_digits > 15).any() or (
            np.add.reduceat(is_dot, firsts, dtype=np.int64) > 1).any():
        return None
    seen = np.cumsum(is_digit, dtype=np.int64)
    after = seen[firsts + lengths - 1][token_of] - seen  # digits right of each char
    mantissa = np.add.reduceat(np.where(is_digit, digits * _POW10_INT[np.minimum(after, 18)],
                                        0), firsts)
    scale = np.add.reduceat(np.where(is_dot, after, 0), firsts)
    values = mantissa.astype(np.float64) / _POW10[scale]
    return np.where(minus[firsts], -values, values)


def _gather(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """arr[starts[0]:ends[0]] + arr[starts[1]:ends[1]] + …, in one gather."""
    lengths = ends - starts
    firsts = np.cumsum(lengths) - lengths
    return arr[np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))]


_OFFSETS = np.arange(19)
_POW10_INT = 10 ** np.arange(19, dtype=np.int64)
_POW10 = 10.0 ** np.arange(19)


def _scale(raw: np.ndarray, factor: int) -> np.ndarray | None:
    if factor > 0:
        if (raw < -(-MIN_TS // factor)).any() or (raw > MAX_TS // factor).any():
            return None
        return raw * factor
    out = raw // -factor
    if (out < MIN_TS).any() or (out > MAX_TS).any():
        return None
    return out


def _typed_values(raw: list[bytes]) -> np.ndarray | None:
    out = np.empty(len(raw), np.float64)
    for i, v in enumerate(raw):
        x = _field_value(v)
        if not isinstance(x, float):
            return None
        out[i] = x
    return out


def _split_key(key: bytes) -> tuple[str, dict[str, str]] | None:
    """`measurement,tag=v,…` (unescaped) → (measurement, tags)."""
    measurement, *pairs = key.split(b",")
    tags: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition(b"=")
        if not eq or not name or not value or b"=" in value:
            return None
        tags[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    if not measurement:
        return None
    return measurement.decode("utf-8", "replace"), tags


# --- the careful path --------------------------------------------------------------------

def _parse_lines(body: bytes, factor: int, now: int) -> Batch:
    problems = Problems()
    grouped: dict[tuple[str, tuple[tuple[str, str], ...], str], tuple[list[int], list[float]]]
    grouped = {}
    for number, line in enumerate(body.split(b"\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        try:
            measurement, tags, fields, ts = _parse_line(stripped, factor, now)
        except LineError as error:
            problems.add(f"line {number}", str(error), line=_excerpt(stripped))
            if problems.total >= MAX_ERRORS:
                break
            continue
        tag_key = tuple(sorted(tags.items()))
        for name, value in fields:
            series = grouped.setdefault((measurement, tag_key, name), ([], []))
            series[0].append(ts)
            series[1].append(value)
    problems.raise_if_any()
    batch = Batch()
    for (measurement, tag_key, name), (stamps, values) in grouped.items():
        batch.blocks.append(Block(ts=np.array(stamps, np.int64),
                                  values=np.array(values, np.float64),
                                  device=measurement, series=name,
                                  tags=dict(tag_key) or None))
    return batch


class LineError(ValueError):
    pass


def _excerpt(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= 120 else text[:117] + "..."


def _scan(line: bytes, pos: int, stops: bytes, quotes: bool = False) -> tuple[bytes, int]:
    """Read until an unescaped byte of `stops`; returns (unescaped text, stop position)."""
    out = bytearray()
    n = len(line)
    while pos < n:
        c = line[pos]
        if c == 0x5C and pos + 1 < n:  # backslash escapes the next byte
            nxt = line[pos + 1]
            if nxt in b" ,=\\\"":
                out.append(nxt)
                pos += 2
                continue
            out.append(c)
            pos += 1
            continue
        if c in stops:
            break
        out.append(c)
        pos += 1
    return bytes(out), pos


def _parse_line(line: bytes, factor: int, now: int
                ) -> tuple[str, dict[str, str], list[tuple[str, float]], int]:
    measurement, pos = _scan(line, 0, b", ")
    if not measurement:
        raise LineError("missing measurement")
    tags: dict[str, str] = {}
    while pos < len(line) and line[pos] == 0x2C:  # ','
        name, pos = _scan(line, pos + 1, b"=, ")
        if pos >= len(line) or line[pos] != 0x3D or not name:
            raise LineError("a tag must be key=value")
        value, pos = _scan(line, pos + 1, b", =")
        if not value or (pos < len(line) and line[pos] == 0x3D):
            raise LineError(f"tag {name.decode(errors='replace')!r} has no valid value")
        tags[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    if pos >= len(line) or line[pos] != 0x20:
        raise LineError("missing fields")
    while pos < len(line) and line[pos] == 0x20:
        pos += 1
    fields: list[tuple[str, float]] = []
    while True:
        name, pos = _scan(line, pos, b"=, ")
        if pos >= len(line) or line[pos] != 0x3D or not name:
            raise LineError("a field must be key=value")
        pos += 1
        key = name.decode("utf-8", "replace")
        if pos < len(line) and line[pos] == 0x22:  # a string field
            _, pos = _read_string(line, pos)
            raise LineError(f"field {key!r} is a string; only numbers and booleans "
                            "can be points")
        raw, pos = _scan(line, pos, b", ")
        value = _field_value(raw)
        if value is None:
            raise LineError(f"field {key!r} has an invalid value "
                            f"{raw.decode(errors='replace')!r}")
        if isinstance(value, str):
            raise LineError(f"field {key!r}: {value}")
        if key.lower() in RESERVED:
            raise LineError(f"field {key!r} is reserved (time, time_offset and all can't "
                            "name a series)")
        fields.append((key, value))
        if pos < len(line) and line[pos] == 0x2C:
            pos += 1
            continue
        break
    rest = line[pos:].strip()
    if not rest:
        return measurement.decode("utf-8", "replace"), tags, fields, now
    if b" " in rest:
        raise LineError("unexpected text after the timestamp")
    try:
        stamp = int(rest)
    except ValueError:
        raise LineError(f"invalid timestamp {rest.decode(errors='replace')!r}") from None
    micros = stamp * factor if factor > 0 else stamp // -factor
    if not MIN_TS <= micros <= MAX_TS:
        raise LineError(f"timestamp {stamp} is out of range (years 1900-2200)")
    return measurement.decode("utf-8", "replace"), tags, fields, micros


def _read_string(line: bytes, pos: int) -> tuple[bytes, int]:
    pos += 1
    out = bytearray()
    while pos < len(line):
        c = line[pos]
        if c == 0x5C and pos + 1 < len(line):
            out.append(line[pos + 1])
            pos += 2
            continue
        if c == 0x22:
            return bytes(out), pos + 1
        out.append(c)
        pos += 1
    raise LineError("unterminated string field")


def _field_value(raw: bytes) -> float | str | None:
    """A field value as a float; a str explains a refusal; None: not a value at all."""
    if not raw:
        return None
    if raw in _TRUE:
        return 1.0
    if raw in _FALSE:
        return 0.0
    text = raw
    if raw[-1:] in (b"i", b"u"):
        text = raw[:-1]
        try:
            number: Any = int(text)
        except ValueError:
            return None
        if raw[-1:] == b"u" and number < 0:
            return "an unsigned integer can't be negative"
        if not -(2**63) <= number < 2**64:
            return "an integer must fit in 64 bits"
        return float(number)
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return "NaN and infinity are not allowed"
    return value


def check_device(name: str) -> None:
    """Line protocol measurements become device keys, which have a narrower alphabet."""
    from cloudlet.server.timeseries.batch import DEVICE_KEY

    if not DEVICE_KEY.match(name):
        raise Invalid(f"Measurement {name!r} can't be a device key (1-100 characters of "
                      "A-Z a-z 0-9 _ : -); send ?device=KEY to write all lines to one device.")
