"""Native routes of datasets, rows, features, exports, imports and realtime positions.

`{project}` is an id, gid or uuid; `{dataset}` the dataset's int id. Row and feature pages
are encoded with orjson and the upload and export paths stream, skipping FastAPI's
conveniences on those hot paths.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from cloudlet.server.core.errors import Invalid
from cloudlet.server.datasets import upload, wire
from cloudlet.server.datasets.export import FORMATS
from cloudlet.server.datasets.imports import ImportSource
from cloudlet.server.datasets.readers.formats import check_filename
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope
from cloudlet.server.http.problems import problem

router = APIRouter(tags=["datasets"])
BASE = "/projects/{project}/datasets"
ROW = BASE + "/{dataset}/rows/{amigo_id}"
FEATURE = BASE + "/{dataset}/features/{amigo_id}"
FILTERS = ("Filters: `bbox=min_lon,min_lat,max_lon,max_lat` (bounding boxes that meet it), "
           "`<column>=<value>`, `<column>__<op>=<value>` with op one of eq, ne, lt, le, gt, "
           "ge, contains, in (comma-separated), isnull (true/false).")


class ColumnSpec(BaseModel):
    name: str = Field(max_length=63)
    type: Literal["text", "integer", "real", "boolean", "timestamp", "json", "geometry"]
    geometry_type: str | None = Field(
        default=None, description="point, linestring, polygon, multipoint, multilinestring, "
        "multipolygon or geometry (any)")


class DatasetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    kind: Literal["table", "realtime"] = "table"
    columns: list[ColumnSpec] = Field(default_factory=list, max_length=1000)


class DatasetUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    add_columns: list[ColumnSpec] = Field(
        default_factory=list, max_length=1000,
        description="New columns, null in existing rows")


class DatasetColumn(BaseModel):
    name: str
    type: str
    geometry_type: str | None = None


class Dataset(BaseModel):
    id: int
    project: int
    project_gid: str
    name: str
    description: str
    kind: str
    table_name: str = Field(description="The SQL name of the dataset's table")
    columns: list[DatasetColumn]
    geometry_column: str | None
    geometry_type: str | None
    feature_count: int
    bbox: list[float] | None = Field(description="[min_lon, min_lat, max_lon, max_lat]")
    created_at: datetime
    updated_at: datetime


class ImportJob(BaseModel):
    id: str
    project: int
    filename: str
    format: str
    state: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    progress: float = Field(description="0 to 1: scanning is the first half, loading the rest")
    bytes_total: int
    bytes_done: int
    rows_total: int
    rows_done: int
    datasets: list[Dataset]
    error: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None
    upload_id: str | None = Field(default=None, description="The resumable upload it was "
                                  "started from")


class Positions(BaseModel):
    positions: list[dict[str, Any]] = Field(
        min_length=1, description="[{object_id, latitude, longitude, timestamp?, …extra}]")


def _json(data: Any, status: int = 200, media: str = "application/json") -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC),
                    status_code=status, media_type=media)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Invalid(f"The request body is not valid JSON: {error}.") from None


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


# --- datasets --------------------------------------------------------------------------------

@router.get(BASE, response_model=Page[Dataset])
def list_datasets(project: str, request: Request, page: Paging, caller: Caller, services: Svc,
                  search: str | None = Query(None, max_length=100, description="Name contains")
                  ) -> dict[str, Any]:
    """The project's datasets."""
    total, found = services.datasets.list(caller, project, limit=page.limit,
                                          offset=page.offset, search=search)
    return envelope(request, page, total, found)


@router.post(BASE, response_model=Dataset, status_code=201)
def create_dataset(project: str, body: DatasetCreate, caller: Caller, services: Svc
                   ) -> dict[str, Any]:
    """An empty dataset with typed columns (`kind: realtime` for moving objects)."""
    return services.datasets.create(
        caller, project, name=body.name, description=body.description, kind=body.kind,
        columns=[c.model_dump() for c in body.columns])


