"""Logging in and out, registration, and the failed-login throttle."""

from __future__ import annotations

import httpx

from tests.support.accounts import PASSWORD, TestUser, make_user, unique
from tests.support.live import LiveServer


def test_login_by_username_or_email_gives_a_working_session(server: LiveServer,
                                                             user: TestUser) -> None:
    with server.client() as c:
        for ident in ({"username": user.username.upper()}, {"email": user.email}):
            answer = c.post("/auth/login", json={**ident, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["user"]["username"] == user.username
            me = c.get("/me", headers={"Authorization": f"Bearer {body['token']}"}).json()
            assert me["id"] == user.id
            assert me["token"]["kind"] == "jwt" and me["token"]["scope"] == "admin"


def test_wrong_password_and_unknown_user_answer_the_same(server: LiveServer,
                                                          user: TestUser) -> None:
    with server.client() as c:
        wrong = c.post("/auth/login", json={"username": user.username, "password": "nope-nope"})
        ghost = c.post("/auth/login", json={"username": unique("ghost"), "password": "x" * 9})
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.json()["detail"] == ghost.json()["detail"]
    assert wrong.headers["content-type"] == "application/problem+json"


def test_logout_revokes_that_session_only(server: LiveServer, user: TestUser) -> None:
    from tests.support.accounts import login

    other_session = login(server, user.username, PASSWORD)
    with server.client(user.token) as c:
        assert c.post("/auth/logout").status_code == 204
        gone = c.get("/me")
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    with server.client(other_session) as c:
        assert c.get("/me").status_code == 200


def test_registration_is_closed_by_default(server: LiveServer) -> None:
    name = unique("r")
    with server.client() as c:
        answer = c.post("/auth/register", json={"username": name, "email": f"{name}@x.org",
                                                "password": PASSWORD})
        assert answer.status_code == 403
        assert c.post("/auth/login", json={"username": name, "password": PASSWORD}
                      ).status_code == 401


def test_open_registration_makes_personal_org_and_home_project(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_REGISTRATION_OPEN="true")
    name = unique("r")
    with server.client() as c:
        answer = c.post("/auth/register", json={"username": name, "email": f"{name}@x.org",
                                                "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        token = answer.json()["token"]
        again = c.post("/auth/register", json={"username": name, "email": f"o{name}@x.org",
                                               "password": PASSWORD})
        assert again.status_code == 409
    with server.client(token) as c:
        me = c.get("/me").json()
        assert me["org"] == name.lower()
        projects = c.get("/projects").json()
        assert projects["count"] == 1
        assert projects["results"][0]["is_home"] is True
        assert projects["results"][0]["id"] == me["home_project"]["id"]


def test_failed_logins_are_throttled_per_account(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_LOGIN_MAX_FAILURES_ACCOUNT="3", CLOUDLET_LOGIN_THROTTLE_WINDOW="60")
    victim = make_user(server)
    bystander = make_user(server)
    with server.client() as c:
        for _ in range(3):
            bad = c.post("/auth/login", json={"username": victim.username, "password": "wrong-1"})
            assert bad.status_code == 401
        locked = c.post("/auth/login", json={"username": victim.username, "password": PASSWORD})
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["Retry-After"]) <= 60
        assert "Too many failed logins" in locked.json()["detail"]
        # the same address may still log in to another account
        ok = c.post("/auth/login", json={"username": bystander.username, "password": PASSWORD})
        assert ok.status_code == 200


def test_failed_logins_are_throttled_per_address(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_LOGIN_MAX_FAILURES_IP="4", CLOUDLET_LOGIN_THROTTLE_WINDOW="60")
    user = make_user(server)

    def attempt(address: str, username: str, password: str) -> httpx.Response:
        with server.client(headers={"X-Forwarded-For": address}) as c:
            return c.post("/auth/login", json={"username": username, "password": password})

    # guesses spread over many accounts from one address
    for _ in range(4):
        assert attempt("203.0.113.9", unique("nobody"), "guess-guess").status_code == 401
    assert attempt("203.0.113.9", user.username, PASSWORD).status_code == 429
    assert attempt("198.51.100.7", user.username, PASSWORD).status_code == 200
