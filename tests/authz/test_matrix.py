"""Every native route, called as every kind of caller, answers the expected status."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

import tests.authz as package
from tests.authz.table import CALLERS, MOUNTED_FACES, ROWS, Row
from tests.authz.world import World
from tests.support.live import LiveServer

for _module in pkgutil.iter_modules(package.__path__):
    if _module.name.startswith("rows_"):
        importlib.import_module(f"{package.__name__}.{_module.name}")

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    yield World(server)


def _call(world: World, row: Row, caller: str) -> httpx.Response:
    params = {**world.defaults(), **(row.params(world) if row.params else {})}
    path = row.route.format(**params)
    token = world.fresh_token(caller) if row.fresh_caller else world.tokens[caller]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if row.headers:
        headers.update(row.headers(world))
    body = row.body(world, caller) if row.body else None
    query = row.query(world) if row.query else None
    if row.stream:
        with httpx.stream(row.method, world.server.url + path, headers=headers, params=query,
                          timeout=30) as answer:
            if answer.status_code >= 400:
                answer.read()
            return answer
    content = row.content(world, caller) if row.content else None
    return httpx.request(
        row.method, world.server.url + path, headers=headers,
        json=body if content is None else None, content=content, params=query, timeout=30,
    )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_route_as_caller(world: World, row: Row, caller: str) -> None:
    answer = _call(world, row, caller)
    if row.disruptive:
        world.refresh_sessions()
    assert answer.status_code == row.expect[caller], (
        f"{row.id} as {caller}: {answer.status_code} {answer.text[:300]}"
    )
    if answer.status_code >= 400 and row.foreign:
        found = answer.json()
        assert found.get("error") or found.get("message") or found.get("detail")
    elif answer.status_code >= 400:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"]


def mounted_face_routes() -> set[tuple[str, str]]:
    """The routes of faces mounted as apps of their own, outside the native OpenAPI."""
    from cloudlet.server.faces import iobeam

    return {(method, iobeam.PREFIX + route.path)
            for route in iobeam.router.routes if isinstance(route, APIRoute)
            for method in route.methods}


def test_every_route_has_rows(server: LiveServer) -> None:
    spec = httpx.get(server.api + "/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    routes |= mounted_face_routes()
    covered = {(row.method, row.route) for row in ROWS
               if not row.route.startswith(MOUNTED_FACES)}
    assert routes - covered == set(), "routes without authorization rows"
    assert covered - routes == set(), "rows for routes that don't exist"
    assert all(set(row.expect) == set(CALLERS) for row in ROWS)
