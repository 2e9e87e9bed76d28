"""Retries against the server's flaky endpoint, which fails N times per key, then answers
200 with the number of attempts it saw. Waits are tiny (the FAST policy) or zero."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from cloudlet import AsyncClient, Client, ConnectionFailed, RetryPolicy, ServerError
from tests.client.conftest import FAST
from tests.support.accounts import TestUser
from tests.support.live import LiveServer, free_port


def flaky() -> str:
    return f"_debug/flaky/{uuid.uuid4().hex}"


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [r.delay for r in caplog.records if r.name == "cloudlet.client"]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def log_retries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cloudlet.client")


def test_get_is_retried_until_it_succeeds(client: Client) -> None:
    assert client.get(flaky(), {"fail": 3})["attempts"] == 4


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_each_retryable_status_is_retried(client: Client, status: int) -> None:
    assert client.get(flaky(), {"fail": 1, "status": status})["attempts"] == 2


def test_other_errors_are_not_retried(client: Client) -> None:
    path = flaky()
    with pytest.raises(ServerError):
        client.get(path, {"fail": 1, "status": 500})
    assert client.get(path, {"fail": 1})["attempts"] == 2


def test_giving_up_raises_the_last_answer(server: LiveServer, user: TestUser) -> None:
    path = flaky()
    with Client(server.url, user.token, retries=RetryPolicy(retries=2, backoff=0.001)) as c:
        with pytest.raises(ServerError) as caught:
            c.get(path, {"fail": 5})
        assert caught.value.status_code == 503
        assert c.get(path, {"fail": 5})["attempts"] == 6  # 3 tries, then 3 more


def test_retries_can_be_turned_off(server: LiveServer, user: TestUser) -> None:
    path = flaky()
    with Client(server.url, user.token, retries=0) as c:
        with pytest.raises(ServerError):
            c.put(path, params={"fail": 1})
        assert c.put(path, params={"fail": 1})["attempts"] == 2


def test_retry_after_is_honoured(server: LiveServer, user: TestUser,
                                 caplog: pytest.LogCaptureFixture) -> None:
    # Backoff alone would wait 100 s; the server's Retry-After: 0 is what is used.
    policy = RetryPolicy(backoff=100, max_backoff=100, jitter=False)
    with Client(server.url, user.token, retries=policy) as c:
        answer = c.get(flaky(), {"fail": 2, "status": 429, "retry_after": 0})
    assert answer["attempts"] == 3
    assert retry_delays(caplog) == [0.0, 0.0]


def test_a_retry_after_too_long_is_not_waited_for(client: Client) -> None:
    path = flaky()
    with pytest.raises(ServerError) as caught:
        client.get(path, {"fail": 1, "retry_after": 3600})
    assert caught.value.retry_after == 3600
    assert client.get(path, {"fail": 1})["attempts"] == 2  # it was asked once


def test_backoff_grows_and_is_capped(server: LiveServer, user: TestUser,
                                     caplog: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=4, backoff=0.001, max_backoff=0.004, jitter=False)
    with Client(server.url, user.token, retries=policy) as c:
        assert c.get(flaky(), {"fail": 4})["attempts"] == 5
    assert retry_delays(caplog) == [0.001, 0.002, 0.004, 0.004]


def test_post_without_a_key_is_not_retried(server: LiveServer, user: TestUser) -> None:
    path = flaky()
    with Client(server.url, user.token, retries=FAST, auto_idempotency_keys=False) as c:
        with pytest.raises(ServerError):
            c.post(path, params={"fail": 1})
        assert c.post(path, params={"fail": 1})["attempts"] == 2


def test_post_with_a_key_is_retried(server: LiveServer, user: TestUser) -> None:
    with Client(server.url, user.token, retries=FAST, auto_idempotency_keys=False) as c:
        answer = c.post(flaky(), params={"fail": 2}, idempotency_key=uuid.uuid4().hex)
    assert answer["attempts"] == 3


def test_a_throttled_keyed_post_is_retried(client: Client) -> None:
    assert client.post(flaky(), params={"fail": 1, "status": 429, "retry_after": 0},
                       idempotency_key=uuid.uuid4().hex)["attempts"] == 2


def test_posts_get_keys_automatically_by_default(client: Client) -> None:
    assert client.post(flaky(), params={"fail": 2})["attempts"] == 3
    path = flaky()
    with pytest.raises(ServerError):
        client.post(path, params={"fail": 1}, idempotency_key=False)


def test_a_replayed_create_makes_one_project(client: Client) -> None:
    key = uuid.uuid4().hex
    name = f"once-{key[:8]}"
    first = client.projects.create(name, idempotency_key=key)
    second = client.projects.create(name, idempotency_key=key)
    assert second == first
    assert [p["id"] for p in client.projects.list(search=name)] == [first["id"]]


def test_a_retried_create_after_a_lost_answer_makes_one_project(client: Client) -> None:
    # The first attempt's answer is "lost" (the client never saw it); the retry with the same
    # key gets the stored answer instead of creating a second project.
    key = uuid.uuid4().hex
    name = f"lost-{key[:8]}"
    raw = client.request("POST", "/projects", data={"name": name}, idempotency_key=key,
                         stream=True)
    raw.close()
    again = client.projects.create(name, idempotency_key=key)
    assert [p["id"] for p in client.projects.list(search=name)] == [again["id"]]


def test_refused_connections_are_retried_even_for_post(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", "t", retries=FAST) as c:
        with pytest.raises(ConnectionFailed):
            c.post("projects", {"name": "x"}, idempotency_key=False)
    assert len(retry_delays(caplog)) == FAST.retries


def test_async_client_retries_the_same_way(server: LiveServer, user: TestUser) -> None:
    async def go() -> tuple[int, int]:
        async with AsyncClient(server.url, user.token, retries=FAST) as c:
            got = await c.get(flaky(), {"fail": 2, "status": 502})
            posted = await c.post(flaky(), params={"fail": 1})
            return got["attempts"], posted["attempts"]

    assert asyncio.run(go()) == (3, 2)


def test_async_post_without_a_key_is_not_retried(server: LiveServer, user: TestUser) -> None:
    async def go() -> int:
        path = flaky()
        async with AsyncClient(server.url, user.token, retries=FAST,
                               auto_idempotency_keys=False) as c:
            with pytest.raises(ServerError):
                await c.post(path, params={"fail": 1})
            return int((await c.post(path, params={"fail": 1}))["attempts"])

    assert asyncio.run(go()) == 2
