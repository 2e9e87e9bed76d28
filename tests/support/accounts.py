"""Make users and tokens on a live server through its API, as an administrator would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.live import LiveServer

PASSWORD = "correct horse battery"


@dataclass
class TestUser:
    __test__ = False  # a helper, not a test class

    id: int
    username: str
    email: str
    password: str
    token: str  # a session token from logging in
    home_project: dict[str, Any]
    server: LiveServer

    def client(self, token: str | None = None) -> httpx.Client:
        return self.server.client(token or self.token)

    def api_token(self, **fields: Any) -> str:
        """A new API token of this user (scope, project, expires_in, kind, …)."""
        with self.client() as c:
            answer = c.post("/tokens", json=fields)
            answer.raise_for_status()
            return str(answer.json()["token"])


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def login(server: LiveServer, username: str, password: str) -> str:
    with server.client() as c:
        answer = c.post("/auth/login", json={"username": username, "password": password})
        answer.raise_for_status()
        return str(answer.json()["token"])


def make_user(server: LiveServer, prefix: str = "u", **fields: Any) -> TestUser:
    username = unique(prefix)
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD,
            **fields}
    with server.client(server.admin_token) as c:
        answer = c.post("/users", json=body)
        answer.raise_for_status()
        user = answer.json()
    return TestUser(
        id=user["id"],
        username=username,
        email=body["email"],
        password=body["password"],
        token=login(server, username, body["password"]),
        home_project=user["home_project"],
        server=server,
    )
