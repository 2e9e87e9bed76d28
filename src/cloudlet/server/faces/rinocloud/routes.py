"""The RinoCloud endpoints (`/rinocloud/api/1/files/…`), each a translation onto the files
service in the caller's home project (a project token's own project).

Names are placed with `on_conflict="overwrite_or_rename"`: re-running a script re-uploads
the same names, so an upload over a file makes a new version of it (the old content and
metadata stay as versions), a folder that is there is used, and only a name held by the
other kind (a file where a folder is asked for) gets a numbered name. Never a 409.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.rinocloud import shapes, wire
from cloudlet.server.files.blobs import too_large
from cloudlet.server.files.ingest import receive_multipart
from cloudlet.server.files.service import FileService
from cloudlet.server.files.transfer_routes import serve_node
from cloudlet.server.http.pagination import PageParams, absolute_url
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/1/files")
HOME = "home"
POLICY = "overwrite_or_rename"
UNNAMED = "untitled"  # an object created without a name (numbered, never overwritten)
DEFAULT_LIMIT = 20  # the package's and the JavaScript client's page


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


class Face:
    """One request's caller and the files service, with the answers in RinoCloud's shape."""

    def __init__(self, services: Services, caller: Principal) -> None:
        self.files: FileService = services.files
        self.caller = caller

    def root_id(self) -> int | None:
        return self.files.get(self.caller, HOME, "root")["id"]

    def answer(self, node: dict[str, Any], root_id: int | None = None) -> dict[str, Any]:
        root = self.root_id() if root_id is None else root_id
        versions = (self.files.versions(self.caller, HOME, node["id"])
                    if node["type"] == "file" and node["version"] > 1 else [])
        return shapes.rino_object(node, root, versions)

    def answers(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        root = self.root_id()
        return [self.answer(n, root) for n in nodes]

    def get(self, node_id: int) -> dict[str, Any]:
        return self.files.get(self.caller, HOME, node_id)

    def update(self, body: shapes.Body, *, rename: bool, replace: bool) -> dict[str, Any]:
        """Change an object in one transaction: merge its metadata (or replace it with an
        explicit `metadata` object), set the tags, move it into a non-null `parent`, and
        rename it when `rename` (the package sends a local, possibly numbered, name)."""
        if body.id is None:
            raise Invalid("Name the object to update: id.", field="id")
        node = self.get(body.id)
        parent = body.parent if body.parent not in (None, node["parent"]) else None
        name = body.name if rename and body.name not in (None, node["name"]) else None
        metadata = body.metadata if body.metadata or (replace and body.explicit) else None
        return self.files.update(self.caller, HOME, body.id, name=name, parent=parent,
                                 tags=body.tags, metadata=metadata,
                                 replace_metadata=replace and body.explicit,
                                 on_conflict="rename")


async def _face(request: Request) -> tuple[Face, wire.Fields]:
    """The caller (401 before anything else) and the request's fields."""
    services = _services(request)
    caller = await run_in_threadpool(wire.principal, services, request)
    return Face(services, caller), await wire.read_fields(request)


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(value, status_code=status)


# --- folders and objects --------------------------------------------------------------------

@router.post("/create_folder/")
async def create_folder(request: Request) -> Response:
    """A folder (`name`, `parent`, metadata keys) → 201. One that is there is used, with
    the metadata sent merged into its own. A Collection's `filepath` is never read."""
    face, fields = await _face(request)
    body = shapes.read_body(fields)
    if body.name is None:
        raise Invalid("A folder needs a name.", field="name")

    def run() -> dict[str, Any]:
        folder, created = face.files.mkdir(face.caller, HOME, name=body.name,
                                           parent=body.parent, metadata=body.metadata,
                                           tags=body.tags, on_conflict=POLICY)
        if not created and (body.metadata or body.tags is not None):
            folder = face.files.update(face.caller, HOME, folder["id"], tags=body.tags,
                                       metadata=body.metadata)
        return face.answer(folder)

    return _json(await run_in_threadpool(run), 201)


