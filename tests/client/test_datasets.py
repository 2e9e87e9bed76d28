"""`client.datasets` against the live server: imports with progress, rows, exports,
to_geojson/to_pandas, realtime positions, and the async twin."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from cloudlet import AsyncClient, BadRequest, Client, ImportFailed
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

CSV = ("site,lat,lon,depth,sampled,ok\n"
       "a,10.5,20.25,3,2024-01-01T00:00:00Z,true\n"
       "b,-5,-7.5,,2024-01-02T06:00:00Z,false\n"
       "c,0,0,12,,true\n")


def test_import_with_progress_rows_and_export(client: Client, user: TestUser,
                                             tmp_path: Path) -> None:
    p = user.home_project["id"]
    path = tmp_path / "samples.csv"
    path.write_text(CSV)
    stages: list[tuple[str, int, int | None]] = []
    (ds,) = client.datasets.import_file(p, path, progress=lambda *a: stages.append(a))
    assert ds["name"] == "samples" and ds["feature_count"] == 3
    assert stages[0] == ("upload", len(CSV), len(CSV))
    assert stages[-1] == ("loading", 3, 3)
    assert {s for s, _, _ in stages} <= {"upload", "scanning", "loading"}

    got = list(client.datasets.rows(p, ds["id"], bbox=(0, 0, 30, 30)))
    assert [r["site"] for r in got] == ["a", "c"]
    assert [r["site"] for r in client.datasets.rows(p, ds["id"], depth__gt=5)] == ["c"]
    assert [r["site"] for r in client.datasets.rows(p, ds["id"], ok=False)] == ["b"]
    assert [r["site"] for r in client.datasets.rows(p, ds["id"], site__in=["a", "b"])] == \
        ["a", "b"]

    row = client.datasets.add_row(p, ds["id"], {"site": "d", "lat": 1, "lon": 1,
                                                "location": "POINT (1 1)"})
    assert client.datasets.row(p, ds["id"], row["amigo_id"])["site"] == "d"
    client.datasets.update_row(p, ds["id"], row["amigo_id"], {"depth": 4})
    assert client.datasets.row(p, ds["id"], row["amigo_id"])["depth"] == 4
    client.datasets.delete_row(p, ds["id"], row["amigo_id"])
    added = client.datasets.add_rows(p, ds["id"], [{"site": "e"}, {"site": "f"}])
    assert len(added["rows"]) == 2
    assert client.datasets.get(p, ds["id"])["feature_count"] == 5

    out = tmp_path / "out.csv"
    written = client.datasets.export(p, ds["id"], to=out, bbox="0,0,30,30")
    assert written == out.stat().st_size and out.read_text().count("\n") == 3
    collection = client.datasets.to_geojson(p, ds["id"], site="a")
    assert [f["properties"]["site"] for f in collection["features"]] == ["a"]
    assert collection["features"][0]["geometry"]["coordinates"] == [20.25, 10.5]


def test_to_pandas(client: Client, user: TestUser) -> None:
    pd = pytest.importorskip("pandas")
    shapely = pytest.importorskip("shapely")
    p = user.home_project["id"]
    (ds,) = client.datasets.import_file(p, CSV.encode(), filename="samples.csv")
    frame = client.datasets.to_pandas(p, ds["id"])
    assert list(frame["site"]) == ["a", "b", "c"]
    assert str(frame["depth"].dtype) == "Int64" and pd.isna(frame["depth"].iloc[1])
    assert str(frame["sampled"].dtype).startswith("datetime64") and \
        str(frame["sampled"].dt.tz) == "UTC"
    assert list(frame["ok"]) == [True, False, True]
    assert isinstance(frame["location"].iloc[0], shapely.Point)
    assert frame["location"].iloc[0].x == 20.25
    assert frame.index.name == "amigo_id" and len(frame.index[0]) == 32
    plain = client.datasets.to_pandas(p, ds["id"], geometry="geojson")
    assert plain["location"].iloc[1] == {"type": "Point", "coordinates": [-7.5, -5.0]}


def test_import_errors(client: Client, user: TestUser) -> None:
    p = user.home_project["id"]
    with pytest.raises(ImportFailed) as failed:
        client.datasets.import_file(p, io.BytesIO(b"a,b\n1\n"), filename="bad.csv")
    assert failed.value.status_code == 400 and failed.value.problem["line"] == 2
    assert "bad.csv, line 2" in failed.value.detail
    assert isinstance(failed.value, BadRequest)
    with pytest.raises(ValueError, match="filename"):
        client.datasets.import_file(p, b"a\n1\n")
    assert list(client.datasets.list(p)) == []
    jobs = list(client.datasets.imports(p))
    assert jobs[0]["state"] == "failed"


def test_realtime_positions(client: Client, user: TestUser) -> None:
    p = user.home_project["id"]
    ds = client.datasets.create(p, "fleet", kind="realtime",
                                columns=[{"name": "speed", "type": "real"}])
    answer = client.datasets.post_positions(p, ds["id"], [
        {"object_id": "bus-1", "latitude": 1, "longitude": 2, "speed": 30}])
    assert answer["dataset_id"] == ds["id"]
    assert answer["data"][0]["object_id"] == "bus-1" and answer["data"][0]["speed"] == 30


def test_async_client(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]

    async def scenario() -> tuple[list[dict[str, Any]], bytes, list[str]]:
        async with AsyncClient(server.url, user.token, profile=False) as client:
            (ds,) = await client.datasets.import_file(p, CSV.encode(), filename="a.csv",
                                                      name="async")
            sites = [r["site"] async for r in client.datasets.rows(p, ds["id"])]
            data = await client.datasets.export(p, ds["id"], format="geojson")
            return [ds], bytes(data), sites  # type: ignore[arg-type]

    made, data, sites = asyncio.run(scenario())
    assert made[0]["name"] == "async" and sites == ["a", "b", "c"]
    assert data.startswith(b'{"type":"FeatureCollection"')
