"""Projects: any id form, CRUD, listing with the one envelope, members and their levels."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_create_goes_to_personal_org_and_resolves_by_every_id(user: TestUser) -> None:
    with user.client() as c:
        made = c.post("/projects", json={"name": "Field trial", "description": "2026"})
        assert made.status_code == 201
        project = made.json()
        assert project["org"] == user.username.lower()
        assert project["gid"] == "p--" + f"{project['id']:08x}"[:4] + "-" + \
            f"{project['id']:08x}"[4:]
        for ref in (project["id"], project["gid"], project["uuid"], project["uuid"].upper()):
            got = c.get(f"/projects/{ref}")
            assert got.status_code == 200, ref
            assert got.json()["id"] == project["id"]
        for bad in ("p--zzzz", "0x10", "not-a-project", "999999999"):
            assert c.get(f"/projects/{bad}").status_code == 404


def test_update_and_delete(user: TestUser) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": "temp"}).json()
        changed = c.patch(f"/projects/{project['gid']}", json={"name": "renamed"}).json()
        assert changed["name"] == "renamed" and changed["description"] == ""
        assert changed["updated_at"] >= project["updated_at"]
        assert c.delete(f"/projects/{project['id']}").status_code == 204
        assert c.get(f"/projects/{project['id']}").status_code == 404
        home = c.delete(f"/projects/{user.home_project['id']}")
        assert home.status_code == 409 and "home" in home.json()["detail"]


def test_pagination_envelope(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        for i in range(6):
            c.post("/projects", json={"name": f"page {i}"}).raise_for_status()
        first = c.get("/projects", params={"limit": 3}).json()
        assert first["count"] == 7 and len(first["results"]) == 3
        assert first["previous"] is None
        assert first["next"].startswith(server.url + "/api/v1/projects?")
        second = c.get(first["next"]).json()
        assert second["count"] == 7 and len(second["results"]) == 3
        assert second["previous"] is not None
        third = c.get(second["next"]).json()
        assert len(third["results"]) == 1 and third["next"] is None
        ids = [p["id"] for page in (first, second, third) for p in page["results"]]
        assert len(set(ids)) == 7
        # a repeated parameter: the first occurrence wins (the AmigoCloud cursor relies on it)
        repeated = c.get(first["next"] + "&offset=0&limit=50").json()
        assert [p["id"] for p in repeated["results"]] == [p["id"] for p in second["results"]]
        capped = c.get("/projects", params={"limit": 100000}).json()
        assert len(capped["results"]) == 7
        assert c.get("/projects", params={"limit": 0}).status_code == 400
        assert c.get("/projects", params={"limit": "many"}).status_code == 422
        search = c.get("/projects", params={"search": "PAGE 4"}).json()
        assert [p["name"] for p in search["results"]] == ["page 4"]


def test_next_url_respects_the_cap(launch) -> None:  # type: ignore[no-untyped-def]
    from tests.support.accounts import make_user

    server = launch(CLOUDLET_MAX_PAGE_SIZE="2")
    user = make_user(server)
    with user.client() as c:
        for i in range(3):
            c.post("/projects", json={"name": f"p{i}"})
        page = c.get("/projects", params={"limit": 50}).json()
    assert len(page["results"]) == 2
    assert parse_qs(urlparse(page["next"]).query)["limit"] == ["2"]


def test_project_members_get_their_level(server: LiveServer, user: TestUser,
                                         other_user: TestUser) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": "shared"}).json()
    pid = project["id"]
    with other_user.client() as o:
        assert o.get(f"/projects/{pid}").status_code == 404
        with user.client() as c:
            added = c.post(f"/projects/{pid}/members",
                           json={"username": other_user.username, "role": "read"})
            assert added.status_code == 201
            assert c.post(f"/projects/{pid}/members",
                          json={"username": other_user.username}).status_code == 409
        seen = o.get(f"/projects/{pid}").json()
        assert seen["access"] == "read"
        assert o.patch(f"/projects/{pid}", json={"name": "x"}).status_code == 403
        assert pid in [p["id"] for p in o.get("/projects").json()["results"]]
        with user.client() as c:
            c.patch(f"/projects/{pid}/members/{other_user.username}",
                    json={"role": "write"}).raise_for_status()
        assert o.patch(f"/projects/{pid}", json={"name": "x"}).status_code == 200
        assert o.delete(f"/projects/{pid}").status_code == 403
        members = o.get(f"/projects/{pid}/members").json()
        assert [(m["username"], m["role"]) for m in members["results"]] == [
            (other_user.username, "write")]
        # anyone may leave
        assert o.delete(f"/projects/{pid}/members/{other_user.username}").status_code == 204
        assert o.get(f"/projects/{pid}").status_code == 404


def test_member_role_is_validated(user: TestUser, other_user: TestUser) -> None:
    with user.client() as c:
        pid = user.home_project["id"]
        bad = c.post(f"/projects/{pid}/members",
                     json={"username": other_user.username, "role": "god"})
        assert bad.status_code == 422
        ghost = c.post(f"/projects/{pid}/members", json={"username": "no-such-user-here"})
        assert ghost.status_code == 404
        assert c.get(f"/projects/{pid}/members").json()["count"] == 0