@router.post("/create_object/")
async def create_object(request: Request) -> Response:
    """An object without a file (an empty file holding the metadata) → 201; with the `id`
    of an existing object, an update of it (`Object.update()` posts here) → 201."""
    face, fields = await _face(request)
    body = shapes.read_body(fields)

    def run() -> dict[str, Any]:
        if body.id is not None:
            return face.answer(face.update(body, rename=False, replace=False))
        node, _ = face.files.store_file(
            face.caller, HOME, [], name=body.name or UNNAMED, parent=body.parent,
            metadata=body.metadata, tags=body.tags,
            on_conflict=POLICY if body.name else "rename")
        return face.answer(node)

    return _json(await run_in_threadpool(run), 201)


@router.post("/update/")
@router.post("/update_metadata/")
async def update(request: Request) -> Response:
    """`{id, key: value…}` merges the keys into the metadata; `{id, metadata: {…}}` replaces
    it; `name`, `parent` and `tags` rename, move and re-tag → 200."""
    face, fields = await _face(request)
    body = shapes.read_body(fields)
    node = await run_in_threadpool(
        lambda: face.answer(face.update(body, rename=True, replace=True)))
    return _json(node)


# --- uploads ----------------------------------------------------------------------------------

@router.post("/upload/")
@router.post("/upload_multipart/")
async def upload(request: Request) -> Response:
    """`multipart/form-data`: the `file` part (streamed to storage) and a `json` part with
    `name` (default: the part's filename), `parent`, `tags` and metadata keys → 201."""
    services = _services(request)
    caller = await run_in_threadpool(wire.principal, services, request)
    face = Face(services, caller)
    await run_in_threadpool(face.files.check_upload, caller, HOME)  # before any byte moves
    limit = services.settings.max_file_size
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + (1 << 20):  # the form adds a little
        raise too_large(limit)
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise Invalid("Upload with multipart/form-data: a 'file' part and a 'json' part.")
    form = await receive_multipart(request.stream(), kind, face.files.writer,
                                   file_fields=("file",))
    if form.staged is None:
        raise Invalid("The form has no file part (name it 'file').")
    staged = form.staged
    try:
        fields = wire.with_json_field({**wire.grouped(request.query_params.multi_items()),
                                       **form.fields})
        body = shapes.read_body(fields)
        name = body.name or _basename(form.filename)
        if not name:
            raise Invalid("Name the file: a 'name' in the json part, or a filename.")
    except BaseException:  # from here on create_file drops the bytes if it fails
        await run_in_threadpool(face.files.blobs.discard, staged)
        raise

    def run() -> dict[str, Any]:
        node, _ = face.files.create_file(
            caller, HOME, staged, name=name, parent=body.parent, content_type=form.file_type,
            metadata=body.metadata, tags=body.tags, on_conflict=POLICY)
        return face.answer(node)

    return _json(await run_in_threadpool(run), 201)


def _basename(filename: str | None) -> str | None:
    """A client's filename without directories (browsers may send `C:\\x\\y.csv`)."""
    if not filename:
        return None
    return re.split(r"[\\/]", filename)[-1] or None


# --- reading ----------------------------------------------------------------------------------

@router.api_route("/get_metadata/", methods=["GET", "POST"])
async def get_metadata(request: Request) -> Response:
    """`{id}` (the package adds `truncate_metadata`) → 200 with the object."""
    face, fields = await _face(request)
    node_id = wire.object_id(fields.get("id"))
    return _json(await run_in_threadpool(lambda: face.answer(face.get(node_id))))


@router.api_route("/children/", methods=["GET", "POST"])
async def children(request: Request) -> Response:
    """`{id, limit, offset}` → 200 `{count, next, previous, results}`, folders first; no
    `id` lists the top level."""
    face, fields = await _face(request)
    node_id = wire.optional_id(fields.get("id"), "id")
    page = _page(request, fields)

    def run() -> dict[str, Any]:
        total, found = face.files.children(face.caller, HOME, node_id or "root",
                                           limit=page.limit, offset=page.offset)
        return {"count": total, **_links(request, page, total, node_id),
                "results": face.answers(found)}

    return _json(await run_in_threadpool(run))


