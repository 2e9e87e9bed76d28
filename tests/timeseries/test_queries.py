"""The query API over HTTP: scope, filters, lastn, order, downsampling, units, paging,
formats and bad parameters, each checked against a brute-force computation in Python."""

from __future__ import annotations

import io
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from tests.support.accounts import make_user
from tests.timeseries.conftest import Project

US = 1_000_000
T0 = 1_767_225_600 * US  # 2026-01-01T00:00:00Z
AGGS = ("mean", "min", "max", "sum", "count", "first", "last")


@dataclass
class Farm:
    """Devices `a` and `b`, each with `temp` (output unit F: m=-9, d=5, o=32) and `hum`,
    with interleaved timestamps so cross-stream merges and ties matter."""

    project: Project
    gids: dict[tuple[str, str], str]
    ids: dict[str, int]  # stream gid -> stream id (the tie-break of the order)
    data: dict[str, list[tuple[int, float]]]  # stream gid -> [(µs, value)]
    unit: dict[str, tuple[int, int, float]]

    def get(self, path: str, **params: Any) -> Any:
        with self.project.client() as c:
            return c.get(path, params=params)

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.get(path, format="ndjson", **params)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in answer.text.splitlines()]

    def output(self, gid: str, value: float) -> float:
        m, d, o = self.unit[gid]
        return value * m / d + o

    def expected(self, gids: list[str], keep: Any = lambda t, v: True,
                 descending: bool = False) -> list[tuple[str, int, float]]:
        rows = [(g, t, v) for g in gids for t, v in self.data[g] if keep(t, v)]
        rows.sort(key=lambda r: (r[1], self.ids[r[0]]), reverse=descending)
        return rows


def _pattern(n: int, step: int, offset: int, scale: float) -> list[tuple[int, float]]:
    return [(T0 + offset + i * step, round(scale * ((i * 37) % 23 - 11), 3)) for i in range(n)]


@pytest.fixture
def farm(project: Project) -> Farm:
    series = {
        ("a", "temp"): _pattern(300, 20 * US, 0, 1.5),
        ("a", "hum"): _pattern(120, 45 * US, 7 * US, 2.0),
        ("b", "temp"): _pattern(250, 20 * US, 0, -0.5),  # same times as a/temp: ties
        ("b", "hum"): _pattern(90, 61 * US, 3, 4.0),
    }
    for (device, name), points in series.items():
        answer = project.post({"device": device, "series": {name: [[t, v] for t, v in points]}},
                              precision="us")
        assert answer.status_code == 200, answer.text
    with project.client() as c:
        c.patch(f"/projects/{project.id}/variables/temp", json={"output_unit": {
            "unit_short": "F", "m": -9, "d": 5, "o": 32.0}}).raise_for_status()
    found = {(s["device_key"], s["series"]): s for s in project.streams()}
    gids = {k: found[k]["gid"] for k in series}
    return Farm(project, gids, {s["gid"]: s["id"] for s in found.values()},
                {gids[k]: v for k, v in series.items()},
                {gids[k]: (-9, 5, 32.0) if k[1] == "temp" else (1, 1, 0.0) for k in series})


def _triples(rows: list[dict[str, Any]]) -> list[tuple[str, int, float]]:
    return [(r["stream"], r["time"], r["value"]) for r in rows]


def test_a_stream_reads_back_with_iso_and_epoch_times_and_output_values(farm: Farm) -> None:
    gid = farm.gids["a", "temp"]
    rows = farm.rows(f"/streams/{gid}/points")
    assert _triples(rows) == farm.expected([gid])
    first = rows[0]
    assert set(first) == {"stream", "timestamp", "time", "value", "output_value"}
    assert first["timestamp"] == "2026-01-01T00:00:00.000000Z" and first["time"] == T0
    assert rows[1]["timestamp"] == "2026-01-01T00:00:20.000000Z"
    for r in rows:
        assert r["output_value"] == pytest.approx(farm.output(gid, r["value"]))


