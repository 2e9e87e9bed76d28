"""Authorization rows of orgs and org members."""

from __future__ import annotations

from typing import Any

from tests.authz.table import Row, expect, register
from tests.authz.world import World
from tests.support.accounts import unique

API = "/api/v1"
NO_TOKENS = {"project_token": 403, "other_project_token": 403}
# reading the org: its members (and the owner's unrestricted tokens) only
READ = expect(200, outsider=404, superuser=404, **NO_TOKENS)
# managing members: org admins with an admin-scoped credential
MANAGE = dict(org_member=403, outsider=404, superuser=404, read_token=403, write_token=403,
              **NO_TOKENS)


def _fresh_org(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        org = c.post("/orgs", json={"name": unique("org")}).json()
        c.post(f"/orgs/{org['slug']}/members",
               json={"username": world.member.username, "role": "member"}).raise_for_status()
    return {"slug": org["slug"]}


def _fresh_member(world: World) -> dict[str, Any]:
    user = world.new_user()
    with world.owner_client() as c:
        c.post(f"/orgs/{world.org['slug']}/members",
               json={"username": user.username, "role": "member"}).raise_for_status()
    return {"slug": world.org["slug"], "username": user.username}


register(
    Row("GET", f"{API}/orgs", expect(200, **NO_TOKENS)),
    Row("POST", f"{API}/orgs", expect(201, read_token=403, **NO_TOKENS),
        body=lambda w, c: {"name": unique("org")}),
    Row("GET", f"{API}/orgs/{{slug}}", READ),
    Row("PATCH", f"{API}/orgs/{{slug}}",
        expect(200, org_member=403, outsider=404, superuser=404, read_token=403, **NO_TOKENS),
        body=lambda w, c: {"about": "changed"}),
    Row("DELETE", f"{API}/orgs/{{slug}}", expect(204, **MANAGE), params=_fresh_org),
    Row("GET", f"{API}/orgs/{{slug}}/members", READ),
    Row("POST", f"{API}/orgs/{{slug}}/members", expect(201, **MANAGE),
        body=lambda w, c: {"username": w.new_user().username, "role": "member"}),
    Row("PATCH", f"{API}/orgs/{{slug}}/members/{{username}}", expect(200, **MANAGE),
        params=_fresh_member, body=lambda w, c: {"role": "admin"}),
    Row("DELETE", f"{API}/orgs/{{slug}}/members/{{username}}", expect(204, **MANAGE),
        params=_fresh_member),
    Row("GET", f"{API}/orgs/{{slug}}/projects", READ),
)
