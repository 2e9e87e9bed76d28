"""The AmigoCloud endpoints under `/api/v1`, each a translation onto an existing service.

Auth is the `token` query parameter only (the client never sends a header). Where a query
parameter repeats — the client's cursor re-sends its first request's params after a `next`
URL's own — the first occurrence wins, so pages advance.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import DomainError, Invalid, NotFound, Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.datasets import upload
from cloudlet.server.datasets.imports import ImportSource
from cloudlet.server.datasets.readers.formats import check_filename
from cloudlet.server.faces.amigocloud import shapes
from cloudlet.server.faces.app import json_object
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/v1")
DEFAULT_LIMIT = 20


class NotImplementedHere(DomainError):
    status, title = 501, "Not Implemented"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def first(request: Request, key: str) -> str | None:
    """A query parameter's first occurrence (Starlette's `.get` keeps the last)."""
    for name, value in request.query_params.multi_items():
        if name == key:
            return value
    return None


def caller(request: Request) -> Principal:
    token = first(request, "token")
    if not token:
        raise Unauthenticated("Send the API token as the 'token' query parameter.")
    return _services(request).tokens.authenticate(token)


def _count(request: Request, key: str, default: int) -> int:
    text = first(request, key)
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise Invalid(f"{key} is a whole number of at least 0, not {text!r}.", field=key)
    return int(text)


def _page(request: Request) -> tuple[int, int]:
    settings = request.app.state.settings
    limit = _count(request, "limit", DEFAULT_LIMIT)
    if limit < 1:
        raise Invalid("limit must be at least 1.", field="limit")
    return min(limit, settings.max_page_size), _count(request, "offset", 0)


def _listing(request: Request, path: str, total: int, limit: int, offset: int,
             results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """`{count, next, previous, results}`, the links absolute and carrying the token."""
    keep = {"token": first(request, "token"), "search": first(request, "search"), **extra}
    end, back = offset + limit, max(0, offset - limit)
    return {
        "count": total,
        "next": shapes.url(request, path, limit=limit, offset=end, **keep)
        if end < total else None,
        "previous": shapes.url(request, path, limit=limit, offset=back, **keep)
        if offset > 0 else None,
        "results": results,
    }


async def _body(request: Request) -> dict[str, Any]:
    """A JSON object body (the client sends `{}` when it has nothing)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return json_object(raw)


def _owner(project: dict[str, Any], fallback: int) -> int:
    return int(project.get("created_by") or fallback)


# --- me -------------------------------------------------------------------------------------

@router.get("/me")
async def me(request: Request) -> Response:
    who = await run_in_threadpool(caller, request)
    profile = await run_in_threadpool(_services(request).accounts.me, who)
    return JSONResponse(shapes.me(request, profile))


@router.get("/me/images")
async def me_images(request: Request) -> Response:
    await run_in_threadpool(caller, request)
    return JSONResponse({"thumbnail": shapes.url(request, "me/images/thumbnail")})


@router.get("/me/images/thumbnail")
async def me_thumbnail(request: Request) -> Response:
    await run_in_threadpool(caller, request)
    return Response(shapes.thumbnail_png(), media_type="image/png")


# --- projects -------------------------------------------------------------------------------

@router.get("/me/projects")
async def my_projects(request: Request) -> Response:
    who = await run_in_threadpool(caller, request)
    limit, offset = _page(request)
    search = first(request, "search")

    def run() -> dict[str, Any]:
        total, found = _services(request).projects.list(who, limit=limit, offset=offset,
                                                        search=search)
        results = [shapes.project(request, p, _owner(p, who.user_id)) for p in found]
        return _listing(request, "me/projects", total, limit, offset, results)

    return JSONResponse(await run_in_threadpool(run))


@router.post("/me/projects")
async def create_project(request: Request) -> Response:
    who = await run_in_threadpool(caller, request)
    body = await _body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("A project needs a name.", field="name")
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise Invalid("description is text.", field="description")

    def run() -> dict[str, Any]:
        made = _services(request).projects.create(who, name=name, description=description,
                                                  org=None)
        return shapes.project(request, made, _owner(made, who.user_id))

    return JSONResponse(await run_in_threadpool(run), status_code=201)


def _project(request: Request, who: Principal, pid: int) -> dict[str, Any]:
    return _services(request).projects.get(who, str(pid))


def check_owner(request: Request) -> None:
    """`/users/{owner}/projects/{pid}/…` names the project's owner too: another user's id
    there is a 404, as AmigoCloud answers (a dependency of every face route)."""
    owner, pid = request.path_params.get("owner"), request.path_params.get("pid")
    if owner is None or pid is None:
        return
    who = caller(request)
    try:
        found = _project(request, who, int(pid))
    except ValueError:
        raise NotFound(f"No project {pid!r}.") from None
    if str(owner) != str(_owner(found, who.user_id)):
        raise NotFound(f"Project {pid} is not one of user {owner}'s; its owner is "
                       f"{_owner(found, who.user_id)}.")


