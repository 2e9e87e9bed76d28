"""Orgs: slugs, roles, owners, and what deleting an org takes with it."""

from __future__ import annotations

from tests.support.accounts import TestUser, unique
from tests.support.live import LiveServer


def test_create_org_and_projects_in_it(user: TestUser) -> None:
    name = unique("Acme Labs ")
    with user.client() as c:
        made = c.post("/orgs", json={"name": name, "about": "sensors"})
        assert made.status_code == 201
        org = made.json()
        assert org["slug"] == name.lower().replace(" ", "-")
        assert org["role"] == "owner" and org["personal"] is False
        project = c.post("/projects", json={"name": "p", "org": org["slug"]}).json()
        assert project["org"] == org["slug"]
        listed = c.get(f"/orgs/{org['slug']}/projects").json()
        assert [p["id"] for p in listed["results"]] == [project["id"]]
        assert c.get("/projects", params={"org": org["slug"]}).json()["count"] == 1
        slugs = [o["slug"] for o in c.get("/orgs").json()["results"]]
        assert set(slugs) == {org["slug"], user.username.lower()}


def test_slugs_are_unique_across_orgs_and_usernames(user: TestUser, other_user: TestUser
                                                    ) -> None:
    with user.client() as c:
        taken = c.post("/orgs", json={"name": "x", "slug": other_user.username.lower()})
        assert taken.status_code == 409
        bad = c.post("/orgs", json={"name": "x", "slug": "Has Spaces"})
        assert bad.status_code == 400


def test_roles_and_the_last_owner(user: TestUser, other_user: TestUser) -> None:
    with user.client() as c:
        org = c.post("/orgs", json={"name": unique("team")}).json()
        slug = org["slug"]
        c.post(f"/orgs/{slug}/members",
               json={"username": other_user.username, "role": "member"}).raise_for_status()
        with other_user.client() as o:
            assert o.get(f"/orgs/{slug}").json()["role"] == "member"
            assert o.patch(f"/orgs/{slug}", json={"about": "x"}).status_code == 403
            # members may create projects in the org
            assert o.post("/projects", json={"name": "m", "org": slug}).status_code == 201
            c.patch(f"/orgs/{slug}/members/{other_user.username}",
                    json={"role": "admin"}).raise_for_status()
            assert o.patch(f"/orgs/{slug}", json={"about": "x"}).status_code == 200
            # an admin can't make owners or remove one
            assert o.patch(f"/orgs/{slug}/members/{user.username}",
                           json={"role": "member"}).status_code == 403
        last = c.patch(f"/orgs/{slug}/members/{user.username}", json={"role": "admin"})
        assert last.status_code == 409 and "owner" in last.json()["detail"]
        leave = c.delete(f"/orgs/{slug}/members/{user.username}")
        assert leave.status_code == 409


def test_personal_org_cannot_be_deleted(user: TestUser) -> None:
    with user.client() as c:
        answer = c.delete(f"/orgs/{user.username.lower()}")
    assert answer.status_code == 409


def test_deleting_an_org_deletes_its_projects(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        slug = c.post("/orgs", json={"name": unique("gone")}).json()["slug"]
        project = c.post("/projects", json={"name": "p", "org": slug}).json()
        assert c.delete(f"/orgs/{slug}").status_code == 204
        assert c.get(f"/orgs/{slug}").status_code == 404
        assert c.get(f"/projects/{project['id']}").status_code == 404
