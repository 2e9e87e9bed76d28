"""`face_app`: the sub-app a legacy face is served by, and the error handlers every face
shares. Faces differ only in their routers and their error wire: the JSON an error answers
with, the scheme a 401 names and the service a stray path's 404 names. The legacy clients
read those bodies, so each face's `ErrorWire` keeps them exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cloudlet.server.core.db import DATABASE_ERRORS, unavailable
from cloudlet.server.core.errors import DomainError, Invalid, Throttled
from cloudlet.server.services import Services

log = logging.getLogger(__name__)

# (status, message, extra fields) → (status, JSON body): a face may move the status too
ErrorBody = Callable[[int, str, dict[str, Any]], tuple[int, Any]]


def detail_body(status: int, message: str, extra: dict[str, Any]) -> tuple[int, Any]:
    """Django REST Framework's `{"detail": …}`, which IOTile Cloud and RinoCloud ran on."""
    return status, {"detail": message, **extra}


@dataclass(frozen=True)
class ErrorWire:
    """How one face answers errors."""

    name: str  # the service a stray path's 404 names ("No such IOTile endpoint: …")
    scheme: str  # `WWW-Authenticate` on a 401
    body: ErrorBody = detail_body

    def answer(self, status: int, message: str, headers: dict[str, str] | None = None,
               extra: dict[str, Any] | None = None) -> JSONResponse:
        status, content = self.body(status, message, dict(extra or {}))
        return JSONResponse(content, status_code=status, headers=headers)

    async def on_domain_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": self.scheme}
        return self.answer(exc.status, exc.detail, headers, exc.extra)

    async def on_http_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such {self.name} endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return self.answer(exc.status_code, message, dict(exc.headers or {}))

    async def on_unexpected(self, request: Request, exc: Exception) -> JSONResponse:
        busy = unavailable(exc)
        if busy is not None:
            log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
            return await self.on_domain_error(request, busy)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return self.answer(500, "Internal server error; the server log has the details.")


def face_app(services: Services, *, title: str, routers: Iterable[APIRouter],
             errors: ErrorWire) -> FastAPI:
    """A face's app, mounted by `create_app`: out of the native OpenAPI, with its own errors."""
    face = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    face.state.services = services
    face.state.settings = services.settings
    for router in routers:
        face.include_router(router)
    face.add_exception_handler(DomainError, errors.on_domain_error)
    face.add_exception_handler(HTTPException, errors.on_http_error)
    for kind in DATABASE_ERRORS:
        face.add_exception_handler(kind, errors.on_unexpected)
    face.add_exception_handler(Exception, errors.on_unexpected)
    return face


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object (callers decide what no body means)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Invalid(f"The request body is not valid JSON: {error}.") from None
    if not isinstance(parsed, dict):
        raise Invalid("The request body must be a JSON object.")
    return parsed
