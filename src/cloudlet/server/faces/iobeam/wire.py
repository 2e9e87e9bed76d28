"""What the iobeam 0.11.0 client sends and reads, apart from the endpoints: the credentials
(`Authorization: Bearer <project token>`), its JSON bodies and query flags, token durations,
and errors as the `{"errors": [{"code", "message"}]}` the client reads `errors[0]` from.

Error codes: 150 for a device id already in use (the client raises `DuplicateIdError` on
it), otherwise the HTTP status.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cloudlet.server.core.errors import DomainError, Invalid, Throttled, Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.http.auth import credential
from cloudlet.server.services import Services

log = logging.getLogger(__name__)

DUPLICATE_DEVICE_ID = 150  # the client's request.ERROR_CODE_DUPLICATE_DEVICE_ID
# Cloudlet's Conflict codes → iobeam's codes and statuses (any status but 201 and 403 works
# for a duplicate; iobeam's reference backend answers 422)
CODES = {"duplicate_device": (DUPLICATE_DEVICE_ID, 422)}
_DURATION_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def principal(services: Services, request: Request) -> Principal:
    """The caller of `Authorization: Bearer <token>`; 401 without one."""
    token = credential(request)
    if token is None:
        raise Unauthenticated("Authentication required: send 'Authorization: Bearer <project "
                              "token>'.")
    return services.tokens.authenticate(token)


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON object of the body."""
    return parse_object(await request.body())


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as error:
        raise Invalid(f"The request body is not valid JSON: {error}.") from None
    if not isinstance(parsed, dict):
        raise Invalid("The request body must be a JSON object.")
    return parsed


def project_id(value: Any) -> int:
    """iobeam project ids are Cloudlet project ids: positive integers."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise Invalid(f"project_id must be a positive integer (the Cloudlet project id), not "
                      f"{value!r}.", field="project_id")
    return value


def optional_text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {value!r}.", field=field)
    return value


def flag(value: str | None, field: str) -> bool | None:
    """A query flag as the client sends it (Python's `str(True)`), or None when absent."""
    if value is None or value == "":
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid(f"{field} must be true or false, not {value!r}.", field=field)


def duration(value: str | None) -> int | None:
    """`<int><w|d|h|m|s>` in seconds (`5w`), or None when absent."""
    if value is None or value == "":
        return None
    text = value.strip()
    unit, number = text[-1:], text[:-1]
    if unit not in _DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise Invalid(f"duration must look like 5w, 30d, 12h, 15m or 90s, not {value!r}.",
                      field="duration")
    return int(number) * _DURATION_UNITS[unit]


def expires(when: datetime | None) -> str | None:
    """The iobeam CLI's layout, `2006-01-02 15:04:05 -0700`."""
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --- errors ---------------------------------------------------------------------------------

def error_body(status: int, message: str, code: int | None = None,
               headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    error = {"code": code if code is not None else status, "message": message, **extra}
    return JSONResponse({"errors": [error], "message": message}, status_code=status,
                        headers=headers)


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    extra = dict(exc.extra)
    code, status = CODES.get(str(extra.pop("code", "")), (None, exc.status))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_body(status, exc.detail, code, headers, **extra)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and message == "Not Found":
        message = f"No such iobeam endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_body(exc.status_code, message, headers=dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_body(500, "Internal server error; the server log has the details.")