@pytest.mark.parametrize("params, keep", [
    ({"start": T0 + 100 * US, "precision": "us"}, lambda t, v: t >= T0 + 100 * US),
    ({"end": (T0 + 100 * US) // 1000}, lambda t, v: t <= T0 + 100 * US),
    ({"start": "2026-01-01T00:01:00Z", "end": "2026-01-01T00:02:00Z"},
     lambda t, v: T0 + 60 * US <= t <= T0 + 120 * US),
    ({"start": T0 // US + 40, "end": T0 // US + 40, "precision": "s"},
     lambda t, v: t == T0 + 40 * US),
    ({"gt": 3}, lambda t, v: v > 3), ({"gte": 3}, lambda t, v: v >= 3),
    ({"lt": -3}, lambda t, v: v < -3), ({"lte": -3}, lambda t, v: v <= -3),
    ({"eq": 4.5}, lambda t, v: v == 4.5), ({"gt": -2, "lte": 6}, lambda t, v: -2 < v <= 6),
])
def test_each_filter_matches_brute_force(farm: Farm, params: dict[str, Any], keep: Any) -> None:
    gids = list(farm.data)
    rows = farm.rows(f"/projects/{farm.project.id}/points", **params)
    want = farm.expected(gids, keep)
    assert want and _triples(rows) == want
    one = farm.gids["b", "hum"]
    assert _triples(farm.rows(f"/streams/{one}/points", **params)) == farm.expected([one], keep)


def test_several_listed_streams_all_come_back_merged_in_time_order(farm: Farm) -> None:
    """The earlier attempt's bug: a list of streams answered only the first one."""
    listed = [farm.gids["b", "hum"], farm.gids["a", "temp"], farm.gids["b", "temp"]]
    path = f"/projects/{farm.project.id}/points"
    rows = farm.rows(path, stream=listed)
    assert {r["stream"] for r in rows} == set(listed)
    assert _triples(rows) == farm.expected(listed)
    page = farm.get(path, stream=listed, limit=10_000).json()
    assert page["count"] == sum(len(farm.data[g]) for g in listed)
    assert _triples(page["results"]) == farm.expected(listed)


def test_device_and_series_narrow_the_project(farm: Farm) -> None:
    path = f"/projects/{farm.project.id}/points"
    g = farm.gids
    assert _triples(farm.rows(path, device="a")) == farm.expected([g["a", "temp"],
                                                                   g["a", "hum"]])
    assert _triples(farm.rows(path, series="hum")) == farm.expected([g["a", "hum"],
                                                                     g["b", "hum"]])
    assert _triples(farm.rows(path, device=["a", "b"], series="temp")) == farm.expected(
        [g["a", "temp"], g["b", "temp"]])
    assert _triples(farm.rows(path, stream=[g["a", "temp"], g["b", "hum"]], device="b")) == \
        farm.expected([g["b", "hum"]])
    assert _triples(farm.rows(path)) == farm.expected(list(farm.data))
    assert farm.get(path, device="nope").status_code == 404
    assert farm.rows(path, series="nothing") == []


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_lastn_is_per_stream_and_comes_in_the_requested_order(farm: Farm, order: str) -> None:
    rows = farm.rows(f"/projects/{farm.project.id}/points", lastn=5, order=order)
    want = [r for g in farm.data for r in farm.expected([g])[-5:]]
    want.sort(key=lambda r: (r[1], farm.ids[r[0]]), reverse=order == "desc")
    assert _triples(rows) == want
    gid = farm.gids["a", "hum"]
    filtered = farm.rows(f"/streams/{gid}/points", lastn=3, gt=0, order=order)
    want = farm.expected([gid], lambda t, v: v > 0)[-3:]
    assert _triples(filtered) == (want[::-1] if order == "desc" else want)


def test_descending_order_and_a_total_cap(farm: Farm) -> None:
    path = f"/projects/{farm.project.id}/points"
    every = farm.expected(list(farm.data), descending=True)
    assert _triples(farm.rows(path, order="desc")) == every
    assert _triples(farm.rows(path, order="desc", limit=17)) == every[:17]
    assert _triples(farm.rows(path, limit=17)) == farm.expected(list(farm.data))[:17]


def _buckets(points: list[tuple[int, float]], every: int) -> dict[int, list[float]]:
    out: dict[int, list[float]] = defaultdict(list)
    for t, v in points:
        out[t // every * every].append(v)
    return out


def _agg(name: str, values: list[float]) -> float:
    return {"mean": lambda x: sum(x) / len(x), "min": min, "max": max, "sum": sum,
            "count": len, "first": lambda x: x[0], "last": lambda x: x[-1]}[name](values)


@pytest.mark.parametrize("agg", AGGS)
def test_downsampling_matches_brute_force_with_output_units(farm: Farm, agg: str) -> None:
    every = 60 * US
    rows = farm.rows(f"/projects/{farm.project.id}/points", every="1m", agg=agg, gt=-8)
    want = []
    for gid, points in farm.data.items():
        kept = [(t, v) for t, v in points if v > -8]
        for start, values in _buckets(kept, every).items():
            outputs = [farm.output(gid, v) for v in values]
            want.append((gid, start, _agg(agg, values),
                         len(values) if agg == "count" else _agg(agg, outputs), len(values)))
    want.sort(key=lambda r: (r[1], farm.ids[r[0]]))
    assert len(rows) == len(want)
    for row, (gid, start, value, output, count) in zip(rows, want, strict=True):
        assert (row["stream"], row["time"], row["count"]) == (gid, start, count)
        assert row["value"] == pytest.approx(value) and row["output_value"] == pytest.approx(
            output)
        assert row["timestamp"].endswith(":00.000000Z")


def test_downsampling_aligns_to_the_epoch_and_takes_lastn_buckets(farm: Farm) -> None:
    gid = farm.gids["a", "temp"]
    rows = farm.rows(f"/streams/{gid}/points", every="1h", lastn=1)
    assert [(r["time"], r["count"]) for r in rows] == [(T0 + 3600 * US, 120)]  # 100 min
    rows = farm.rows(f"/streams/{gid}/points", every="90s", order="desc", lastn=2)
    starts = sorted({t // (90 * US) * 90 * US for t, _ in farm.data[gid]})[-2:]
    assert [r["time"] for r in rows] == starts[::-1]
    page = farm.get(f"/streams/{gid}/points", every="30m", agg="count").json()
    assert [r["value"] for r in page["results"]] == [90.0, 90.0, 90.0, 30.0]
    assert page["count"] == 4


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_follow_next_and_previous_until_exhausted(farm: Farm, order: str) -> None:
    path = f"/projects/{farm.project.id}/points"
    want = farm.expected(list(farm.data), descending=order == "desc")
    first = farm.get(path, limit=97, order=order).json()
    assert first["previous"] is None
    pages, page = [first], first
    while page["next"]:
        with farm.project.client() as c:
            page = c.get(page["next"]).json()
        pages.append(page)
        assert page["count"] == len(want)
    got = [r for p in pages for r in p["results"]]
    assert _triples(got) == want
    assert [len(p["results"]) for p in pages] == [97] * (len(want) // 97) + [len(want) % 97]
    back: list[list[dict[str, Any]]] = []
    while page["previous"]:
        with farm.project.client() as c:
            page = c.get(page["previous"]).json()
        back.append(page["results"])
        assert page["count"] == len(want)
    assert [r for p in reversed(back) for r in p] + pages[-1]["results"] == got


def test_every_format_parses_back_to_the_same_rows(farm: Farm) -> None:
    path = f"/projects/{farm.project.id}/points"
    for params in ({}, {"every": "5m", "agg": "max"}):
        rows = farm.get(path, limit=10_000, **params).json()["results"]
        assert rows == farm.rows(path, **params)
        keys = ["stream", "time", "value", "output_value"] + (["count"] if params else [])
        want = [[r[k] for k in keys] for r in rows]
        answer = farm.get(path, format="csv", **params)
        assert answer.headers["content-type"].startswith("text/csv")
        lines = answer.text.splitlines()
        header = lines[0].split(",")
        assert header == ["stream", "timestamp", "time", "value", "output_value"] + keys[4:]
        parsed = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
        assert [p["timestamp"] for p in parsed] == [r["timestamp"] for r in rows]
        assert [[p["stream"], int(p["time"]), float(p["value"]), float(p["output_value"])]
                + ([int(p["count"])] if params else []) for p in parsed] == want
        for fmt, read in (("arrow", lambda b: ipc.open_stream(b).read_all()),
                          ("parquet", lambda b: pq.read_table(io.BytesIO(b)))):
            answer = farm.get(path, format=fmt, **params)
            assert answer.status_code == 200
            table = read(answer.content)
            assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
            table = table.set_column(1, "time", table.column("time").cast(pa.int64()))
            assert [list(r.values()) for r in table.to_pylist()] == want
    assert farm.get(path).headers["content-type"].startswith("application/json")
    with farm.project.client() as c:
        by_accept = c.get(path, headers={"Accept": "text/csv"})
        wins = c.get(path, params={"format": "ndjson"}, headers={"Accept": "text/csv"})
    assert by_accept.text.startswith("stream,timestamp")
    assert wins.headers["content-type"].startswith("application/x-ndjson")


@pytest.mark.parametrize("fields", ["value,time", "output_value,stream,timestamp",
                                    "time,count,value"])
def test_fields_picks_the_columns_of_every_format_in_the_documented_order(
        farm: Farm, fields: str) -> None:
    path = f"/projects/{farm.project.id}/points"
    params = {"every": "5m", "agg": "max"} if "count" in fields else {}
    full = farm.get(path, limit=10_000, **params).json()["results"]
    keys = [k for k in full[0] if k in fields.split(",")]
    want = [{k: r[k] for k in keys} for r in full]
    page = farm.get(path, limit=10_000, fields=fields, **params).json()
    assert [list(r) for r in page["results"]] == [keys] * len(want)
    assert page["results"] == want and page["count"] == len(want)
    assert farm.rows(path, fields=fields, **params) == want
    lines = farm.get(path, format="csv", fields=fields, **params).text.splitlines()
    assert lines[0].split(",") == keys
    assert lines[1:] == [",".join(str(r[k]) if k != "timestamp" else r[k] for k in keys)
                         for r in want]
    binary = [k for k in ("stream", "time", "value", "output_value", "count")
              if k in keys or (k == "time" and "timestamp" in keys)]
    for fmt, read in (("arrow", lambda b: ipc.open_stream(b).read_all()),
                      ("parquet", lambda b: pq.read_table(io.BytesIO(b)))):
        table = read(farm.get(path, format=fmt, fields=fields, **params).content)
        assert table.column_names == binary
        if "time" in binary:
            table = table.set_column(binary.index("time"), "time",
                                     table.column("time").cast(pa.int64()))
        assert table.to_pylist() == [{k: r["time" if k == "time" else k] for k in binary}
                                     for r in full]


def test_next_links_keep_fields_and_a_walk_reads_the_same_values(farm: Farm) -> None:
    path = f"/projects/{farm.project.id}/points"

    def walk(**params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = farm.get(path, limit=97, **params).json()
        rows += page["results"]
        while page["next"]:
            assert httpx.URL(page["next"]).params.get("fields") == params.get("fields")
            with farm.project.client() as c:
                page = c.get(page["next"]).json()
            rows += page["results"]
        return rows

    full, narrow = walk(), walk(fields="time,value")
    assert len(full) == sum(len(v) for v in farm.data.values()) > 97
    assert narrow == [{"time": r["time"], "value": r["value"]} for r in full]


def test_a_refused_fields_names_the_wrong_columns(farm: Farm) -> None:
    answer = farm.get(f"/projects/{farm.project.id}/points", fields="time,speed,,value")
    assert answer.status_code == 400
    assert "'speed'" in answer.json()["detail"] and "''" in answer.json()["detail"]


def test_a_large_answer_streams_whole(project: Project) -> None:
    """Several blocks and chunks of two streams merge into one ordered stream."""
    n = 150_000
    for device, offset in (("x", 0), ("y", 1)):
        rows = [[i * 2 + offset, float(i % 1000)] for i in range(n)]
        assert project.post({"device": device, "series": {"v": rows}},
                            precision="ms").status_code == 200
    with project.client() as c:
        answer = c.get(f"/projects/{project.id}/points", params={"format": "csv"})
    lines = answer.text.splitlines()
    assert len(lines) == 2 * n + 1
    times = [int(line.split(",")[2]) for line in lines[1:]]
    assert times == [i * 1000 for i in range(2 * n)]
    # JSON pages are capped at 100,000 rows; a page that large is streamed in pieces
    pages = []
    path = f"/projects/{project.id}/points"
    with project.client() as c:
        link, params = path, {"limit": 250_000}
        while link:
            answer = c.get(link, params=params)
            assert answer.status_code == 200 and "content-length" not in answer.headers
            pages.append(answer.json())
            link, params = pages[-1]["next"], None
        head = c.get(path, params={"format": "ndjson", "limit": 3}).text.splitlines()
    assert [len(p["results"]) for p in pages] == [100_000] * 3
    assert {p["count"] for p in pages} == {2 * n}
    assert [r["time"] for p in pages for r in p["results"]] == [i * 1000 for i in range(2 * n)]
    assert pages[0]["results"][:3] == [json.loads(line) for line in head]


@pytest.mark.parametrize("params", [
    {"agg": "median", "every": "1h"}, {"every": "1x"}, {"every": "0s"}, {"agg": "max"},
    {"order": "up"}, {"lastn": "0"}, {"limit": "abc"}, {"gt": "warm"}, {"format": "xml"},
    {"start": "soon"}, {"precision": "days", "start": "1"}, {"cursor": "garbage"},
    {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"format": "ndjson", "cursor": "abc"}, {"fields": ""}, {"fields": "time,,value"},
    {"fields": "time,speed"}, {"fields": "count"}, {"fields": "count", "format": "csv"},
])
def test_bad_parameters_answer_400_and_change_nothing(farm: Farm, params: dict[str, Any]
                                                      ) -> None:
    path = f"/projects/{farm.project.id}/points"
    before = farm.get(path).json()["count"]
    answer = farm.get(path, **params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"]
    assert farm.get(path).json()["count"] == before


def test_a_cursor_belongs_to_its_query_and_scopes_are_checked(farm: Farm, other_user: Any
                                                              ) -> None:
    path = f"/projects/{farm.project.id}/points"
    cursor = farm.get(path, limit=5).json()["next"].split("cursor=")[1]
    assert farm.get(path, limit=5, gt=1, cursor=cursor).status_code == 400
    with other_user.client() as c:
        theirs = c.post("/projects", json={"name": "theirs"}).json()
        c.post(f"/projects/{theirs['id']}/points", params={"precision": "s"},
               json={"device": "z", "series": {"v": [[1, 1.0]]}}).raise_for_status()
        foreign = c.get(f"/projects/{theirs['id']}/streams").json()["results"][0]["gid"]
    assert farm.get(path, stream=foreign).status_code == 404
    assert farm.get(f"/streams/{foreign}/points").status_code == 404
    assert farm.get(f"/projects/{theirs['id']}/points").status_code == 404


def test_device_tokens_read_their_own_device_only(farm: Farm) -> None:
    project = farm.project
    with project.client() as c:
        token = c.post(f"/projects/{project.id}/devices/a/tokens", json={}).json()["token"]
    with project.client(token) as c:
        own = c.get(f"/streams/{farm.gids['a', 'temp']}/points")
        other = c.get(f"/streams/{farm.gids['b', 'temp']}/points")
        mixed = c.get(f"/projects/{project.id}/points",
                      params={"stream": [farm.gids["a", "temp"], farm.gids["b", "temp"]]})
        scoped = c.get(f"/projects/{project.id}/points", params={"limit": 10_000})
        report = c.post("/reports/sum", json={"sources": [farm.gids["b", "hum"]]})
    assert own.status_code == 200 and own.json()["count"] == 300
    assert other.status_code == 404 and mixed.status_code == 404
    assert {r["stream"] for r in scoped.json()["results"]} == {farm.gids["a", "temp"],
                                                               farm.gids["a", "hum"]}
    assert report.status_code == 404


# --- the accumulation report ---------------------------------------------------------------

def test_report_sums_per_stream_and_totals_per_unit(farm: Farm) -> None:
    g = farm.gids
    start, end = T0 + 60 * US, T0 + 1800 * US
    with farm.project.client() as c:
        project = c.get(f"/projects/{farm.project.id}").json()["gid"]
        device_b = c.get(f"/projects/{farm.project.id}/devices/b").json()["gid"]
        answer = c.post("/reports/sum", json={
            "sources": [g["a", "temp"], device_b, project], "start": start // 1000,
            "end": "2026-01-01T00:30:00Z"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["start"] == "2026-01-01T00:01:00Z" and body["end"] == "2026-01-01T00:30:00Z"
    rows = {r["stream"]: r for r in body["streams"]}
    assert set(rows) == set(farm.data)
    totals: dict[Any, list[float]] = defaultdict(lambda: [0.0, 0])
    for gid, points in farm.data.items():
        values = [v for t, v in points if start <= t <= end]
        row = rows[gid]
        unit = "F" if farm.unit[gid][0] == -9 else None
        assert row["count"] == len(values) and row["unit"] == unit
        assert row["sum"] == pytest.approx(sum(values))
        assert row["output_sum"] == pytest.approx(sum(farm.output(gid, v) for v in values))
        assert row["name"] in ("temp", "hum") and row["variable"] in ("5001", "5002")
        totals[unit][0] += row["output_sum"]
        totals[unit][1] += row["count"]
    assert {t["unit"]: [pytest.approx(t["sum"]), t["count"]] for t in body["totals"]} == {
        k: [pytest.approx(v[0]), v[1]] for k, v in totals.items()}


def test_report_refusals(farm: Farm, other_user: Any) -> None:
    with other_user.client() as c:
        theirs = c.post("/projects", json={"name": "theirs"}).json()["gid"]
    with farm.project.client() as c:
        mine = farm.gids["a", "temp"]
        assert c.post("/reports/sum", json={"sources": [mine, theirs]}).status_code == 404
        assert c.post("/reports/sum", json={"sources": []}).status_code == 400
        assert c.post("/reports/sum", json={"sources": ["x--1"]}).status_code == 400
        soon = c.post("/reports/sum", json={"sources": [mine], "start": "soon"})
        assert soon.status_code == 400
        assert soon.json()["detail"].startswith("start: ") and "row" not in soon.json()["detail"]
        assert c.post("/reports/sum", json={"sources": [mine], "start": 10, "end": 5}
                      ).status_code == 400


# --- stream events -----------------------------------------------------------------------

def test_events_filter_by_time_and_file_and_serve_their_file(farm: Farm) -> None:
    project, gid = farm.project, farm.gids["a", "temp"]
    with project.client() as c:
        for i in range(4):
            c.post(f"/streams/{gid}/events", json={"timestamp": i, "precision": "s",
                                                   "extra_data": {"i": i}}).raise_for_status()
        upload = c.post(f"{project.server.url}/iotile/api/v1/event/upload/",
                        files={"file": ("log.txt", b"event payload", "text/plain")},
                        data={"stream": gid, "timestamp": "1970-01-01T00:00:10Z"})
        assert upload.status_code == 201, upload.text
        events = f"/streams/{gid}/events"
        every = c.get(events).json()
        ranged = c.get(events, params={"start": 1, "end": 2, "precision": "s"}).json()
        with_file = c.get(events, params={"has_file": "true"}).json()
        without = c.get(events, params={"has_file": "false", "order": "desc"}).json()
        bad = [c.get(events, params=p) for p in ({"has_file": "maybe"}, {"order": "up"},
                                                 {"start": "soon"})]
        (filed,) = with_file["results"]
        download = c.get(f"{events}/{filed['id']}/file")
        none = c.get(f"{events}/{every['results'][0]['id']}/file")
        wrong = c.get(f"/streams/{farm.gids['b', 'temp']}/events/{filed['id']}/file")
    assert every["count"] == 5
    assert [e["extra_data"]["i"] for e in ranged["results"]] == [1, 2]
    assert filed["timestamp"] == 10 * US and filed["file"] is not None
    assert [e["extra_data"]["i"] for e in without["results"]] == [3, 2, 1, 0]
    assert [b.status_code for b in bad] == [400, 400, 400]
    assert download.status_code == 200 and download.content == b"event payload"
    assert "log.txt" in download.headers["content-disposition"]
    assert none.status_code == 404 and wrong.status_code == 404


def test_count_is_exact_over_chunks_gaps_and_overwrites(project: Project) -> None:
    """`count` comes from the chunks' point counts where it can: ranges that cut chunks,
    a chunk written into a gap, and overwritten or out-of-order points in the head all
    count what the rows are, before and after compaction."""
    want: dict[int, float] = {}
    batches = [[(t, 1.0) for t in range(0, 1000)], [(t, 2.0) for t in range(2000, 3000)],
               [(t, 3.0) for t in range(1000, 2000, 2)],  # into the gap: a chunk of its own
               [(t, 4.0) for t in range(990, 2010, 3)]]  # overwrites and new points: head
    for batch in batches:
        project.post({"device": "c", "series": {"v": [[t, v] for t, v in batch]}},
                     precision="s").raise_for_status()
        want.update(batch)
    gid = project.stream("c", "v")["gid"]
    ranges = [{}, {"start": 500, "end": 2500}, {"start": 999, "end": 1000},
              {"start": 1001, "end": 1999}, {"start": 2999}, {"end": 0}, {"start": 4000},
              {"start": 10, "end": 2990, "lastn": 700}]

    def check() -> None:
        with project.client() as c:
            for r in ranges:
                params = {"precision": "s", **r}
                page = c.get(f"/streams/{gid}/points", params={**params, "limit": 7}).json()
                rows = c.get(f"/streams/{gid}/points",
                             params={**params, "format": "ndjson"}).text.splitlines()
                times = [t for t in sorted(want) if r.get("start", -1) <= t
                         <= r.get("end", 10**9)][-r.get("lastn", 0):]
                assert page["count"] == len(rows) == len(times), r

    check()
    with project.client() as c:
        assert c.post("/_debug/timeseries/compact").status_code == 200
    check()


def test_nan_free_values_roundtrip_exactly(project: Project) -> None:
    """Shortest float text survives JSON and CSV: every bit comes back."""
    values = [0.1, 1 / 3, -2.5e-9, 1e21, 123456789.987654321, -0.0, 5.0]
    project.post({"device": "f", "series": {"v": [[i, v] for i, v in enumerate(values)]}},
                 precision="s").raise_for_status()
    gid = project.stream("f", "v")["gid"]
    with project.client() as c:
        page = c.get(f"/streams/{gid}/points").json()["results"]
        lines = c.get(f"/streams/{gid}/points", params={"format": "csv"}).text.splitlines()
    assert [r["value"] for r in page] == values
    assert [float(line.split(",")[3]) for line in lines[1:]] == values
    assert all(math.copysign(1, a) == math.copysign(1, r["value"])
               for a, r in zip(values, page, strict=True))


def test_without_pyarrow_arrow_and_parquet_answer_406(launch: Any, tmp_path: Path) -> None:
    """A server whose Python can't import pyarrow (a `sitecustomize` hides it)."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['pyarrow'] = None\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    server = launch(PYTHONPATH=path)
    user = make_user(server)
    project = user.home_project["id"]
    with user.client() as c:
        c.post(f"/projects/{project}/points", params={"precision": "s"},
               json={"device": "d", "series": {"v": [[1, 1.0]]}}).raise_for_status()
        url = f"/projects/{project}/points"
        refused = [c.get(url, params={"format": f}) for f in ("arrow", "parquet")]
        by_accept = c.get(url, headers={"Accept": "application/vnd.apache.parquet"})
        csv = c.get(url, params={"format": "csv"})
    for answer in (*refused, by_accept):
        assert answer.status_code == 406
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "pyarrow" in answer.json()["detail"]
    assert csv.status_code == 200 and csv.text.count("\n") == 2
