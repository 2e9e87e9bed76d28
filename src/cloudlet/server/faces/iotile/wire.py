"""What arrives on the IOTile face and how it answers: credentials (`Authorization: jwt …`
or `token …`; `jwt None` is the client before login, i.e. nobody), JSON bodies (the client
labels every request JSON, GET included), DRF page-number pagination, ISO-8601 times, and
errors as DRF's `{"detail": …}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from cloudlet.server.core.errors import Invalid, Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.app import ErrorWire, json_object
from cloudlet.server.http.auth import credential
from cloudlet.server.http.pagination import absolute_url
from cloudlet.server.services import Services
from cloudlet.server.timeseries.times import one_time

ERRORS = ErrorWire(name="IOTile", scheme="JWT")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def principal(request: Request) -> Principal:
    """The caller, from `Authorization: jwt <login jwt>` or `token <api token>`; 401 without."""
    token = credential(request)
    if token is None:
        raise Unauthenticated("Authentication credentials were not provided: log in "
                              "(Api.login) or set a Cloudlet token (Api.set_token).")
    return services_of(request).tokens.authenticate(token)


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object sent (`post({})` sends no body at all: that's `{}`)."""
    body = await request.body()
    return json_object(body) if body.strip() else {}


# --- pagination ---------------------------------------------------------------------------

class Paging:
    """DRF page-number pagination: `page` (from 1) and `page_size`. The default is the
    largest page the server allows, because the client's report generator reads only the
    first page of a stream list."""

    def __init__(self, request: Request) -> None:
        cap = services_of(request).settings.max_page_size
        self.request = request
        self.page = whole(request.query_params.get("page"), "page", 1, least=1)
        self.size = min(whole(request.query_params.get("page_size"), "page_size", cap, least=1),
                        cap)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def answer(self, total: int, results: list[Any]) -> dict[str, Any]:
        last = self.page * self.size >= total
        return {
            "count": total,
            "next": None if last else absolute_url(self.request, page=self.page + 1),
            "previous": absolute_url(self.request, page=self.page - 1)
            if self.page > 1 else None,
            "results": results,
        }


def whole(value: str | None, field: str, default: int, least: int = 0) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isdigit() or int(text) < least:
        raise Invalid(f"{field} must be a whole number of at least {least}, not {value!r}.")
    return int(text)


# --- times --------------------------------------------------------------------------------

def micros(value: str | None, field: str) -> int | None:
    """An ISO-8601 time (`2016-01-01T00:00:00Z`, with or without fractions) in µs."""
    if value is None or value == "":
        return None
    return one_time(str(value), None, field)  # text: always read as ISO-8601


def iso(ts: int | datetime | None) -> str | None:
    """µs since the epoch (or a datetime) → ISO-8601 with `Z`, as DRF wrote times."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        when = ts.astimezone(UTC)
    else:
        seconds, us = divmod(int(ts), 1_000_000)
        when = datetime.fromtimestamp(seconds, UTC).replace(microsecond=us)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

