"""`DataPoint`, `Timestamp`, `DataSeries`, `DataStore` and `devices.register_or_load`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import cloudlet
from cloudlet import DataPoint, DataSeries, DataStore, Timestamp, TimeUnit
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_timestamps_and_their_units() -> None:
    assert DataPoint(1.5, 1_700_000_000_000).timestamp.micros() == 1_700_000_000_000_000
    assert Timestamp(3, TimeUnit.SECONDS).micros() == 3_000_000
    assert Timestamp(3, TimeUnit.MICROSECONDS).micros() == 3
    assert Timestamp(3_999, TimeUnit.NANOSECONDS).micros() == 3
    assert Timestamp(2, TimeUnit.SECONDS) == Timestamp(2000)
    before = time.time_ns() // 1_000
    assert DataPoint(1).timestamp.micros() >= before


@pytest.mark.parametrize("make", [
    lambda: DataPoint(1, 1.5),
    lambda: DataPoint(1, "2024-01-01"),
    lambda: DataPoint([1], 1),
    lambda: DataPoint("1.5", 1),
    lambda: DataPoint(None, 1),
    lambda: DataPoint(float("nan"), 1),
    lambda: Timestamp(1, "s"),
    lambda: DataSeries(""),
    lambda: DataSeries("a", [1]),
    lambda: DataStore(["a", "a"]),
    lambda: DataStore(["time"]),
    lambda: DataStore(["a"]).add([1, 2], 1),
    lambda: DataStore(["a"]).add({"b": 1}, 1),
])
def test_bad_points_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((TypeError, ValueError)):
        make()


def _read(client: cloudlet.Client, project: int, series: str) -> list[list[float]]:
    streams = client.get(f"/projects/{project}/streams")["results"]
    gid = next(s["gid"] for s in streams if s["series"] == series)
    body = client.get(f"/streams/{gid}/points", params={"limit": 10000})
    return [[r["time"], r["value"]] for r in body["results"]]


def test_write_points_takes_point_types(server: LiveServer, user: TestUser) -> None:
    project = user.home_project["id"]
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        client.devices.register(project, "pt-1")
        temp = DataSeries("temp", [DataPoint(20.5, 1_700_000_000_000),
                                   DataPoint(21, Timestamp(1_700_000_001, TimeUnit.SECONDS))])
        table = DataStore(["temp", "hum"])
        table.add({"temp": 22.0, "hum": 40}, Timestamp(1_700_000_002_000_000,
                                                       TimeUnit.MICROSECONDS))
        table.add([None, 41], 1_700_000_003_000)
        done = client.write_points(project, [temp, table], device="pt-1")
        assert done["points"] == 5
        temps = _read(client, project, "temp")
        assert [v for _, v in temps] == [20.5, 21, 22.0]
        assert [t for t, _ in temps] == [1_700_000_000_000_000, 1_700_000_001_000_000,
                                         1_700_000_002_000_000]
        assert [v for _, v in _read(client, project, "hum")] == [40, 41]
        with pytest.raises(ValueError, match="precision"):
            client.write_points(project, temp, device="pt-1", precision="s")


def test_register_or_load_keeps_the_device_id(server: LiveServer, user: TestUser,
                                              tmp_path: Path) -> None:
    project = user.home_project["id"]
    path = tmp_path / "device_id"
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        first = client.devices.register_or_load(project, path, label="boot")
        assert path.read_text().strip() == first["key"]
        again = client.devices.register_or_load(project, path)
        assert again["id"] == first["id"]
        assert [d["key"] for d in client.devices.list(project)] == [first["key"]]
        with pytest.raises(ValueError, match="holds device"):
            client.devices.register_or_load(project, path, "other")
        path.write_text("")
        with pytest.raises(ValueError, match="empty"):
            client.devices.register_or_load(project, path)

    async def run() -> tuple[dict, dict]:  # type: ignore[type-arg]
        other = tmp_path / "async_id"
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as aclient:
            made = await aclient.devices.register_or_load(project, other, "async-1")
            return made, await aclient.devices.register_or_load(project, other)

    made, loaded = asyncio.run(run())
    assert made["key"] == "async-1" and loaded["id"] == made["id"]
