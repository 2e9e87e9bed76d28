"""IOTile's uploads: a stream event with a file (`event/upload/`) and a streamer report
(`streamer/report/`). Both land in the files service, where the native API, the SDK and the
CLI list and download them: an event's file in its stream's project under
`/iotile/events/`, a report in the caller's home project under `/iotile/streamer-reports/`.
IOTile's binary report format is stored as it came, not parsed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.faces.iotile import shapes, wire
from cloudlet.server.faces.iotile.wire import Paging, principal, services_of
from cloudlet.server.files.blobs import too_large
from cloudlet.server.files.ingest import Form, receive_multipart
from cloudlet.server.files.transfer_routes import serve_node
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/v1")
EVENTS = "/iotile/events"
REPORTS = "/iotile/streamer-reports"


async def _form(request: Request, services: Services) -> Form:
    """The multipart body with its `file` part staged (the client's only upload shape)."""
    limit = services.settings.max_file_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + (1 << 20):
        raise too_large(limit)
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise Invalid("Upload with multipart/form-data and the file in a part named 'file'.")
    form = await receive_multipart(request.stream(), kind, services.files.writer,
                                   file_fields=("file",))
    if form.staged is None:
        raise Invalid("The form has no file part (name it 'file').")
    return form


def _name(filename: str | None, default: str) -> str:
    return (re.split(r"[\\/]", filename or "")[-1] or default)[:200]


# --- stream events --------------------------------------------------------------------------

@router.post("/event/upload/")
async def upload_event(request: Request) -> Response:
    """Multipart `file` plus `stream`, `timestamp` (ISO-8601) and `encoded_extra_data`
    (JSON text) → 201 with the event; its file is a file of the stream's project."""
    services = services_of(request)
    caller = await run_in_threadpool(principal, request)
    form = await _form(request, services)
    staged = form.staged
    assert staged is not None
    try:
        gid = form.fields.get("stream") or ""
        if not gid:
            raise Invalid("stream is required (an s--… slug).", field="stream")
        ts = wire.micros(form.fields.get("timestamp"), "timestamp")
        extra = _extra(form.fields.get("encoded_extra_data"))
    except BaseException:
        await run_in_threadpool(services.files.blobs.discard, staged)
        raise
    event = await run_in_threadpool(lambda: services.stream_events.create_with_upload(
        caller, gid, staged, filename=_name(form.filename, "event"),
        content_type=form.file_type, folder=EVENTS, timestamp=ts, precision="us",
        extra_data=extra))
    return JSONResponse(shapes.event(event), status_code=201)


def _extra(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid("encoded_extra_data must be JSON text.",
                      field="encoded_extra_data") from None
    if not isinstance(found, dict):
        raise Invalid("encoded_extra_data must be a JSON object.", field="encoded_extra_data")
    return found


@router.get("/event/")
def list_events(request: Request, filter: str | None = None) -> Response:
    """`?filter=<s-- slug>` (IOTile needs a filter here too) → a DRF page of events."""
    services, paging = services_of(request), Paging(request)
    caller = principal(request)
    if not filter or not filter.lower().startswith("s--"):
        raise Invalid("Name the stream: ?filter=s--….", field="filter")
    total, found = services.stream_events.list(caller, filter, limit=paging.size,
                                               offset=paging.offset)
    return JSONResponse(paging.answer(total, [shapes.event(e) for e in found]))


@router.get("/event/{event_id}/")
def get_event(event_id: int, request: Request) -> Response:
    caller = principal(request)
    return JSONResponse(shapes.event(services_of(request).stream_events.get(caller, event_id)))


@router.get("/event/{event_id}/data/")
async def event_data(event_id: int, request: Request) -> Response:
    """The event's raw data: the file uploaded with it, as it came (404 without one)."""
    services = services_of(request)
    caller = await run_in_threadpool(principal, request)
    event = await run_in_threadpool(services.stream_events.get, caller, event_id)
    if event["file"] is None:
        raise NotFound(f"Event {event_id} has no data file.")
    return await serve_node(request, services, caller, str(event["project_id"]), event["file"])


# --- streamer reports -----------------------------------------------------------------------

@router.post("/streamer/report/")
async def upload_report(request: Request, timestamp: str | None = None) -> Response:
    """Multipart `file`, `?timestamp=` → 201; stored as sent (not parsed: `count` is 0)."""
    services = services_of(request)
    caller = await run_in_threadpool(principal, request)
    if not timestamp:
        raise Invalid("timestamp is required (?timestamp=, when the report was sent).",
                      field="timestamp")
    await run_in_threadpool(services.files.check_upload, caller, "home")
    form = await _form(request, services)
    staged = form.staged
    assert staged is not None

    def run() -> dict[str, Any]:
        try:
            folder, _ = services.files.mkdir(caller, "home", path=REPORTS)
        except BaseException:
            services.files.blobs.discard(staged)
            raise
        node, _ = services.files.create_file(
            caller, "home", staged, name=_name(form.filename, "report"), parent=folder["id"],
            content_type=form.file_type or "application/octet-stream",
            metadata={"timestamp": timestamp, "kind": "iotile-streamer-report"},
            on_conflict="rename")
        return shapes.report(node)

    return JSONResponse(await run_in_threadpool(run), status_code=201)


@router.get("/streamer/report/")
def list_reports(request: Request) -> Response:
    """The reports uploaded here, newest last."""
    services, paging = services_of(request), Paging(request)
    caller = principal(request)
    try:
        folder = services.files.by_path(caller, "home", REPORTS)
    except NotFound:
        return JSONResponse(paging.answer(0, []))
    total, found = services.files.children(caller, "home", folder["id"], limit=paging.size,
                                           offset=paging.offset)
    return JSONResponse(paging.answer(total, [shapes.report(n) for n in found]))
