"""IOTile's generic resources (`/api/v1/<name>/`, `<name>/<id>/`): auth, account, org,
project, device, variable and stream, each a translation onto the service that owns it.

Lists take IOTile's keyword filters as query parameters (`project=`, `device=`,
`org__slug=`) and answer DRF pages; a list without a project filter spans every project the
caller can read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.iotile import shapes, wire
from cloudlet.server.faces.iotile.wire import Paging, principal, services_of
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/v1")
ALL = 1_000_000  # "every project the caller can read" (one page of the projects service)

Fetch = Callable[[int, int, int], tuple[int, list[dict[str, Any]]]]


class Face:
    """One request's caller and services, with the project lookups the shapes need
    (a device or stream names its project by UUID and its org by slug), cached."""

    def __init__(self, request: Request) -> None:
        self.services: Services = services_of(request)
        self.caller: Principal = principal(request)
        self._projects: dict[str, dict[str, Any]] = {}  # by every ref used, and by id

    def project(self, ref: str | int) -> dict[str, Any]:
        """A project the caller can read, by int id, `p--` slug or UUID (404 otherwise)."""
        key = str(ref)
        if key not in self._projects:
            found = self.services.projects.get(self.caller, key)
            self._projects[key] = self._projects[str(found["id"])] = found
        return self._projects[key]

    def projects(self) -> list[dict[str, Any]]:
        _, found = self.services.projects.list(self.caller, limit=ALL, offset=0)
        for p in found:
            self._projects.setdefault(str(p["id"]), p)
        return found

    def across(self, paging: Paging, fetch: Fetch, project: str | None) -> tuple[int, list[Any]]:
        """One page of a list, in one project (`project` named) or across all the caller's:
        `fetch(project_id, limit, offset)` → (total, rows) for one project."""
        ids = [self.project(project)["id"]] if project else [p["id"] for p in self.projects()]
        total, rows, skip = 0, [], paging.offset
        for project_id in ids:
            want = paging.size - len(rows)
            count, found = fetch(project_id, want, skip)
            total += count
            rows += found
            skip = max(0, skip - count)
        return total, rows

    def stream(self, row: dict[str, Any]) -> dict[str, Any]:
        p = self.project(row["project_id"])
        return shapes.stream(row, p["uuid"], p["org"])

    def device(self, row: dict[str, Any]) -> dict[str, Any]:
        return shapes.device(row, self.project(row["project_id"])["uuid"])


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(value, status_code=status)


def _text(body: dict[str, Any], field: str, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise Invalid(f"{field} is required.", field=field)
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    return value


# --- auth ---------------------------------------------------------------------------------

@router.post("/auth/login/")
async def login(request: Request) -> Response:
    """`{email, password}` → 200 `{jwt, token, username, …}`; 401 for a wrong password."""
    body = await wire.json_body(request)
    identifier = _text(body, "email") or _text(body, "username")
    if not identifier:
        raise Invalid("email is required.", field="email")
    password = _text(body, "password", required=True) or ""
    services = services_of(request)
    address = request.client.host if request.client else ""
    jwt, profile = await run_in_threadpool(
        lambda: services.accounts.login(identifier=identifier, password=password,
                                        address=address))
    return _json({"jwt": jwt, "token": jwt, **shapes.account(profile)})


@router.post("/auth/logout/")
def logout(request: Request) -> Response:
    """→ 204; the login jwt that called stops working. An API token (`token <key>`) is a
    long-lived credential: logging out with it leaves it valid (revoke it natively)."""
    services = services_of(request)
    caller = principal(request)
    if caller.token_kind == "jwt":
        services.tokens.revoke(caller, caller.token_id)
    return Response(status_code=204)


@router.post("/auth/api-jwt-refresh/")
async def refresh(request: Request) -> Response:
    """`{token}` (a login jwt) → 200 `{token}`, a new one."""
    body = await wire.json_body(request)
    token = _text(body, "token", required=True) or ""
    services = services_of(request)
    return _json({"token": await run_in_threadpool(services.accounts.refresh, token)})


@router.get("/account/")
def accounts(request: Request) -> Response:
    """Only the caller: a user sees no one else's profile."""
    face = Face(request)
    return _json(Paging(request).answer(1, [shapes.account(face.services.accounts.me(
        face.caller))]))


# --- orgs ---------------------------------------------------------------------------------

@router.get("/org/")
def list_orgs(request: Request) -> Response:
    face, paging = Face(request), Paging(request)
    total, found = face.services.orgs.list(face.caller, limit=paging.size, offset=paging.offset)
    return _json(paging.answer(total, [shapes.org(o) for o in found]))


@router.post("/org/")
async def create_org(request: Request) -> Response:
    """`{name, slug?, about?}` → 201."""
    face, body = Face(request), await wire.json_body(request)
    name = _text(body, "name", required=True) or ""
    created = await run_in_threadpool(
        lambda: face.services.orgs.create(face.caller, name=name, slug=_text(body, "slug"),
                                          about=_text(body, "about") or ""))
    return _json(shapes.org(created), 201)


@router.get("/org/{slug}/")
def get_org(slug: str, request: Request) -> Response:
    face = Face(request)
    return _json(shapes.org(face.services.orgs.get(face.caller, slug)))


