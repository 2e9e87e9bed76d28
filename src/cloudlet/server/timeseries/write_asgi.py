"""The point-write paths below the framework: `POST /api/v1/projects/{p}/write`,
`/api/v1/projects/{p}/points`, and InfluxDB's `/write` and `/api/v2/write`.

Batches arrive many times a second, so these requests skip FastAPI's middleware stack,
route matching and parameter solving (about a millisecond of CPU each, measured on the
bench) and call the very endpoint functions the FastAPI routes declare — those stay
registered for the OpenAPI document and for every request this does not take (another
method, a trailing slash). Answers are the same: the endpoints' own responses, domain
errors through the native face's problem handler, anything unexpected as its 500; query
parameters are read first-occurrence-wins, as `FirstParamWins` does for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cloudlet.server.core.errors import DomainError
from cloudlet.server.faces import influx
from cloudlet.server.http import problems
from cloudlet.server.timeseries import ingest_routes

Endpoint = Callable[[Request, dict[str, str], str | None], Awaitable[Response]]


def _native_lines(request: Request, query: dict[str, str], project: str | None
                  ) -> Awaitable[Response]:
    assert project is not None
    return ingest_routes.write_lines(project, request, precision=query.get("precision", "ns"),
                                     device=query.get("device"))


def _native_points(request: Request, query: dict[str, str], project: str | None
                   ) -> Awaitable[Response]:
    assert project is not None
    return ingest_routes.write_points(project, request, precision=query.get("precision"),
                                      device=query.get("device"))


def _influx_v1(request: Request, query: dict[str, str], _: str | None) -> Awaitable[Response]:
    return influx.write_v1(request, db=query.get("db"), precision=query.get("precision", "n"),
                           rp=query.get("rp"), u=query.get("u"), p=query.get("p"),
                           device=query.get("device"))


def _influx_v2(request: Request, query: dict[str, str], _: str | None) -> Awaitable[Response]:
    return influx.write_v2(request, bucket=query.get("bucket"), org=query.get("org"),
                           precision=query.get("precision", "ns"), device=query.get("device"))


_NATIVE = re.compile(r"^/api/v1/projects/([^/]+)/(write|points)$")
_INFLUX: dict[str, Endpoint] = {"/write": _influx_v1, "/api/v2/write": _influx_v2}


class PointWrites:
    """ASGI middleware (outermost): serves the point-write paths, passes the rest on.
    `target` is the application the endpoints read `app.state` from."""

    def __init__(self, app: ASGIApp, target: Any) -> None:
        self.app = app
        self.target = target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        endpoint = _INFLUX.get(path)
        project = None
        if endpoint is None:
            native = _NATIVE.match(path)
            if native is None:
                await self.app(scope, receive, send)
                return
            project = native.group(1)
            endpoint = _native_lines if native.group(2) == "write" else _native_points
        scope["app"] = self.target
        request = Request(scope, receive)
        query: dict[str, str] = {}
        for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                    keep_blank_values=True):
            query.setdefault(key, value)
        try:
            response = await endpoint(request, query, project)
        except DomainError as error:
            response = await problems.on_domain_error(request, error)
        except Exception as error:
            response = await problems.on_unexpected(request, error)
        await response(scope, receive, send)
