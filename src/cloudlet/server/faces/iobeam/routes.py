"""The iobeam endpoints the client uses (`/iobeam/v1/…`): project tokens, devices, imports and
exports, each a translation onto the tokens, devices, ingest and query services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.schema import utcnow
from cloudlet.server.faces.iobeam import exports, shapes, wire
from cloudlet.server.services import Services
from cloudlet.server.timeseries.parsing import parse_document
from cloudlet.server.timeseries.wire import decode_body, read_body

router = APIRouter(prefix="/v1")
TOKEN_NAME = "iobeam project token"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# --- tokens -----------------------------------------------------------------------------------

@router.get("/tokens/project")
async def mint_project_token(request: Request) -> Response:
    """A project token (a refreshable JWT) for the user token presented: `project_id`,
    optional `duration` (`5w`; default 7 days), `read`/`write`/`admin`, `refreshable` and
    `device_id` (an iobeam device id: a device token)."""
    services = _services(request)
    q = request.query_params
    caller = await run_in_threadpool(wire.principal, services, request)
    project = wire.project_id(q.get("project_id"))
    scope = shapes.scope_of(wire.flag(q.get("read"), "read"), wire.flag(q.get("write"), "write"),
                            wire.flag(q.get("admin"), "admin"))
    lifetime = wire.duration(q.get("duration"))
    refreshable = wire.flag(q.get("refreshable"), "refreshable")
    device_key = q.get("device_id") or None

    def run() -> dict[str, Any]:
        device = (services.devices.get(caller, str(project), device_key)["id"]
                  if device_key else None)
        info, token = services.tokens.create(
            caller, name=TOKEN_NAME, scope=scope, project=str(project), device_id=device,
            expires_in=lifetime, kind="jwt", refreshable=refreshable is not False)
        return shapes.token_answer(info, token)

    return JSONResponse(await run_in_threadpool(run))


@router.post("/tokens/project")
async def refresh_project_token(request: Request) -> Response:
    """`{refresh_token}` → a new JWT for that project token, even an expired one (unless it
    was revoked); no other credential is needed."""
    body = await wire.read_object(request)
    old = body.get("refresh_token")
    if not isinstance(old, str) or not old:
        raise Invalid("Send {\"refresh_token\": \"<project token>\"}.", field="refresh_token")
    info, token = await run_in_threadpool(_services(request).tokens.refresh, old)
    return JSONResponse(shapes.token_answer(info, token))


# --- devices ----------------------------------------------------------------------------------

@router.post("/devices")
async def register_device(request: Request) -> Response:
    """`{project_id, device_id?, device_name?}` → 201; without `device_id` the server makes
    one. A device id already in the project → code 150 (the client's DuplicateIdError)."""
    services = _services(request)
    caller = await run_in_threadpool(wire.principal, services, request)
    body = await wire.read_object(request)
    project = wire.project_id(body.get("project_id"))
    key = wire.optional_text(body, "device_id")
    name = wire.optional_text(body, "device_name") or ""
    device = await run_in_threadpool(services.devices.register, caller, str(project), key=key,
                                     label=name)
    return JSONResponse(shapes.device_answer(device), status_code=201)


@router.get("/devices/timestamp")
async def server_timestamp(request: Request) -> Response:
    """The server's clock in milliseconds, for devices without one of their own."""
    await run_in_threadpool(wire.principal, _services(request), request)
    return JSONResponse({"server_timestamp": wire.millis(utcnow())})


# --- imports ----------------------------------------------------------------------------------

@router.post("/imports")
async def import_points(request: Request, fmt: str | None = None) -> Response:
    """`{project_id, device_id, sources, timefmt}`, `sources` in the table format
    (`fmt=table`) or the plain one → exactly 200 once committed (nothing is written if any
    row is bad). Series are variables; the device is registered on first use."""
    if fmt not in (None, "", "table"):
        raise Invalid(f"Unknown fmt {fmt!r}; send fmt=table or nothing.", field="fmt")
    services = _services(request)
    caller = await run_in_threadpool(wire.principal, services, request)
    limit = services.settings.max_write_body
    raw = decode_body(await read_body(request, limit), request.headers.get("content-encoding"),
                      limit)
    body = wire.parse_object(raw)
    project = wire.project_id(body.get("project_id"))
    device = wire.optional_text(body, "device_id")
    if device is None:
        raise Invalid("Name the device: device_id.", field="device_id")
    document = shapes.import_document(body, table=fmt == "table")
    batch = await run_in_threadpool(parse_document, document, None)
    written = await services.ingest.write(caller, project, batch, device=device)
    return JSONResponse({"points": written["points"]})


# --- exports ----------------------------------------------------------------------------------

@router.get("/exports/{project}")
@router.get("/exports/{project}/{device}")
@router.get("/exports/{project}/{device}/{series}")
async def export_points(request: Request, project: str, device: str | None = None,
                        series: str | None = None) -> Response:
    """What `iobeam.makeQuery` asks for: every matching point of each series in the scope,
    read through the query service and streamed as iobeam's `{result, timefmt}`."""
    services = _services(request)
    caller = await run_in_threadpool(wire.principal, services, request)
    export = exports.read_export(project, device, series, request.query_params)
    body = await run_in_threadpool(exports.answer, services, caller, export)
    return StreamingResponse(body, media_type="application/json")