@router.get(BASE + "/{dataset}", response_model=Dataset)
def get_dataset(project: str, dataset: int, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.datasets.get(caller, project, dataset)


@router.patch(BASE + "/{dataset}", response_model=Dataset)
def update_dataset(project: str, dataset: int, body: DatasetUpdate, caller: Caller,
                   services: Svc) -> dict[str, Any]:
    return services.datasets.update(caller, project, dataset, name=body.name,
                                    description=body.description,
                                    add_columns=[c.model_dump() for c in body.add_columns])


@router.delete(BASE + "/{dataset}", status_code=204)
def delete_dataset(project: str, dataset: int, caller: Caller, services: Svc) -> Response:
    """Delete a dataset and its table."""
    services.datasets.delete(caller, project, dataset)
    return Response(status_code=204)


# --- rows ------------------------------------------------------------------------------------

@router.get(BASE + "/{dataset}/rows", response_model=Page[dict[str, Any]],
            description="Rows as JSON objects, geometries as GeoJSON. " + FILTERS)
def list_rows(project: str, dataset: int, request: Request, page: Paging, caller: Caller,
              services: Svc) -> Response:
    _, total, rows = services.datasets.rows(caller, project, dataset, params=_params(request),
                                            limit=page.limit, offset=page.offset)
    return _json(envelope(request, page, total, rows, wire.row_json))


def _row_list(body: Any) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("rows"), list):
        return list(body["rows"])
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise Invalid("Send a row object, a list of rows, or {\"rows\": [...]}.")


