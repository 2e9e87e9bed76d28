"""Helpers for writer tests: read a stream back, wait for a condition, hold the server's
point writer."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

import cloudlet
from tests.support.live import LiveServer

T0 = 1_700_000_000_000  # ms


def values_of(client: cloudlet.Client, project: int, series: str, device: str
              ) -> list[float]:
    """Every value of one stream, oldest first. Reads both shapes of the points endpoint:
    `{points: [[t, v]…]}` and the query API's paged `{count, next, results: [{value}…]}`."""
    found = client.get(f"/projects/{project}/streams", {"device": device, "series": series})
    if not found["results"]:
        return []
    answer = client.get(f"/streams/{found['results'][0]['gid']}/points", {"limit": 1_000_000})
    if "points" in answer:
        return [v for _, v in answer["points"]]
    values = [r["value"] for r in answer["results"]]
    while answer.get("next"):
        answer = client.get(answer["next"])
        values += [r["value"] for r in answer["results"]]
    return values


def eventually(check: Callable[[], bool], what: str, within: float = 30) -> None:
    """Wait for `check` (a condition, not a timing: the bound only stops a hung test)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def pause(server: LiveServer, seconds: float) -> None:
    """Hold the server's point writer: requests wait for their commit meanwhile."""
    httpx.post(server.api + "/_debug/timeseries/pause",
               params={"seconds": seconds}).raise_for_status()
