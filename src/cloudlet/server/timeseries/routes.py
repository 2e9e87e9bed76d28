"""Native routes of devices, variables, streams and stream events (points: query_routes).
`{project}` is an id, gid or uuid; `{device}` a gid, key or id; `{stream}` a stream gid."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from cloudlet.server.accounts.schemas import TokenInfo
from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.principal import Principal
from cloudlet.server.files.blobs import too_large
from cloudlet.server.files.ingest import receive_multipart
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope
from cloudlet.server.services import Services
from cloudlet.server.timeseries.batch import check_device_key, precision_factor
from cloudlet.server.timeseries.times import one_time

router = APIRouter(tags=["timeseries"])


class Unit(BaseModel):
    unit_short: str = ""
    unit_full: str = ""
    m: int = Field(default=1, description="Integer multiply")
    d: int = Field(default=1, description="Integer divide")
    o: float = Field(default=0.0, description="Offset")


class UnitChange(BaseModel):
    unit_short: str | None = Field(default=None, max_length=20)
    unit_full: str | None = Field(default=None, max_length=100)
    m: int | None = None
    d: int | None = None
    o: float | None = None

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Device(BaseModel):
    id: int
    gid: str
    key: str | None
    label: str
    project: str = Field(description="The project's gid")
    project_id: int
    tags: dict[str, str]
    stream_count: int
    created_at: datetime


class DeviceCreate(BaseModel):
    key: str | None = Field(default=None, description="External key (A-Z a-z 0-9 _ : -), "
                            "unique in the project; generated when omitted")
    label: str = Field(default="", max_length=200)
    tags: dict[str, str] | None = None


class DeviceUpdate(BaseModel):
    label: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] | None = None


class DeviceTokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)
    expires_in: int | None = Field(default=None, description="Lifetime in seconds")


class NewToken(TokenInfo):
    token: str = Field(description="The secret, shown this once")


class Variable(BaseModel):
    id: int
    gid: str
    lid: str = Field(description="Project-local id, 4 hex digits")
    name: str
    project: str
    input_unit: Unit
    output_unit: Unit
    created_at: datetime


class VariableCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    lid: str | None = Field(default=None, description="4 hex digits; next free if omitted")
    input_unit: UnitChange | None = None
    output_unit: UnitChange | None = None


class VariableUpdate(BaseModel):
    input_unit: UnitChange | None = None
    output_unit: UnitChange | None = None


class StreamOut(BaseModel):
    id: int
    gid: str
    project: str
    project_id: int
    device: str
    device_key: str | None
    variable: str
    lid: str
    series: str
    label: str
    tags: dict[str, str]
    input_unit: Unit
    output_unit: Unit = Field(description="Effective: the stream's overrides over the "
                              "variable's unit")
    last_timestamp: int | None = Field(description="Newest timestamp written (µs)")
    created_at: datetime


class StreamUpdate(BaseModel):
    label: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] | None = None
    input_unit: UnitChange | None = None
    output_unit: UnitChange | None = None
    clear_units: bool = Field(default=False, description="Drop the overrides first")


class StreamEvent(BaseModel):
    id: int
    stream: str
    timestamp: int = Field(description="µs since the epoch")
    extra_data: dict[str, Any]
    file: int | None = Field(description="Attached file: its id in the project's files")
    created_at: datetime


class StreamEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: int | float | str | None = Field(default=None, description="Epoch in "
                                                "`precision`, or ISO-8601; default now")
    precision: str | None = None
    extra_data: dict[str, Any] | None = None
    file: StrictInt | StrictStr | None = Field(default=None, description="An existing file of the "
                                   "stream's project to attach: its id")


EVENT_FIELDS = ("timestamp", "precision", "extra_data", "file")
EVENT_FOLDER = "/stream-events"
EVENT_DOC: dict[str, Any] = {"requestBody": {"content": {
    "application/json": {"schema": StreamEventCreate.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "timestamp": {"type": "string", "description": "Epoch in `precision`, or ISO-8601"},
        "precision": {"type": "string"},
        "extra_data": {"type": "string", "description": "A JSON object, as text"},
    }}},
}}}


def _unit(change: UnitChange | None) -> dict[str, Any] | None:
    return None if change is None else change.given()


def time_param(value: str | None, precision: str | None, name: str) -> int | None:
    """A query-string time: ISO-8601, or an epoch number in `precision` (default ms). A bad
    one is a 400 naming the parameter (not the write path's "bad rows")."""
    if value is None or value == "":
        return None
    return one_time(_epoch_or_iso(value), precision_factor(precision or "ms"), name)


def _epoch_or_iso(text: str) -> int | float | str:
    """Text that spells an epoch number as that number; anything else stays text (ISO)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text) if text.replace(".", "", 1).lstrip("-").isdigit() else text
        except ValueError:
            return text


# --- devices ---------------------------------------------------------------------------

@router.get("/projects/{project}/devices", response_model=Page[Device])
def list_devices(project: str, request: Request, page: Paging, caller: Caller, services: Svc,
                 search: str | None = Query(None, max_length=100)) -> dict[str, Any]:
    total, found = services.devices.list(caller, project, limit=page.limit,
                                         offset=page.offset, search=search)
    return envelope(request, page, total, found)


@router.post("/projects/{project}/devices", response_model=Device, status_code=201)
def register_device(project: str, body: DeviceCreate, caller: Caller, services: Svc
                    ) -> dict[str, Any]:
    """Register a device with the key you choose, or one the server generates; 409 when the
    key is taken."""
    if body.key is not None:
        check_device_key(body.key)
    return services.devices.register(caller, project, key=body.key, label=body.label,
                                     tags=body.tags)


@router.get("/projects/{project}/devices/{device}", response_model=Device)
def get_device(project: str, device: str, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.devices.get(caller, project, device)


@router.patch("/projects/{project}/devices/{device}", response_model=Device)
def update_device(project: str, device: str, body: DeviceUpdate, caller: Caller,
                  services: Svc) -> dict[str, Any]:
    return services.devices.update(caller, project, device, label=body.label, tags=body.tags)


@router.post("/projects/{project}/devices/{device}/tokens", response_model=NewToken,
             status_code=201)
def create_device_token(project: str, device: str, body: DeviceTokenCreate, caller: Caller,
                        services: Svc) -> dict[str, Any]:
    """A write token for this device alone: it writes the device's streams, nothing else."""
    info, secret = services.devices.create_token(caller, project, device, name=body.name,
                                                 expires_in=body.expires_in)
    return {**info, "token": secret}


# --- variables -------------------------------------------------------------------------

@router.get("/projects/{project}/variables", response_model=Page[Variable])
def list_variables(project: str, request: Request, page: Paging, caller: Caller,
                   services: Svc) -> dict[str, Any]:
    total, found = services.streams.list_variables(caller, project, limit=page.limit,
                                                   offset=page.offset)
    return envelope(request, page, total, found)


@router.post("/projects/{project}/variables", response_model=Variable, status_code=201)
def create_variable(project: str, body: VariableCreate, caller: Caller, services: Svc
                    ) -> dict[str, Any]:
    return services.streams.create_variable(
        caller, project, name=body.name, lid=body.lid, input_unit=_unit(body.input_unit),
        output_unit=_unit(body.output_unit))


@router.get("/projects/{project}/variables/{variable}", response_model=Variable)
def get_variable(project: str, variable: str, caller: Caller, services: Svc
                 ) -> dict[str, Any]:
    return services.streams.get_variable(caller, project, variable)


@router.patch("/projects/{project}/variables/{variable}", response_model=Variable)
def update_variable(project: str, variable: str, body: VariableUpdate, caller: Caller,
                    services: Svc) -> dict[str, Any]:
    return services.streams.update_variable(caller, project, variable,
                                            input_unit=_unit(body.input_unit),
                                            output_unit=_unit(body.output_unit))


# --- streams ---------------------------------------------------------------------------

@router.get("/projects/{project}/streams", response_model=Page[StreamOut])
def list_streams(project: str, request: Request, page: Paging, caller: Caller, services: Svc,
                 device: str | None = None, series: str | None = None) -> dict[str, Any]:
    total, found = services.streams.list(caller, project, limit=page.limit,
                                         offset=page.offset, device=device, series=series)
    return envelope(request, page, total, found)


@router.get("/streams/{stream}", response_model=StreamOut)
def get_stream(stream: str, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.streams.get(caller, stream)


@router.patch("/streams/{stream}", response_model=StreamOut)
def update_stream(stream: str, body: StreamUpdate, caller: Caller, services: Svc
                  ) -> dict[str, Any]:
    """Change the label, tags or unit overrides (fields not given keep the variable's)."""
    return services.streams.update(caller, stream, label=body.label, tags=body.tags,
                                   input_unit=_unit(body.input_unit),
                                   output_unit=_unit(body.output_unit),
                                   clear_units=body.clear_units)


@router.get("/streams/{stream}/events", response_model=Page[StreamEvent])
def list_stream_events(stream: str, request: Request, page: Paging, caller: Caller,
                       services: Svc, start: str | None = None, end: str | None = None,
                       precision: str | None = None, has_file: str | None = None,
                       order: str | None = None) -> dict[str, Any]:
    """Events in [start, end] (inclusive), `has_file=true|false`, `order=asc|desc`."""
    if has_file not in (None, "", "true", "false"):
        raise Invalid(f"has_file must be true or false, not {has_file!r}.", field="has_file")
    if order not in (None, "", "asc", "desc"):
        raise Invalid(f"order must be asc or desc, not {order!r}.", field="order")
    total, found = services.stream_events.list(
        caller, stream, limit=page.limit, offset=page.offset,
        start=time_param(start, precision, "start"), end=time_param(end, precision, "end"),
        has_file=None if not has_file else has_file == "true", descending=order == "desc")
    return envelope(request, page, total, found)


@router.post("/streams/{stream}/events", response_model=StreamEvent, status_code=201,
             openapi_extra=EVENT_DOC)
async def create_stream_event(stream: str, request: Request, caller: Caller, services: Svc
                              ) -> Response:
    """A JSON body (`timestamp`, `precision`, `extra_data`, `file`: an existing file's id),
    or a multipart form whose `file` part is stored in the project's files under
    `/stream-events/` and attached; unknown fields are a 400."""
    kind = request.headers.get("content-type", "")
    if kind.lower().startswith("multipart/form-data"):
        found = await _create_with_upload(stream, request, kind, caller, services)
    else:
        body = _event_body(await request.body())
        found = await run_in_threadpool(lambda: services.stream_events.create(
            caller, stream, timestamp=body.timestamp, precision=body.precision,
            extra_data=body.extra_data, file=body.file))
    return Response(StreamEvent.model_validate(found).model_dump_json(), status_code=201,
                    media_type="application/json")


def _event_body(raw: bytes) -> StreamEventCreate:
    """The JSON body, checked field by field: unknown fields are a 400 (not dropped)."""
    try:
        parsed = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise Invalid(f"The request body is not valid JSON: {error}.") from None
    if not isinstance(parsed, dict):
        raise Invalid("The request body must be a JSON object.")
    _refuse_unknown(parsed, EVENT_FIELDS)
    try:
        return StreamEventCreate.model_validate(parsed)
    except ValidationError as error:
        raise RequestValidationError(error.errors(), body=parsed) from None


def _refuse_unknown(given: Any, known: tuple[str, ...]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise Invalid(f"Unknown field(s) {', '.join(map(repr, unknown))}; a stream event "
                      f"takes {', '.join(known)}.", field=unknown[0])


async def _create_with_upload(stream: str, request: Request, kind: str, caller: Principal,
                              services: Services) -> dict[str, Any]:
    limit = services.settings.max_file_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + (1 << 20):  # a form is a little more
        raise too_large(limit)
    form = await receive_multipart(request.stream(), kind, services.files.writer,
                                   file_fields=("file",))
    staged = form.staged
    try:
        if staged is None:
            raise Invalid("The form has no file part (name it 'file'); without a file, "
                          "send JSON.")
        _refuse_unknown(form.fields, EVENT_FIELDS)
        extra = form.fields.get("extra_data")
        try:
            extra_data = orjson.loads(extra) if extra else None
        except orjson.JSONDecodeError:
            raise Invalid("extra_data must be a JSON object (as text in the form).",
                          field="extra_data") from None
        name = (re.split(r"[\\/]", form.filename or "")[-1] or "event")[:200]
        when = form.fields.get("timestamp", "").strip()
    except BaseException:
        if staged is not None:
            await run_in_threadpool(services.files.blobs.discard, staged)
        raise
    return await run_in_threadpool(lambda: services.stream_events.create_with_upload(
        caller, stream, staged, filename=name, content_type=form.file_type,
        folder=EVENT_FOLDER, timestamp=_epoch_or_iso(when) if when else None,
        precision=form.fields.get("precision") or None, extra_data=extra_data))
