"""Authorization rows of the accounts routes (health, auth, me, tokens, users)."""

from __future__ import annotations

from typing import Any

from tests.authz.table import Row, expect, public, register
from tests.authz.world import World
from tests.support.accounts import unique

API = "/api/v1"
OWNER_ADMIN_ONLY = {"org_member": 200, "outsider": 200, "superuser": 200, "owner": 200,
                    "admin_token": 200}


def _owner_token(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        return {"token_id": c.post("/tokens", json={"name": "target"}).json()["id"]}


def _new_user_body(world: World, caller: str) -> dict[str, Any]:
    name = unique("n")
    return {"username": name, "email": f"{name}@example.com", "password": "long enough pw"}


register(
    Row("GET", f"{API}/health", public(200)),
    Row("POST", f"{API}/auth/login", public(200),
        body=lambda w, c: {"username": w.owner.username, "password": w.owner.password}),
    Row("POST", f"{API}/auth/register", public(403), body=_new_user_body),
    Row("POST", f"{API}/auth/logout", expect(204), fresh_caller=True),
    Row("GET", f"{API}/me", expect(200)),
    Row("PATCH", f"{API}/me", expect(200, read_token=403, project_token=403,
                                     other_project_token=403),
        body=lambda w, c: {"first_name": "Ada"}),
    Row("POST", f"{API}/me/password",
        expect(204, read_token=403, write_token=403, project_token=403, other_project_token=403),
        body=lambda w, c: {"current_password": w.password_of(c),
                           "new_password": w.password_of(c)},
        disruptive=True),
    Row("GET", f"{API}/tokens", expect(403, **OWNER_ADMIN_ONLY)),
    Row("POST", f"{API}/tokens",
        expect(403, **{k: 201 for k in OWNER_ADMIN_ONLY}), body=lambda w, c: {"scope": "read"}),
    Row("GET", f"{API}/tokens/{{token_id}}",
        expect(403, owner=200, admin_token=200, org_member=404, outsider=404, superuser=404),
        params=_owner_token),
    Row("DELETE", f"{API}/tokens/{{token_id}}",
        expect(403, owner=204, admin_token=204, org_member=404, outsider=404, superuser=404),
        params=_owner_token),
    Row("GET", f"{API}/users", expect(403, superuser=200)),
    Row("POST", f"{API}/users", expect(403, superuser=201), body=_new_user_body),
    Row("GET", f"{API}/users/{{user_id}}", expect(403, superuser=200)),
    Row("PATCH", f"{API}/users/{{user_id}}", expect(403, superuser=200),
        params=lambda w: {"user_id": w.new_user().id}, body=lambda w, c: {"is_active": False}),
)
