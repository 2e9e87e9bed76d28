"""The client's chunked uploads (`upload_file`, used by `upload_datafile` past 8 MB or with
`force_chunked`) and its gallery uploads (`related_tables/<id>/…`), onto the files domain's
resumable upload sessions, the imports service and the galleries service.

A chunk is a multipart `datafile` part (always named `datafile`, so no file name reaches
the server), `Content-Range: bytes start-end/total`, and from the second chunk on the form
field `upload_id` the first reply gave. `…/complete` is JSON `{upload_id, md5, …extra}`:
the md5 of the whole file is verified before anything is made (a mismatch is a 400 and the
upload is discarded). A dataset is named after the stem of an extra `filename` (or `name`)
when one is sent, else the format is told from the content and the dataset is `upload`.
Gallery uploads carry `source_amigo_id` and `filename`; any other field is the record's
metadata (the client flattens its `metadata` dict into the form / the JSON).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cloudlet.server.core.errors import Invalid, TooLarge
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.amigocloud.routes import _body, caller, import_answer
from cloudlet.server.files.ingest import receive_multipart
from cloudlet.server.files.uploads import parse_content_range
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/v1")
FILE_FIELDS = ("datafile", "file")
# fields of a gallery upload that are not the record's metadata
GALLERY_FIELDS = {"source_amigo_id", "filename", "content_type", "upload_id", "md5", "token"}
FORM_SLACK = 64 * 1024  # room for the multipart framing around a chunk


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


class Chunk:
    """One chunk off the wire: its bytes, where it starts, the file's total, its session."""

    def __init__(self, data: bytes, start: int, total: int | None, upload_id: str | None):
        self.data, self.start, self.total, self.upload_id = data, start, total, upload_id


async def read_chunk(request: Request, limit: int) -> Chunk:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_SLACK:
        raise TooLarge(f"A chunk may hold at most {limit} bytes.", limit=limit)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Invalid("Send each chunk as multipart/form-data with a 'datafile' part.")
    async with request.form(max_files=1, max_fields=50) as form:
        part = next((form[k] for k in FILE_FIELDS if isinstance(form.get(k), UploadFile)),
                    None)
        if not isinstance(part, UploadFile):
            raise Invalid("The chunk has no 'datafile' part.")
        data = await part.read(limit + 1)
        upload_id = form.get("upload_id")
    if len(data) > limit:
        raise TooLarge(f"A chunk may hold at most {limit} bytes.", limit=limit)
    start, total = parse_content_range(request.headers.get("content-range"), len(data))
    if not isinstance(upload_id, str) or not upload_id:
        if start != 0:
            raise Invalid("Only the first chunk (bytes 0-…) comes without an upload_id; send "
                          "the upload_id the first chunk's answer gave.")
        upload_id = None
    return Chunk(data, start, total, upload_id)


def _chunk_reply(session: dict[str, Any]) -> Response:
    return _json({"upload_id": session["id"], "offset": session["offset"],
                  "total": session["total"], "expires_at": session["expires_at"]})


def _complete_fields(body: dict[str, Any]) -> tuple[str, str]:
    upload_id, md5 = body.get("upload_id"), body.get("md5")
    if not isinstance(upload_id, str) or not upload_id:
        raise Invalid("Completing needs the upload_id the chunks' answers gave.",
                      field="upload_id")
    if not isinstance(md5, str) or not md5:
        raise Invalid("Completing needs the md5 (hex) of the whole file.", field="md5")
    return upload_id, md5


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} is text.", field=key)
    return value


# --- datasets ---------------------------------------------------------------------------------

