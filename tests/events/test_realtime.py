"""Realtime over the real server: websocket and SSE, authorization, resume, gaps, slow
consumers, revocation, and delivery across two server processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.accounts import TestUser, make_user, unique
from tests.support.live import LiveServer, start_server
from tests.support.ws import RawSocket, Socket


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def until(socket: Socket, event: str, timeout: float = 10) -> dict[str, Any]:
    while True:
        message = await socket.recv(timeout)
        if message.get("event") == event:
            return message


def test_events_for_each_domain_action(server: LiveServer, user: TestUser,
                                       other_user: TestUser) -> None:
    async def scenario() -> None:
        sock = await Socket.open(server, user.token)
        try:
            assert (await sock.subscribe(f"user:{user.id}"))["op"] == "subscribed"
            with user.client() as c:
                project = c.post("/projects", json={"name": "live"}).json()
            created = await until(sock, "project.created")
            assert created["data"]["id"] == project["id"] and created["topic"] == f"user:{user.id}"
            amigo = await until(sock, "project:creation_succeeded")
            assert amigo["data"] == {"user_id": user.id, "project_id": project["id"]}

            acked = await sock.subscribe(f"project:{project['gid']}")
            assert acked == {"op": "subscribed", "topic": f"project:{project['id']}",
                             "offset": 1}
            with user.client() as c:
                c.patch(f"/projects/{project['id']}", json={"description": "d"})
                c.post(f"/projects/{project['id']}/members",
                       json={"username": other_user.username, "role": "read"})
                c.patch(f"/projects/{project['id']}/members/{other_user.username}",
                        json={"role": "write"})
                c.delete(f"/projects/{project['id']}/members/{other_user.username}")
                org = c.post("/orgs", json={"name": unique("live")}).json()
                c.patch(f"/orgs/{org['slug']}", json={"about": "x"})
                c.post(f"/orgs/{org['slug']}/members", json={"username": other_user.username})
                c.delete(f"/orgs/{org['slug']}/members/{other_user.username}")
                c.delete(f"/orgs/{org['slug']}")
                token = c.post("/tokens", json={"scope": "read"}).json()
                c.delete(f"/tokens/{token['id']}")
                c.delete(f"/projects/{project['id']}")
            seen: list[tuple[str, str]] = []
            while (f"project:{project['id']}", "project.deleted") not in seen:
                message = await sock.recv()
                seen.append((message["topic"], message["event"]))
            p, u = f"project:{project['id']}", f"user:{user.id}"
            expected = [
                (p, "project.updated"), (p, "project.member_added"),
                (p, "project.member_updated"), (p, "project.member_removed"),
                (u, "org.created"), (u, "org.updated"), (u, "org.member_added"),
                (u, "org.member_removed"), (u, "org.deleted"), (u, "token.revoked"),
                (p, "project.deleted"),
            ]
            assert [e for e in seen if e in expected] == expected
        finally:
            await sock.close()

    run(scenario())


def test_unauthorized_topics_are_refused_and_the_connection_stays(
        server: LiveServer, user: TestUser, other_user: TestUser) -> None:
    async def scenario() -> None:
        sock = await Socket.open(server, user.token, header=True)
        try:
            for topic in (f"project:{other_user.home_project['id']}", f"user:{other_user.id}",
                          "nonsense", "galaxy:1", "project:p--zzzz"):
                answer = await sock.subscribe(topic)
                assert answer["op"] == "error" and answer["topic"] == topic, answer
                assert answer["detail"]
            ok = await sock.subscribe(f"project:{user.home_project['id']}")
            assert ok["op"] == "subscribed"
            await sock.send(op="dance")
            assert (await sock.recv())["op"] == "error"
        finally:
            await sock.close()

    run(scenario())


def test_bad_credentials_close_the_socket(server: LiveServer) -> None:
    async def scenario() -> None:
        with pytest.raises((AssertionError, ConnectionClosed)):
            await Socket.open(server, "clt_not-a-real-token")

    run(scenario())


def test_resume_after_a_dropped_connection_loses_nothing(server: LiveServer,
                                                         user: TestUser) -> None:
    topic = f"project:{user.home_project['id']}"

    async def scenario() -> None:
        sock = await Socket.open(server, user.token)
        await sock.subscribe(topic)
        with user.client() as c:
            c.patch(f"/projects/{user.home_project['id']}", json={"description": "0"})
        first = await until(sock, "project.updated")
        sock.conn.transport.abort()  # the network drops: no close handshake
        await sock.close()
        with user.client() as c:  # written while nobody listens
            for i in range(1, 6):
                c.patch(f"/projects/{user.home_project['id']}", json={"description": str(i)})
        again = await Socket.open(server, user.token)
        try:
            await again.subscribe(topic, offset=first["offset"])
            missed = await again.events(5)
            assert [m["data"]["description"] for m in missed] == ["1", "2", "3", "4", "5"]
            assert [m["offset"] for m in missed] == list(range(first["offset"] + 1,
                                                               first["offset"] + 6))
        finally:
            await again.close()

    run(scenario())


def test_a_gap_when_history_no_longer_reaches_back(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_EVENTS_HISTORY_SIZE="3")
    user = make_user(server)
    pid = user.home_project["id"]

    async def scenario() -> None:
        with user.client() as c:
            for i in range(8):
                c.patch(f"/projects/{pid}", json={"description": str(i)})
        sock = await Socket.open(server, user.token)
        try:
            await sock.subscribe(f"project:{pid}", offset=1)
            gap = await sock.recv()
            assert gap["op"] == "gap" and gap["from_offset"] == 2
            assert gap["to_offset"] == gap["latest"] - 3
            held = await sock.events(3)
            assert [m["data"]["description"] for m in held] == ["5", "6", "7"]
        finally:
            await sock.close()

    run(scenario())


def test_a_slow_consumer_is_dropped_while_others_keep_up(launch) -> None:  # type: ignore[no-untyped-def]
    # 200 queued events (~13 MB) plus what loopback socket buffers hold (~10 MB) is far less
    # than the ~40 MB sent, yet room enough for a reader on a busy machine to keep up
    server = launch(CLOUDLET_EVENTS_QUEUE_SIZE="200")
    user = make_user(server)
    topic = f"user:{user.id}"
    count, size = 600, 64 * 1024
    slow = RawSocket.open(server, user.token)
    slow.send(op="subscribe", topic=topic)  # … and then it never reads

    async def scenario() -> None:
        fast = await Socket.open(server, user.token)
        await fast.subscribe(topic)

        async def read_all() -> int:
            got = 0
            while got < count:
                message = await fast.recv(20)
                if message["op"] == "event" and message["event"] == "debug":
                    got += 1
            return got

        reader = asyncio.create_task(read_all())
        async with httpx.AsyncClient(timeout=60) as http:
            answer = await http.post(server.api + "/_debug/publish",
                                     json={"topic": topic, "count": count, "size": size,
                                           "interval": 0.002})
            assert answer.status_code == 200
        assert await asyncio.wait_for(reader, 60) == count  # the fast one got everything
        await fast.close()

    run(scenario())
    # the stalled one reads again: what the socket held, the error, then close code 4008
    received = slow.read_until_closed(timeout=30)
    slow.close()
    assert b"Too slow" in received
    assert b"\x88" in received and (4008).to_bytes(2, "big") in received
    assert received.count(b'"event":"debug"') < count


def test_revoked_token_closes_its_subscriptions(launch) -> None:  # type: ignore[no-untyped-def]
    server = launch(CLOUDLET_EVENTS_RECHECK_INTERVAL="1")
    user = make_user(server)
    with user.client() as c:
        made = c.post("/tokens", json={"scope": "read"}).json()

    async def scenario() -> None:
        sock = await Socket.open(server, made["token"])
        await sock.subscribe(f"project:{user.home_project['id']}")
        with user.client() as c:
            c.delete(f"/tokens/{made['id']}")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await sock.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    run(scenario())


def _sse_events(lines: list[str]) -> list[dict[str, str]]:
    events, current = [], {}
    for line in lines:
        if not line:
            if current:
                events.append(current)
            current = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            current[key] = value
    return events


def test_server_sent_events_with_resume(server: LiveServer, user: TestUser) -> None:
    import json

    pid = user.home_project["id"]
    topic = f"project:{pid}"

    def read(headers: dict[str, str], n: int) -> list[dict[str, str]]:
        lines: list[str] = []
        with httpx.stream("GET", server.api + "/events", params={"topics": topic},
                          headers={"Authorization": f"Bearer {user.token}", **headers},
                          timeout=10) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                lines.append(line)
                got = [e for e in _sse_events(lines) if e.get("event") == "project.updated"]
                if len(got) >= n:
                    return got
        raise AssertionError("stream ended")

    import threading

    def write(values: list[str]) -> None:
        with user.client() as c:
            for v in values:
                c.patch(f"/projects/{pid}", json={"description": v})

    timer = threading.Timer(0.5, write, args=(["a", "b"],))
    timer.start()
    first = read({}, 2)
    timer.join()
    assert [json.loads(e["data"])["data"]["description"] for e in first] == ["a", "b"]
    cursor = first[0]["id"]
    assert cursor == f"{topic}@{json.loads(first[0]['data'])['offset']}"
    resumed = read({"Last-Event-ID": cursor}, 1)
    assert json.loads(resumed[0]["data"])["data"]["description"] == "b"
    with server.client(user.token) as c:
        refused = c.get("/events", params={"topics": "project:999999"})
        assert refused.status_code == 404
        assert c.get("/events", params={"topics": "bogus"}).status_code == 400
    assert httpx.get(server.api + "/events", params={"topics": topic}).status_code == 401


@pytest.mark.skipif(not os.environ.get("CLOUDLET_TEST_REDIS_URL"),
                    reason="needs CLOUDLET_TEST_REDIS_URL")
def test_an_event_crosses_from_one_server_process_to_another(
        backend: str, pg_databases: Any, tmp_path: Any) -> None:
    """Two server processes on one database and one Redis: a write on one, heard on the
    other."""
    import uuid

    redis_env = {"CLOUDLET_REDIS_URL": os.environ["CLOUDLET_TEST_REDIS_URL"],
                 "CLOUDLET_REDIS_PREFIX": f"cloudlet-test-{uuid.uuid4().hex[:8]}",
                 "CLOUDLET_SECRET_KEY": "shared-secret-" + uuid.uuid4().hex}
    url = pg_databases.clone() if backend == "postgres" else None
    first = start_server(url, redis_env, data_dir=tmp_path / "a")
    shared = {**redis_env, "CLOUDLET_DATABASE_URL": url or f"sqlite:///{tmp_path}/a/cloudlet.db"}
    second = start_server(url, shared, data_dir=tmp_path / "b")
    try:
        user = make_user(first)
        pid = user.home_project["id"]

        async def scenario() -> None:
            sock = await Socket.open(second, user.token)
            try:
                await sock.subscribe(f"project:{pid}")
                with user.client() as c:  # the user's client talks to the first server
                    c.patch(f"/projects/{pid}", json={"description": "from A"})
                heard = await until(sock, "project.updated")
                assert heard["data"]["description"] == "from A"
            finally:
                await sock.close()

        run(scenario())
    finally:
        first.stop()
        second.stop()
