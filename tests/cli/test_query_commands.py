"""`cloudlet query`, `cloudlet export` and `cloudlet report sum` against the live server,
checked against the points written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import cloudlet
from tests.cli.conftest import Cli
from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.series import OFFSET, STEP_MS, T0_MS, D, M, N, Seeded, output, seed

HOUR_MS = 3_600_000


@pytest.fixture
def data(server: LiveServer, user: TestUser) -> Seeded:
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        return seed(client, user.home_project["id"])


def test_query_json_is_every_point_with_ms_times(as_user: Cli, data: Seeded) -> None:
    ran = as_user("query", str(data.project), "--stream", data.roof_temp, "--format", "json")
    assert ran.code == 0, ran.stderr
    rows = ran.json()
    assert rows == [{"time": t, "value": v, "output_value": output(v)}
                    for t, v in data.of(data.roof_temp)]
    newest = as_user("query", str(data.project), "--stream", data.roof_temp, "--desc",
                     "--limit", "3", "--format", "json").json()
    assert [r["time"] for r in newest] == [t for t, _ in data.of(data.roof_temp)[::-1][:3]]
    last = as_user("query", str(data.project), "--stream", data.roof_temp, "--lastn", "4",
                   "-f", "json").json()
    assert [(r["time"], r["value"]) for r in last] == data.of(data.roof_temp)[-4:]


def test_query_a_device_series_with_bounds(as_user: Cli, data: Seeded) -> None:
    lo, hi = T0_MS + 30 * STEP_MS, T0_MS + 40 * STEP_MS
    iso_lo = "2024-01-01T00:30:00Z"
    ran = as_user("query", str(data.project), "--device", "yard", "--series", "temp",
                  "--start", iso_lo, "--end", str(hi), "--format", "json")
    assert ran.code == 0, ran.stderr
    rows = ran.json()
    assert [(r["time"], r["value"]) for r in rows] == [
        p for p in data.of(data.yard_temp) if lo <= p[0] <= hi]
    assert {r["stream"] for r in rows} == {data.yard_temp}  # a device's rows say which stream
    both = as_user("query", str(data.project), "--device", "yard", "--end", str(T0_MS),
                   "-f", "json").json()
    assert sorted(r["stream"] for r in both) == sorted([data.yard_temp, data.yard_hum])


def test_query_downsampled(as_user: Cli, data: Seeded) -> None:
    ran = as_user("query", str(data.project), "--stream", data.roof_temp, "--every", "1h",
                  "--agg", "max", "--format", "json")
    assert ran.code == 0, ran.stderr
    hours = [T0_MS + h * HOUR_MS for h in range(3)]
    maxima = [max(v for t, v in data.of(data.roof_temp) if h <= t < h + HOUR_MS)
              for h in hours]
    assert ran.json() == [{"time": h, "value": m} for h, m in zip(hours, maxima, strict=True)]
    mean = as_user("query", str(data.project), "--stream", data.roof_temp, "--every", "1h",
                   "-f", "json").json()
    assert [r["value"] for r in mean] == pytest.approx([14.75, 44.75, 74.75])
    table = as_user("query", str(data.project), "--stream", data.roof_temp, "--every", "1h",
                    "--agg", "count")
    assert table.code == 0 and "2024-01-01 01:00:00" in table.stdout
    assert "3 buckets." in table.stderr


def test_query_csv_and_table_follow_every_page(as_user: Cli, data: Seeded) -> None:
    ran = as_user("query", str(data.project), "--device", "roof", "--format", "csv")
    assert ran.code == 0, ran.stderr
    rows = list(csv.DictReader(io.StringIO(ran.stdout)))
    assert len(rows) == N
    assert rows[0] == {"time": "2024-01-01T00:00:00.000000Z", "stream": data.roof_temp,
                       "value": "0.0", "output_value": "32.0"}
    assert [float(r["output_value"]) for r in rows] == [output(v) for _, v in
                                                        data.of(data.roof_temp)]
    table = as_user("query", str(data.project), "--stream", data.roof_temp)
    assert table.code == 0
    assert "2024-01-01 02:59:00" in table.stdout and f"{output(89.5):g}" in table.stdout
    assert f"{N} points." in table.stderr


def test_query_errors_are_clear(as_user: Cli, data: Seeded) -> None:
    project = str(data.project)
    bad_time = as_user("query", project, "--stream", data.roof_temp, "--start", "yesterday")
    assert bad_time.code == 2 and "neither ISO-8601" in bad_time.stderr
    unknown = as_user("query", project, "--stream", "s--0000-0999--0000-0000-0000-0999--5001")
    assert unknown.code == 1 and unknown.stderr.startswith("Error:") and unknown.stdout == ""
    no_device = as_user("query", project, "--device", "nobody", "-f", "json")
    assert no_device.code == 1 and "Error:" in no_device.stderr and no_device.stdout == ""
    nothing = as_user("query", project)
    assert nothing.code == 2 and "--stream" in nothing.stderr
    lonely_agg = as_user("query", project, "--stream", data.roof_temp, "--agg", "max")
    assert lonely_agg.code == 2 and "--every" in lonely_agg.stderr
    bad_agg = as_user("query", project, "--stream", data.roof_temp, "--every", "1h",
                      "--agg", "median")
    assert bad_agg.code == 2 and "median" in bad_agg.stderr
    bad_every = as_user("query", project, "--stream", data.roof_temp, "--every", "soon")
    assert bad_every.code == 1 and "every" in bad_every.stderr
    empty = as_user("query", project, "--stream", data.roof_temp, "--start", "2030-01-01",
                    "-f", "json")
    assert empty.code == 0 and empty.json() == []


def test_export_csv_and_parquet_read_back(as_user: Cli, data: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "roof.csv"
    ran = as_user("export", str(data.project), "--stream", data.roof_temp, "--format", "csv",
                  "-o", str(target))
    assert ran.code == 0, ran.stderr
    assert f"bytes to {target}" in ran.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(int(r["time"]) // 1000, float(r["value"])) for r in rows] == data.of(
        data.roof_temp)
    pq = pytest.importorskip("pyarrow.parquet")
    whole = tmp_path / "all.parquet"
    ran = as_user("export", str(data.project), "--format", "parquet", "-o", str(whole))
    assert ran.code == 0, ran.stderr
    table = pq.read_table(whole)
    assert table.num_rows == 3 * N
    assert set(table.column("stream").to_pylist()) == set(data.points)
    by_stream: dict[str, list[float]] = {}
    for gid, value in zip(table.column("stream").to_pylist(), table.column("value").to_pylist(),
                          strict=True):
        by_stream.setdefault(gid, []).append(value)
    assert by_stream == {gid: [v for _, v in pts] for gid, pts in data.points.items()}
    missing = tmp_path / "none.csv"
    refused = as_user("export", str(data.project), "--stream",
                      "s--0000-0999--0000-0000-0000-0999--5001", "-o", str(missing))
    assert refused.code == 1 and "Error:" in refused.stderr and not missing.exists()
    no_file = as_user("export", str(data.project), "--format", "parquet")
    assert no_file.code == 2 and "--output" in no_file.stderr
    to_stdout = as_user("export", str(data.project), "--stream", data.yard_hum)
    assert to_stdout.code == 0 and to_stdout.stdout.count("\n") == N + 1


def test_report_sum_table_and_json(as_user: Cli, data: Seeded) -> None:
    start, end = "2024-01-01T00:00:00Z", str(T0_MS + 59 * STEP_MS)
    first = {gid: [v for t, v in pts if t <= T0_MS + 59 * STEP_MS]
             for gid, pts in data.points.items()}
    ran = as_user("report", "sum", data.roof_temp, data.yard_hum, "--start", start,
                  "--end", end, "--json")
    assert ran.code == 0, ran.stderr
    rows = {r["stream"]: r for r in ran.json()["streams"]}
    assert set(rows) == {data.roof_temp, data.yard_hum}
    assert rows[data.roof_temp]["output_sum"] == pytest.approx(
        sum(first[data.roof_temp]) * M / D + 60 * OFFSET)
    assert rows[data.yard_hum]["sum"] == sum(first[data.yard_hum])
    table = as_user("report", "sum", data.roof_temp, data.yard_temp, "--start", start,
                    "--end", end)
    assert table.code == 0, table.stderr
    total = (sum(first[data.roof_temp]) + sum(first[data.yard_temp])) * M / D + 120 * OFFSET
    assert data.roof_temp in table.stdout
    assert table.stdout.rstrip().splitlines()[-1].split() == [f"{total:g}", "F", "120"]
    bad = as_user("report", "sum", data.roof_temp, "--start", "soon")
    assert bad.code == 2
    unknown = as_user("report", "sum", "s--0000-0999--0000-0000-0000-0999--5001")
    assert unknown.code == 1 and "Error:" in unknown.stderr


def test_query_json_of_several_streams(as_user: Cli, data: Seeded) -> None:
    ran = as_user("query", str(data.project), "--stream", data.roof_temp, "--stream",
                  data.yard_hum, "--lastn", "2", "-f", "json")
    assert ran.code == 0, ran.stderr
    rows = ran.json()
    assert sorted((r["stream"], r["time"]) for r in rows) == sorted(
        (gid, t) for gid in (data.roof_temp, data.yard_hum) for t, _ in data.of(gid)[-2:])
    assert json.loads(ran.stdout)[0].keys() == {"stream", "time", "value", "output_value"}
