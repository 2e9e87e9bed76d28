"""What the iobeam 0.11.0 client sends and reads, apart from the endpoints: the credentials
(`Authorization: Bearer <project token>`), its JSON bodies and query flags, token durations,
and errors as the `{"errors": [{"code", "message"}]}` the client reads `errors[0]` from.

Error codes: 150 for a device id already in use (the client raises `DuplicateIdError` on
it), otherwise the HTTP status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from cloudlet.server.core.errors import Invalid, Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.app import ErrorWire, json_object
from cloudlet.server.http.auth import credential
from cloudlet.server.services import Services

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
    if not body.strip():
        raise Invalid("The request body must be a JSON object.")
    return json_object(body)


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

def error_body(status: int, message: str, extra: dict[str, Any]) -> tuple[int, Any]:
    """`{"errors": [{"code", "message"}], "message"}`; a Cloudlet `code` in CODES becomes
    iobeam's code and status, any other is dropped (the code is then the status)."""
    code, status = CODES.get(str(extra.pop("code", "")), (status, status))
    return status, {"errors": [{"code": code, "message": message, **extra}], "message": message}


ERRORS = ErrorWire(name="iobeam", scheme="Bearer", body=error_body)