@router.post(BASE + "/{dataset}/rows", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/json": {}}}})
async def add_rows(project: str, dataset: int, request: Request, caller: Caller,
                   services: Svc) -> Response:
    """Add one row (an object) or many (`{"rows": [...]}` or a list); all or none."""
    rows = _row_list(await _body(request))
    _, added = await run_in_threadpool(services.datasets.add_rows, caller, project, dataset,
                                       rows)
    if len(added) == 1 and not (isinstance(rows, list) and len(rows) > 1):
        return _json(wire.row_json(added[0]), 201)
    return _json({"rows": [wire.row_json(r) for r in added]}, 201)


@router.get(ROW, response_model=dict[str, Any])
def get_row(project: str, dataset: int, amigo_id: str, caller: Caller, services: Svc
            ) -> Response:
    return _json(wire.row_json(services.datasets.row(caller, project, dataset, amigo_id)[1]))


@router.patch(ROW, response_model=dict[str, Any],
              openapi_extra={"requestBody": {"content": {"application/json": {}}}})
async def update_row(project: str, dataset: int, amigo_id: str, request: Request,
                     caller: Caller, services: Svc) -> Response:
    """Change some of a row's values."""
    body = await _body(request)
    if not isinstance(body, dict):
        raise Invalid("Send an object of the columns to change.")
    _, row = await run_in_threadpool(services.datasets.update_row, caller, project, dataset,
                                     amigo_id, body)
    return _json(wire.row_json(row))


@router.delete(ROW, status_code=204)
def delete_row(project: str, dataset: int, amigo_id: str, caller: Caller, services: Svc
               ) -> Response:
    services.datasets.delete_row(caller, project, dataset, amigo_id)
    return Response(status_code=204)


# --- features (the same rows as GeoJSON) ----------------------------------------------------

@router.get(BASE + "/{dataset}/features", response_model=dict[str, Any],
            description="A page of rows as a GeoJSON FeatureCollection (with count, next, "
            "previous). " + FILTERS)
def list_features(project: str, dataset: int, request: Request, page: Paging, caller: Caller,
                  services: Svc) -> Response:
    found, total, rows = services.datasets.rows(caller, project, dataset,
                                                params=_params(request), limit=page.limit,
                                                offset=page.offset)
    geometry = found["geometry_column"]
    shaped = envelope(request, page, total, rows, lambda r: wire.feature_json(r, geometry))
    return _json({"type": "FeatureCollection", "features": shaped.pop("results"), **shaped},
                 media="application/geo+json")


@router.post(BASE + "/{dataset}/features", status_code=201,
             openapi_extra={"requestBody": {"content": {"application/geo+json": {}}}})
async def add_features(project: str, dataset: int, request: Request, caller: Caller,
                       services: Svc) -> Response:
    """Add a GeoJSON Feature, or a FeatureCollection of them (all or none)."""
    body = await _body(request)
    many = isinstance(body, dict) and body.get("type") == "FeatureCollection"
    features = body.get("features") if many else [body]
    if not isinstance(features, list):
        raise Invalid("A FeatureCollection needs a features list.")

    def add() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        found = services.datasets.get(caller, project, dataset)
        geometry = found["geometry_column"]
        rows = [{**wire.feature_values(f, geometry, f"features[{i}]: "),
                 **({"amigo_id": f["properties"]["amigo_id"]}
                    if isinstance(f.get("properties"), dict)
                    and f["properties"].get("amigo_id") else {})}
                for i, f in enumerate(features)]
        return services.datasets.add_rows(caller, project, dataset, rows)

    found, added = await run_in_threadpool(add)
    shaped = [wire.feature_json(r, found["geometry_column"]) for r in added]
    if many:
        return _json({"type": "FeatureCollection", "features": shaped}, 201,
                     "application/geo+json")
    return _json(shaped[0], 201, "application/geo+json")


@router.get(FEATURE, response_model=dict[str, Any])
def get_feature(project: str, dataset: int, amigo_id: str, caller: Caller, services: Svc
                ) -> Response:
    found, row = services.datasets.row(caller, project, dataset, amigo_id)
    return _json(wire.feature_json(row, found["geometry_column"]), media="application/geo+json")


@router.patch(FEATURE, response_model=dict[str, Any],
              openapi_extra={"requestBody": {"content": {"application/geo+json": {}}}})
async def update_feature(project: str, dataset: int, amigo_id: str, request: Request,
                         caller: Caller, services: Svc) -> Response:
    """Change a feature's geometry and/or some of its properties."""
    body = await _body(request)

    def change() -> tuple[dict[str, Any], dict[str, Any]]:
        found = services.datasets.get(caller, project, dataset)
        values = wire.feature_values(body, found["geometry_column"])
        return services.datasets.update_row(caller, project, dataset, amigo_id, values)

    found, row = await run_in_threadpool(change)
    return _json(wire.feature_json(row, found["geometry_column"]), media="application/geo+json")


@router.delete(FEATURE, status_code=204)
def delete_feature(project: str, dataset: int, amigo_id: str, caller: Caller, services: Svc
                   ) -> Response:
    services.datasets.delete_row(caller, project, dataset, amigo_id)
    return Response(status_code=204)


# --- export ----------------------------------------------------------------------------------

@router.get(BASE + "/{dataset}/export", response_class=StreamingResponse,
            description="The dataset (or the rows the filters select) as CSV or GeoJSON, "
            "streamed. " + FILTERS)
def export_dataset(project: str, dataset: int, request: Request, caller: Caller,
                   services: Svc,
                   format: Literal["csv", "geojson"] = Query("csv", description="csv or geojson")
                   ) -> StreamingResponse:
    found, stream = services.datasets.export(caller, project, dataset, format=format,
                                             params=_params(request))
    suffix = "csv" if format == "csv" else "geojson"
    filename = f"{found['name']}.{suffix}".replace('"', "")
    return StreamingResponse(
        iterate_in_threadpool(stream), media_type=FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "X-Feature-Count": str(found["feature_count"])})


# --- realtime --------------------------------------------------------------------------------

@router.post(BASE + "/{dataset}/positions", response_model=dict[str, Any])
def post_positions(project: str, dataset: int, body: Positions, caller: Caller, services: Svc
                   ) -> Response:
    """Move objects of a realtime dataset; publishes `realtime` on `dataset:<id>`."""
    data = services.datasets.post_positions(caller, project, dataset, body.positions)
    return _json({"dataset_id": dataset, "data": data})


# --- imports ---------------------------------------------------------------------------------

@router.post(
    "/projects/{project}/imports", response_model=ImportJob, status_code=202,
    openapi_extra={"requestBody": {"content": {
        "text/csv": {}, "application/geo+json": {}, "application/zip": {},
        "application/octet-stream": {}, "multipart/form-data": {}}}},
    responses={201: {"description": "With wait: the finished import"}})
