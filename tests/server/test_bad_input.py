"""Bad input gets a clear problem+json error and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def _count(c: httpx.Client) -> int:
    return int(c.get("/projects").json()["count"])


def _problem(answer: httpx.Response, status: int, *words: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and body["title"]
    for word in words:
        assert word in body["detail"], body["detail"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def c(user: TestUser) -> Iterator[httpx.Client]:
    with user.client() as client:
        yield client


def test_malformed_json(c: httpx.Client) -> None:
    before = _count(c)
    answer = c.post("/projects", content=b'{"name": ', headers={"content-type": "application/json"})
    _problem(answer, 400, "not valid JSON")
    assert _count(c) == before


def test_wrong_types_and_missing_fields(c: httpx.Client) -> None:
    before = _count(c)
    body = _problem(c.post("/projects", json={"name": 12}), 422, "name")
    assert body["errors"] == [{"field": "name", "message": "Input should be a valid string"}]
    _problem(c.post("/projects", json={}), 422, "name")
    _problem(c.post("/projects", json=["name"]), 422)
    _problem(c.post("/projects", json={"name": ""}), 422, "name")
    _problem(c.post("/projects", json={"name": "x" * 101}), 422, "name")
    _problem(c.post("/tokens", json={"scope": "root"}), 422, "scope")
    _problem(c.post("/tokens", json={"expires_in": -5}), 422, "expires_in")
    assert _count(c) == before


def test_oversize_bodies(server: LiveServer, c: httpx.Client) -> None:
    before = _count(c)
    huge = b'{"name": "x", "description": "' + b"a" * (2 << 20) + b'"}'
    _problem(c.post("/projects", content=huge, headers={"content-type": "application/json"}),
             413, "larger than")

    def chunks() -> Iterator[bytes]:  # no Content-Length: caught while streaming
        yield b'{"name": "x", "description": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    _problem(c.post("/projects", content=chunks(), headers={"content-type": "application/json"}),
             413, "larger than")
    assert _count(c) == before


def test_unknown_routes_and_methods(c: httpx.Client) -> None:
    _problem(c.get("/nowhere"), 404, "No such endpoint")
    _problem(c.put("/projects"), 405, "PUT")


def test_bad_path_ids(c: httpx.Client) -> None:
    _problem(c.get("/tokens/abc"), 422, "token_id")
    _problem(c.get("/users/abc"), 422, "user_id")
