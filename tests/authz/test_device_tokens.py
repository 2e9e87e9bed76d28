"""Device tokens on the time-series read routes: a device's token reads its own device's
streams, events and files, and nothing of another device (404, as if absent). The matrix's
callers are user tokens; these rows add the two kinds of device caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.authz.rows_timeseries import _event_file, _stream
from tests.authz.world import World
from tests.support.live import LiveServer

API = "/api/v1"


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    world = World(server)
    with world.owner_client() as c:
        project = world.project["id"]
        c.post(f"/projects/{project}/points", params={"precision": "s"},
               json={"device": "neighbour", "series": {"temp": [[1, 1.0]]}}).raise_for_status()
        _stream(world)  # makes `sensor`
        for device in ("sensor", "neighbour"):
            world.tokens[f"{device}_device"] = c.post(
                f"/projects/{project}/devices/{device}/tokens", json={}).json()["token"]
    yield world


def _calls(world: World) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    made = _event_file(world)
    stream, event = made["stream"], made["event_id"]
    project = world.project["id"]
    return {
        "stream points": ("GET", f"/streams/{stream}/points", None),
        "stream points csv": ("GET", f"/streams/{stream}/points?format=csv", None),
        "project points": ("GET", f"/projects/{project}/points?stream={stream}", None),
        "report": ("POST", "/reports/sum", {"sources": [stream]}),
        "events": ("GET", f"/streams/{stream}/events?has_file=true", None),
        "event file": ("GET", f"/streams/{stream}/events/{event}/file", None),
    }


@pytest.mark.parametrize("call", ["stream points", "stream points csv", "project points",
                                  "report", "events", "event file"])
@pytest.mark.parametrize("caller, status", [("sensor_device", 200), ("neighbour_device", 404)])
def test_a_device_token_reads_its_own_device_only(world: World, call: str, caller: str,
                                                  status: int) -> None:
    method, path, body = _calls(world)[call]
    answer = httpx.request(method, world.server.url + API + path, json=body, timeout=30,
                           headers={"Authorization": f"Bearer {world.tokens[caller]}"})
    assert answer.status_code == status, f"{call} as {caller}: {answer.text[:300]}"
    if status >= 400:
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_device_token_sees_only_its_device_across_the_project(world: World) -> None:
    sensor = _stream(world)["stream"]
    for caller in ("sensor_device", "neighbour_device"):
        answer = httpx.get(f"{world.server.url}{API}/projects/{world.project['id']}/points",
                           params={"limit": 1000}, timeout=30,
                           headers={"Authorization": f"Bearer {world.tokens[caller]}"})
        streams = {r["stream"] for r in answer.json()["results"]}
        assert (sensor in streams) == (caller == "sensor_device") and len(streams) == 1
