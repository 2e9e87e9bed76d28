"""IOTile's stream data: `stream/<s--…>/data/` and `data/?filter=<s--|d--|p--…>`, with
`lastn`, `start` and `end` (ISO-8601, both inclusive), `page` and `page_size`, answered from
the query service.

The client pages by number (`page=1, 2, …`, never following `next`), while the query
service pages by keyset cursor: page N walks the cursors to its start in steps of many
rows, so a deep page costs a read of the rows before it (in bounded memory) and a large
`page_size` is the cheap way to read a long stream.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from cloudlet.gid import StreamSlug
from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.iotile import wire
from cloudlet.server.faces.iotile.wire import Paging, principal, services_of
from cloudlet.server.services import Services
from cloudlet.server.timeseries.queries import Query

router = APIRouter(prefix="/api/v1")
SKIP_STEP = 65_536  # rows per read while walking to a deep page


@router.get("/stream/{slug}/data/")
def stream_data(slug: str, request: Request) -> Response:
    caller = principal(request)
    return _answer(request, caller, _query(request, streams=(slug,)), extra=False)


@router.get("/data/")
def data(request: Request, filter: str | None = None) -> Response:
    """`filter` names a stream, a device or a project by its slug (IOTile requires one)."""
    caller = principal(request)
    services = services_of(request)
    target = (filter or "").strip()
    kind = target[:3].lower()
    if kind == "s--":
        query = _query(request, streams=(target,))
    elif kind == "p--":
        query = _query(request, project=target)
    elif kind == "d--":
        device = services.devices.locate(caller, target)
        query = _query(request, project=str(device["project_id"]), devices=(target,))
    else:
        raise Invalid("data needs ?filter= with a stream, device or project slug "
                      "(s--…, d--…, p--…).", field="filter")
    return _answer(request, caller, query, extra=True)


def _query(request: Request, **scope: Any) -> Query:
    params = request.query_params
    lastn = params.get("lastn")
    return Query(**scope, start=wire.micros(params.get("start"), "start"),
                 end=wire.micros(params.get("end"), "end"),
                 lastn=None if lastn in (None, "") else wire.whole(lastn, "lastn", 0, least=1))


def _answer(request: Request, caller: Principal, query: Query, *, extra: bool) -> Response:
    services, paging = services_of(request), Paging(request)
    count, rows, streams = _page(services, caller, query, paging)
    return JSONResponse(paging.answer(count, [_record(r, streams, extra) for r in rows]))


def _page(services: Services, caller: Principal, query: Query, paging: Paging
          ) -> tuple[int, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Page `paging.page` of the query: (total, rows, the streams by gid)."""
    cursor, skip = None, paging.offset
    while skip > 0:
        step = min(skip, SKIP_STEP)
        passed = services.queries.page(caller, query, page_size=step, cursor=cursor)
        if passed.next is None:  # the page is past the end
            return passed.count, [], {}
        cursor, skip = passed.next, skip - step
    found = services.queries.page(caller, query, page_size=paging.size, cursor=cursor)
    return found.count, found.as_rows(), {s["gid"]: s for s in found.streams}


def _record(row: dict[str, Any], streams: dict[str, dict[str, Any]], extra: bool
            ) -> dict[str, Any]:
    """A point as IOTile's data serializers gave it: `value` is the stored value,
    `int_value` the same when it is whole, `output_value` in the stream's output unit."""
    value = row["value"]
    record: dict[str, Any] = {
        "type": "Num", "timestamp": wire.iso(row["timestamp"]),
        "int_value": int(value) if float(value).is_integer() else None, "value": value,
        "display_value": f"{row['output_value']:g}", "output_value": row["output_value"],
        "streamer_local_id": None, "stream": row["stream"],
    }
    if extra:
        parts = StreamSlug(row["stream"]).get_parts()
        record.update(project=str(parts["project"]), device=str(parts["device"]),
                      variable=str(parts["variable"]), dirty_ts=False, status="cln")
    return record
