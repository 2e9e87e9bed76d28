"""login / logout / set_token against the real auth endpoints."""

from __future__ import annotations

import asyncio

import pytest

from cloudlet import AsyncClient, Client, Unauthorized
from tests.client.conftest import FAST
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_login_keeps_the_session_and_logout_revokes_it(server: LiveServer, user: TestUser
                                                       ) -> None:
    with Client(server.url, retries=FAST) as c:
        assert c.token is None
        who = c.login(user.username, user.password)
        assert who["username"] == user.username
        session = c.token
        assert session is not None
        me = c.me()
        assert me["username"] == user.username and me["token"]["scope"] == "admin"
        c.logout()
        assert c.token is None
    with Client(server.url, session, retries=FAST) as c, pytest.raises(Unauthorized):
        c.me()


def test_login_by_email(server: LiveServer, user: TestUser) -> None:
    with Client(server.url, retries=FAST) as c:
        assert c.login(user.email, user.password)["id"] == user.id


def test_wrong_password_is_unauthorized_and_keeps_the_old_token(
    server: LiveServer, user: TestUser
) -> None:
    with Client(server.url, user.token, retries=FAST) as c:
        with pytest.raises(Unauthorized, match="Wrong"):
            c.login(user.username, "not the password")
        assert c.token == user.token


def test_set_token_switches_identity(server: LiveServer, user: TestUser,
                                     other_user: TestUser) -> None:
    with Client(server.url, user.token, retries=FAST) as c:
        assert c.me()["id"] == user.id
        c.set_token(other_user.token)
        assert c.me()["id"] == other_user.id
        c.set_token(None)
        with pytest.raises(Unauthorized):
            c.me()


def test_async_sessions(server: LiveServer, user: TestUser) -> None:
    async def go() -> tuple[str, str | None]:
        async with AsyncClient(server.url, retries=FAST) as c:
            await c.login(user.username, user.password)
            name = (await c.me())["username"]
            await c.logout()
            return name, c.token

    assert asyncio.run(go()) == (user.username, None)
