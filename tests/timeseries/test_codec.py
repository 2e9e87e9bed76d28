"""The chunk codec alone, and the point store against a plain dict (hypothesis): any sequence
of writes, overwrites and compactions reads back exactly like {(stream, ts): value}."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudlet.server.core import migrate
from cloudlet.server.core.db import Database
from cloudlet.server.settings import Settings
from cloudlet.server.timeseries import codec
from cloudlet.server.timeseries.store import PointStore, StreamPoints
from tests.support import pg

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
stamps = st.integers(min_value=-(2**52), max_value=2**52)


@given(st.dictionaries(stamps, finite, max_size=300), st.booleans())
def test_a_chunk_round_trips(points: dict[int, float], compress: bool) -> None:
    ts = np.array(sorted(points), np.int64)
    values = np.array([points[t] for t in sorted(points)], np.float64)
    back_ts, back_values = codec.decode(codec.encode(ts, values, compress=compress))
    assert back_ts.tolist() == ts.tolist()
    assert back_values.tobytes() == values.tobytes()  # bit for bit, -0.0 included


@given(st.lists(st.lists(st.tuples(st.integers(0, 50), finite), max_size=20), max_size=6))
def test_merge_lets_the_later_input_win(parts: list[list[tuple[int, float]]]) -> None:
    expected: dict[int, float] = {}
    arrays = []
    for part in parts:
        for t, v in part:
            expected[t] = v
        arrays.append((np.array([t for t, _ in part], np.int64),
                       np.array([v for _, v in part], np.float64)))
    ts, values = codec.merge(arrays)
    assert ts.tolist() == sorted(expected)
    assert values.tolist() == [expected[t] for t in sorted(expected)]


def test_a_foreign_blob_is_refused() -> None:
    with pytest.raises(codec.CodecError):
        codec.decode(b"\x09\x01\x00\x00\x00")
    with pytest.raises(codec.CodecError):
        codec.decode(codec.encode(np.arange(3), np.ones(3))[:-1])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_db(request: pytest.FixtureRequest, pg_databases: pg.PgDatabases | None
             ) -> Iterator[tuple[Database, PointStore, Any]]:
    if request.param == "postgres":
        if pg_databases is None:
            pytest.skip("no CLOUDLET_TEST_POSTGRES_URL")
        url = pg._sqlalchemy(pg_databases.clone())
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/store.db"
    settings = Settings(data_dir=tempfile.mkdtemp(), database_url=url,
                        admin_password="store-test-password")
    from cloudlet.server.app import prepare_installation
    from cloudlet.server.services import Services

    prepare_installation(settings)
    db = Database(settings.db_url)
    migrate.upgrade(db)
    services = Services.build(settings, db)
    # chunks of 8 points and more count as big: out-of-order points meet both kinds, in
    # this store and in the writer's
    services.ingest.writer.store.small_chunk = 8
    yield db, PointStore(is_postgres=not db.is_sqlite, small_chunk=8), services
    db.dispose()


def _new_stream(services: Any) -> int:
    with services.db.write() as tx:
        project = services.projects.home_project(tx.conn, 1)["id"]
        device = services.devices.insert(tx, project_id=project, key=None, created_by=None)
        variable = services.streams.variable_id(tx, project, f"v{device['id']}")
        return int(services.streams.stream_id(tx, project, device["id"], variable))


op = st.one_of(
    st.tuples(st.just("write"), st.lists(st.tuples(st.integers(0, 400), finite), min_size=1,
                                         max_size=60)),
    st.tuples(st.just("compact"), st.none()),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=1, max_size=12), st.integers(0, 400), st.integers(0, 400))
def test_writes_overwrites_and_compactions_read_like_a_dict(
        store_db: tuple[Database, PointStore, Any], ops: list[tuple[str, Any]], a: int,
        b: int) -> None:
    db, store, services = store_db
    stream, evens = _new_stream(services), _new_stream(services)
    truth: dict[int, float] = {}
    even_truth: dict[int, float] = {}  # a second stream in the same writes: its even times
    for kind, points in ops:
        if kind == "compact":
            with db.write() as tx:
                store.compact(tx, stream)
            continue
        for t, v in points:
            truth[t] = v
            if t % 2 == 0:
                even_truth[t] = v
        ts, values = codec.dedupe_last(np.array([t for t, _ in points], np.int64),
                                       np.array([v for _, v in points], np.float64))
        even = ts % 2 == 0
        with db.write() as tx:
            store.write(tx, [StreamPoints(stream, ts, values),
                             StreamPoints(evens, ts[even], values[even])])
    with db.read() as conn:
        even_ts, even_values = store.read(conn, evens)
        assert dict(zip(even_ts.tolist(), even_values.tolist(), strict=True)) == even_truth
        ts, values = store.read(conn, stream)
        assert dict(zip(ts.tolist(), values.tolist(), strict=True)) == truth
        assert ts.tolist() == sorted(truth)
        lo, hi = min(a, b), max(a, b)
        part_ts, _ = store.read(conn, stream, lo, hi)  # both ends inclusive
        assert part_ts.tolist() == [t for t in sorted(truth) if lo <= t <= hi]
        pieces = list(store.iter_points(conn, stream))
        flat = [t for piece, _ in pieces for t in piece.tolist()]
        assert flat == sorted(truth)  # pieces are consecutive and ordered
        spans = conn.exec_driver_sql(
            f"SELECT t_min, t_max FROM point_chunks WHERE stream_id = {stream} "
            "ORDER BY t_min").all()
        # out-of-order points fill gaps between chunks, never a span a chunk covers
        assert all(b[0] > a[1] for a, b in itertools.pairwise(spans))


job_points = st.lists(st.tuples(st.integers(0, 400), finite), min_size=1, max_size=40)


@st.composite
def disjoint_jobs(draw: st.DrawFn) -> tuple[str, list[tuple[str, list[tuple[int, float]]]]]:
    """A group of jobs over disjoint runs of time, in any order, as several clients send
    consecutive batches: they land between, inside or on what earlier writes stored."""
    spans = draw(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 15)), min_size=2,
                          max_size=5))
    position, jobs = draw(st.integers(0, 300)), []
    for gap, length in spans:
        start = position + gap
        jobs.append(("ok", [(t, draw(finite)) for t in range(start, start + length)]))
        position = start + length
    order = draw(st.permutations(range(len(jobs))))
    return "group", [jobs[i] for i in order]


group_op = st.one_of(
    # jobs committed together: ok, a job with an unknown device, a job with a missing stream
    st.tuples(st.just("group"), st.lists(st.tuples(st.sampled_from(["ok"] * 6 + [
        "device", "stream"]), job_points), min_size=1, max_size=5)),
    disjoint_jobs(),
    st.tuples(st.just("compact"), st.none()),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(group_op, min_size=1, max_size=8))
def test_jobs_of_one_commit_group_read_like_separate_writes(
        store_db: tuple[Database, PointStore, Any], ops: list[tuple[str, Any]]) -> None:
    """The writer combines a commit group's jobs per stream: the later job wins on equal
    timestamps, as a later write would, and a failing job fails alone, writing nothing."""
    from cloudlet.server.core.errors import NotFound
    from cloudlet.server.timeseries.writer import Job, Part

    db, store, services = store_db
    writer = services.ingest.writer
    stream, evens = _new_stream(services), _new_stream(services)
    with db.read() as conn:
        project = services.projects.home_project(conn, 1)["id"]
    truth: dict[int, float] = {}
    even_truth: dict[int, float] = {}
    for kind, jobs in ops:
        if kind == "compact":
            writer.compact(stream)
            continue
        group = []
        for what, points in jobs:
            ts = np.array([t for t, _ in points], np.int64)
            values = np.array([v for _, v in points], np.float64)
            even = ts % 2 == 0
            parts = [Part(ts, values, stream_id=stream), Part(ts[even], values[even],
                                                              stream_id=evens)]
            if what == "device":
                parts.append(Part(ts, values, device_key="no-such-device", series="x"))
            elif what == "stream":
                parts.append(Part(ts, values, stream_id=2**31 - 1))
            group.append(Job(project, 1, False, parts, len(points) * len(parts)))
            if what == "ok":
                truth.update(points)
                even_truth.update((t, v) for t, v in points if t % 2 == 0)
        writer._commit(group, 0)  # one commit group, as the writer thread forms them (not queued)
        for (what, points), job in zip(jobs, group, strict=True):
            if what == "ok":
                answer = job.future.result(0)
                assert answer["points"] == len({t for t, _ in points}) + len(
                    {t for t, _ in points if t % 2 == 0})
            else:
                error = job.future.exception(0)
                assert error is not None
                assert isinstance(error, NotFound) == (what == "device")
    with db.read() as conn:
        ts, values = store.read(conn, stream)
        assert dict(zip(ts.tolist(), values.tolist(), strict=True)) == truth
        even_ts, even_values = store.read(conn, evens)
        assert dict(zip(even_ts.tolist(), even_values.tolist(), strict=True)) == even_truth
        newest = conn.exec_driver_sql(
            f"SELECT last_ts FROM streams WHERE id = {stream}").scalar_one()
        assert newest == (max(truth) if truth else None)
        spans = conn.exec_driver_sql(
            f"SELECT t_min, t_max FROM point_chunks WHERE stream_id = {stream} "
            "ORDER BY t_min").all()
        assert all(b[0] > a[1] for a, b in itertools.pairwise(spans))


def test_a_stream_written_without_pause_is_still_compacted(
        store_db: tuple[Database, PointStore, Any]) -> None:
    """Compaction waits for an idle moment, but not for ever: a stream that keeps getting
    head points is compacted between commit groups, so its head stays bounded."""
    from cloudlet.server.timeseries.writer import OVERDUE, Job, Part

    db, store, services = store_db
    writer = services.ingest.writer
    stream = _new_stream(services)
    with db.read() as conn:
        project = services.projects.home_project(conn, 1)["id"]

    def write(ts: list[int], value: float) -> None:
        job = Job(project, 1, False, [Part(np.array(ts, np.int64),
                                           np.full(len(ts), value), stream_id=stream)], len(ts))
        writer._commit([job], 0)  # back to back, never idle (not queued)
        job.future.result(0)

    write(list(range(200)), 0.0)
    overwrites = OVERDUE // 8 + 6  # each overwrite lands in the head
    for t in range(overwrites):
        write([t], 1.0)
    with db.read() as conn:
        _, head = store.chunk_stats(conn, stream)
        ts, values = store.read(conn, stream)
    assert head < overwrites
    assert values.tolist() == [1.0] * overwrites + [0.0] * (200 - overwrites)


def test_head_points_outside_every_chunk_are_kept(
        store_db: tuple[Database, PointStore, Any]) -> None:
    """Older versions sent out-of-order points to the head even where no chunk was: writes
    around such head points (in a range holding no chunk) place theirs beside them."""
    db, store, services = store_db
    stream = _new_stream(services)
    with db.write() as tx:
        store.write(tx, [StreamPoints(stream, np.array([100, 200], np.int64),
                                      np.array([1.0, 2.0]))])
        tx.conn.exec_driver_sql(store._sql(
            "INSERT INTO point_head (stream_id, ts, value) VALUES (?, 50, 5.0), (?, 60, 6.0)"),
            (stream, stream))
    with db.write() as tx:  # 50 overwrites a head point, 55 lies in the free gap before 100
        store.write(tx, [StreamPoints(stream, np.array([50, 55], np.int64),
                                      np.array([7.0, 8.0]))])
    with db.read() as conn:
        ts, values = store.read(conn, stream)
    assert dict(zip(ts.tolist(), values.tolist(), strict=True)) == {
        50: 7.0, 55: 8.0, 60: 6.0, 100: 1.0, 200: 2.0}
