"""Native routes that move bytes: uploads (multipart or raw, one request), resumable upload
sessions, and downloads (Range, ETag, a folder as a streamed zip).

These read `request.stream()` themselves and answer with plain or streaming responses:
FastAPI's body parsing would buffer what must stream. Rights are checked before the body
is read, and `Content-Length` past the limit is refused (413) before it is read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid, TooLarge
from cloudlet.server.core.principal import Principal
from cloudlet.server.files import schemas as s
from cloudlet.server.files.blobs import too_large
from cloudlet.server.files.ingest import Form, receive_body, receive_multipart
from cloudlet.server.files.metadata import check_metadata, check_tags
from cloudlet.server.files.names import check_name, check_policy
from cloudlet.server.files.routes import P, _node_ref
from cloudlet.server.files.service import Content
from cloudlet.server.files.tree import NodeRef
from cloudlet.server.files.uploads import ChunkCheck, parse_content_range
from cloudlet.server.files.zipstream import zip_stream
from cloudlet.server.http.auth import Caller, Svc

router = APIRouter(tags=["files"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

UPLOAD_DOC: dict[str, Any] = {
    "parameters": [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"},
         "description": d}
        for n, d in (
            ("name", "File name (multipart: default the file part's filename)"),
            ("parent", "Folder id or `root` (default)"),
            ("on_conflict", "fail (409, default), rename or overwrite (keeps a version)"),
            ("metadata", "JSON object of metadata (or a `metadata`/`json` form field)"),
            ("tags", "JSON list or comma-separated tags"),
        )
    ],
    "requestBody": {"content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"},
            "json": {"type": "string", "description": "Metadata as a JSON object"},
        }}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }},
    "responses": {"201": {"description": "Created", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Node"}}}}},
}


def _json_field(name: str, text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid(f"{name} must be JSON.") from None


def _tags(text: str | None) -> Any:
    if text is None:
        return None
    text = text.strip()
    if text.startswith("["):
        return _json_field("tags", text)
    return [t.strip() for t in text.split(",") if t.strip()]


def _limit_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)


def _answer(model: type[BaseModel], value: dict[str, Any], status: int = 200) -> Response:
    """JSON exactly as the response models of the other routes shape it."""
    return Response(model.model_validate(value).model_dump_json(), status_code=status,
                    media_type="application/json")


def _basename(filename: str | None) -> str | None:
    """A client's filename without any directories (browsers may send `C:\\x\\y.csv`)."""
    if not filename:
        return None
    return re.split(r"[\\/]", filename)[-1] or None


@router.post(P + "/files", status_code=201, openapi_extra=UPLOAD_DOC)
async def upload(project: str, request: Request, caller: Caller, services: Svc) -> Response:
    """Upload a file: `multipart/form-data` (a `file` part, plus `json` or form fields), or
    the raw bytes as the body with `?name=`. 201 with the file; 200 when it overwrote."""
    files = services.files
    await run_in_threadpool(files.check_upload, caller, project)
    limit = services.settings.max_file_size
    _limit_length(request, limit + (1 << 20))  # a form carries a little more than the file
    kind = request.headers.get("content-type", "")
    early = _options(request.query_params)  # bad query options fail before any byte moves
    if kind.lower().startswith("multipart/form-data"):
        form = await receive_multipart(request.stream(), kind, files.writer)
    else:
        _limit_length(request, limit)
        writer = await run_in_threadpool(files.writer)
        staged = await receive_body(request.stream(), writer)
        form = Form(staged=staged, file_type=kind.split(";")[0].strip() or None)
    if form.staged is None:
        raise Invalid("The form has no file part (name it 'file').")
    staged = form.staged
    try:
        options = {**early, **_options(form.fields)}
        name = options.pop("name", None) or _basename(form.filename)
        if not name:
            raise Invalid("Name the file: ?name=… (or send a filename with the file part).")
        options.setdefault("content_type", form.file_type)
        node, created = await run_in_threadpool(
            lambda: files.create_file(caller, project, staged, name=name, **options))
    except BaseException:
        await run_in_threadpool(files.blobs.discard, staged)
        raise
    return _answer(s.Node, node, 201 if created else 200)


def _options(values: Mapping[str, str]) -> dict[str, Any]:
    """Upload options from query parameters or form fields, checked; only those given."""
    found: dict[str, Any] = {}
    if values.get("name"):
        found["name"] = check_name(values["name"])
    metadata = _json_field("metadata", values.get("metadata"))
    if metadata is None:
        metadata = _json_field("json", values.get("json"))
    if metadata is not None:
        found["metadata"] = check_metadata(metadata)
    tags = _tags(values.get("tags"))
    if tags is not None:
        found["tags"] = check_tags(tags)
    if values.get("on_conflict"):
        found["on_conflict"] = check_policy(values["on_conflict"])
    if values.get("parent"):
        found["parent"] = _node_ref(values["parent"])
    if values.get("content_type"):
        found["content_type"] = values["content_type"]
    return found


# --- downloads ----------------------------------------------------------------------------

