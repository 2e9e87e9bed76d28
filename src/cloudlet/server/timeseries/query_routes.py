"""Native routes of the query API: points of a stream or across a project's streams (JSON
pages with keyset cursors; NDJSON, CSV, Arrow and Parquet streamed), the accumulation report,
and a stream event's file. The wire contract is docs/queries.md; the rules live in
`QueryService` and `ReportService`, the encodings in `formats`.

Parameters are read as text and checked here, so a bad one answers 400 problem+json."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Principal
from cloudlet.server.files.transfer_routes import serve_node
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import absolute_url
from cloudlet.server.services import Services
from cloudlet.server.timeseries import formats
from cloudlet.server.timeseries import queries as q
from cloudlet.server.timeseries.batch import precision_factor
from cloudlet.server.timeseries.routes import time_param
from cloudlet.server.timeseries.times import one_time

router = APIRouter(tags=["timeseries"])
PAGE_SIZE, MAX_PAGE_SIZE = 1000, 100_000
DURATION_UNITS = {"us": 1, "ms": 1000, "s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6,
                  "d": 86400 * 10**6, "w": 7 * 86400 * 10**6}
Many = Annotated[list[str] | None, Query(description="Repeatable: stream gids, device "
                                        "gids, keys or ids, or series names")]
_DURATION = re.compile(r"(\d+)(us|ms|s|m|h|d|w)")


def duration(text: str) -> int:
    """µs in `30s`, `1m`, `1h30m`, `1d`, `500ms` …"""
    clean = text.strip().lower()
    parts = _DURATION.findall(clean)
    if not clean or "".join(n + u for n, u in parts) != clean:
        raise Invalid(f"every must be a duration like 30s, 1m, 1h or 1d, not {text!r}.",
                      field="every")
    return sum(int(n) * DURATION_UNITS[u] for n, u in parts)


def _whole(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise Invalid(f"{name} must be a whole number, not {text!r}.", field=name) from None
    if value < 1:
        raise Invalid(f"{name} must be at least 1.", field=name)
    return value


def _number(text: str | None, name: str) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise Invalid(f"{name} must be a number, not {text!r}.", field=name) from None


def _order(text: str | None) -> bool:
    """True for descending."""
    if text in (None, "", "asc"):
        return False
    if text == "desc":
        return True
    raise Invalid(f"order must be asc or desc, not {text!r}.", field="order")


def _answer(request: Request, services: Services, caller: Principal, query: q.Query,
            page_size: int, fmt: str, cursor: str | None, chosen: tuple[str, ...]
            ) -> Response:
    """A JSON page, or the whole result streamed in the format asked for, of the `chosen`
    columns. The links repeat every param but the cursor, so `fields` too."""
    if fmt == "json":
        page = services.queries.page(caller, query, page_size=page_size, cursor=cursor)
        pieces = formats.json_page(
            page, page.next and absolute_url(request, cursor=page.next),
            page.previous and absolute_url(request, cursor=page.previous), chosen)
        if len(page.block) <= formats.SEND_ROWS:
            return Response(b"".join(pieces), media_type="application/json")
        return StreamingResponse(pieces, media_type="application/json")
    if cursor:
        raise Invalid("cursor pages JSON answers; other formats stream everything at once.",
                      field="cursor")
    result = services.queries.blocks(caller, query)
    gids = [s["gid"] for s in result.streams]
    body: Iterator[bytes]
    if fmt == "ndjson":
        body = formats.ndjson(result.blocks, gids, chosen)
    elif fmt == "csv":
        body = formats.csv(result.blocks, gids, result.downsampled, chosen)
    elif fmt == "arrow":
        body = formats.arrow(result.blocks, gids, result.downsampled, chosen)
    else:
        body = formats.parquet(result.blocks, gids, result.downsampled, chosen)
    return StreamingResponse(body, media_type=formats.MEDIA_TYPES[fmt])


def _points(request: Request, services: Services, caller: Principal, scope: dict[str, Any],
            p: PointParams) -> Response:
    fmt = formats.pick(p.format, request.headers.get("accept"))
    limit = _whole(p.limit, "limit")
    every = None if p.every in (None, "") else duration(p.every)
    if every is None and p.agg:
        raise Invalid("agg needs every (the bucket width), e.g. every=1h&agg=mean.",
                      field="agg")
    chosen = formats.columns(p.fields, every is not None)
    query = q.Query(
        **scope, start=time_param(p.start, p.precision, "start"),
        end=time_param(p.end, p.precision, "end"), lastn=_whole(p.lastn, "lastn"),
        limit=None if fmt == "json" else limit, descending=_order(p.order),
        gt=_number(p.gt, "gt"), gte=_number(p.gte, "gte"), lt=_number(p.lt, "lt"),
        lte=_number(p.lte, "lte"), eq=_number(p.eq, "eq"), every=every, agg=p.agg or "mean")
    page_size = min(limit or PAGE_SIZE, MAX_PAGE_SIZE)
    return _answer(request, services, caller, query, page_size, fmt, p.cursor or None,
                   chosen)


@dataclass
class PointParams:
    """The common query parameters, as FastAPI reads (and documents) them: text, checked
    by `_points`."""

    start: str | None = Query(None, description="Inclusive; ISO-8601 or epoch in `precision`")
    end: str | None = Query(None, description="Inclusive")
    precision: str | None = Query(None, description="s|ms|us|ns (default ms)")
    lastn: str | None = Query(None, description="The N latest points of each stream")
    limit: str | None = Query(None, description="JSON: page size (default 1000, max 100000); "
                              "other formats: total cap")
    order: str | None = Query(None, description="asc (default) or desc")
    gt: str | None = None
    gte: str | None = None
    lt: str | None = None
    lte: str | None = None
    eq: str | None = None
    every: str | None = Query(None, description="Bucket width: 30s, 1m, 1h, 1d")
    agg: str | None = Query(None, description="mean|min|max|sum|count|first|last")
    format: str | None = Query(None, description="json|ndjson|csv|arrow|parquet")
    cursor: str | None = Query(None, description="From `next` / `previous`")
    fields: str | None = Query(None, description="Columns to answer, comma-separated: any "
                               "of stream,timestamp,time,value,output_value (count with "
                               "every); default all")


@router.get("/streams/{stream}/points")
def stream_points(stream: str, request: Request, caller: Caller, services: Svc,
                  params: Annotated[PointParams, Depends()]) -> Response:
    """One stream's points: filters, lastn, downsampling, in JSON pages or streamed as
    NDJSON, CSV, Arrow or Parquet (docs/queries.md)."""
    return _points(request, services, caller, {"streams": (stream,)}, params)


@router.get("/projects/{project}/points")
def project_points(project: str, request: Request, caller: Caller, services: Svc,
                   params: Annotated[PointParams, Depends()],
                   stream: Many = None, device: Many = None, series: Many = None
                   ) -> Response:
    """Points across a project's streams (all of them, or those the scope names), merged
    in time order."""
    return _points(request, services, caller, {
        "project": project, "streams": tuple(stream or ()), "devices": tuple(device or ()),
        "series": tuple(series or ())}, params)


# --- the accumulation report --------------------------------------------------------------

class SumRequest(BaseModel):
    sources: list[str] = Field(description="Project, device or stream gids")
    start: int | float | str | None = Field(default=None, description="ISO-8601 or epoch ms")
    end: int | float | str | None = None


def _body_time(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    return one_time(value, precision_factor("ms"), name)


@router.post("/reports/sum")
def report_sum(body: SumRequest, caller: Caller, services: Svc) -> Response:
    """The sum of every stream the sources name over [start, end], in its output unit,
    with a total per unit (IOTile's accumulation report)."""
    found = services.reports.accumulation(caller, body.sources,
                                          start=_body_time(body.start, "start"),
                                          end=_body_time(body.end, "end"))
    return Response(orjson.dumps(found), media_type="application/json")


# --- a stream event's file ----------------------------------------------------------------

@router.get("/streams/{stream}/events/{event_id}/file", response_class=StreamingResponse)
async def stream_event_file(stream: str, event_id: int, request: Request, caller: Caller,
                            services: Svc) -> Response:
    """The file attached to the event (404 when it has none)."""
    found = await run_in_threadpool(services.streams.get, caller, stream)
    event = await run_in_threadpool(services.stream_events.get, caller, event_id)
    if event["stream"] != found["gid"]:
        raise NotFound(f"Stream {stream!r} has no event {event_id}.")
    if event["file"] is None:
        raise NotFound(f"Event {event_id} has no file.")
    return await serve_node(request, services, caller, str(event["project_id"]),
                            event["file"])