async def start_import(
    project: str, request: Request, caller: Caller, services: Svc,
    filename: str | None = Query(None, max_length=255,
                                 description="The file's name (raw bodies); its suffix "
                                 "picks the reader, its stem names the dataset"),
    name: str | None = Query(None, max_length=200, description="Dataset name (default: stem)"),
    description: str = Query("", max_length=10_000),
    wait: float = Query(0, ge=0, le=3600, description="Seconds to wait for the import to "
                        "finish; it then answers 201 with the job, or the error"),
) -> Response:
    """Import CSV, GeoJSON, a zip of them (or, with pyogrio, Shapefile/GeoPackage/KML) as a
    raw body or a multipart file part; answers 202 with a job to poll for progress."""
    imports = services.imports
    limit = services.settings.dataset_max_upload
    upload.check_length(request, limit)
    await run_in_threadpool(imports.check_importable, caller, project)
    spooled = await upload.spool(request, imports.spool_dir(), limit, filename, check_filename)
    fields = spooled.fields
    assert spooled.filename is not None
    job = await run_in_threadpool(
        imports.start, caller, project, ImportSource(spooled.path, spooled.filename),
        name=name or fields.get("name") or None,
        description=description or fields.get("description", ""))
    return await _job_answer(request, services, caller, project, job, wait)


async def _job_answer(request: Request, services: Any, caller: Any, project: str,
                      job: dict[str, Any], wait: float) -> Response:
    """202 with the job; with `wait`, 201 once it succeeded or its failure as a problem."""
    if wait:
        job = await asyncio.to_thread(services.imports.wait, caller, project, job["id"], wait)
        if job["state"] == "failed":
            error = job["error"] or {}
            extra = {k: v for k, v in error.items() if k not in ("status", "title", "detail")}
            return problem(int(error.get("status", 400)), str(error.get("detail")),
                           import_id=job["id"], **extra)
        if job["state"] == "succeeded":
            return _json(job, 201)
    location = request.url_for("get_import", project=project, import_id=job["id"]).path
    return Response(orjson.dumps(job, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC),
                    status_code=202, media_type="application/json",
                    headers={"Location": location})


class ImportFromUpload(BaseModel):
    upload_id: str = Field(min_length=1, max_length=64,
                           description="A resumable upload opened without a name "
                           "(`POST …/uploads`), all its bytes sent")
    filename: str | None = Field(
        default=None, max_length=255, description="The file's name: its suffix picks the "
        "reader, its stem names the dataset (default `upload`, the format told from the "
        "content)")
    md5: str | None = Field(default=None, max_length=64, description="The whole file's md5 "
                            "(hex)")
    sha256: str | None = Field(default=None, max_length=64, description="… or its sha256")
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="Dataset name (default: the file's stem)")
    description: str = Field(default="", max_length=10_000)


@router.post("/projects/{project}/imports/from-upload", response_model=ImportJob,
             status_code=202,
             responses={201: {"description": "With wait: the finished import"}})
async def import_upload(
    project: str, body: ImportFromUpload, request: Request, caller: Caller, services: Svc,
    wait: float = Query(0, ge=0, le=3600, description="Seconds to wait for the import to "
                        "finish; it then answers 201 with the job, or the error"),
) -> Response:
    """Import a completed resumable upload: the whole file's md5 and/or sha256 are checked
    first (a mismatch discards the upload and makes nothing). Repeating it answers the same
    job."""
    job = await run_in_threadpool(
        lambda: services.imports.start_upload(
            caller, project, body.upload_id, filename=body.filename, md5=body.md5,
            sha256=body.sha256, name=body.name, description=body.description))
    return await _job_answer(request, services, caller, project, job, wait)


@router.get("/projects/{project}/imports", response_model=Page[ImportJob])
def list_imports(project: str, request: Request, page: Paging, caller: Caller, services: Svc
                 ) -> dict[str, Any]:
    """The project's imports, newest first."""
    total, found = services.imports.list(caller, project, limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found)


@router.get("/projects/{project}/imports/{import_id}", response_model=ImportJob)
def get_import(project: str, import_id: str, caller: Caller, services: Svc) -> dict[str, Any]:
    """An import's state and progress; `datasets` once it succeeded, `error` if it failed."""
    return services.imports.get(caller, project, import_id)
