"""The query API against a brute-force Python computation (hypothesis), on every backend.

A module's dataset is written once through the real ingest (JSON series form and line
protocol): four streams over three devices, timestamps drawn from one pool so that several
streams share them, some before 1970 and some on hour and day edges, values on a quarter
grid (so `eq` hits) with negatives, and output units on two streams (one with a negative
factor). Hypothesis then draws the query: scope (one stream, the project, a list of streams,
a device, a series), inclusive start/end (µs, ms or ISO-8601), value filters, order, lastn,
limit (JSON pages followed through `next` and back through `previous`), and every/agg for
every aggregate (buckets aligned to the Unix epoch, UTC). A second test draws whole point
sets, each into a fresh project.

The expected answers follow docs/queries.md: value filters and start/end select raw points;
lastn keeps the N latest of them per stream; rows go by (time, stream) ascending, or that
order reversed for desc; a bucket starts at floor(t / every) * every and its
`output_value` is the aggregate of the points' output values (value * m / d + o).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.accounts import make_user
from tests.support.live import LiveServer

HOUR, DAY = 3_600_000_000, 86_400_000_000
BASE = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs
AGGS = ("mean", "min", "max", "sum", "count", "first", "last")
EVERY = {"1s": 10**6, "7s": 7 * 10**6, "1m": 60 * 10**6, "90s": 90 * 10**6,
         "1h": HOUR, "1h30m": HOUR + 30 * 60 * 10**6, "1d": DAY, "1w": 7 * DAY}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                                    suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Stream:
    gid: str
    id: int
    device: str
    series: str
    unit: tuple[int, int, float]  # output m, d, o

    def out(self, value: float) -> float:
        m, d, o = self.unit
        return value * m / d + o


@dataclass(frozen=True)
class Point:
    t: int
    stream: Stream
    value: float


@dataclass
class Dataset:
    project: int
    streams: list[Stream]
    points: list[Point]
    client: httpx.Client

    @property
    def times(self) -> list[int]:
        return sorted({p.t for p in self.points})

    @property
    def values(self) -> list[float]:
        return sorted({p.value for p in self.points})


# --- writing -----------------------------------------------------------------------------

def write(client: httpx.Client, project: int, points: dict[tuple[str, str], dict[int, float]],
          units: dict[tuple[str, str], tuple[int, int, float]], lines_for: str | None = None
          ) -> list[Stream]:
    """Write the points (device `lines_for` as line protocol, the rest as columnar JSON),
    set the output units, and answer the streams as the server lists them."""
    by_device: dict[str, dict[str, dict[int, float]]] = defaultdict(dict)
    for (device, series), pts in points.items():
        by_device[device][series] = pts
    for device, series in by_device.items():
        if device == lines_for:
            body = "".join(f"{device} {name}={v!r} {t}\n" for name, pts in series.items()
                           for t, v in pts.items())
            answer = client.post(f"/projects/{project}/write", params={"precision": "us"},
                                 content=body.encode())
        else:
            answer = client.post(f"/projects/{project}/points", json={
                "device": device, "precision": "us",
                "series": {name: {"time": list(pts), "value": list(pts.values())}
                           for name, pts in series.items()}})
        assert answer.status_code in (200, 204), answer.text
    listed = client.get(f"/projects/{project}/streams", params={"limit": 1000}).json()
    streams = []
    for s in listed["results"]:
        key = (s["device_key"], s["series"])
        unit = units.get(key, (1, 1, 0.0))
        if key in units:
            m, d, o = unit
            client.patch(f"/streams/{s['gid']}", json={"output_unit": {"m": m, "d": d, "o": o}}
                         ).raise_for_status()
        streams.append(Stream(s["gid"], s["id"], s["device_key"], s["series"], unit))
    return sorted(streams, key=lambda s: s.id)


def as_points(streams: list[Stream], points: dict[tuple[str, str], dict[int, float]]
              ) -> list[Point]:
    found = {(s.device, s.series): s for s in streams}
    return [Point(t, found[key], v) for key, pts in points.items() for t, v in pts.items()]


@pytest.fixture(scope="module")
def dataset(server: LiveServer) -> Iterator[Dataset]:
    rng = random.Random(20260101)
    pool = sorted({BASE + rng.randrange(-3 * DAY, 3 * DAY) for _ in range(90)}
                  | {BASE, BASE - 1, BASE + HOUR, BASE + HOUR - 1, BASE + DAY, BASE - DAY}
                  | {-DAY - 1, -DAY, -5 * HOUR - 17, -1, 0, 1})  # and some before 1970
    keys = [("alpha", "temp"), ("alpha", "hum"), ("beta", "temp"), ("gamma", "level")]
    points = {key: {t: rng.randint(-40, 40) / 4 for t in rng.sample(pool, rng.randint(40, 70))}
              for key in keys}
    units = {("beta", "temp"): (9, 5, 32.0), ("gamma", "level"): (-3, 2, 1.5)}
    user = make_user(server)
    with user.client() as client:
        project = client.post("/projects", json={"name": "props"}).json()["id"]
        streams = write(client, project, points, units, lines_for="gamma")
        yield Dataset(project, streams, as_points(streams, points), client)


# --- the brute force ---------------------------------------------------------------------

def iso(t: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t)
            ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def raw_rows(points: list[Point], q: dict[str, Any]) -> list[dict[str, Any]]:
    chosen = select(points, q)
    if q.get("lastn"):
        per: dict[str, list[Point]] = defaultdict(list)
        for p in chosen:
            per[p.stream.gid].append(p)
        chosen = [p for pts in per.values()
                  for p in sorted(pts, key=lambda p: p.t)[-q["lastn"]:]]
    rows = [{"stream": p.stream.gid, "timestamp": iso(p.t), "time": p.t, "value": p.value,
             "output_value": p.stream.out(p.value), "_id": p.stream.id} for p in chosen]
    return ordered(rows, q)


def select(points: list[Point], q: dict[str, Any]) -> list[Point]:
    lo, hi = q.get("_start"), q.get("_end")
    tests = {"gt": lambda v, b: v > b, "gte": lambda v, b: v >= b, "lt": lambda v, b: v < b,
             "lte": lambda v, b: v <= b, "eq": lambda v, b: v == b}
    return [p for p in points if p.stream.gid in q["_streams"]
            and (lo is None or p.t >= lo) and (hi is None or p.t <= hi)
            and all(test(p.value, q[name]) for name, test in tests.items() if name in q)]


def ordered(rows: list[dict[str, Any]], q: dict[str, Any]) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (r["time"], r["_id"]), reverse=q.get("order") == "desc")
    for r in rows:
        del r["_id"]
    return rows


def bucket_rows(points: list[Point], q: dict[str, Any]) -> list[dict[str, Any]]:
    every, agg = EVERY[q["every"]], q.get("agg", "mean")
    groups: dict[tuple[Stream, int], list[Point]] = defaultdict(list)
    for p in sorted(select(points, q), key=lambda p: p.t):
        groups[(p.stream, p.t // every * every)].append(p)
    rows = []
    for (stream, start), pts in groups.items():
        vals = [p.value for p in pts]
        outs = [stream.out(v) for v in vals]
        rows.append({"stream": stream.gid, "timestamp": iso(start), "time": start,
                     "value": aggregate(agg, vals), "output_value": aggregate(agg, outs),
                     "count": len(pts), "_id": stream.id})
    return ordered(rows, q)


def aggregate(agg: str, vals: list[float]) -> float:
    return {"mean": lambda: math.fsum(vals) / len(vals), "min": lambda: min(vals),
            "max": lambda: max(vals), "sum": lambda: math.fsum(vals),
            "count": lambda: float(len(vals)), "first": lambda: vals[0],
            "last": lambda: vals[-1]}[agg]()


def same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]], context: Any) -> None:
    """Equal rows (values to 1e-9), with a message naming the first difference."""
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g is None or w is None or not _same(g, w):
            raise AssertionError(f"{context}: {len(got)} rows, expected {len(want)}; "
                                 f"first difference at row {i}:\n got  {g}\n want {w}")


def _same(g: dict[str, Any], w: dict[str, Any]) -> bool:
    if set(g) != set(w):
        return False
    return all(math.isclose(float(g[k]), w[k], rel_tol=1e-9, abs_tol=1e-9)
               if k in ("value", "output_value") else g[k] == w[k] for k in w)


# --- drawing queries ---------------------------------------------------------------------

Key = tuple[str, str]  # (device key, series name)


@st.composite
def queries(draw: st.DrawFn, keys: list[Key], times: st.SearchStrategy[int],
            values: st.SearchStrategy[float], downsample: bool) -> dict[str, Any]:
    """Wire parameters, plus `_scope` (which streams, by key; `resolve` turns it into gids)
    and `_start` / `_end` in µs for the brute force."""
    kind = draw(st.sampled_from(["stream", "project", "streams", "device", "series",
                                 "device+series"]))
    q: dict[str, Any] = {"_scope": (kind, ())}
    if kind in ("stream", "streams"):
        some = draw(st.lists(st.sampled_from(keys), min_size=1,
                             max_size=1 if kind == "stream" else 3, unique=True))
        q["_scope"] = (kind, tuple(some))
    elif kind != "project":
        dev = draw(st.lists(st.sampled_from(sorted({k[0] for k in keys})), min_size=1,
                            max_size=2, unique=True))
        ser = draw(st.lists(st.sampled_from(sorted({k[1] for k in keys})), min_size=1,
                            max_size=2, unique=True))
        if "device" in kind:
            q["device"] = dev
        if "series" in kind:
            q["series"] = ser

    def bound() -> int | None:
        return None if draw(st.booleans()) else draw(times) + draw(st.sampled_from([-1, 0, 1]))

    lo, hi = bound(), bound()
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    precision = draw(st.sampled_from(["us", "ms", "iso", "default"]))
    for name, t in (("start", lo), ("end", hi)):
        if t is None:
            continue
        if precision == "us":
            q[name], q["precision"] = str(t), "us"
        elif precision == "iso":
            q[name] = iso(t)
        else:  # whole milliseconds, start rounded down and end up (still inclusive)
            ms = t // 1000 if name == "start" else -(-t // 1000)
            t = ms * 1000
            q[name] = str(ms)
            if precision == "ms":
                q["precision"] = "ms"
        q["_" + name] = t
    for name in ("gt", "gte", "lt", "lte", "eq"):
        if draw(st.integers(0, 5)) == 0:
            q[name] = draw(values) + draw(st.sampled_from([0, 0.125]))
    if draw(st.booleans()):
        q["order"] = draw(st.sampled_from(["asc", "desc"]))
    if downsample:
        q["every"] = draw(st.sampled_from(sorted(EVERY)))
        agg = draw(st.sampled_from((None, *AGGS)))
        if agg is not None:
            q["agg"] = agg
    elif draw(st.booleans()):
        q["lastn"] = draw(st.integers(1, 25))
    return q


def dataset_queries(data: Dataset, downsample: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Queries whose bounds and filter values sit on (or next to) the dataset's own."""
    return queries([(s.device, s.series) for s in data.streams], st.sampled_from(data.times),
                   st.sampled_from(data.values), downsample)


