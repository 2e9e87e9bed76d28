"""API tokens and session JWTs: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import base64
import json
import time

from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer


def test_secret_is_shown_once_and_stored_only_hashed(server: LiveServer, user: TestUser,
                                                     backend: str) -> None:
    with user.client() as c:
        made = c.post("/tokens", json={"name": "ci", "scope": "read"})
        assert made.status_code == 201
        secret = made.json()["token"]
        assert secret.startswith("clt_") and len(secret) > 40
        listed = c.get("/tokens").json()["results"]
        shown = next(t for t in listed if t["id"] == made.json()["id"])
        assert "token" not in shown and shown["prefix"] == secret[:12]
        assert c.get(f"/tokens/{shown['id']}").json()["name"] == "ci"
    if backend == "sqlite":
        stored = b"".join(p.read_bytes() for p in server.data_dir.glob("cloudlet.db*"))
        assert secret.encode() not in stored


def test_expired_token_is_refused(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(scope="read", expires_in=1)
    with server.client(token) as c:
        assert c.get("/me").status_code == 200
        time.sleep(1.2)
        answer = c.get("/me")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_revoked_token_is_refused_at_once(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        made = c.post("/tokens", json={"scope": "write"}).json()
    with server.client(made["token"]) as t:
        assert t.get("/me").status_code == 200
        with user.client() as c:
            assert c.delete(f"/tokens/{made['id']}").status_code == 204
        answer = t.get("/me")
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    with user.client() as c:
        assert made["id"] not in [t["id"] for t in c.get("/tokens").json()["results"]]
        everything = c.get("/tokens", params={"all": "true"}).json()["results"]
        assert any(t["id"] == made["id"] and not t["active"] for t in everything)


def test_read_scope_cannot_write_and_nothing_changes(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(scope="read")
    with server.client(token) as c:
        before = c.get("/projects").json()["count"]
        denied = c.post("/projects", json={"name": "nope"})
        assert denied.status_code == 403 and "scope 'read'" in denied.json()["detail"]
        assert c.get("/projects").json()["count"] == before


def test_write_scope_cannot_manage_tokens(server: LiveServer, user: TestUser) -> None:
    with server.client(user.api_token(scope="write")) as c:
        assert c.post("/tokens", json={"scope": "admin"}).status_code == 403


def test_project_token_sees_only_its_project(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        mine = c.post("/projects", json={"name": "scoped"}).json()
        other = c.post("/projects", json={"name": "unscoped"}).json()
    token = user.api_token(scope="write", project=mine["gid"])
    with server.client(token) as c:
        listed = c.get("/projects").json()
        assert [p["id"] for p in listed["results"]] == [mine["id"]]
        assert c.get(f"/projects/{mine['uuid']}").status_code == 200
        assert c.get(f"/projects/{other['id']}").status_code == 404
        assert c.patch(f"/projects/{mine['id']}", json={"description": "x"}).status_code == 200
        assert c.get("/orgs").status_code == 403


def test_token_for_a_project_you_cannot_see_is_refused(server: LiveServer, user: TestUser,
                                                        other_user: TestUser) -> None:
    with user.client() as c:
        answer = c.post("/tokens", json={"project": other_user.home_project["id"]})
    assert answer.status_code == 404


def test_last_used_is_written_at_most_once_per_interval(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_TOKEN_TOUCH_INTERVAL="2")
    user = make_user(server)
    with user.client() as c:
        first = c.get("/me").json()["token"]["last_used_at"]
        assert first is not None
        assert c.get("/me").json()["token"]["last_used_at"] == first
        time.sleep(2.1)
        c.get("/me")
        assert c.get("/me").json()["token"]["last_used_at"] > first


def _segments(token: str) -> list[dict[str, object]]:
    def decode(part: str) -> dict[str, object]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return [decode(p) for p in token.split(".")[:2]]


def _encode(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_jwt_is_pinned_to_hs256_and_checked_against_revocation(server: LiveServer,
                                                               user: TestUser) -> None:
    header, claims = _segments(user.token)
    assert header["alg"] == "HS256" and claims["jti"] and claims["exp"]
    forged_none = f"{_encode({'alg': 'none', 'typ': 'JWT'})}.{_encode(claims)}."
    tampered = f"{_encode(header)}.{_encode({**claims, 'sub': '1'})}.{user.token.split('.')[2]}"
    with server.client() as c:
        for bad in (forged_none, tampered, "not.a.jwt"):
            assert c.get("/me", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    with user.client() as c:
        made = c.post("/tokens", json={"kind": "jwt", "scope": "read", "expires_in": 3600}).json()
    with server.client(made["token"]) as c:
        assert c.get("/me").json()["token"]["kind"] == "jwt"
    with user.client() as c:
        assert c.delete(f"/tokens/{made['id']}").status_code == 204
    with server.client(made["token"]) as c:
        assert c.get("/me").status_code == 401


def test_authorization_header_forms(server: LiveServer, user: TestUser) -> None:
    with server.client() as c:
        for scheme in ("Bearer", "Token", "jwt", "JWT"):
            ok = c.get("/me", headers={"Authorization": f"{scheme} {user.token}"})
            assert ok.status_code == 200, scheme
        assert c.get("/me", headers={"Authorization": "jwt None"}).status_code == 401
        odd = c.get("/me", headers={"Authorization": f"Basic {user.token}"})
        assert odd.status_code == 401 and "scheme" in odd.json()["detail"]


def test_a_cached_token_follows_its_user_at_once(server: LiveServer) -> None:
    """Tokens are resolved from a short cache; a user's deactivation or demotion still
    applies to the very next request."""
    user = make_user(server)
    token = user.api_token(scope="admin")
    with server.client(server.admin_token) as admin:
        assert admin.patch(f"/users/{user.id}", json={"is_superuser": True}).status_code == 200
        with server.client(token) as t:
            for _ in range(3):  # resolved once, then from the cache
                assert t.get("/me").json()["is_superuser"] is True
            assert admin.patch(f"/users/{user.id}",
                               json={"is_superuser": False}).status_code == 200
            assert t.get("/me").json()["is_superuser"] is False
            assert admin.patch(f"/users/{user.id}", json={"is_active": False}).status_code == 200
            assert t.get("/me").status_code == 401
