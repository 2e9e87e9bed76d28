"""Native routes of orgs and org members."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope

router = APIRouter(tags=["orgs"])
OrgRole = Literal["owner", "admin", "member"]


class Org(BaseModel):
    id: int
    slug: str
    name: str
    about: str
    personal: bool = Field(description="The personal org every user has")
    role: OrgRole = Field(description="The caller's role in it")
    created_at: datetime


class OrgCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    slug: str | None = Field(default=None, max_length=50, description="Default: from the name")
    about: str = Field(default="", max_length=10_000)


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    about: str | None = Field(default=None, max_length=10_000)


class Member(BaseModel):
    id: int
    username: str
    role: OrgRole
    created_at: datetime


class MemberAdd(BaseModel):
    username: str = Field(max_length=40)
    role: OrgRole = "member"


class MemberUpdate(BaseModel):
    role: OrgRole


def _shape(org: dict[str, Any]) -> dict[str, Any]:
    return {**org, "personal": org.get("personal_user_id") is not None}


@router.get("/orgs", response_model=Page[Org])
def list_orgs(request: Request, page: Paging, caller: Caller, services: Svc) -> dict[str, Any]:
    """The orgs the caller is a member of."""
    total, found = services.orgs.list(caller, limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found, _shape)


@router.post("/orgs", response_model=Org, status_code=201)
def create_org(body: OrgCreate, caller: Caller, services: Svc) -> dict[str, Any]:
    """Create an org; the caller becomes its owner."""
    return _shape(services.orgs.create(caller, name=body.name, slug=body.slug, about=body.about))


@router.get("/orgs/{slug}", response_model=Org)
def get_org(slug: str, caller: Caller, services: Svc) -> dict[str, Any]:
    return _shape(services.orgs.get(caller, slug))


@router.patch("/orgs/{slug}", response_model=Org)
def update_org(slug: str, body: OrgUpdate, caller: Caller, services: Svc) -> dict[str, Any]:
    return _shape(services.orgs.update(caller, slug, name=body.name, about=body.about))


@router.delete("/orgs/{slug}", status_code=204)
def delete_org(slug: str, caller: Caller, services: Svc) -> Response:
    """Delete an org and all its projects (owners only; not a personal org)."""
    services.orgs.delete(caller, slug)
    return Response(status_code=204)


@router.get("/orgs/{slug}/members", response_model=Page[Member])
def list_members(
    slug: str, request: Request, page: Paging, caller: Caller, services: Svc
) -> dict[str, Any]:
    total, found = services.orgs.members(caller, slug, limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found)


@router.post("/orgs/{slug}/members", response_model=Member, status_code=201)
def add_member(slug: str, body: MemberAdd, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.orgs.add_member(caller, slug, username=body.username, role=body.role)


@router.patch("/orgs/{slug}/members/{username}", response_model=Member)
def update_member(
    slug: str, username: str, body: MemberUpdate, caller: Caller, services: Svc
) -> dict[str, Any]:
    return services.orgs.update_member(caller, slug, username, role=body.role)


@router.delete("/orgs/{slug}/members/{username}", status_code=204)
def remove_member(slug: str, username: str, caller: Caller, services: Svc) -> Response:
    """Remove a member; any member may remove themselves (leave)."""
    services.orgs.remove_member(caller, slug, username)
    return Response(status_code=204)