@router.post("/users/{owner}/projects/{pid}/datasets/chunked_upload")
@router.post("/projects/{pid}/datasets/chunked_upload")
async def dataset_chunk(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    services = _services(request)
    await run_in_threadpool(services.imports.check_importable, who, str(pid))
    files = services.files
    chunk = await read_chunk(request, files.uploads.max_chunk)

    def run() -> dict[str, Any]:
        upload_id = chunk.upload_id or files.open_upload(who, str(pid), total=chunk.total)["id"]
        return files.upload_chunk(who, str(pid), upload_id, start=chunk.start,
                                  data=chunk.data, total=chunk.total)

    return _chunk_reply(await run_in_threadpool(run))


@router.post("/users/{owner}/projects/{pid}/datasets/chunked_upload/complete")
@router.post("/projects/{pid}/datasets/chunked_upload/complete")
async def dataset_complete(request: Request, pid: int) -> Response:
    """The whole file's md5 checked, then imported like a one-request upload."""
    who = await run_in_threadpool(caller, request)
    body = await _body(request)
    upload_id, md5 = _complete_fields(body)
    filename, name = _text(body, "filename"), _text(body, "name")
    imports = _services(request).imports
    job = await run_in_threadpool(lambda: imports.start_upload(
        who, str(pid), upload_id, filename=filename, md5=md5, name=name,
        description=_text(body, "description") or ""))
    return await import_answer(request, who, pid, job)


# --- galleries (related tables) ---------------------------------------------------------------

def _metadata(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in GALLERY_FIELDS}


def _source(fields: dict[str, Any]) -> str:
    value = fields.get("source_amigo_id")
    if not isinstance(value, str) or not value:
        raise Invalid("source_amigo_id (the amigo_id of the row the photo belongs to) is "
                      "required.", field="source_amigo_id")
    return value


@router.post("/related_tables/{gallery}/upload")
async def gallery_upload(request: Request, gallery: int) -> Response:
    """One request: the multipart `datafile`, with `source_amigo_id`, `filename` and the
    metadata as fields; the bytes stream into the file store as they arrive."""
    who = await run_in_threadpool(caller, request)
    services = _services(request)
    galleries, files = services.galleries, services.files
    await run_in_threadpool(lambda: galleries.check_upload(who, gallery))
    limit = services.settings.max_file_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_SLACK:
        raise TooLarge(f"The file is larger than the limit of {limit} bytes.", limit=limit)
    form = await receive_multipart(request.stream(), request.headers.get("content-type", ""),
                                   files.writer, file_fields=FILE_FIELDS)
    if form.staged is None:
        raise Invalid("The form has no 'datafile' part.")
    staged = form.staged
    try:
        fields = form.fields
        source = _source(fields)
        filename = fields.get("filename") or form.filename
        if not filename:
            raise Invalid("Name the photo: a filename field.", field="filename")
    except BaseException:
        await run_in_threadpool(files.blobs.discard, staged)
        raise
    record = await run_in_threadpool(lambda: galleries.add(
        who, gallery, staged, source_amigo_id=source, filename=filename,
        content_type=fields.get("content_type") or form.file_type,
        metadata=_metadata(fields)))
    return _json(record, 201)


@router.post("/related_tables/{gallery}/chunked_upload")
async def gallery_chunk(request: Request, gallery: int) -> Response:
    who = await run_in_threadpool(caller, request)
    galleries = _services(request).galleries
    await run_in_threadpool(lambda: galleries.check_upload(who, gallery))
    chunk = await read_chunk(request, _services(request).files.uploads.max_chunk)

    def run() -> dict[str, Any]:
        upload_id = chunk.upload_id or galleries.open_upload(who, gallery,
                                                             total=chunk.total)["id"]
        return galleries.upload_chunk(who, gallery, upload_id, start=chunk.start,
                                      data=chunk.data, total=chunk.total)

    return _chunk_reply(await run_in_threadpool(run))


@router.post("/related_tables/{gallery}/chunked_upload/complete")
async def gallery_complete(request: Request, gallery: int) -> Response:
    """The whole file's md5 checked, then a record of the gallery attached to its row."""
    who: Principal = await run_in_threadpool(caller, request)
    body = await _body(request)
    upload_id, md5 = _complete_fields(body)
    source = _source(body)
    filename = _text(body, "filename")
    if filename is None:
        raise Invalid("Name the photo: a filename field.", field="filename")
    galleries = _services(request).galleries
    record = await run_in_threadpool(lambda: galleries.add_from_upload(
        who, gallery, upload_id, source_amigo_id=source, filename=filename,
        content_type=_text(body, "content_type"), metadata=_metadata(body), md5=md5))
    return _json(record, 201)
