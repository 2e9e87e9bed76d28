"""Generic calls: how paths resolve (plain, project-relative, full URLs), what comes back
(JSON, bytes, streams, None), and the attribute-style escape hatch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from cloudlet import AsyncClient, Client, Stream, Unauthorized
from tests.client.conftest import FAST
from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer


@pytest.fixture
def scoped(server: LiveServer, client: Client, other_user: TestUser) -> Iterator[Client]:
    """A client scoped to a new project that has `other_user` as its one member."""
    project = client.projects.create("scoped")
    client.projects.add_member(project["id"], other_user.username, "read")
    with Client(server.url, client.token, project=project["gid"], retries=FAST) as c:
        yield c


def test_relative_absolute_and_full_urls_are_the_same_call(server: LiveServer,
                                                           client: Client) -> None:
    me = client.get("me")
    assert client.get("/me") == me
    assert client.get(f"{server.api}/me") == me


def test_the_api_url_itself_is_accepted_as_the_server_url(server: LiveServer,
                                                          user: TestUser) -> None:
    with Client(server.api + "/", user.token) as c:
        assert c.url == server.url
        assert c.me()["id"] == user.id


def test_project_scoped_paths_are_relative_to_the_project(
    scoped: Client, user: TestUser, other_user: TestUser
) -> None:
    members = scoped.get("members")
    assert [m["username"] for m in members["results"]] == [other_user.username]
    assert [m["username"] for m in scoped.paginate("members")] == [other_user.username]
    assert scoped.api.members.get() == members
    assert scoped.get(f"/projects/{scoped.project}/members") == members  # absolute: as is
    assert scoped.me()["id"] == user.id  # typed methods use absolute paths
    assert scoped.projects.get(scoped.project or "")["name"] == "scoped"


def test_the_project_can_come_from_the_environment(
    server: LiveServer, scoped: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDLET_URL", server.url)
    monkeypatch.setenv("CLOUDLET_TOKEN", scoped.token or "")
    monkeypatch.setenv("CLOUDLET_PROJECT", scoped.project or "")
    with Client() as c:
        assert c.project == scoped.project
        assert c.get("members")["count"] == 1


def test_the_token_only_goes_to_the_configured_origin(server: LiveServer, client: Client
                                                      ) -> None:
    other_origin = server.api.replace("127.0.0.1", "localhost") + "/me"
    with pytest.raises(Unauthorized):  # same server, other origin: no Authorization sent
        client.get(other_origin)


def test_next_links_are_followed_on_the_configured_origin(launch: Launch) -> None:
    server = launch(CLOUDLET_PUBLIC_URL="http://cloudlet.invalid")
    owner = make_user(server)
    with Client(server.url, owner.token, retries=FAST) as c:
        for i in range(3):
            c.projects.create(f"p{i}")
        first = c.get("projects", {"limit": 2})
        assert first["next"].startswith("http://cloudlet.invalid/api/v1/projects?")
        assert len(list(c.paginate("projects", {"limit": 2}))) == 4


def test_raw_returns_bytes(client: Client) -> None:
    body = client.get("me", raw=True)
    assert isinstance(body, bytes) and json.loads(body)["username"]


def test_stream_returns_an_open_response(client: Client) -> None:
    with client.get("openapi.json", stream=True) as answer:
        assert isinstance(answer, Stream) and answer.status_code == 200
        body = b"".join(answer.iter_bytes())
    assert json.loads(body)["openapi"].startswith("3.")


def test_stream_errors_raise_before_anything_is_read(client: Client) -> None:
    with pytest.raises(Unauthorized):
        client.get("_debug/status/401", stream=True)


def test_no_content_is_none(client: Client) -> None:
    project = client.post("projects", {"name": "doomed"})
    assert client.delete(f"/projects/{project['id']}") is None


def test_put_patch_and_params(client: Client) -> None:
    project = client.post("projects", {"name": "patchable"})
    assert client.patch(f"projects/{project['id']}", {"description": "d"})["description"] == "d"
    page = client.get("projects", {"limit": 1, "search": "patchable", "offset": None})
    assert page["count"] == 1 and len(page["results"]) == 1


def test_attribute_paths(client: Client, user: TestUser) -> None:
    org = client.me()["org"]
    assert client.api.orgs(org).get()["slug"] == org
    page = client.api.orgs(org).projects.get(limit=5)
    assert [p["gid"] for p in page["results"]] == [user.home_project["gid"]]
    assert [p["gid"] for p in client.api.orgs(org).projects.paginate()] == [
        user.home_project["gid"]]
    assert client.api("_debug", "flaky", "attr-path").get(fail=0)["attempts"] >= 1
    assert repr(client.api.orgs(org).projects) == f"<ApiPath orgs/{org}/projects>"


def test_async_raw_and_stream(server: LiveServer, user: TestUser) -> None:
    async def go() -> tuple[bytes, bytes]:
        async with AsyncClient(server.url, user.token, retries=FAST) as c:
            raw = await c.get("me", raw=True)
            async with await c.get("me", stream=True) as answer:
                streamed = b"".join([chunk async for chunk in answer.aiter_bytes()])
            return raw, streamed

    raw, streamed = asyncio.run(go())
    assert json.loads(raw) == json.loads(streamed)
