"""The row encoders alone: what they write parses back to the block's rows, on both the
fixed-width path and the piecewise one (heads of unequal length, times of unequal digits)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlet.server.timeseries import formats
from cloudlet.server.timeseries.queries import Block

MIN_TS, MAX_TS = -2_208_988_800 * 10**6, 7_258_118_400 * 10**6 - 1  # years 1900-2199
GIDS = ["s--0000-0001--0000-0000-0000-0002--5001", "s--0000-0001--0000-0000-0000-0003--5002"]
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[Block, list[str]]:
    n = draw(st.integers(1, 60))
    wide = draw(st.booleans())
    ts = draw(st.lists(st.integers(MIN_TS, MAX_TS) if wide else
                       st.integers(10**15, 10**16 - 1), min_size=n, max_size=n))
    gids = GIDS if draw(st.booleans()) else [GIDS[0], "s--0001"]
    counts = draw(st.none() | st.just(np.arange(n, dtype=np.int64)))
    return Block(np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int32),
                 np.array(ts, np.int64), np.array(draw(st.lists(FLOATS, min_size=n,
                                                                max_size=n))),
                 np.array(draw(st.lists(FLOATS, min_size=n, max_size=n))), counts), gids


def _expected(block: Block, gids: list[str]) -> list[list[object]]:
    iso = np.datetime_as_string(block.ts.astype("datetime64[us]"), unit="us")
    rows = [[gids[s], f"{i}Z", t, v, o] for s, i, t, v, o in zip(
        block.stream.tolist(), iso.tolist(), block.ts.tolist(), block.value.tolist(),
        block.output_value.tolist(), strict=True)]
    if block.count is not None:
        rows = [r + [c] for r, c in zip(rows, block.count.tolist(), strict=True)]
    return rows


@settings(max_examples=200)
@given(blocks())
def test_json_and_csv_rows_parse_back(made: tuple[Block, list[str]]) -> None:
    block, gids = made
    want = _expected(block, gids)
    keys = list(formats.COLUMNS) + (["count"] if block.count is not None else [])
    lines = formats.json_rows(block, gids, b"\n").decode().splitlines()
    assert [[row[k] for k in keys] for row in map(json.loads, lines)] == want
    array = json.loads(b"[" + formats.json_rows(block, gids, b",")[:-1] + b"]")
    assert [[row[k] for k in keys] for row in array] == want
    text = (formats.csv_header(block.count is not None) + formats.csv_rows(block, gids))
    parsed = list(csv.reader(io.StringIO(text.decode())))
    assert parsed[0] == keys
    assert [[r[0], r[1], int(r[2]), float(r[3]), float(r[4])] + [int(x) for x in r[5:]]
            for r in parsed[1:]] == want
