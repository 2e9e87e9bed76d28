"""Typed methods for orgs, projects, tokens and users: the SDK's main surface.

Each resource is written once and serves both clients. Its methods build a call and return
whatever the client's generic method returns: the value from `Client`, an awaitable of it from
`AsyncClient`. The type parameters say which:

    J  one JSON object: `dict[str, Any]`, or `Awaitable[dict[str, Any]]`
    N  no content (204): `None`, or `Awaitable[None]`
    C  a list: `Cursor`, or `AsyncCursor`

Objects come back as the server's JSON, as plain dicts (see docs/sdk.md for their fields).
Paths are absolute (`/projects`), so they mean the same on a project-scoped client.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, Protocol, TypeVar, cast

from cloudlet.client.calls import IdempotencyKey, Params
from cloudlet.client.connection import segment
from cloudlet.gid import ProjectSlug

__all__ = ["Orgs", "Projects", "Tokens", "Users"]

J = TypeVar("J")
N = TypeVar("N")
C = TypeVar("C")

Scope = Literal["read", "write", "admin"]
OrgRole = Literal["owner", "admin", "member"]
ProjectRef = int | str | ProjectSlug
"""A project: its int id, its gid (str or ProjectSlug) or its uuid."""


class Caller(Protocol):
    """What a resource needs from a client (both `Client` and `AsyncClient` are one)."""

    def get(self, url: str, params: Params | None = None) -> Any: ...

    def post(self, url: str, data: Any = None, *, idempotency_key: IdempotencyKey = None
             ) -> Any: ...

    def put(self, url: str, data: Any = None) -> Any: ...

    def patch(self, url: str, data: Any = None) -> Any: ...

    def delete(self, url: str, data: Any = None) -> Any: ...

    def paginate(self, url: str, params: Params | None = None) -> Any: ...


def _given(**fields: Any) -> dict[str, Any]:
    """Only the fields the caller set, so an update leaves the rest alone."""
    return {k: v for k, v in fields.items() if v is not None}


class _Resource(Generic[J, N, C]):
    """The typed doors onto the client's generic calls; resources use only these."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    def _get(self, path: str) -> J:
        return cast(J, self._client.get(path))

    def _post(self, path: str, body: Any, key: IdempotencyKey = None) -> J:
        return cast(J, self._client.post(path, body, idempotency_key=key))

    def _patch(self, path: str, body: Any) -> J:
        return cast(J, self._client.patch(path, body))

    def _delete(self, path: str) -> N:
        return cast(N, self._client.delete(path))

    def _list(self, path: str, params: Params | None = None) -> C:
        return cast(C, self._client.paginate(path, params))


class Orgs(_Resource[J, N, C]):
    """Organisations (by slug) and their members; every user has a personal org."""

    def list(self) -> C:
        """The orgs the caller belongs to."""
        return self._list("/orgs")

    def create(self, name: str, *, slug: str | None = None, about: str | None = None) -> J:
        return self._post("/orgs", _given(name=name, slug=slug, about=about))

    def get(self, slug: str) -> J:
        return self._get(f"/orgs/{segment(slug)}")

    def update(self, slug: str, *, name: str | None = None, about: str | None = None) -> J:
        return self._patch(f"/orgs/{segment(slug)}", _given(name=name, about=about))

    def delete(self, slug: str) -> N:
        return self._delete(f"/orgs/{segment(slug)}")

    def projects(self, slug: str) -> C:
        """The org's projects that the caller can see."""
        return self._list(f"/orgs/{segment(slug)}/projects")

    def members(self, slug: str) -> C:
        return self._list(f"/orgs/{segment(slug)}/members")

    def add_member(self, slug: str, username: str, role: OrgRole = "member") -> J:
        return self._post(f"/orgs/{segment(slug)}/members", {"username": username, "role": role})

    def set_member_role(self, slug: str, username: str, role: OrgRole) -> J:
        return self._patch(f"/orgs/{segment(slug)}/members/{segment(username)}", {"role": role})

    def remove_member(self, slug: str, username: str) -> N:
        return self._delete(f"/orgs/{segment(slug)}/members/{segment(username)}")


