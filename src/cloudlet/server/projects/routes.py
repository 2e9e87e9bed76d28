"""Native routes of projects and project members. `{project}` is an id, a gid or a uuid."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope

router = APIRouter(tags=["projects"])
Access = Literal["read", "write", "admin"]


class Project(BaseModel):
    id: int
    uuid: str
    gid: str
    name: str
    description: str
    org: str = Field(description="Slug of the owning org")
    is_home: bool
    access: Access = Field(description="The caller's level on this project")
    created_at: datetime
    updated_at: datetime


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=10_000)
    org: str | None = Field(default=None, description="Org slug; default: your personal org")


class ProjectUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)


class Member(BaseModel):
    id: int
    username: str
    role: Access
    created_at: datetime


class MemberAdd(BaseModel):
    username: str = Field(max_length=40)
    role: Access = "read"


class MemberUpdate(BaseModel):
    role: Access


def _shape(project: dict[str, Any]) -> dict[str, Any]:
    return {**project, "access": project["access"].name.lower()}


@router.get("/projects", response_model=Page[Project])
def list_projects(
    request: Request,
    page: Paging,
    caller: Caller,
    services: Svc,
    org: str | None = Query(None, description="Only this org's projects"),
    search: str | None = Query(None, max_length=100, description="Name contains"),
) -> dict[str, Any]:
    """The projects the caller can read."""
    total, found = services.projects.list(
        caller, limit=page.limit, offset=page.offset, org=org, search=search
    )
    return envelope(request, page, total, found, _shape)


@router.get("/orgs/{slug}/projects", response_model=Page[Project], tags=["orgs"])
def list_org_projects(
    slug: str, request: Request, page: Paging, caller: Caller, services: Svc
) -> dict[str, Any]:
    total, found = services.projects.list(caller, limit=page.limit, offset=page.offset, org=slug)
    return envelope(request, page, total, found, _shape)


@router.post("/projects", response_model=Project, status_code=201)
def create_project(body: ProjectCreate, caller: Caller, services: Svc) -> dict[str, Any]:
    """Create a project, in your personal org unless `org` names another."""
    return _shape(
        services.projects.create(
            caller, name=body.name, description=body.description, org=body.org
        )
    )


@router.get("/projects/{project}", response_model=Project)
def get_project(project: str, caller: Caller, services: Svc) -> dict[str, Any]:
    return _shape(services.projects.get(caller, project))


@router.patch("/projects/{project}", response_model=Project)
def update_project(
    project: str, body: ProjectUpdate, caller: Caller, services: Svc
) -> dict[str, Any]:
    return _shape(
        services.projects.update(caller, project, name=body.name, description=body.description)
    )


@router.delete("/projects/{project}", status_code=204)
def delete_project(project: str, caller: Caller, services: Svc) -> Response:
    """Delete a project and everything in it (needs admin on the project)."""
    services.projects.delete(caller, project)
    return Response(status_code=204)


@router.get("/projects/{project}/members", response_model=Page[Member])
def list_members(
    project: str, request: Request, page: Paging, caller: Caller, services: Svc
) -> dict[str, Any]:
    total, found = services.projects.members(
        caller, project, limit=page.limit, offset=page.offset
    )
    return envelope(request, page, total, found)


@router.post("/projects/{project}/members", response_model=Member, status_code=201)
def add_member(project: str, body: MemberAdd, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.projects.add_member(caller, project, username=body.username, role=body.role)


@router.patch("/projects/{project}/members/{username}", response_model=Member)
def update_member(
    project: str, username: str, body: MemberUpdate, caller: Caller, services: Svc
) -> dict[str, Any]:
    return services.projects.update_member(caller, project, username, role=body.role)


@router.delete("/projects/{project}/members/{username}", status_code=204)
def remove_member(project: str, username: str, caller: Caller, services: Svc) -> Response:
    """Remove a member; members may remove themselves."""
    services.projects.remove_member(caller, project, username)
    return Response(status_code=204)
