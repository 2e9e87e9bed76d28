"""The row encoders alone: what they write parses back to the block's rows, on both the
fixed-width path and the piecewise one (heads of unequal length, times of unequal digits)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlet.server.core.errors import Invalid
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


@settings(max_examples=200)
@given(blocks(), st.data())
def test_a_subset_of_columns_parses_back_in_the_documented_order(
        made: tuple[Block, list[str]], data: st.DataObject) -> None:
    block, gids = made
    every = list(formats.COLUMNS) + (["count"] if block.count is not None else [])
    asked = data.draw(st.lists(st.sampled_from(every), min_size=1, unique=True))
    chosen = formats.columns(",".join(asked), block.count is not None)
    assert list(chosen) == [k for k in every if k in asked]
    want = [[v for k, v in zip(every, row, strict=True) if k in asked]
            for row in _expected(block, gids)]
    for end in (b"\n", b","):
        text = formats.json_rows(block, gids, end, chosen)
        rows = json.loads(b"[" + text.replace(b"\n", b",")[:-1] + b"]")
        assert [list(row) for row in rows] == [list(chosen)] * len(rows)
        assert [list(row.values()) for row in rows] == want
    text = formats.csv_header(block.count is not None, chosen) + formats.csv_rows(
        block, gids, chosen)
    parsed = list(csv.reader(io.StringIO(text.decode())))
    assert parsed[0] == list(chosen)
    cast = {"stream": str, "timestamp": str, "time": int, "value": float,
            "output_value": float, "count": int}
    assert [[cast[k](x) for k, x in zip(chosen, r, strict=True)] for r in parsed[1:]] == want


@pytest.mark.parametrize("fields", ["", "time,,value", "time,speed", "Value", "count"])
def test_unknown_or_empty_names_and_count_without_every_are_refused(fields: str) -> None:
    with pytest.raises(Invalid) as refused:
        formats.columns(fields, downsampled=False)
    assert "fields" in str(refused.value)
