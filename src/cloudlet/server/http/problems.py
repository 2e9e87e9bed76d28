"""Errors on the native face: `application/problem+json` with a human `detail` (RFC 9457)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cloudlet.server.core.db import DATABASE_ERRORS, unavailable
from cloudlet.server.core.errors import DomainError, Throttled

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return problem(exc.status, exc.detail, headers, **exc.extra)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = next(e for e in errors if e.get("type") == "json_invalid")
        message = (reason.get("ctx") or {}).get("error", "invalid JSON")
        return problem(400, f"The request body is not valid JSON: {message}.")
    fields = [{"field": _where(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
              for e in errors]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return problem(422, f"Invalid request: {summary}.", errors=fields)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(exc.status_code, detail, dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    busy = unavailable(exc)
    if busy is not None:
        log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
        return await on_domain_error(request, busy)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal server error; the server log has the details.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    for kind in DATABASE_ERRORS:  # handled where a DomainError is: a busy database is no 500
        app.add_exception_handler(kind, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)
