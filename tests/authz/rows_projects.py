"""Authorization rows of projects and project members."""

from __future__ import annotations

from typing import Any

from tests.authz.table import Row, expect, register
from tests.authz.world import World

API = "/api/v1"
# another tenant's project is invisible (404), even to the installation's superuser
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
ADMIN_ONLY = dict(org_member=403, read_token=403, write_token=403, project_token=403, **HIDDEN)


def _fresh_project(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        made = c.post("/projects", json={"name": "doomed", "org": world.org["slug"]}).json()
    return {"project": made["id"]}


def _fresh_member(world: World) -> dict[str, Any]:
    user = world.new_user()
    with world.owner_client() as c:
        c.post(f"/projects/{world.project['id']}/members",
               json={"username": user.username, "role": "read"}).raise_for_status()
    return {"project": world.project["id"], "username": user.username}


register(
    Row("GET", f"{API}/projects", expect(200)),
    Row("POST", f"{API}/projects",
        expect(201, read_token=403, project_token=403, other_project_token=403),
        body=lambda w, c: {"name": "new"}),
    Row("GET", f"{API}/projects/{{project}}", expect(200, **HIDDEN)),
    Row("PATCH", f"{API}/projects/{{project}}", expect(200, read_token=403, **HIDDEN),
        body=lambda w, c: {"description": "changed"}),
    # a fresh project per call: the project token (scoped to the target) doesn't see it
    Row("DELETE", f"{API}/projects/{{project}}",
        expect(204, **{**ADMIN_ONLY, "project_token": 404}), params=_fresh_project),
    Row("GET", f"{API}/projects/{{project}}/members", expect(200, **HIDDEN)),
    Row("POST", f"{API}/projects/{{project}}/members", expect(201, **ADMIN_ONLY),
        body=lambda w, c: {"username": w.new_user().username, "role": "read"}),
    Row("PATCH", f"{API}/projects/{{project}}/members/{{username}}", expect(200, **ADMIN_ONLY),
        params=_fresh_member, body=lambda w, c: {"role": "write"}),
    Row("DELETE", f"{API}/projects/{{project}}/members/{{username}}", expect(204, **ADMIN_ONLY),
        params=_fresh_member),
)
