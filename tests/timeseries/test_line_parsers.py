"""The two line-protocol parsers agree (hypothesis): on any body the vectorized one accepts,
it gives exactly the careful one's points, and it never accepts a body the careful one
refuses, so bad lines always get the careful parser's messages."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries import lineprotocol
from cloudlet.server.timeseries.batch import Batch

NOW = 1_700_000_000_000_000
FACTORS = [1_000_000, 1_000, 1, -1_000]

names = st.sampled_from(["dev0", "dev1", "weather", "m", "cpu", "Time", "a.b", "x-y", ""])
tag_pairs = st.lists(st.tuples(st.sampled_from(["host", "site", "k", ""]),
                               st.sampled_from(["a", "b", "roof", "", "c=d"])), max_size=3)
fields = st.sampled_from(["f0", "f1", "temp", "v", "time", "all", "", "é"])
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.integers(-10**20, 10**20).map(lambda i: f"{i}i"),
    st.integers(-10**20, 10**20).map(lambda i: f"{i}u"),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    # plain decimals of every width around the 15 digits the vectorized reader takes
    st.tuples(st.integers(-10**18, 10**18), st.integers(0, 18)).map(
        lambda p: f"{'-' if p[0] < 0 else ''}{abs(p[0]) // 10**p[1]}."
                  f"{abs(p[0]) % 10**p[1]:0{p[1]}d}" if p[1] else str(p[0])),
    st.sampled_from(["1.", ".5", "-0", "-0.0", "-0i", "0u", "1e3", "1E-2", "t", "true",
                     "False", "1_0", "+1", "-", ".", "", "nan", "inf", "1.5i", "0x10",
                     "12345678901234567", "0.1234567890123456789", '"s"', "1,2"]),
)
stamps = st.one_of(
    st.integers(0, 10**19 + 10).map(str),
    st.integers(1_600_000_000, 1_800_000_000).map(str),
    st.integers(1_600_000_000 * 10**9, 1_800_000_000 * 10**9).map(str),
    st.sampled_from(["", "-5", "+5", "1_0", "00012", "9223372036854775807",
                     "9223372036854775808", "1.5", "x"]),
)
spaces = st.sampled_from([" "] * 12 + ["  ", "\t", " \t"])


@st.composite
def lines(draw: Any) -> str:
    key = draw(names) + "".join(f",{k}={v}" for k, v in draw(tag_pairs))
    fieldset = ",".join(f"{draw(fields)}={draw(values)}"
                        for _ in range(draw(st.integers(1, 3))))
    line = key + draw(spaces) + fieldset
    stamp = draw(stamps)
    if stamp:
        line += draw(spaces) + stamp
    return line


@st.composite
def bodies(draw: Any) -> bytes:
    pool = draw(st.lists(lines(), min_size=1, max_size=6))
    # repeated lines and shapes, as clients send them
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=40))
    end = draw(st.sampled_from(["\n", "\r\n", ""]))
    return ("\n".join(chosen) + end).encode()


def points(batch: Batch) -> dict[tuple[Any, ...], list[tuple[int, bytes]]]:
    """(device, tags, series) → [(ts, value bits)] in order (bits tell -0.0 from 0.0)."""
    out: dict[tuple[Any, ...], list[tuple[int, bytes]]] = {}
    for block in batch.blocks:
        key = (block.device, tuple(sorted((block.tags or {}).items())), block.series)
        assert key not in out, f"two blocks for {key}"
        out[key] = [(int(t), struct.pack("<d", float(v)))
                    for t, v in zip(block.ts, block.values, strict=True)]
    return out


def careful(body: bytes, factor: int) -> Batch | Invalid:
    try:
        return lineprotocol._parse_lines(body, factor, NOW)
    except Invalid as error:
        return error


def fast(body: bytes, factor: int) -> Batch | None:
    if not body.endswith(b"\n"):
        body += b"\n"
    return lineprotocol._parse_fast(body.replace(b"\r\n", b"\n"), factor)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.sampled_from(FACTORS))
@example(b"dev0 f0=1.5 1700000000000000000\ndev1 f0=2 1700000000000000000\n", -1_000)
@example(b"m,a=1,b=2 v=1 2\nm,b=2,a=1 v=2 2\n", 1)
@example(b"m v=-0i,w=-0,x=-0.0,y=0.1 5\n", 1)
@example(b"m v=1 9223372036854775807\n", -1_000)
@example(b"m v=.5,w=-.25,x=5.,y=123456789012345,z=0.000000000000001 1\n", 1)
@example(b"m v=1234567890123456,w=9007199254740993 1\n", 1)
def test_the_fast_parser_agrees_with_the_careful_one(body: bytes, factor: int) -> None:
    expected = careful(body.replace(b"\r\n", b"\n"), factor)
    got = fast(body, factor)
    if got is None:
        return
    assert not isinstance(expected, Invalid), f"fast accepted a bad body: {expected}"
    assert points(got) == points(expected)


def test_the_shape_of_a_repeated_body_is_reused_exactly() -> None:
    first = b"a v=1 1\nb v=2 1\na w=3 2\n"
    same_shape = b"a v=4 3\nb v=5 3\na w=6 4\n"
    other = b"a v=4 3\na v=5 4\nb w=6 4\n"
    for body in (first, same_shape, other, first):
        assert points(lineprotocol.parse(body, 1)) == points(careful(body, 1))  # type: ignore[arg-type]
    two_fields = b"a v=1,w=2 1\na v=3 2\n"
    regrouped = b"a v=1 1\na w=2,v=3 2\n"
    for body in (two_fields, regrouped):
        assert points(lineprotocol.parse(body, 1)) == points(careful(body, 1))  # type: ignore[arg-type]


def test_error_messages_come_from_the_careful_parser() -> None:
    try:
        lineprotocol.parse(b"ok v=1 1\nbad v=NaN 2\nworse v=1 x\n", 1_000_000)
    except Invalid as error:
        assert [e["where"] for e in error.extra["errors"]] == ["line 2", "line 3"]  # type: ignore[attr-defined]
    else:
        raise AssertionError("bad lines were accepted")


decimal_texts = st.one_of(
    st.tuples(st.integers(-10**17, 10**17), st.integers(0, 17)).map(
        lambda p: f"{'-' if p[0] < 0 else ''}{abs(p[0]) // 10**p[1]}."
                  f"{abs(p[0]) % 10**p[1]:0{p[1]}d}" if p[1] else str(p[0])),
    st.sampled_from([".5", "-.5", "5.", "-0", "0.0", "1e3", "+1", "-", ".", "1.2.3", "--1",
                     "1-", "007", "1_0"]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(decimal_texts, min_size=1, max_size=30))
@example(["0.1", "123456789012345", "-999999999999.999", "0.000000000000001"])
def test_the_vectorized_decimal_reader_reads_as_float_does(texts: list[str]) -> None:
    body = " ".join(texts).encode()
    arr = np.frombuffer(body, np.uint8)
    ends = np.cumsum([len(t) + 1 for t in texts]) - 1
    starts = ends - np.array([len(t) for t in texts])
    got = lineprotocol._decimals(arr, starts, ends)
    if got is None:  # something it leaves to float(): never a plain short decimal
        assert any(len(t.lstrip("-").replace(".", "")) > 15 or not t.lstrip("-").replace(
            ".", "", 1).isdigit() or t.count("-") > 1 or t.rfind("-") > 0 for t in texts)
        return
    assert [struct.pack("<d", v) for v in got] == [struct.pack("<d", float(t)) for t in texts]