def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _headers(content: Content) -> dict[str, str]:
    return {
        "ETag": f'"{content.sha256}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(content.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Last-Modified": content.updated_on.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, end exclusive) for one satisfiable range; None: the whole; "bad": 416."""
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None:
        return None  # several ranges or another unit: answer with the whole file
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        return (max(0, size - n), size) if n > 0 and size > 0 else "bad"
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or (last and int(last) < start):
        return "bad"
    return start, end


async def serve_content(request: Request, services: Any, content: Content) -> Response:
    """Serve bytes with Range, ETag and If-None-Match; other domains serve their
    attachments (gallery photos) through it too."""
    headers = _headers(content)
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    media = content.content_type or "application/octet-stream"
    wanted = _range(request.headers.get("range"), content.size)
    if wanted == "bad":
        return Response(status_code=416, headers={**headers,
                                                  "Content-Range": f"bytes */{content.size}"})
    status, start, end = 200, 0, content.size
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{content.size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    chunks = await run_in_threadpool(services.files.read, content, start, end)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media)


@router.api_route(P + "/files/{node}/content", methods=["GET", "HEAD"],
                  response_class=StreamingResponse)
async def download(project: str, node: str, request: Request, caller: Caller, services: Svc
                   ) -> Response:
    """A file's bytes (Range, If-None-Match), or a folder as a zip streamed as it's made."""
    return await serve_node(request, services, caller, project, _node_ref(node))


async def serve_node(request: Request, services: Any, caller: Principal, project: str,
                     ref: NodeRef, version: int | None = None) -> Response:
    """A file (or one of its versions) as `serve_content` answers, or a folder as a zip
    streamed as it's made; faces that download (RinoCloud) answer with it too."""
    files = services.files
    found = await run_in_threadpool(files.get, caller, project, ref)
    if found["type"] == "folder":
        top, entries = await run_in_threadpool(files.zip_entries, caller, project, ref)
        headers = {"Content-Disposition": _disposition(f"{top}.zip"),
                   "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        if request.method == "HEAD":
            return Response(headers=headers, media_type="application/zip")
        stream = zip_stream(top, entries, lambda key: files.blobs.store.open_range(key))
        return StreamingResponse(stream, headers=headers, media_type="application/zip")
    content = await run_in_threadpool(files.content, caller, project, ref, version)
    return await serve_content(request, services, content)


@router.get(P + "/files/{node}/versions/{version}/content", response_class=StreamingResponse)
async def download_version(project: str, node: str, version: int, request: Request,
                           caller: Caller, services: Svc) -> Response:
    """The bytes of an earlier version (from `versions`)."""
    content = await run_in_threadpool(services.files.content, caller, project,
                                      _node_ref(node), version)
    return await serve_content(request, services, content)


# --- resumable upload sessions --------------------------------------------------------------

@router.post(P + "/uploads", response_model=s.Upload, status_code=201)
def open_upload(project: str, body: s.UploadOpen, caller: Caller, services: Svc
                ) -> dict[str, Any]:
    """Open a resumable upload; send chunks with PUT, then complete it."""
    return services.files.open_upload(
        caller, project, total=body.total, name=body.name, parent=body.parent,
        content_type=body.content_type, metadata=body.metadata, tags=body.tags,
        on_conflict=body.on_conflict)


@router.get(P + "/uploads/{upload_id}", response_model=s.Upload)
def upload_status(project: str, upload_id: str, caller: Caller, services: Svc
                  ) -> dict[str, Any]:
    """Where to resume: `offset` is the bytes kept so far."""
    return services.files.upload_status(caller, project, upload_id)


@router.put(P + "/uploads/{upload_id}", response_model=s.Upload, openapi_extra={
    "requestBody": {"content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}})
async def upload_chunk(project: str, upload_id: str, request: Request, caller: Caller,
                       services: Svc) -> Response:
    """One chunk: the body, with `Content-Range: bytes start-end/total` and optionally
    `Content-MD5` (base64) or `X-Content-SHA256` (hex). It must start at the offset."""
    files = services.files
    await run_in_threadpool(files.check_upload, caller, project)
    limit = files.uploads.max_chunk
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"A chunk may hold at most {limit} bytes.", limit=limit)
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > limit:
            raise TooLarge(f"A chunk may hold at most {limit} bytes.", limit=limit)
    start, total = parse_content_range(request.headers.get("content-range"), len(data))
    check = ChunkCheck(request.headers.get("content-md5"),
                       request.headers.get("x-content-sha256"))
    answer = await run_in_threadpool(
        lambda: files.upload_chunk(caller, project, upload_id, start=start, total=total,
                                   data=bytes(data), check=check))
    return _answer(s.Upload, answer)


@router.post(P + "/uploads/{upload_id}/complete", response_model=s.Node, status_code=201)
def complete_upload(project: str, upload_id: str, body: s.UploadComplete, response: Response,
                    caller: Caller, services: Svc) -> dict[str, Any]:
    """Verify the whole file against `md5` and/or `sha256` and make the file (201; 200
    when it overwrote one, or when this upload was completed before)."""
    node, created = services.files.complete_upload(caller, project, upload_id, md5=body.md5,
                                                   sha256=body.sha256)
    if not created:
        response.status_code = 200
    return node


@router.delete(P + "/uploads/{upload_id}", status_code=204)
def abort_upload(project: str, upload_id: str, caller: Caller, services: Svc) -> Response:
    """Abandon an upload; what it received is deleted."""
    services.files.abort_upload(caller, project, upload_id)
    return Response(status_code=204)
