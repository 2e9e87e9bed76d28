"""Helpers for the time-series tests: a project of a fresh user, writes and reads over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.accounts import TestUser
from tests.support.live import LiveServer


@dataclass
class Project:
    id: int
    user: TestUser
    server: LiveServer

    def client(self, token: str | None = None) -> httpx.Client:
        return self.user.client(token)

    def post(self, body: Any, token: str | None = None, **params: Any) -> httpx.Response:
        with self.client(token) as c:
            return c.post(f"/projects/{self.id}/points", json=body, params=params)

    def lines(self, text: str | bytes, token: str | None = None, **params: Any
              ) -> httpx.Response:
        with self.client(token) as c:
            content = text.encode() if isinstance(text, str) else text
            return c.post(f"/projects/{self.id}/write", content=content, params=params)

    def streams(self, **params: Any) -> list[dict[str, Any]]:
        with self.client() as c:
            answer = c.get(f"/projects/{self.id}/streams", params={"limit": 1000, **params})
            answer.raise_for_status()
            return list(answer.json()["results"])

    def stream(self, device: str, series: str) -> dict[str, Any]:
        found = [s for s in self.streams() if s["device_key"] == device and
                 s["series"] == series]
        assert len(found) == 1, found
        return found[0]

    def points(self, device: str, series: str, **params: Any) -> list[list[Any]]:
        """[µs, value] pairs of one stream, read back through the query API (NDJSON)."""
        gid = self.stream(device, series)["gid"]
        with self.client() as c:
            answer = c.get(f"/streams/{gid}/points", params={"format": "ndjson", **params})
            answer.raise_for_status()
            return [[r["time"], r["value"]] for r in map(json.loads, answer.text.splitlines())]


@pytest.fixture
def project(user: TestUser, server: LiveServer) -> Project:
    with user.client() as c:
        made = c.post("/projects", json={"name": "ts"}).json()
    return Project(made["id"], user, server)