class Projects(_Resource[J, N, C]):
    """Projects, named by int id, gid (`p--0000-0001`) or uuid, and their members."""

    def list(self, *, org: str | None = None, search: str | None = None) -> C:
        """The projects the caller can see, optionally of one org or with a name match."""
        return self._list("/projects", {"org": org, "search": search})

    def create(
        self, name: str, *, description: str | None = None, org: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> J:
        """A new project, in `org` (default: the caller's personal org)."""
        body = _given(name=name, description=description, org=org)
        return self._post("/projects", body, idempotency_key)

    def get(self, project: ProjectRef) -> J:
        return self._get(f"/projects/{segment(project)}")

    def update(
        self, project: ProjectRef, *, name: str | None = None, description: str | None = None
    ) -> J:
        return self._patch(
            f"/projects/{segment(project)}", _given(name=name, description=description)
        )

    def delete(self, project: ProjectRef) -> N:
        return self._delete(f"/projects/{segment(project)}")

    def members(self, project: ProjectRef) -> C:
        return self._list(f"/projects/{segment(project)}/members")

    def add_member(self, project: ProjectRef, username: str, role: Scope = "read") -> J:
        body = {"username": username, "role": role}
        return self._post(f"/projects/{segment(project)}/members", body)

    def set_member_role(self, project: ProjectRef, username: str, role: Scope) -> J:
        path = f"/projects/{segment(project)}/members/{segment(username)}"
        return self._patch(path, {"role": role})

    def remove_member(self, project: ProjectRef, username: str) -> N:
        return self._delete(f"/projects/{segment(project)}/members/{segment(username)}")


class Tokens(_Resource[J, N, C]):
    """The caller's API tokens and JWTs. Managing them needs an unrestricted admin-scope
    credential, such as the session `login()` gives."""

    def list(self, *, all: bool = False) -> C:
        """Active tokens; `all=True` includes revoked and expired ones."""
        return self._list("/tokens", {"all": "true" if all else None})

    def create(
        self, name: str = "", *, scope: Scope = "write", project: ProjectRef | None = None,
        device_id: int | None = None, expires_in: int | None = None,
        kind: Literal["api", "jwt"] = "api",
    ) -> J:
        """A new token; its secret is in the answer's `token` field, and nowhere else, ever.
        No idempotency key is sent, so the secret is never kept in the server's replay store."""
        body = _given(
            name=name, scope=scope, project=None if project is None else str(project),
            device_id=device_id, expires_in=expires_in, kind=kind,
        )
        return self._post("/tokens", body, False)

    def get(self, token_id: int) -> J:
        return self._get(f"/tokens/{int(token_id)}")

    def revoke(self, token_id: int) -> N:
        return self._delete(f"/tokens/{int(token_id)}")


class Users(_Resource[J, N, C]):
    """Every account of the installation; superusers only."""

    def list(self, *, search: str | None = None) -> C:
        return self._list("/users", {"search": search})

    def create(
        self, username: str, email: str, password: str, *, first_name: str | None = None,
        last_name: str | None = None, is_superuser: bool = False,
    ) -> J:
        """A new account, with its personal org and home project."""
        body = _given(
            username=username, email=email, password=password, first_name=first_name,
            last_name=last_name, is_superuser=is_superuser,
        )
        return self._post("/users", body)

    def get(self, user_id: int) -> J:
        return self._get(f"/users/{int(user_id)}")

    def update(
        self, user_id: int, *, is_active: bool | None = None, is_superuser: bool | None = None,
        password: str | None = None,
    ) -> J:
        """Activate or deactivate, grant or drop superuser, or reset the password."""
        body = _given(is_active=is_active, is_superuser=is_superuser, password=password)
        return self._patch(f"/users/{int(user_id)}", body)