@router.api_route("/org/{slug}/", methods=["PUT", "PATCH"])
async def update_org(slug: str, request: Request) -> Response:
    """`{name?, about?}` → 200 (PUT and PATCH alike: only the fields sent change)."""
    face, body = Face(request), await wire.json_body(request)
    changed = await run_in_threadpool(
        lambda: face.services.orgs.update(face.caller, slug, name=_text(body, "name"),
                                          about=_text(body, "about")))
    return _json(shapes.org(changed))


@router.delete("/org/{slug}/")
def delete_org(slug: str, request: Request) -> Response:
    face = Face(request)
    face.services.orgs.delete(face.caller, slug)
    return Response(status_code=204)


@router.get("/org/{slug}/projects/")
def org_projects(slug: str, request: Request) -> Response:
    face, paging = Face(request), Paging(request)
    total, found = face.services.projects.list(face.caller, limit=paging.size,
                                               offset=paging.offset, org=slug)
    return _json(paging.answer(total, [shapes.project(p) for p in found]))


# --- projects -----------------------------------------------------------------------------

@router.get("/project/")
def list_projects(request: Request, org__slug: str | None = None) -> Response:
    face, paging = Face(request), Paging(request)
    total, found = face.services.projects.list(face.caller, limit=paging.size,
                                               offset=paging.offset, org=org__slug)
    return _json(paging.answer(total, [shapes.project(p) for p in found]))


@router.get("/project/{ref}/")
def get_project(ref: str, request: Request) -> Response:
    """By UUID, as IOTile keys projects (the `p--` slug and the int id work too)."""
    return _json(shapes.project(Face(request).project(ref)))


# --- devices ------------------------------------------------------------------------------

@router.get("/device/")
def list_devices(request: Request, project: str | None = None) -> Response:
    face, paging = Face(request), Paging(request)

    def fetch(project_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        return face.services.devices.list(face.caller, str(project_id), limit=limit,
                                          offset=offset)

    total, found = face.across(paging, fetch, project)
    return _json(paging.answer(total, [face.device(d) for d in found]))


@router.get("/device/{slug}/")
def get_device(slug: str, request: Request) -> Response:
    face = Face(request)
    return _json(face.device(face.services.devices.locate(face.caller, slug)))


@router.get("/device/{slug}/extra/")
def device_extra(slug: str, request: Request) -> Response:
    face = Face(request)
    row = face.services.devices.locate(face.caller, slug)
    return _json({**face.device(row), "stream_counts": {"total": row["stream_count"]}})


@router.patch("/device/{slug}/")
async def update_device(slug: str, request: Request) -> Response:
    """`{label}` → 200; other fields are IOTile's own and refused."""
    face, body = Face(request), await wire.json_body(request)
    unknown = set(body) - {"label"}
    if unknown:
        raise Invalid(f"Only label can be changed here, not {', '.join(sorted(unknown))}.")

    def run() -> dict[str, Any]:
        row = face.services.devices.locate(face.caller, slug)
        changed = face.services.devices.update(face.caller, str(row["project_id"]), slug,
                                               label=_text(body, "label"))
        return face.device(changed)

    return _json(await run_in_threadpool(run))


# --- variables ----------------------------------------------------------------------------

@router.get("/variable/")
def list_variables(request: Request, project: str | None = None) -> Response:
    face, paging = Face(request), Paging(request)

    def fetch(project_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        return face.services.streams.list_variables(face.caller, str(project_id),
                                                    limit=limit, offset=offset)

    total, found = face.across(paging, fetch, project)
    return _json(paging.answer(total, [
        shapes.variable(v, face.project(v["project"])["uuid"]) for v in found]))


@router.get("/variable/{slug}/")
def get_variable(slug: str, request: Request) -> Response:
    face = Face(request)
    if not slug.lower().startswith("v--") or slug.count("--") != 2:
        raise NotFound(f"No variable {slug!r}; variables are named like v--0000-0001--5001.")
    project = face.project("p--" + slug.split("--")[1])
    found = face.services.streams.get_variable(face.caller, str(project["id"]), slug)
    return _json(shapes.variable(found, project["uuid"]))


# --- streams ------------------------------------------------------------------------------

@router.get("/stream/")
def list_streams(request: Request, project: str | None = None,
                 device: str | None = None) -> Response:
    """`?project=` (slug, UUID or id) and/or `?device=<d-- slug>`."""
    face, paging = Face(request), Paging(request)
    if device is not None:
        row = face.services.devices.locate(face.caller, device)
        if project is not None and face.project(project)["id"] != row["project_id"]:
            return _json(paging.answer(0, []))
        project = str(row["project_id"])

    def fetch(project_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        return face.services.streams.list(face.caller, str(project_id), limit=limit,
                                          offset=offset, device=device)

    total, found = face.across(paging, fetch, project)
    return _json(paging.answer(total, [face.stream(s) for s in found]))


@router.get("/stream/{slug}/")
def get_stream(slug: str, request: Request) -> Response:
    face = Face(request)
    return _json(face.stream(face.services.streams.get(face.caller, slug)))
