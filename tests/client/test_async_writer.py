"""`AsyncClient.writer` against the live server: every point once, flush/send/aclose,
callbacks, a server that is down for a while, spools handed between sync and async writers,
and the memory cap of writers without a spool (sync and async)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path
from typing import Any

import pytest

import cloudlet
from cloudlet import DataPoint, DataSeries, DataStore
from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer, free_port, restart_server
from tests.support.writing import T0, eventually, pause, values_of


def public(obj: object) -> set[str]:
    return {n for n, _ in inspect.getmembers(obj) if not n.startswith("_")}


def test_the_async_writer_has_the_sync_writers_names(server: LiveServer, user: TestUser
                                                     ) -> None:
    project = user.home_project["id"]

    async def go() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            with cloudlet.Client(server.url, user.token, profile=False) as s:
                w = s.writer(project)
                aw = a.writer(project)
                assert public(aw) - {"aclose"} == public(w)
                assert (inspect.signature(cloudlet.AsyncWriter).parameters.keys()
                        == inspect.signature(cloudlet.Writer).parameters.keys())
                w.close()
                await aw.aclose()

    asyncio.run(go())
    with pytest.raises(RuntimeError, match="running event loop"):
        cloudlet.AsyncClient(server.url, user.token, profile=False).writer(project)


def test_every_point_once_from_many_tasks(server: LiveServer, client: cloudlet.Client,
                                          user: TestUser) -> None:
    project = user.home_project["id"]
    batches: list[int] = []
    answers: list[Any] = []

    async def on_success(batch: Any, answer: Any) -> None:  # a coroutine callback is awaited
        await asyncio.sleep(0)
        answers.append(answer)

    async def go() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            async with a.writer(project, device="aw-many", batch_size=64,
                                flush_interval=0.05,
                                on_success=on_success) as w:
                async def many(k: int) -> None:
                    for i in range(300):
                        await w.add(f"m{k}", i, T0 + i)
                        if i % 50 == 0:
                            await asyncio.sleep(0)

                await asyncio.gather(*(many(k) for k in range(4)))
                await w.add("a", DataPoint(1, T0))
                await w.add_series(DataSeries("b", [DataPoint(3, T0), DataPoint(4, T0 + 1)]))
                await w.add_series("c", [DataPoint(5, T0)])
                table = DataStore(["a", "b"])
                table.add({"a": 6}, T0 + 2)
                table.add([7, 8], T0 + 3)
                await w.add_table(table)
                for bad in (w.add("time", 1, T0), w.add("a", "x", T0),
                            w.add("a", 1, 10**15)):
                    with pytest.raises((TypeError, ValueError)):
                        await bad
                # leaving the block drains: aclose() returns once the server has them all
            batches.append(len(answers))
            with pytest.raises(RuntimeError, match="closed"):
                await w.add("t", 1, T0)

    asyncio.run(go())
    assert batches[0] >= 1200 // 64
    assert sum(answer["points"] for answer in answers) == 1200 + 7
    for k in range(4):
        assert values_of(client, project, f"m{k}", "aw-many") == list(range(300))
    assert values_of(client, project, "a", "aw-many") == [1, 6, 7]
    assert values_of(client, project, "b", "aw-many") == [3, 4, 8]
    assert values_of(client, project, "c", "aw-many") == [5]


def test_flush_send_refusals_and_interval(server: LiveServer, client: cloudlet.Client,
                                          user: TestUser) -> None:
    project = user.home_project["id"]

    async def go() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            ticks: list[int] = []
            async with a.writer(project, device="aw-flush", batch_size=3,
                                flush_interval=3600) as w:
                pause(server, 0.5)
                for i in range(7):
                    await w.add("t", i, T0 + i)
                await w.flush()  # the server's writer is held: returns once committed
                assert w.unsent == 0
                assert values_of(client, project, "t", "aw-flush") == list(range(7))
                await w.add("t", 7, T0 + 7)
                await w.send()
                assert values_of(client, project, "t", "aw-flush") == list(range(8))
            async with a.writer(project, device="aw-tick", flush_interval=0.05,
                                on_success=lambda b, _: ticks.append(len(b))) as w:
                await w.add("t", 1.5, T0)
                await asyncio.to_thread(eventually, lambda: ticks == [1], "the interval")

            errors: list[Any] = []
            w = a.writer(project, device="bad key!", batch_size=2,
                         on_error=lambda b, e: errors.append((b, e)))
            for i in range(3):
                await w.add("t", i, T0 + i)
            await w.flush()  # reported to on_error: flush does not raise
            assert [len(b) for b, _ in errors] == [2, 1]
            assert all(isinstance(e, cloudlet.BadRequest) for _, e in errors)
            await w.aclose()
            w = a.writer(project, device="bad key!")
            await w.add("t", 1, T0)
            with pytest.raises(cloudlet.WriteFailed) as failed:
                await w.flush()
            assert isinstance(failed.value.failures[0][1], cloudlet.BadRequest)
            await w.add("t", 2, T0)
            with pytest.raises(cloudlet.BadRequest):
                await w.send()
            await w.aclose()

        nowhere = cloudlet.AsyncClient(f"http://127.0.0.1:{free_port()}", user.token,
                                       profile=False)
        w = nowhere.writer(project, device="aw-gone", max_retries=2, backoff=0.001)
        await w.add("t", 1, T0)
        with pytest.raises(cloudlet.ConnectionFailed):
            await w.send()
        with pytest.raises(cloudlet.WriteFailed) as failed:
            await w.flush()
        assert isinstance(failed.value.failures[0][1], cloudlet.ConnectionFailed)
        await w.aclose()
        w = nowhere.writer(project, device="aw-gone", backoff=0.01)
        await w.add("t", 1, T0)
        with pytest.raises(TimeoutError):
            await w.flush(timeout=0.1)
        with pytest.raises(cloudlet.WriteFailed, match="1 points unsent"):
            await w.aclose(timeout=0.1)
        await nowhere.aclose()

    asyncio.run(go())
    assert values_of(client, project, "t", "aw-tick") == [1.5]


@pytest.mark.parametrize("spooled", [False, True])
def test_server_down_for_a_while(launch: Launch, tmp_path: Path, spooled: bool) -> None:
    server = launch()
    user = make_user(server)
    project = user.home_project["id"]
    got: list[int] = []

    async def go() -> None:
        nonlocal server
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            w = a.writer(project, device="aw-down", batch_size=20, flush_interval=0.01,
                         backoff=0.05, max_backoff=0.2,
                         on_success=lambda b, _: got.append(len(b)),
                         spool_dir=tmp_path / "spool" if spooled else None)
            await w.add("t", 0, T0)
            await w.flush()
            server.stop()
            for i in range(1, 101):
                await w.add("t", i, T0 + i)
            while w.unsent < 100:  # the writer holds on while the server is down
                await asyncio.sleep(0.01)
            server = await asyncio.to_thread(restart_server, server)
            await w.flush()
            await w.aclose()

    try:
        asyncio.run(go())
        assert sum(got) == 101
        with cloudlet.Client(server.url, user.token, profile=False) as client:
            assert values_of(client, project, "t", "aw-down") == list(range(101))
    finally:
        server.stop()


def test_spools_pass_between_sync_and_async_writers(client: cloudlet.Client, user: TestUser,
                                                    tmp_path: Path) -> None:
    """One spool format: what a sync writer left, an async one sends, and the reverse;
    the one-writer lock holds across the two kinds."""
    project = user.home_project["id"]
    url = f"http://127.0.0.1:{free_port()}"
    with cloudlet.Client(url, user.token, profile=False) as nowhere:
        w = nowhere.writer(project, device="aw-hand", spool_dir=tmp_path, batch_size=7,
                           backoff=0.001)
        for i in range(30):
            w.add("t", i, T0 + i)
        eventually(lambda: w.unsent == 30 and w._core.head() is not None,  # noqa: SLF001
                   "a batch recorded in the spool and tried")

        async def locked() -> None:
            async with cloudlet.AsyncClient(client.url, user.token, profile=False) as a:
                with pytest.raises(cloudlet.SpoolInUse):
                    a.writer(project, device="aw-hand", spool_dir=tmp_path)

        asyncio.run(locked())
        w.close(timeout=0.2)  # a spool keeps what is unsent

    sent: list[int] = []

    async def drain_then_leave() -> None:
        async with cloudlet.AsyncClient(client.url, user.token, profile=False) as a:
            async with a.writer(project, device="aw-hand", spool_dir=tmp_path,
                                on_success=lambda b, _: sent.append(len(b))) as w:
                assert w.unsent == 30
        async with cloudlet.AsyncClient(url, user.token, profile=False) as nowhere:
            w = nowhere.writer(project, device="aw-hand", spool_dir=tmp_path, batch_size=5,
                               backoff=0.001)
            await w.add_series("t", [DataPoint(i, T0 + i) for i in range(30, 45)])
            while w._core.head() is None:  # noqa: SLF001 - a recorded batch, tried
                await asyncio.sleep(0.01)
            await w.aclose(timeout=0.2)

    asyncio.run(drain_then_leave())
    assert sum(sent) == 30
    assert values_of(client, project, "t", "aw-hand") == list(range(30))
    with client.writer(project, device="aw-hand", spool_dir=tmp_path,
                       on_success=lambda b, _: sent.append(len(b))) as w:
        assert w.unsent == 15
    assert sum(sent) == 45
    assert values_of(client, project, "t", "aw-hand") == list(range(45))


# --- the memory cap -------------------------------------------------------------------------

def test_a_full_sync_writer_blocks_then_raises(user: TestUser) -> None:
    project = user.home_project["id"]
    nowhere = cloudlet.Client(f"http://127.0.0.1:{free_port()}", user.token, profile=False)
    w = nowhere.writer(project, device="cap", max_buffered=10, buffer_timeout=0.1,
                       batch_size=4, backoff=0.01)
    w.add_series("t", [DataPoint(i, T0 + i) for i in range(10)])
    with pytest.raises(cloudlet.BufferFull, match="max_buffered=10"):
        w.add("t", 10, T0 + 10)
    assert w.unsent == 10  # nothing of the refused call was queued
    with pytest.raises(ValueError, match="more than max_buffered"):
        w.add_series("t", [DataPoint(i, T0 + i) for i in range(11)])
    with pytest.raises(cloudlet.WriteFailed, match="10 points unsent"):
        w.close(timeout=0.1)
    nowhere.close()


def test_a_full_sync_writer_waits_for_room_and_loses_nothing(
        client: cloudlet.Client, user: TestUser, server: LiveServer) -> None:
    project = user.home_project["id"]
    w = client.writer(project, device="cap-wait", max_buffered=5, buffer_timeout=None,
                      batch_size=5, flush_interval=0.01)
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.wait(0.0005):
            peak = max(peak, w.unsent)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        pause(server, 0.3)  # the first batch is held: the adder must wait for room
        for i in range(60):
            w.add("t", i, T0 + i)
        w.close()
    finally:
        stop.set()
        watcher.join()
    assert peak <= 5
    assert values_of(client, project, "t", "cap-wait") == list(range(60))


def test_a_full_async_writer_awaits_room_then_raises(client: cloudlet.Client, user: TestUser,
                                                     server: LiveServer) -> None:
    project = user.home_project["id"]

    async def go() -> None:
        async with cloudlet.AsyncClient(f"http://127.0.0.1:{free_port()}", user.token,
                                        profile=False) as nowhere:
            w = nowhere.writer(project, device="acap", max_buffered=10, buffer_timeout=0.1,
                               batch_size=4, backoff=0.01)
            await w.add_series("t", [DataPoint(i, T0 + i) for i in range(10)])
            with pytest.raises(cloudlet.BufferFull):
                await w.add("t", 10, T0 + 10)
            assert w.unsent == 10
            with pytest.raises(ValueError, match="more than max_buffered"):
                await w.add_series("t", [DataPoint(i, T0 + i) for i in range(11)])
            with pytest.raises(cloudlet.WriteFailed, match="10 points unsent"):
                await w.aclose(timeout=0.1)
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            w = a.writer(project, device="acap-wait", max_buffered=5, buffer_timeout=None,
                         batch_size=5, flush_interval=0.01)
            peak = 0

            async def add_all() -> None:
                nonlocal peak
                for i in range(60):
                    await w.add("t", i, T0 + i)
                    peak = max(peak, w.unsent)

            pause(server, 0.3)
            await add_all()
            await w.aclose()
            assert peak <= 5

    asyncio.run(go())
    assert values_of(client, project, "t", "acap-wait") == list(range(60))


def test_a_loop_ending_under_an_open_writer_releases_its_spool(
        client: cloudlet.Client, user: TestUser, tmp_path: Path) -> None:
    project = user.home_project["id"]

    async def forget_to_close() -> None:
        async with cloudlet.AsyncClient(f"http://127.0.0.1:{free_port()}", user.token,
                                        profile=False) as nowhere:
            w = nowhere.writer(project, device="aw-left", spool_dir=tmp_path, backoff=0.01)
            await w.add_series("t", [DataPoint(i, T0 + i) for i in range(5)])

    asyncio.run(forget_to_close())  # asyncio.run cancels the writer's task
    with client.writer(project, device="aw-left", spool_dir=tmp_path) as w:
        assert w.unsent == 5  # the lock was released; the points were kept
    assert values_of(client, project, "t", "aw-left") == list(range(5))


def test_aclose_timeout_abandons_a_request_in_flight_and_the_spool_resends_it(
        client: cloudlet.Client, user: TestUser, server: LiveServer, tmp_path: Path) -> None:
    project = user.home_project["id"]
    answered: list[int] = []

    async def go() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False) as a:
            w = a.writer(project, device="aw-flight", spool_dir=tmp_path, batch_size=10,
                         on_success=lambda b, _: answered.append(len(b)))
            pause(server, 1.5)  # the batch's request waits on the server's held writer
            await w.add_series("t", [DataPoint(i, T0 + i) for i in range(10)])
            await w.aclose(timeout=0.1)  # gives up before the answer; no error with a spool

    asyncio.run(go())
    assert answered == []
    with client.writer(project, device="aw-flight", spool_dir=tmp_path) as w:
        assert w.unsent == 10  # the batch was still recorded: sent again, same key
    assert values_of(client, project, "t", "aw-flight") == list(range(10))