@router.get("/users/{owner}/projects/{pid}")
@router.get("/projects/{pid}")
async def project(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    found = await run_in_threadpool(_project, request, who, pid)
    return JSONResponse(shapes.project(request, found, _owner(found, who.user_id)))


# --- datasets -------------------------------------------------------------------------------

@router.get("/users/{owner}/projects/{pid}/datasets")
@router.get("/projects/{pid}/datasets")
async def datasets(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    limit, offset = _page(request)
    search = first(request, "search")

    def run() -> dict[str, Any]:
        services = _services(request)
        owner = _owner(_project(request, who, pid), who.user_id)
        total, found = services.datasets.list(who, str(pid), limit=limit, offset=offset,
                                              search=search)
        results = [shapes.dataset(request, d, pid, owner) for d in found]
        return _listing(request, f"users/{owner}/projects/{pid}/datasets", total, limit,
                        offset, results)

    return JSONResponse(await run_in_threadpool(run))


@router.get("/users/{owner}/projects/{pid}/datasets/{did}")
@router.get("/projects/{pid}/datasets/{did}")
async def dataset(request: Request, pid: int, did: int) -> Response:
    who = await run_in_threadpool(caller, request)

    def run() -> dict[str, Any]:
        owner = _owner(_project(request, who, pid), who.user_id)
        found = _services(request).datasets.get(who, str(pid), did)
        return shapes.dataset(request, found, pid, owner)

    return JSONResponse(await run_in_threadpool(run))


# --- base layers: Cloudlet keeps none, an empty list keeps cursors working --------------------

@router.get("/users/{owner}/projects/{pid}/base_layers")
@router.get("/projects/{pid}/base_layers")
async def base_layers(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    await run_in_threadpool(_project, request, who, pid)
    limit, offset = _page(request)
    return JSONResponse(_listing(request, f"projects/{pid}/base_layers", 0, limit, offset,
                                 []))


# --- SQL ------------------------------------------------------------------------------------

def _sql(request: Request, who: Principal, pid: int, query: Any, write: bool, limit: int,
         offset: int, path: str) -> dict[str, Any]:
    if not isinstance(query, str) or not query.strip():
        raise Invalid("Send the statement as 'query'.", field="query")
    answer = _services(request).sql.run(who, str(pid), query, write=write, limit=limit,
                                        offset=offset)
    body = {"query": query, "limit": limit, "offset": offset, **answer.body()}
    end = offset + limit
    more = not write and end < answer.count
    body["next"] = (shapes.url(request, path, query=query, limit=limit, offset=end,
                               token=first(request, "token")) if more else None)
    body["previous"] = None
    return body


@router.get("/users/{owner}/projects/{pid}/sql")
@router.get("/projects/{pid}/sql")
async def sql_read(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    limit, offset = _page(request)
    path = request.url.path.split(shapes.API, 1)[-1]
    return JSONResponse(await run_in_threadpool(
        _sql, request, who, pid, first(request, "query"), False, limit, offset, path))


@router.post("/users/{owner}/projects/{pid}/sql")
@router.post("/projects/{pid}/sql")
async def sql_write(request: Request, pid: int) -> Response:
    who = await run_in_threadpool(caller, request)
    body = await _body(request)
    limit, offset = _page(request)
    path = request.url.path.split(shapes.API, 1)[-1]
    return JSONResponse(await run_in_threadpool(
        _sql, request, who, pid, body.get("query"), True, limit, offset, path))


# --- dataset uploads ------------------------------------------------------------------------

UPLOAD_WAIT = 300.0  # seconds the one-request upload waits for its import


@router.post("/users/{owner}/projects/{pid}/datasets/upload")
@router.post("/projects/{pid}/datasets/upload")
async def upload_dataset(request: Request, pid: int) -> Response:
    """The multipart `datafile` (CSV, GeoJSON, …) imported by the imports service into a
    dataset named after the file's stem; answers once the import is done."""
    who = await run_in_threadpool(caller, request)
    services = _services(request)
    imports = services.imports
    limit = services.settings.dataset_max_upload
    upload.check_length(request, limit)
    await run_in_threadpool(imports.check_importable, who, str(pid))
    spooled = await upload.spool(request, imports.spool_dir(), limit, None, check_filename)
    assert spooled.filename is not None
    job = await run_in_threadpool(imports.start, who, str(pid),
                                  ImportSource(spooled.path, spooled.filename))
    return await import_answer(request, who, pid, job)


async def import_answer(request: Request, who: Principal, pid: int, job: dict[str, Any]
                        ) -> Response:
    """Once the import job ends (or UPLOAD_WAIT passes): the datasets it made, or why not."""
    imports = _services(request).imports
    job = await asyncio.to_thread(imports.wait, who, str(pid), job["id"], UPLOAD_WAIT)
    if job["state"] == "failed":
        error = job["error"] or {}
        return JSONResponse({"detail": str(error.get("detail")), "job": job["id"]},
                            status_code=int(error.get("status", 400)))
    owner = _owner(await run_in_threadpool(_project, request, who, pid), who.user_id)
    return JSONResponse({"job": job["id"], "state": job["state"],
                         "datasets": [shapes.dataset(request, d, pid, owner)
                                      for d in job["datasets"]]},
                        status_code=201 if job["state"] == "succeeded" else 202)