def _links(request: Request, page: PageParams, total: int, node_id: int | None
           ) -> dict[str, str | None]:
    """`next` and `previous` as GET URLs carrying the `id` too (it may have come in a
    body)."""
    where = {} if node_id is None else {"id": node_id}
    end = page.offset + page.limit
    back = max(0, page.offset - page.limit)
    return {
        "next": absolute_url(request, **where, limit=page.limit, offset=end)
        if end < total else None,
        "previous": absolute_url(request, **where, limit=page.limit, offset=back)
        if page.offset > 0 else None,
    }


@router.api_route("/ancestors/", methods=["GET", "POST"])
async def ancestors(request: Request) -> Response:
    """`{id}` → 200 with the folders from the top level down to the object's parent."""
    face, fields = await _face(request)
    node_id = wire.object_id(fields.get("id"))

    def run() -> list[dict[str, Any]]:
        chain = face.files.ancestors(face.caller, HOME, node_id)
        return face.answers([n for n in chain if n["parent"] is not None])

    return _json(await run_in_threadpool(run))


@router.get("/download/")
async def download(request: Request) -> Response:
    """`?id=` → 200 with the bytes, streamed (Range works); `version=` for an earlier
    content; a folder comes as a zip."""
    face, fields = await _face(request)
    node_id = wire.object_id(fields.get("id"))
    given = fields.get("version")
    number = None if given in (None, "") else wire.count(given, "version", 0)
    return await serve_node(request, _services(request), face.caller, HOME, node_id, number)


@router.api_route("/delete/", methods=["GET", "POST", "DELETE"])
async def delete(request: Request) -> Response:
    """`id` (one, or a list: `id=1&id=2` in a form body, even on a GET) → 204. All or
    nothing: an id that isn't there is a 404 and nothing is deleted."""
    face, fields = await _face(request)
    ids = wire.object_ids(fields.get("id", fields.get("ids")))
    if not ids:
        raise Invalid("Name what to delete: id (one or a list).", field="id")
    await run_in_threadpool(face.files.delete, face.caller, HOME, list(ids))
    return Response(status_code=204)


# --- queries ----------------------------------------------------------------------------------

@router.post("/query/")
async def query(request: Request) -> Response:
    """`{query, sort, limit, offset, truncate_metadata}` → 200 `{result: […], count}`."""
    face, fields = await _face(request)
    page = _page(request, fields, at_least=0)
    sort, sorted_on = shapes.translate_sort(fields.get("sort"))

    def run() -> dict[str, Any]:
        root = face.root_id()
        found = shapes.translate_query(_query(fields), root)
        if sorted_on:
            found = {"$and": [found, *({k: {"$exists": True}} for k in sorted_on)]}
        total, nodes = face.files.query(face.caller, HOME, found, sort=sort,
                                        limit=page.limit, offset=page.offset)
        return {"result": [face.answer(n, root) for n in nodes], "count": total}

    return _json(await run_in_threadpool(run))


@router.post("/query_count/")
async def query_count(request: Request) -> Response:
    """`{query}` → 200 `{count}`."""
    face, fields = await _face(request)

    def run() -> dict[str, Any]:
        found = shapes.translate_query(_query(fields), face.root_id())
        return {"count": face.files.count(face.caller, HOME, found)}

    return _json(await run_in_threadpool(run))


def _query(fields: wire.Fields) -> Any:
    found = wire.json_value(fields.get("query"), "query")
    return {} if found is None else found


def _page(request: Request, fields: wire.Fields, at_least: int = 1) -> PageParams:
    settings = _services(request).settings
    limit = wire.count(fields.get("limit"), "limit", DEFAULT_LIMIT)
    offset = wire.count(fields.get("offset"), "offset", 0)
    if limit < at_least:
        raise Invalid(f"limit must be at least {at_least}.", field="limit")
    return PageParams(limit=min(limit, settings.max_page_size), offset=offset)
