"""The typed resources: orgs, projects, tokens, users; and the same names on AsyncClient."""

from __future__ import annotations

import asyncio
import inspect
import uuid

import pytest

from cloudlet import AsyncClient, Client, NotFound, ProjectSlug, Unauthorized
from tests.client.conftest import FAST
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_me(client: Client, user: TestUser) -> None:
    me = client.me()
    assert me["id"] == user.id and me["home_project"]["gid"] == user.home_project["gid"]
    assert me["token"]["kind"] == "jwt"


def test_projects_round_trip(client: Client, other_user: TestUser) -> None:
    name = unique("proj")
    created = client.projects.create(name, description="first")
    assert created["name"] == name and created["access"] == "admin"
    for ref in (created["id"], created["gid"], created["uuid"], ProjectSlug(created["gid"])):
        assert client.projects.get(ref)["id"] == created["id"]
    updated = client.projects.update(created["gid"], description="second")
    assert updated["description"] == "second" and updated["name"] == name
    assert [p["id"] for p in client.projects.list(search=name)] == [created["id"]]

    member = client.projects.add_member(created["id"], other_user.username, "write")
    assert member["role"] == "write"
    assert client.projects.set_member_role(created["id"], other_user.username, "read"
                                           )["role"] == "read"
    assert {m["username"] for m in client.projects.members(created["id"])} >= {
        other_user.username}
    assert client.projects.remove_member(created["id"], other_user.username) is None

    assert client.projects.delete(created["uuid"]) is None
    with pytest.raises(NotFound):
        client.projects.get(created["id"])


def test_orgs_round_trip(client: Client, other_user: TestUser) -> None:
    slug = unique("org")
    org = client.orgs.create("Acme Labs", slug=slug, about="labs")
    assert org["slug"] == slug and org["role"] == "owner" and not org["personal"]
    assert client.orgs.get(slug)["about"] == "labs"
    assert client.orgs.update(slug, name="Acme")["name"] == "Acme"
    assert slug in {o["slug"] for o in client.orgs.list()}

    project = client.projects.create("in org", org=slug)
    assert project["org"] == slug
    assert [p["id"] for p in client.orgs.projects(slug)] == [project["id"]]

    client.orgs.add_member(slug, other_user.username, "admin")
    assert client.orgs.set_member_role(slug, other_user.username, "member")["role"] == "member"
    assert other_user.username in {m["username"] for m in client.orgs.members(slug)}
    client.orgs.remove_member(slug, other_user.username)

    client.projects.delete(project["id"])
    assert client.orgs.delete(slug) is None
    with pytest.raises(NotFound):
        client.orgs.get(slug)


def test_tokens_round_trip(server: LiveServer, client: Client, user: TestUser) -> None:
    created = client.tokens.create("ci", scope="read", project=user.home_project["gid"],
                                   expires_in=3600)
    secret = created.pop("token")
    assert secret.startswith("clt_") and created["scope"] == "read"
    assert created["project"]["gid"] == user.home_project["gid"]
    assert client.tokens.get(created["id"]) == created
    with Client(server.url, secret, retries=FAST) as scoped:
        assert scoped.me()["token"]["id"] == created["id"]
    assert created["id"] in {t["id"] for t in client.tokens.list()}

    client.tokens.revoke(created["id"])
    assert created["id"] not in {t["id"] for t in client.tokens.list()}
    assert created["id"] in {t["id"] for t in client.tokens.list(all=True)}
    with Client(server.url, secret, retries=FAST) as scoped, pytest.raises(Unauthorized):
        scoped.me()


def test_jwt_tokens(server: LiveServer, client: Client) -> None:
    created = client.tokens.create("jwt", kind="jwt", scope="write")
    with Client(server.url, created["token"], retries=FAST) as c:
        assert c.me()["token"]["kind"] == "jwt"


def test_users_for_superusers(admin: Client) -> None:
    name = unique("usr").replace("-", "")
    made = admin.users.create(name, f"{name}@example.com", "a long password 1")
    assert admin.users.get(made["id"])["username"] == name
    assert admin.users.update(made["id"], is_active=False)["is_active"] is False
    assert [u["id"] for u in admin.users.list(search=name)] == [made["id"]]


def public_methods(obj: object) -> set[str]:
    return {n for n, _ in inspect.getmembers(obj, callable) if not n.startswith("_")}


def test_async_client_has_the_same_names(server: LiveServer, user: TestUser) -> None:
    async def go() -> None:
        async with AsyncClient(server.url, user.token) as a:
            with Client(server.url, user.token) as s:
                assert public_methods(a) - {"aclose"} == public_methods(s)
                for name in ("orgs", "projects", "tokens", "users"):
                    assert public_methods(getattr(a, name)) == public_methods(getattr(s, name))
            project = await a.projects.create(unique("async"))
            assert (await a.projects.get(project["gid"]))["id"] == project["id"]
            assert [p["id"] async for p in a.projects.list(search=project["name"])] == [
                project["id"]]
            await a.projects.delete(project["id"])
            assert [p async for p in a.projects.list(search=project["name"])] == []

    asyncio.run(go())