def resolve(data: Dataset, q: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path and parameters of a drawn query on this dataset (`_streams`: the gids the
    brute force reads)."""
    kind, keys = q["_scope"]
    by_key = {(s.device, s.series): s for s in data.streams}
    q = {k: v for k, v in q.items() if k != "_scope"}
    path = f"/projects/{data.project}/points"
    if kind == "stream":
        gid = by_key[keys[0]].gid
        return f"/streams/{gid}/points", {**q, "_streams": {gid}}
    if kind == "streams":
        gids = [by_key[k].gid for k in keys]
        return path, {**q, "stream": gids, "_streams": set(gids)}
    chosen = {s.gid for s in data.streams
              if s.device in q.get("device", [s.device]) and
              s.series in q.get("series", [s.series])}
    return path, {**q, "_streams": chosen}


def wire(q: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in q.items() if not k.startswith("_")}


def expected(data: Dataset, q: dict[str, Any]) -> list[dict[str, Any]]:
    return bucket_rows(data.points, q) if "every" in q else raw_rows(data.points, q)


def all_pages(client: httpx.Client, path: str, params: dict[str, Any], context: Any
              ) -> list[dict[str, Any]]:
    """Follow `next` to the end, check `count` on every page, then walk `previous` back to
    the first page and check it gives the same pages."""
    answer = client.get(path, params=params)
    assert answer.status_code == 200, (context, answer.text)
    pages = [answer.json()]
    assert pages[0]["previous"] is None, context
    while pages[-1]["next"]:
        assert len(pages) < 500, context
        answer = client.get(pages[-1]["next"])
        assert answer.status_code == 200, (context, answer.text)
        pages.append(answer.json())
    count = {p["count"] for p in pages}
    rows = [r for p in pages for r in p["results"]]
    assert count == {len(rows)}, (context, count, len(rows))
    limit = int(params.get("limit", 1000))
    assert all(len(p["results"]) == limit for p in pages[:-1]), context
    back = [pages[-1]]
    while back[-1]["previous"]:
        assert len(back) <= len(pages), context
        back.append(client.get(back[-1]["previous"]).json())
    assert [p["results"] for p in reversed(back)] == [p["results"] for p in pages], context
    return rows


# --- tests -------------------------------------------------------------------------------
# Each test wraps its own @given so that hypothesis draws from the module's dataset (a
# fixture) as a plain strategy argument.

def test_raw_points_match_brute_force(dataset: Dataset) -> None:
    @given(dataset_queries(dataset, downsample=False), st.integers(1, 100))
    @SETTINGS
    def check(drawn: dict[str, Any], limit: int) -> None:
        path, q = resolve(dataset, drawn)
        want = expected(dataset, q)
        limit = max(limit, -(-len(want) // 12))  # at most a dozen pages
        got = all_pages(dataset.client, path, {**wire(q), "limit": limit}, (path, wire(q)))
        same_rows(got, want, (path, wire(q), limit))

    check()


def test_downsampling_matches_brute_force(dataset: Dataset) -> None:
    @given(dataset_queries(dataset, downsample=True), st.sampled_from([7, 50, 10000]))
    @SETTINGS
    def check(drawn: dict[str, Any], limit: int) -> None:
        path, q = resolve(dataset, drawn)
        want = expected(dataset, q)
        limit = max(limit, -(-len(want) // 12))
        got = all_pages(dataset.client, path, {**wire(q), "limit": limit}, (path, wire(q)))
        same_rows(got, want, (path, wire(q), limit))

    check()


def parse_stream(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "ndjson":
        return [orjson.loads(line) for line in body.splitlines() if line]
    if fmt == "csv":
        header, *lines = body.decode().splitlines()
        names = header.split(",")
        rows = [dict(zip(names, line.split(","), strict=True)) for line in lines]
        for r in rows:
            r["time"] = int(r["time"])
            if "count" in r:
                r["count"] = int(r["count"])
        return rows
    import pyarrow as pa
    import pyarrow.ipc
    import pyarrow.parquet as pq

    table = (pyarrow.ipc.open_stream(body).read_all() if fmt == "arrow"
             else pq.read_table(pa.BufferReader(body)))
    rows = table.to_pylist()
    for r in rows:
        t = r["time"]
        r["time"] = (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        r["timestamp"] = iso(r["time"])
    return rows


def test_streamed_formats_match_brute_force(dataset: Dataset) -> None:
    """NDJSON, CSV, Arrow and Parquet carry the same rows, `limit` capping the total."""
    @given(st.booleans().flatmap(lambda down: dataset_queries(dataset, downsample=down)),
           st.sampled_from(["ndjson", "csv", "arrow", "parquet"]),
           st.one_of(st.none(), st.integers(1, 120)))
    @SETTINGS
    def check(drawn: dict[str, Any], fmt: str, limit: int | None) -> None:
        path, q = resolve(dataset, drawn)
        params = {**wire(q), "format": fmt, **({"limit": limit} if limit else {})}
        answer = dataset.client.get(path, params=params)
        assert answer.status_code == 200, (path, params, answer.text)
        same_rows(parse_stream(fmt, answer.content), expected(dataset, q)[:limit],
                  (path, params))

    check()


SET_KEYS: list[Key] = [("d1", "a"), ("d1", "b"), ("d2", "a")]
SET_TIMES = st.one_of(st.integers(-2 * DAY, 2 * DAY), st.integers(BASE - DAY, BASE + DAY),
                      st.sampled_from([0, -1, BASE, BASE - 1, HOUR, -HOUR]))
SET_VALUES = st.one_of(st.integers(-20, 20).map(lambda i: i / 4),
                       st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False))


@st.composite
def point_sets(draw: st.DrawFn) -> dict[Key, dict[int, float]]:
    """1–3 streams of 1–25 points; times from small ranges around the epoch and 2026, so
    streams share them; finite values with negatives (quarters, and some wide floats)."""
    keys = draw(st.lists(st.sampled_from(SET_KEYS), min_size=1, max_size=3, unique=True))
    return {key: draw(st.dictionaries(SET_TIMES, SET_VALUES, min_size=1, max_size=25))
            for key in keys}


@given(points=point_sets(), raw=st.lists(queries(SET_KEYS, SET_TIMES, SET_VALUES, False),
                                         min_size=2, max_size=2),
       down=st.lists(queries(SET_KEYS, SET_TIMES, SET_VALUES, True), min_size=2, max_size=2))
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_random_point_sets(server: LiveServer, points: dict[Key, dict[int, float]],
                           raw: list[dict[str, Any]], down: list[dict[str, Any]]) -> None:
    """Whole point sets drawn by hypothesis, each written to a fresh project and read back
    raw and downsampled (scopes keep only the streams, devices and series the set has)."""
    user = make_user(server)
    with user.client() as client:
        project = client.post("/projects", json={"name": "set"}).json()["id"]
        streams = write(client, project, points, {("d2", "a"): (1, 3, -0.5)},
                        lines_for="d2")
        ds = Dataset(project, streams, as_points(streams, points), client)
        for drawn in raw + down:
            if any(k not in points for k in drawn["_scope"][1]):
                drawn = {**drawn, "_scope": ("project", ())}
            for name, have in (("device", {k[0] for k in points}),
                               ("series", {k[1] for k in points})):
                if name in drawn:
                    drawn = {**drawn, name: [n for n in drawn[name] if n in have]}
                    if not drawn[name]:
                        del drawn[name]
            path, q = resolve(ds, drawn)
            got = all_pages(client, path, {**wire(q), "limit": 10}, (path, wire(q)))
            same_rows(got, expected(ds, q), (path, wire(q)))


def test_bad_parameters_are_clear_and_change_nothing(dataset: Dataset) -> None:
    gid = dataset.streams[0].gid
    first = dataset.client.get(f"/streams/{gid}/points", params={"limit": 2}).json()
    cursor = httpx.URL(first["next"]).params["cursor"]
    for params in ({"every": "1h", "agg": "median"}, {"every": "fortnight"},
                   {"every": "0s"}, {"start": "10", "end": "9"}, {"lastn": "0"},
                   {"limit": "-1"}, {"order": "sideways"}, {"gt": "warm"},
                   {"format": "xml"}, {"precision": "fortnights", "start": "1"},
                   {"lastn": "2", "cursor": cursor}, {"cursor": "not-a-cursor"}):
        answer = dataset.client.get(f"/streams/{gid}/points", params=params)
        assert answer.status_code == 400, (params, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json"), params
        assert answer.json()["detail"], params
    assert dataset.client.get(f"/streams/{gid}/points", params={"limit": 2}).json() == first
    unknown = "s--0000-ffff--0000-0000-0000-ffff--5001"
    assert dataset.client.get(f"/streams/{unknown}/points").status_code == 404
    assert dataset.client.get(f"/projects/{dataset.project}/points",
                              params={"device": "nobody"}).status_code == 404

