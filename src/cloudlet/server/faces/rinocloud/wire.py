"""What arrives on the RinoCloud face, in either dialect: the tutorial's form-encoded bodies
(values are text, a repeated field is a list, a `json` field holds a JSON object) and the
`rinocloud` package's JSON bodies; the query string too, the body winning. Plus the
credentials (`Authorization: Token <key>`), typed field readers, and errors as the JSON
`{"detail": …}` that Django REST Framework, which RinoCloud ran on, answered with.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request

from cloudlet.server.core.errors import Invalid, Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.app import ErrorWire, json_object
from cloudlet.server.http.auth import credential
from cloudlet.server.services import Services

ERRORS = ErrorWire(name="RinoCloud", scheme="Token")
Fields = dict[str, Any]


def grouped(pairs: Iterable[tuple[str, str]]) -> Fields:
    """Form or query pairs → fields: one value stays text, a repeated name is a list."""
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in found.items()}


def with_json_field(fields: Fields) -> Fields:
    """A form's `json` field (the tutorial's and the API explorer's way to send metadata
    with a form) opened into the fields; the form's other fields win over its keys."""
    text = fields.get("json")
    if not isinstance(text, str):
        return fields
    rest = {k: v for k, v in fields.items() if k != "json"}
    if not text.strip():
        return rest
    try:
        inner = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid("The json field must hold a JSON object.") from None
    if not isinstance(inner, dict):
        raise Invalid("The json field must hold a JSON object, like {\"parent\": 3}.")
    return {**inner, **rest}


async def read_fields(request: Request) -> Fields:
    """The query string's fields, then the body's (JSON object or form-encoded)."""
    fields = grouped(request.query_params.multi_items())
    body = await request.body()
    if not body.strip():
        return fields
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise Invalid("The form body is not UTF-8.") from None
        return {**fields, **with_json_field(grouped(pairs))}
    if kind in ("application/json", "") or kind.endswith("+json"):
        return {**fields, **json_object(body)}
    raise Invalid(f"Send the fields as JSON or form-encoded, not {kind}.")


def principal(services: Services, request: Request) -> Principal:
    """The caller, from `Authorization: Token <key>` (Bearer works too); 401 without."""
    token = credential(request)
    if token is None:
        header = request.headers.get("authorization", "").strip()
        if header.split(" ")[-1] == "None":
            raise Unauthenticated("No token: set rinocloud.api_key to a Cloudlet API token.")
        if "Authorization" in request.query_params:
            raise Unauthenticated("Send the token as a header (requests.get(url, "
                                  "headers=headers)), not in the query string.")
        raise Unauthenticated("Authentication credentials were not provided: send "
                              "'Authorization: Token <key>' with a Cloudlet API token.")
    return services.tokens.authenticate(token)


# --- typed fields ---------------------------------------------------------------------------

def object_id(value: Any, field: str = "id") -> int:
    """An object id: a number, or its digits as text (form bodies carry text)."""
    if value is None or value == "":
        raise Invalid(f"Name the object: {field}.", field=field)
    if isinstance(value, bool) or isinstance(value, list | dict):
        raise Invalid(f"{field} is an object id (a number), not {value!r}.", field=field)
    text = str(value).strip()
    if not text.isdigit():
        raise Invalid(f"{field} is an object id (a number), not {value!r}.", field=field)
    return int(text)


def optional_id(value: Any, field: str) -> int | None:
    """An id, or None for a missing, null or empty value (the top level)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return object_id(value, field)


def object_ids(value: Any) -> list[int]:
    """One id or a list of them (`id=1&id=2` in a form, `[1, 2]` in JSON)."""
    values = value if isinstance(value, list) else [value]
    return [object_id(v) for v in values if v is not None and v != ""]


def count(value: Any, field: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise Invalid(f"{field} is a whole number of at least 0, not {value!r}.", field=field)
    return int(str(value).strip())


def tags(value: Any) -> Any:
    """A JSON list, one form value per tag, or comma-separated text (checked by the files
    service)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json_value(text, "tags")
    return [t.strip() for t in text.split(",") if t.strip()]


def json_value(value: Any, field: str) -> Any:
    """A JSON document sent as itself (JSON bodies) or as text (form bodies)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value) if value.strip() else None
        except orjson.JSONDecodeError:
            raise Invalid(f"{field} must be JSON.", field=field) from None
    return value

