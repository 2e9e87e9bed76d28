"""Native routes of galleries: files attached to a dataset's rows.

`{gallery}` and `{record}` are int ids; the project in the path must be the gallery's
(anything else is a 404). Uploads read `request.stream()` themselves (multipart or a raw
body, staged as they arrive); downloads stream with Range and ETag, like files.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid, TooLarge
from cloudlet.server.files.ingest import receive_body, receive_multipart
from cloudlet.server.files.transfer_routes import serve_content
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope

router = APIRouter(tags=["galleries"])
DATASET = "/projects/{project}/datasets/{dataset}"
G = "/projects/{project}/galleries/{gallery}"
R = G + "/records/{record}"
FILE_FIELDS = ("file", "datafile")

UPLOAD_DOC: dict[str, Any] = {
    "parameters": [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"},
         "description": d}
        for n, d in (
            ("source_amigo_id", "The amigo_id of the row the file belongs to (or a form "
             "field)"),
            ("filename", "The file's name (multipart: default the file part's filename)"),
            ("content_type", "Its media type (default: the part's, else from the name)"),
            ("metadata", "A JSON object of metadata (or a form field)"),
        )
    ],
    "requestBody": {"content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"},
            "source_amigo_id": {"type": "string"},
            "metadata": {"type": "string", "description": "A JSON object"},
        }}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }},
}


class GalleryCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)


class GalleryUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class Gallery(BaseModel):
    id: int
    project: int
    dataset: int
    name: str
    description: str
    record_count: int
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    url: str
    records_url: str


class Record(BaseModel):
    id: int
    amigo_id: str
    gallery: int
    dataset: int
    project: int
    source_amigo_id: str = Field(description="The amigo_id of the row it belongs to")
    filename: str
    content_type: str
    size: int
    md5: str
    sha256: str
    metadata: dict[str, Any]
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    url: str
    content_url: str = Field(description="Where its bytes download")


class RecordFromUpload(BaseModel):
    upload_id: str = Field(min_length=1, max_length=64,
                           description="A resumable upload opened without a name "
                           "(`POST …/uploads`), all its bytes sent")
    source_amigo_id: str = Field(min_length=1, max_length=64)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str | None = Field(default=None, max_length=255)
    metadata: dict[str, Any] | None = None
    md5: str | None = Field(default=None, max_length=64, description="The whole file's md5 "
                            "(hex)")
    sha256: str | None = Field(default=None, max_length=64, description="… or its sha256")


class RecordUpdate(BaseModel):
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, Any] | None = Field(
        default=None, description="Merged into the metadata (a null value removes a key)")
    replace_metadata: bool = Field(default=False, description="Replace it instead")


def _link(request: Request, name: str, **params: Any) -> str:
    url = request.url_for(name, **{k: str(v) for k, v in params.items()})
    public = request.app.state.settings.public_url
    return public.rstrip("/") + url.path if public else str(url)


def _gallery_json(request: Request, gallery: dict[str, Any]) -> dict[str, Any]:
    ids = {"project": gallery["project"], "gallery": gallery["id"]}
    return {**gallery, "url": _link(request, "get_gallery", **ids),
            "records_url": _link(request, "list_records", **ids)}


def _record_json(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    ids = {"project": record["project"], "gallery": record["gallery"], "record": record["id"]}
    return {**record, "url": _link(request, "get_record", **ids),
            "content_url": _link(request, "record_content", **ids)}


def _answer(model: type[BaseModel], value: dict[str, Any], status: int = 200) -> Response:
    return Response(model.model_validate(value).model_dump_json(), status_code=status,
                    media_type="application/json")


def _metadata(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid("metadata must be a JSON object.") from None


def _basename(filename: str | None) -> str | None:
    return re.split(r"[\\/]", filename)[-1] or None if filename else None


# --- galleries -------------------------------------------------------------------------------

@router.get(DATASET + "/galleries", response_model=Page[Gallery])
def list_galleries(project: str, dataset: int, request: Request, page: Paging, caller: Caller,
                   services: Svc) -> dict[str, Any]:
    """A dataset's galleries (AmigoCloud's related tables)."""
    total, found = services.galleries.list(caller, project, dataset, limit=page.limit,
                                           offset=page.offset)
    return envelope(request, page, total, found, lambda g: _gallery_json(request, g))


@router.post(DATASET + "/galleries", response_model=Gallery, status_code=201)
def create_gallery(project: str, dataset: int, body: GalleryCreate, request: Request,
                   caller: Caller, services: Svc) -> dict[str, Any]:
    """A gallery of the dataset, for files attached to its rows (names unique per
    dataset)."""
    return _gallery_json(request, services.galleries.create(
        caller, project, dataset, name=body.name, description=body.description))


@router.get(G, response_model=Gallery)
def get_gallery(project: str, gallery: int, request: Request, caller: Caller, services: Svc
                ) -> dict[str, Any]:
    return _gallery_json(request, services.galleries.get(caller, gallery, project_ref=project))


@router.patch(G, response_model=Gallery)
def update_gallery(project: str, gallery: int, body: GalleryUpdate, request: Request,
                   caller: Caller, services: Svc) -> dict[str, Any]:
    return _gallery_json(request, services.galleries.update(
        caller, gallery, name=body.name, description=body.description, project_ref=project))


@router.delete(G, status_code=204)
def delete_gallery(project: str, gallery: int, caller: Caller, services: Svc) -> Response:
    """Delete a gallery and its records (their bytes go once nothing else holds them)."""
    services.galleries.delete(caller, gallery, project_ref=project)
    return Response(status_code=204)


# --- records ---------------------------------------------------------------------------------

@router.get(G + "/records", response_model=Page[Record])
def list_records(project: str, gallery: int, request: Request, page: Paging, caller: Caller,
                 services: Svc,
                 source_amigo_id: str | None = Query(None, max_length=64,
                                                     description="Only this row's records")
                 ) -> dict[str, Any]:
    """A gallery's records, oldest first."""
    total, found = services.galleries.records(
        caller, gallery, limit=page.limit, offset=page.offset,
        source_amigo_id=source_amigo_id, project_ref=project)
    return envelope(request, page, total, found, lambda r: _record_json(request, r))


