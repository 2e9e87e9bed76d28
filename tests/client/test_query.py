"""`client.query(...)`, `StreamData`, `AccumulationReport` and `MdoHelper` against the live
server: every answer is checked against what was written, computed by hand."""

from __future__ import annotations

import asyncio
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean

import pytest

import cloudlet
from cloudlet import MdoHelper, StreamData, StreamPoint, Timestamp, TimeUnit
from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.series import OFFSET, STEP_MS, T0_MS, D, M, N, Seeded, output, seed

HOUR_MS = 3_600_000


@pytest.fixture
def data(client: cloudlet.Client, user: TestUser) -> Seeded:
    return seed(client, user.home_project["id"])


def at(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def pairs(points: list[StreamPoint]) -> list[tuple[int, float]]:
    return [(p.timestamp_ms, p.value) for p in points]


def test_points_carry_stream_times_values_and_mdo_output(client: cloudlet.Client,
                                                         data: Seeded) -> None:
    query = client.query(data.project).device("roof").series("temp")
    points = query.all()
    assert pairs(points) == data.of(data.roof_temp)
    first = points[0]
    assert first.stream == data.roof_temp
    assert first.time == datetime(2024, 1, 1, tzinfo=UTC) and first.time.tzinfo is not None
    assert first.timestamp_us == T0_MS * 1000 and first.count is None
    assert [p.output_value for p in points] == [output(v) for _, v in data.of(data.roof_temp)]
    assert points[10].output_value == pytest.approx(5.0 * 9 / 5 + 32)
    assert query.count() == N
    # hum has no output unit: output_value is the value
    hum = client.query(data.project).stream(data.yard_hum).all()
    assert [p.output_value for p in hum] == [p.value for p in hum]
    # one stream needs no project; the builder is immutable
    assert pairs(client.query().stream(data.roof_temp).all()) == data.of(data.roof_temp)
    assert len(query.limit(3).all()) == 3 and len(query.all()) == N


def test_time_bounds_are_inclusive_in_every_form(client: cloudlet.Client, data: Seeded) -> None:
    expected = [(t, v) for t, v in data.of(data.roof_temp)
                if T0_MS + 10 * STEP_MS <= t <= T0_MS + 20 * STEP_MS]
    assert len(expected) == 11
    base = client.query().stream(data.roof_temp)
    lo, hi = T0_MS + 10 * STEP_MS, T0_MS + 20 * STEP_MS
    forms = [
        base.between(lo, hi),
        base.start(at(lo)).end(at(hi)),
        base.between(at(lo).isoformat().replace("+00:00", "Z"), at(hi).replace(tzinfo=None)),
        base.from_time(Timestamp(lo // 1000, TimeUnit.SECONDS)).to_time(str(hi)),
        base.in_time_range(Timestamp(lo * 1000, TimeUnit.MICROSECONDS), hi),
    ]
    for query in forms:
        assert pairs(query.all()) == expected, query
    assert pairs(base.start(T0_MS + (N - 2) * STEP_MS).all()) == data.of(data.roof_temp)[-2:]
    assert pairs(base.end("2024-01-01").all()) == data.of(data.roof_temp)[:1]  # a date: 00:00
    assert pairs(base.end(T0_MS).all()) == data.of(data.roof_temp)[:1]


def test_value_filters_match_brute_force(client: cloudlet.Client, data: Seeded) -> None:
    temp = data.of(data.yard_temp)
    hum = data.of(data.yard_hum)
    base = client.query().stream(data.yard_temp)
    cases = [
        (base.greater_than(50), [p for p in temp if p[1] > 50]),
        (base.at_least(50), [p for p in temp if p[1] >= 50]),
        (base.less_than(-70), [p for p in temp if p[1] < -70]),
        (base.at_most(-70), [p for p in temp if p[1] <= -70]),
        (base.value_range(0, 10), [p for p in temp if 0 < p[1] < 10]),
        (base.value_range(0, 10, inclusive=True), [p for p in temp if 0 <= p[1] <= 10]),
        (base.equals(42), [p for p in temp if p[1] == 42]),
        (base.greater_than(0).greater_than(95), [p for p in temp if p[1] > 95]),  # replaced
        (client.query().stream(data.yard_hum).equals(3), [p for p in hum if p[1] == 3]),
    ]
    for query, expected in cases:
        assert expected, query
        assert pairs(query.all()) == expected, query
    window = base.between(T0_MS, T0_MS + 59 * STEP_MS).less_than(60)
    assert pairs(window.all()) == [p for p in temp[:60] if p[1] < 60]


def test_last_n_per_stream_in_either_order(client: cloudlet.Client, data: Seeded) -> None:
    roof = client.query().stream(data.roof_temp)
    assert pairs(roof.last(5).all()) == data.of(data.roof_temp)[-5:]
    assert pairs(roof.last(5).descending().all()) == data.of(data.roof_temp)[-5:][::-1]
    assert pairs(roof.last(1000).all()) == data.of(data.roof_temp)
    # per stream, across the yard device's two streams, ordered by time then stream
    yard = client.query(data.project).device("yard").last(3).all()
    assert len(yard) == 6
    assert [p.timestamp_ms for p in yard] == sorted(p.timestamp_ms for p in yard)
    by_stream = {gid: [(p.timestamp_ms, p.value) for p in yard if p.stream == gid]
                 for gid in (data.yard_temp, data.yard_hum)}
    assert by_stream == {gid: data.of(gid)[-3:] for gid in by_stream}
    # lastn with a filter: the newest 4 of those that match
    assert pairs(roof.greater_than(10).less_than(20).last(4).all()) == [
        p for p in data.of(data.roof_temp) if 10 < p[1] < 20][-4:]


def test_downsampling_matches_a_hand_computation(client: cloudlet.Client,
                                                 data: Seeded) -> None:
    points = data.of(data.roof_temp)
    buckets: dict[int, list[float]] = {}
    for t, v in points:
        buckets.setdefault(t - t % HOUR_MS, []).append(v)
    hand = {
        "mean": {k: fmean(v) for k, v in buckets.items()},
        "min": {k: min(v) for k, v in buckets.items()},
        "max": {k: max(v) for k, v in buckets.items()},
        "sum": {k: sum(v) for k, v in buckets.items()},
        "count": {k: float(len(v)) for k, v in buckets.items()},
        "first": {k: v[0] for k, v in buckets.items()},
        "last": {k: v[-1] for k, v in buckets.items()},
    }
    base = client.query().stream(data.roof_temp).every("1h")
    for agg, expected in hand.items():
        rows = base.agg(agg).all()  # type: ignore[arg-type]
        assert [r.timestamp_ms for r in rows] == sorted(buckets), agg
        assert [r.value for r in rows] == pytest.approx(list(expected.values())), agg
        assert [r.count for r in rows] == [60, 60, 60]
        assert all(r.time.minute == 0 and r.time.second == 0 for r in rows)
    means = base.all()  # mean unless told
    assert [r.value for r in means] == pytest.approx(list(hand["mean"].values()))
    assert [r.output_value for r in means] == pytest.approx(
        [output(v) for v in hand["mean"].values()])
    sums = base.agg("sum").all()
    assert [r.output_value for r in sums] == pytest.approx(
        [s * M / D + 60 * OFFSET for s in hand["sum"].values()])
    # buckets are aligned to the epoch: a 7-minute grid starting mid-range
    seven = client.query().stream(data.roof_temp).every("7m").agg("count").all()
    step = 7 * 60_000
    grid: dict[int, int] = {}
    for t, _ in points:
        grid[t - t % step] = grid.get(t - t % step, 0) + 1
    assert [(r.timestamp_ms, r.count) for r in seven] == sorted(grid.items())
    assert [r.value for r in seven] == [float(c) for _, c in sorted(grid.items())]
    # downsampling with filters and descending order
    filtered = base.agg("max").less_than(50).descending().all()
    expect = sorted(((k, max(x for x in v if x < 50)) for k, v in buckets.items()
                     if any(x < 50 for x in v)), reverse=True)
    assert [(r.timestamp_ms, r.value) for r in filtered] == expect


def test_iteration_follows_many_pages_lazily(client: cloudlet.Client, data: Seeded) -> None:
    everything = client.query(data.project)  # the whole project: three streams
    rows = everything.page_size(7).all()
    assert len(rows) == 3 * N
    keys = [(p.timestamp_us, p.stream) for p in rows]
    assert len(set(keys)) == len(keys)
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert pairs(everything.stream(data.roof_temp).page_size(7).all()) == data.of(
        data.roof_temp)
    pages = list(client.query().stream(data.roof_temp).page_size(25).pages())
    assert [len(p) for p in pages] == [25] * 7 + [5]
    newest = client.query().stream(data.roof_temp).page_size(11).descending().limit(50).all()
    assert pairs(newest) == data.of(data.roof_temp)[::-1][:50]
    iterator = iter(client.query().stream(data.roof_temp).page_size(3))
    assert [next(iterator).timestamp_ms for _ in range(4)] == [
        t for t, _ in data.of(data.roof_temp)[:4]]
    assert everything.count() == 3 * N


def test_a_list_of_streams_or_devices(client: cloudlet.Client, data: Seeded) -> None:
    multi = client.query(data.project).streams([data.roof_temp, data.yard_hum]).page_size(13)
    assert multi.count() == 2 * N
    rows = multi.all()
    assert {p.stream for p in rows} == {data.roof_temp, data.yard_hum}
    assert sorted(pairs([p for p in rows if p.stream == data.yard_hum])) == data.of(
        data.yard_hum)
    both = client.query(data.project).devices(["roof", "yard"]).series("temp").last(2).all()
    assert {p.stream for p in both} == {data.roof_temp, data.yard_temp} and len(both) == 4


def test_ndjson_streams_the_same_points(client: cloudlet.Client, data: Seeded) -> None:
    query = client.query(data.project).device("yard").between(T0_MS, T0_MS + HOUR_MS)
    assert list(query.ndjson()) == query.page_size(17).all()
    assert list(query.limit(9).ndjson()) == query.all()[:9]
    buckets = client.query().stream(data.roof_temp).every("1h").agg("sum")
    assert list(buckets.ndjson()) == buckets.all()


def test_to_arrow_and_to_pandas(client: cloudlet.Client, data: Seeded) -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    query = client.query(data.project).device("roof")
    table = query.to_arrow()
    assert table.num_rows == N
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    assert table.column("value").to_pylist() == [v for _, v in data.of(data.roof_temp)]
    assert table.column("output_value").to_pylist() == pytest.approx(
        [output(v) for _, v in data.of(data.roof_temp)])
    frame = query.to_pandas()
    assert list(frame.columns)[:4] == ["stream", "time", "value", "output_value"]
    assert len(frame) == N and set(frame["stream"]) == {data.roof_temp}
    assert frame["time"].iloc[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert str(frame["time"].dt.tz) == "UTC"
    hourly = client.query().stream(data.roof_temp).every("1h").agg("count").to_pandas()
    assert hourly["count"].tolist() == [60, 60, 60]


def test_to_pandas_without_pyarrow_reads_json_pages(client: cloudlet.Client, data: Seeded,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    query = client.query(data.project).device("yard").every("1h").agg("min")
    with_arrow = query.to_pandas()
    with monkeypatch.context() as hidden:
        hidden.setitem(sys.modules, "pyarrow", None)
        from_json = query.to_pandas()
    assert list(from_json.columns) == list(with_arrow.columns)
    assert from_json["stream"].tolist() == with_arrow["stream"].tolist()
    pd.testing.assert_frame_equal(from_json.drop(columns="stream"),
                                  with_arrow.drop(columns="stream"), check_dtype=False)
    assert str(from_json["time"].dtype) == "datetime64[us, UTC]"
    assert from_json["count"].tolist() == [60] * 6


def test_fields_fetch_only_the_columns_asked_for(client: cloudlet.Client, data: Seeded,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    query = client.query(data.project).device("roof")
    full = query.all()
    narrow = query.fields("value", "time")
    points = narrow.page_size(70).all()
    assert [(p.timestamp_us, p.value) for p in points] == [(p.timestamp_us, p.value)
                                                           for p in full]
    assert {(p.stream, p.output_value, p.count) for p in points} == {(None, None, None)}
    assert points[0].time == full[0].time and points[0].timestamp_ms == T0_MS
    assert list(narrow.ndjson()) == points and narrow.count() == N
    assert narrow.params()["fields"] == "value,time"
    lines = b"".join(narrow.iter_bytes("csv")).decode().splitlines()
    assert lines[0] == "time,value" and len(lines) == N + 1
    iso = query.fields("timestamp").limit(3).all()  # time comes from the ISO text alone
    assert [p.timestamp_us for p in iso] == [p.timestamp_us for p in full[:3]]
    assert [p.value for p in iso] == [None] * 3
    hourly = query.every("1h").agg("count").fields("count").all()
    assert [(p.count, p.time) for p in hourly] == [(60, None)] * 3
    with pytest.raises(ValueError, match="needs every"):
        query.fields("count").all()
    with pytest.raises(ValueError, match="not \\['speed'\\]"):
        query.fields("time", "speed")
    with pytest.raises(ValueError):
        query.fields()
    if _importable("pyarrow") and _importable("pandas"):
        table = narrow.to_arrow()
        assert table.column_names == ["time", "value"]
        assert table.column("value").to_pylist() == [p.value for p in full]
        with_arrow = narrow.to_pandas()
        with monkeypatch.context() as hidden:
            hidden.setitem(sys.modules, "pyarrow", None)
            from_json = narrow.to_pandas()
        assert list(from_json.columns) == list(with_arrow.columns) == ["time", "value"]
        assert from_json.equals(with_arrow)


def test_missing_extras_name_the_extra(client: cloudlet.Client, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    query = client.query().stream("s--0000-0001--0000-0000-0000-0001--5001")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'cloudlet\[arrow\]'"):
        query.to_arrow()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'cloudlet\[pandas\]'"):
        query.to_pandas()


def test_exports_stream_csv_and_parquet(client: cloudlet.Client, data: Seeded,
                                        tmp_path: Path) -> None:
    query = client.query(data.project).stream(data.roof_temp)
    seen: list[int] = []
    path = tmp_path / "roof.csv"
    written = query.export(path, "csv", progress=seen.append)
    assert written == path.stat().st_size and seen[-1] == written
    lines = path.read_text().splitlines()
    assert lines[0] == "stream,timestamp,time,value,output_value"
    assert len(lines) == N + 1 and lines[1].startswith(data.roof_temp + ",2024-01-01T00:00:00")
    pq = pytest.importorskip("pyarrow.parquet")
    buffer = io.BytesIO()
    query.export(buffer, "parquet")
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert table.column("value").to_pylist() == [v for _, v in data.of(data.roof_temp)]


def test_bad_queries_fail_clearly_and_early(client: cloudlet.Client, data: Seeded) -> None:
    with pytest.raises(cloudlet.NotFound):
        client.query().stream("s--0000-0999--0000-0000-0000-0999--5001").all()
    with pytest.raises(cloudlet.NotFound):
        client.query(data.project).device("nobody").all()
    with pytest.raises(cloudlet.BadRequest):
        client.query().stream(data.roof_temp).every("soon").all()
    with pytest.raises(cloudlet.BadRequest):
        client.query().stream(data.roof_temp).start("not a time").all()
    with pytest.raises(ValueError, match="every"):
        client.query().stream(data.roof_temp).agg("max").all()
    with pytest.raises(ValueError, match="agg must be one of"):
        client.query().agg("median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        client.query().last(0)
    with pytest.raises(TypeError):
        client.query().start(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.query().greater_than("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a project"):
        client.query().device("roof").all()


def test_stream_data_lastn_range_and_analysis_hook(client: cloudlet.Client,
                                                   data: Seeded) -> None:
    stream = StreamData(data.roof_temp, client)
    items = stream.initialize_from_server(lastn=100)
    assert items is stream.data and len(stream.data) == 100
    assert [(i["time"] // 1000, i["value"]) for i in stream.data] == data.of(
        data.roof_temp)[-100:]
    assert stream.data[-1]["timestamp"] == "2024-01-01T02:59:00.000000Z"
    assert stream.data[-1]["output_value"] == output(stream.data[-1]["value"])
    stream.initialize_from_server(start="2024-01-01T00:00:00.000Z",
                                  end="2024-01-01T00:30:00Z")
    assert [i["value"] for i in stream.data] == [v for _, v in data.of(data.roof_temp)[:31]]
    assert stream.analyze() == {"count": 31, "mean": 7.5, "min": 0.0, "max": 15.0}

    class Spread(StreamData):
        def analyze(self) -> float:
            values = [row["value"] for row in self.data]
            return max(values) - min(values)

    spread = Spread(stream_id=data.yard_temp, api=client)
    spread.initialize_from_server(lastn=10)
    assert spread.analyze() == 9.0


def test_mdo_helper_agrees_with_the_server(client: cloudlet.Client, data: Seeded) -> None:
    unit = client.get(f"/streams/{data.roof_temp}")["output_unit"]
    mdo = MdoHelper(m=unit.get("m", 1), d=unit.get("d", 1), o=unit.get("o", 0.0))
    assert mdo == MdoHelper.from_unit(unit) == MdoHelper(9, 5, 32.0)
    for point in client.query().stream(data.roof_temp).last(20):
        assert mdo.compute_value(point.value) == point.output_value
    assert MdoHelper().compute(3.5) == 3.5
    assert MdoHelper(1, 1000, -1.0).compute_all([1000, 2500]) == [0.0, 1.5]
    with pytest.raises(ValueError):
        MdoHelper(1, 0)
    with pytest.raises(TypeError):
        MdoHelper(1.5, 1)  # type: ignore[arg-type]


def test_accumulation_report_sums_every_source(client: cloudlet.Client, data: Seeded) -> None:
    start, end = T0_MS, T0_MS + 59 * STEP_MS  # the first hour: 60 points per stream
    first = {gid: [v for t, v in pts if start <= t <= end] for gid, pts in data.points.items()}
    project_gid = client.projects.get(data.project)["gid"]
    answer = client.report_sum([project_gid], start, end)
    rows = {row["stream"]: row for row in answer["streams"]}
    assert set(rows) == set(data.points)
    for gid, values in first.items():
        assert rows[gid]["count"] == 60
        assert rows[gid]["sum"] == pytest.approx(sum(values))
    roof = rows[data.roof_temp]
    assert roof["unit"] == "F" and roof["name"] == "temp"
    assert roof["output_sum"] == pytest.approx(sum(first[data.roof_temp]) * M / D + 60 * OFFSET)
    assert rows[data.yard_hum]["unit"] is None
    totals = {t["unit"]: t for t in answer["totals"]}
    assert totals["F"]["sum"] == pytest.approx(
        roof["output_sum"] + rows[data.yard_temp]["output_sum"])
    assert totals["F"]["count"] == 120 and totals[None]["count"] == 60
    # seed 002's generator, over a device and a stream, with datetimes
    report = cloudlet.AccumulationReport(client).compute_sum(
        sources=[client.devices.get(data.project, "yard")["gid"], data.roof_temp],
        start=at(start), end=at(end))
    assert set(report["streams"]) == set(data.points)
    assert report["streams"][data.roof_temp]["units"] == "F"
    assert report["streams"][data.roof_temp]["sum"] == pytest.approx(roof["output_sum"])
    assert report["total"] == pytest.approx(sum(r["output_sum"] for r in rows.values()))
    assert report["totals"]["F"] == pytest.approx(totals["F"]["sum"])
    with pytest.raises(ValueError):
        client.report_sum([], start, end)


def test_reports_and_queries_respect_read_rights(client: cloudlet.Client, data: Seeded,
                                                 server: LiveServer,
                                                 other_user: TestUser) -> None:
    with cloudlet.Client(server.url, other_user.token, profile=False) as stranger:
        with pytest.raises(cloudlet.NotFound):
            stranger.query(data.project).all()
        with pytest.raises((cloudlet.NotFound, cloudlet.Forbidden)):
            stranger.report_sum([data.roof_temp], T0_MS, T0_MS + HOUR_MS)


def test_async_query_and_report(server: LiveServer, user: TestUser, data: Seeded,
                                tmp_path: Path) -> None:
    async def run() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as client:
            query = client.query(data.project).stream(data.roof_temp)
            points = await query.page_size(40).all()
            assert pairs(points) == data.of(data.roof_temp)
            assert await query.count() == N
            newest = [p async for p in query.descending().limit(5)]
            assert pairs(newest) == data.of(data.roof_temp)[::-1][:5]
            assert [p async for p in query.last(3).ndjson()] == points[-3:]
            hourly = await query.every("1h").agg("first").all()
            assert [p.value for p in hourly] == [0.0, 30.0, 60.0]
            narrow = await query.fields("time", "value").page_size(40).all()
            assert [(p.timestamp_us, p.value) for p in narrow] == [
                (p.timestamp_us, p.value) for p in points]
            assert {p.stream for p in narrow} == {None}
            assert [p async for p in query.fields("value").ndjson()] == [
                StreamPoint(None, None, None, p.value, None) for p in points]
            chunks = b"".join([c async for c in query.iter_bytes("csv")])
            assert chunks.count(b"\n") == N + 1
            seen: list[int] = []
            written = await query.export(tmp_path / "roof.ndjson", "ndjson", progress=seen.append)
            assert written == (tmp_path / "roof.ndjson").stat().st_size == seen[-1]
            with pytest.raises(cloudlet.NotFound):
                await client.query().stream("s--0000-0999--0000-0000-0000-0999--5001").export(
                    tmp_path / "none.csv")
            assert not (tmp_path / "none.csv").exists()
            answer = await client.report_sum([data.roof_temp], T0_MS, T0_MS + HOUR_MS)
            assert answer["streams"][0]["count"] == 61
            if "pyarrow" in sys.modules or _importable("pyarrow"):
                table = await query.to_arrow()
                assert table.num_rows == N

    asyncio.run(run())


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def test_stream_data_ignores_the_clients_default_project(server: LiveServer, user: TestUser,
                                                         data: Seeded) -> None:
    with cloudlet.Client(server.url, user.token, project=999_999, profile=False) as scoped:
        stream = StreamData(data.roof_temp, scoped)
        assert len(stream.initialize_from_server(lastn=3)) == 3
        with pytest.raises(cloudlet.NotFound):
            scoped.query().stream(data.roof_temp).all()  # the default project is used here


def test_async_stream_data_and_report_equal_the_sync_ones(
        server: LiveServer, user: TestUser, client: cloudlet.Client, data: Seeded) -> None:
    start, end = T0_MS + 10 * STEP_MS, T0_MS + 70 * STEP_MS
    sources = [client.projects.get(data.project)["gid"]]
    sync_last = StreamData(data.roof_temp, client).initialize_from_server(lastn=100)
    sync_range = StreamData(data.yard_temp, client)
    sync_range.initialize_from_server(start=at(start), end=end)
    sync_report = cloudlet.AccumulationReport(client).compute_sum(sources, start, end)

    class Spread(cloudlet.AsyncStreamData):  # the hook, on the async kind
        def analyze(self) -> float:
            values = [row["value"] for row in self.data]
            return max(values) - min(values)

    async def go() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            last = cloudlet.AsyncStreamData(data.roof_temp, a)
            items = await last.initialize_from_server(lastn=100)
            assert items is last.data and items == sync_last and len(items) == 100
            ranged = cloudlet.AsyncStreamData(data.yard_temp, a)
            await ranged.initialize_from_server(start=at(start), end=end)
            assert ranged.data == sync_range.data and len(ranged.data) == 61
            assert ranged.analyze() == sync_range.analyze() == {
                "count": 61, "mean": fmean(v for _, v in data.of(data.yard_temp)[10:71]),
                "min": 30.0, "max": 90.0}
            spread = Spread(data.yard_temp, a)
            await spread.initialize_from_server(lastn=10)
            assert spread.analyze() == 9.0
            report = await cloudlet.AsyncAccumulationReport(a).compute_sum(sources, start, end)
            assert report == sync_report
            assert report["streams"][data.roof_temp]["count"] == 61

    asyncio.run(go())
