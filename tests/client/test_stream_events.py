"""`client.stream_events`: events with extra data and an attached file, sync and async."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

import cloudlet
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_events_attach_a_file_and_list_back(server: LiveServer, user: TestUser) -> None:
    project = user.home_project["id"]
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        done = client.write_points(project, series={"x": [[1, 1.0]]}, device="ev",
                                   precision="s")
        stream = done["streams"][0]
        node = client.files.upload(io.BytesIO(b"log"), name="log.txt")
        filed = client.stream_events.create(stream, timestamp=5, precision="s",
                                            extra_data={"k": 1}, file=node["id"])
        plain = client.stream_events.create(stream, timestamp="1970-01-01T00:00:07Z")
        with pytest.raises(cloudlet.NotFound):
            client.stream_events.create(stream, file=10**9)
        with_file = [e["id"] for e in client.stream_events.list(stream, has_file=True)]
        ranged = [e["id"] for e in client.stream_events.list(stream, start=6000, order="desc")]

    async def run() -> list[Any]:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as aclient:
            await aclient.stream_events.create(stream, extra_data={"async": True},
                                               file=node["id"])
            return [e async for e in aclient.stream_events.list(stream, has_file=True)]

    async_filed = asyncio.run(run())
    assert filed["file"] == node["id"] and filed["timestamp"] == 5_000_000
    assert filed["extra_data"] == {"k": 1} and plain["file"] is None
    assert with_file == [filed["id"]] and ranged[0] != filed["id"]
    assert ranged[-1] == plain["id"]
    assert [e["extra_data"] for e in async_filed] == [{"k": 1}, {"async": True}]
