"""`client.devices` and `client.write_points` in every form, sync and async."""

from __future__ import annotations

import asyncio

import pytest

import cloudlet
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_devices_and_every_write_form(server: LiveServer, user: TestUser) -> None:
    project = user.home_project["id"]
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        device = client.devices.register(project, "sdk-1", label="SDK")
        assert device["gid"].startswith("d--")
        with pytest.raises(cloudlet.Conflict):
            client.devices.register(project, "sdk-1")
        assert client.devices.get(project, "sdk-1")["label"] == "SDK"
        assert [d["key"] for d in client.devices.list(project)] == ["sdk-1"]
        done = client.write_points(project, series={"a": [[1, 1.0]]}, device="sdk-1",
                                   precision="s")
        assert done["points"] == 1
        assert client.write_points(project, fields=["time", "b", "c"], rows=[[1, 2, None]],
                                   device="sdk-1", precision="s")["points"] == 1
        assert client.write_points(project, lines="sdk-1 d=4 1\n", precision="s") is None
        assert client.write_points(project, csv="time,e\n1,5\n", device="sdk-1",
                                   precision="s", gzip=True)["points"] == 1
        assert client.write_points(project, {"device": "sdk-1", "series": {
            "f": {"time": [1], "value": [6]}}}, precision="s")["points"] == 1
        with pytest.raises(cloudlet.BadRequest) as bad:
            client.write_points(project, series={"g": [[1, "x"]]}, device="sdk-1",
                                precision="s")
        assert "row 0" in bad.value.detail
        series = {s["series"] for s in client.get(f"/projects/{project}/streams")["results"]}
        assert series == {"a", "b", "d", "e", "f"}

    async def run() -> dict:  # type: ignore[type-arg]
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as client:
            await client.devices.get(project, "sdk-1")
            return await client.write_points(project, series={"h": [[1, 1]]}, device="sdk-1",
                                             precision="s")

    assert asyncio.run(run())["points"] == 1