@router.get(DATASET + "/rows/{amigo_id}/gallery-records", response_model=Page[Record])
def list_row_records(project: str, dataset: int, amigo_id: str, request: Request,
                     page: Paging, caller: Caller, services: Svc) -> dict[str, Any]:
    """Every gallery record of one row, across the dataset's galleries."""
    total, found = services.galleries.row_records(caller, project, dataset, amigo_id,
                                                  limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found, lambda r: _record_json(request, r))


@router.post(G + "/records", status_code=201, response_model=Record,
             openapi_extra=UPLOAD_DOC)
async def upload_record(project: str, gallery: int, request: Request, caller: Caller,
                        services: Svc) -> Response:
    """Upload a file to the gallery, attached to the row `source_amigo_id`: multipart (a
    `file` part, or AmigoCloud's `datafile`, with `source_amigo_id`, `filename`,
    `content_type` and `metadata` fields) or the raw bytes with the same as query
    parameters."""
    galleries, files = services.galleries, services.files
    query = request.query_params
    early = _metadata(query.get("metadata"))  # bad options fail before any byte moves
    await run_in_threadpool(lambda: galleries.check_upload(
        caller, gallery, project_ref=project, source_amigo_id=query.get("source_amigo_id")))
    limit = services.settings.max_file_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + (1 << 20):
        raise TooLarge(f"The file is larger than the limit of {limit} bytes.", limit=limit)
    kind = request.headers.get("content-type", "")
    if kind.lower().startswith("multipart/form-data"):
        form = await receive_multipart(request.stream(), kind, files.writer,
                                       file_fields=FILE_FIELDS)
        if form.staged is None:
            raise Invalid("The form has no file part (name it 'file').")
        staged, fields = form.staged, form.fields
        part_name, part_type = _basename(form.filename), form.file_type
    else:
        if not query.get("filename"):
            raise Invalid("Name the file: ?filename=photo.jpg (or send a multipart form).")
        writer = await run_in_threadpool(files.writer)
        staged = await receive_body(request.stream(), writer)
        fields, part_name, part_type = {}, None, kind.split(";")[0].strip() or None
    try:
        values = {**query, **fields}
        metadata = _metadata(fields["metadata"]) if "metadata" in fields else early
        filename = values.get("filename") or part_name
        if not filename:
            raise Invalid("Name the file: a filename field (or the file part's filename).")
        record = await run_in_threadpool(lambda: galleries.add(
            caller, gallery, staged, source_amigo_id=values.get("source_amigo_id", ""),
            filename=filename, content_type=values.get("content_type") or part_type,
            metadata=metadata, project_ref=project))
    except BaseException:
        await run_in_threadpool(files.blobs.discard, staged)
        raise
    return _answer(Record, _record_json(request, record), 201)


@router.post(G + "/records/from-upload", response_model=Record, status_code=201)
def record_from_upload(project: str, gallery: int, body: RecordFromUpload, request: Request,
                       caller: Caller, services: Svc) -> dict[str, Any]:
    """Complete a resumable upload as a record, checking the whole file's md5 and/or
    sha256 (a mismatch discards the upload and makes nothing); repeating it answers the
    same record."""
    return _record_json(request, services.galleries.add_from_upload(
        caller, gallery, body.upload_id, source_amigo_id=body.source_amigo_id,
        filename=body.filename, content_type=body.content_type, metadata=body.metadata,
        md5=body.md5, sha256=body.sha256, project_ref=project))


@router.get(R, response_model=Record)
def get_record(project: str, gallery: int, record: int, request: Request, caller: Caller,
               services: Svc) -> dict[str, Any]:
    return _record_json(request, services.galleries.record(caller, record, gallery_id=gallery,
                                                           project_ref=project))


@router.patch(R, response_model=Record)
def update_record(project: str, gallery: int, record: int, body: RecordUpdate,
                  request: Request, caller: Caller, services: Svc) -> dict[str, Any]:
    """Rename a record or change its metadata."""
    return _record_json(request, services.galleries.update_record(
        caller, record, filename=body.filename, metadata=body.metadata,
        replace_metadata=body.replace_metadata, gallery_id=gallery, project_ref=project))


@router.delete(R, status_code=204)
def delete_record(project: str, gallery: int, record: int, caller: Caller, services: Svc
                  ) -> Response:
    """Delete a record (its bytes go once nothing else holds them)."""
    services.galleries.delete_record(caller, record, gallery_id=gallery, project_ref=project)
    return Response(status_code=204)


@router.api_route(R + "/content", methods=["GET", "HEAD"], response_class=StreamingResponse)
async def record_content(project: str, gallery: int, record: int, request: Request,
                         caller: Caller, services: Svc) -> Response:
    """A record's bytes (Range, If-None-Match), as an attachment."""
    content = await run_in_threadpool(lambda: services.galleries.content(
        caller, record, gallery_id=gallery, project_ref=project))
    return await serve_content(request, services, content)
