"""`client.events` and `async_client.events` against the live server: delivery, refused
topics, resuming after a dropped connection, gaps, bad credentials."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudlet import AsyncClient, Client, SubscriptionRefused, Unauthorized
from tests.client.conftest import FAST
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

Envelope = dict[str, Any]


class Recorder:
    """Every message the callbacks get, with a way to wait for one."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self.changed = threading.Condition()

    def __call__(self, message: Envelope) -> None:
        with self.changed:
            self.seen.append(message)
            self.changed.notify_all()

    def wait(self, match: Callable[[Envelope], bool], timeout: float = 5) -> Envelope:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for message in self.seen:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                assert left > 0, f"not seen; got {self.seen}"
                self.changed.wait(left)

    def events(self, name: str, topic: str) -> list[Envelope]:
        with self.changed:
            return [m for m in self.seen if m.get("event") == name and m["topic"] == topic]


@pytest.fixture
def recorder(client: Client) -> Iterator[Recorder]:
    seen = Recorder()
    for name in ("*", "subscribed", "error", "unsubscribed"):
        client.events.on(name, seen)
    yield seen
    client.events.stop()


def subscribed(topic: str) -> Callable[[Envelope], bool]:
    return lambda m: m["op"] == "subscribed" and m["topic"] == topic


def test_events_arrive_on_user_and_project_topics(client: Client, user: TestUser,
                                                  recorder: Recorder) -> None:
    mine = f"user:{user.id}"
    client.events.subscribe(mine)
    client.events.start()
    recorder.wait(subscribed(mine))
    project = client.projects.create("live")
    created = recorder.wait(lambda m: m.get("event") == "project.created")
    assert created["topic"] == mine and created["data"]["id"] == project["id"]

    topic = f"project:{project['id']}"
    client.events.subscribe(f"project:{project['gid']}")  # the server canonicalises
    recorder.wait(subscribed(topic))
    assert client.events.topics == [mine, topic]
    client.projects.update(project["id"], description="d")
    updated = recorder.wait(lambda m: m.get("event") == "project.updated")
    assert updated["topic"] == topic
    assert client.events.offsets[topic] == updated["offset"]
    client.events.stop()
    assert not client.events.running


def test_a_refused_topic_raises_or_reaches_the_error_callback(
        server: LiveServer, client: Client, user: TestUser, other_user: TestUser) -> None:
    client.events.subscribe(f"user:{other_user.id}")
    started = time.monotonic()
    with pytest.raises(SubscriptionRefused) as refused:
        client.events.listen(seconds=5)
    assert refused.value.topic == f"user:{other_user.id}"
    assert time.monotonic() - started < 4

    with Client(server.url, user.token, retries=FAST) as second:
        seen = Recorder()
        second.events.on("error", seen)
        second.events.on("*", seen)
        second.events.subscribe("project:999999999")
        second.events.subscribe(f"user:{user.id}")
        second.events.offsets[f"user:{user.id}"] = 0
        second.projects.create("still-up")
        second.events.start()
        try:
            error = seen.wait(lambda m: m["op"] == "error")
            assert error["topic"] == "project:999999999" and error["detail"]
            seen.wait(lambda m: m.get("event") == "project.created")  # the connection stayed
            assert second.events.topics == [f"user:{user.id}"]
        finally:
            second.events.stop()


def test_resumes_after_the_connection_drops(client: Client, recorder: Recorder) -> None:
    project = client.projects.create("resume")
    topic = f"project:{project['id']}"
    client.events.subscribe(topic)
    client.events.start()
    recorder.wait(subscribed(topic))
    client.projects.update(project["id"], description="0")
    recorder.wait(lambda m: m.get("event") == "project.updated")

    loop, conn = client.events._loop, client.events.session.connection
    assert loop is not None and conn is not None
    loop.call_soon_threadsafe(conn.transport.abort)  # the network goes away
    for n in range(1, 4):
        client.projects.update(project["id"], description=str(n))
    recorder.wait(lambda m: len(recorder.events("project.updated", topic)) >= 4)
    time.sleep(0.2)  # nothing more should come
    updates = recorder.events("project.updated", topic)
    assert [m["data"]["description"] for m in updates] == ["0", "1", "2", "3"]
    offsets = [m["offset"] for m in updates]
    assert offsets == list(range(offsets[0], offsets[0] + 4))
    assert client.events.session.connects == 2
    assert not any(m["op"] == "gap" for m in recorder.seen)


def test_a_gap_is_surfaced(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_EVENTS_HISTORY_SIZE="2")
    user = make_user(server)
    with Client(server.url, user.token, retries=FAST) as client:
        project = client.projects.create("gappy")
        for n in range(5):
            client.projects.update(project["id"], description=str(n))
        topic = f"project:{project['id']}"
        seen = Recorder()
        client.events.on("gap", seen)
        client.events.on("project.updated", seen)
        client.events.offsets[topic] = 1
        client.events.subscribe(topic)
        client.events.start()
        try:
            seen.wait(lambda m: m.get("data", {}).get("description") == "4")
        finally:
            client.events.stop()
    gap, *events = seen.seen
    assert gap["op"] == "gap" and gap["topic"] == topic and gap["from_offset"] == 2
    assert [m["data"]["description"] for m in events] == ["3", "4"]
    assert events[0]["offset"] == gap["to_offset"] + 1
    assert client.events.offsets[topic] == events[-1]["offset"]


def test_a_bad_token_raises_unauthorized(server: LiveServer, user: TestUser) -> None:
    with Client(server.url, "not-a-token", retries=FAST, profile=False) as client:
        client.events.subscribe(f"user:{user.id}")
        with pytest.raises(Unauthorized):
            client.events.listen(seconds=5)
        client.events.start()
        with pytest.raises(Unauthorized):
            client.events.wait(5)
        assert client.events.wait(0) and not client.events.running


def test_a_revoked_token_ends_listening_with_unauthorized(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_EVENTS_RECHECK_INTERVAL="1")
    user = make_user(server)
    with Client(server.url, user.token, retries=FAST) as client:
        seen = Recorder()
        client.events.on("subscribed", seen)
        client.events.subscribe(f"user:{user.id}")
        client.events.start()
        seen.wait(subscribed(f"user:{user.id}"))
        client.logout()  # revokes the token the websocket uses
        with pytest.raises(Unauthorized):
            client.events.wait(5)
        assert client.events.session.connects == 1  # no reconnect loop


def test_async_stream(server: LiveServer, user: TestUser, other_user: TestUser) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, user.token, retries=FAST) as client:
            mine = f"user:{user.id}"
            got: list[Envelope] = []
            async with asyncio.timeout(10):
                async for message in client.events.stream([mine], control=True):
                    got.append(message)
                    if message["op"] == "subscribed":
                        project = await client.projects.create("async-live")
                    elif message.get("event") == "project.created":
                        break
            assert got[-1]["data"]["id"] == project["id"]
            assert client.events.offsets[mine] == got[-1]["offset"]

            with pytest.raises(SubscriptionRefused):
                async with asyncio.timeout(5):
                    async for _ in client.events.stream([f"user:{other_user.id}"]):
                        pass

            client.set_token("not-a-token")
            with pytest.raises(Unauthorized):
                async with asyncio.timeout(5):
                    async for _ in client.events.stream([mine]):
                        pass

    asyncio.run(scenario())
