"""One contract, every bus: the in-process bus and (when CLOUDLET_TEST_REDIS_URL is set) Redis."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from cloudlet.server.events.bus import Bus, MemoryBus, Subscriber

REDIS_URL = os.environ.get("CLOUDLET_TEST_REDIS_URL")
KINDS = ["memory"] + (["redis"] if REDIS_URL else [])
MakeBus = Callable[..., Bus]


@pytest.fixture(params=KINDS)
def make_bus(request: pytest.FixtureRequest) -> MakeBus:
    prefix = f"cloudlet-test-{uuid.uuid4().hex[:8]}"

    def make(history_size: int = 100, history_age: float = 3600) -> Bus:
        if request.param == "memory":
            return MemoryBus(history_size=history_size, history_age=history_age)
        from cloudlet.server.events.redis_bus import RedisBus

        assert REDIS_URL
        return RedisBus(REDIS_URL, prefix=prefix, history_size=history_size,
                        history_age=history_age)

    return make


def run(coro_fn: Callable[[], object]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


async def started(bus: Bus) -> Bus:
    await bus.start()
    return bus


async def collect(sub: Subscriber, n: int, timeout: float = 5) -> list[int]:
    got = []
    while len(got) < n:
        event = await asyncio.wait_for(sub.get(), timeout)
        assert event is not None
        got.append(event.data["i"])
    return got


def test_offsets_are_dense_per_topic_and_history_resumes(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            offsets = [bus.publish("project:1", "e", {"i": i}).offset for i in range(5)]
            assert offsets == [1, 2, 3, 4, 5]
            assert bus.publish("project:2", "e", {"i": 0}).offset == 1
            assert await bus.latest("project:1") == 5
            history = await bus.history("project:1", 2)
            assert [e.offset for e in history.events] == [3, 4, 5]
            assert [e.data["i"] for e in history.events] == [2, 3, 4]
            assert history.missing is None and history.latest == 5
            assert (await bus.history("project:9", 0)).events == []
        finally:
            await bus.close()

    run(scenario)


def test_subscribers_get_live_events_in_order(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            a, b = Subscriber(100), Subscriber(100)
            await bus.subscribe("user:1", a)
            await bus.subscribe("user:1", b)
            await asyncio.sleep(0.05)
            for i in range(20):
                bus.publish("user:1", "e", {"i": i})
            bus.publish("user:2", "e", {"i": -1})  # another topic: not delivered
            assert await collect(a, 20) == list(range(20))
            assert await collect(b, 20) == list(range(20))
            await bus.unsubscribe("user:1", a)
            bus.publish("user:1", "e", {"i": 20})
            assert await collect(b, 1) == [20]
            await asyncio.sleep(0.1)
            assert a.queue.empty()
        finally:
            await bus.close()

    run(scenario)


def test_concurrent_first_subscribers_all_get_events(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            subs = [Subscriber(100) for _ in range(20)]
            await asyncio.gather(*(bus.subscribe("project:8", s) for s in subs))
            await asyncio.sleep(0.05)
            for i in range(3):
                bus.publish("project:8", "e", {"i": i})
            for sub in subs:
                assert await collect(sub, 3) == [0, 1, 2]
        finally:
            await bus.close()

    run(scenario)


def test_publishing_from_another_thread(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            sub = Subscriber(100)
            await bus.subscribe("project:7", sub)
            await asyncio.sleep(0.05)
            thread = threading.Thread(
                target=lambda: [bus.publish("project:7", "e", {"i": i}) for i in range(10)]
            )
            thread.start()
            assert await collect(sub, 10) == list(range(10))
            thread.join()
        finally:
            await bus.close()

    run(scenario)


def test_history_is_bounded_by_count_and_says_so(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus(history_size=3))
        try:
            for i in range(10):
                bus.publish("t:1", "e", {"i": i})
            history = await bus.history("t:1", 2)
            assert [e.offset for e in history.events] == [8, 9, 10]
            assert history.missing == (3, 7)
            assert (await bus.history("t:1", 7)).missing is None
        finally:
            await bus.close()

    run(scenario)


def test_history_is_bounded_by_age(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus(history_age=0.3))
        try:
            bus.publish("t:1", "e", {"i": 0})
            bus.publish("t:1", "e", {"i": 1})
            time.sleep(0.4)
            bus.publish("t:1", "e", {"i": 2})
            history = await bus.history("t:1", 0)
            assert [e.offset for e in history.events] == [3]
            assert history.missing == (1, 2)
        finally:
            await bus.close()

    run(scenario)


def test_an_offset_from_before_a_restart_is_a_gap(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            bus.publish("t:1", "e", {"i": 0})
            history = await bus.history("t:1", 40)
            assert history.restarted and history.missing == (41, None)
            assert [e.offset for e in history.events] == [1]
        finally:
            await bus.close()

    run(scenario)


def test_a_slow_subscriber_overflows_without_blocking_anyone(make_bus: MakeBus) -> None:
    async def scenario() -> None:
        bus = await started(make_bus())
        try:
            slow, fast = Subscriber(5), Subscriber(1000)
            await bus.subscribe("t:1", slow)
            await bus.subscribe("t:1", fast)
            await asyncio.sleep(0.05)
            for i in range(50):
                bus.publish("t:1", "e", {"i": i})
            assert await collect(fast, 50) == list(range(50))
            assert await asyncio.wait_for(slow.get(), 5) is None or slow.overflowed
            assert slow.overflowed and slow.overflow.is_set()
        finally:
            await bus.close()

    run(scenario)


def test_a_claim_is_granted_once_per_key_until_it_lapses(make_bus: MakeBus) -> None:
    """One-time credentials: every worker sharing the bus sees the first claim."""
    async def scenario() -> None:
        first = await started(make_bus())
        second = first if isinstance(first, MemoryBus) else await started(make_bus())
        try:
            assert await first.claim_once("k1", 0.2)
            assert not await second.claim_once("k1", 0.2)
            assert await second.claim_once("k2", 0.2)
            await asyncio.sleep(0.5)
            assert await second.claim_once("k1", 60)
        finally:
            await first.close()
            if second is not first:
                await second.close()

    run(scenario)


@pytest.mark.skipif(not REDIS_URL, reason="needs CLOUDLET_TEST_REDIS_URL")
def test_redis_delivers_between_two_buses() -> None:
    """Two RedisBus instances stand for two workers: one publishes, the other delivers."""
    from cloudlet.server.events.redis_bus import RedisBus

    assert REDIS_URL
    prefix = f"cloudlet-test-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        def make() -> RedisBus:
            assert REDIS_URL
            return RedisBus(REDIS_URL, prefix=prefix, history_size=100, history_age=3600)

        writer, reader = await started(make()), await started(make())
        try:
            sub = Subscriber(100)
            await reader.subscribe("project:3", sub)
            await asyncio.sleep(0.05)
            for i in range(5):
                writer.publish("project:3", "e", {"i": i})
            assert await collect(sub, 5) == list(range(5))
        finally:
            await writer.close()
            await reader.close()

    run(scenario)


def test_a_live_jump_in_offsets_is_reported_as_a_gap() -> None:
    """A reader that fell behind the history's trimming skips offsets: the follower says so."""
    from cloudlet.server.events.follow import Follower
    from cloudlet.server.events.model import Event

    async def scenario() -> None:
        bus = await started(MemoryBus(history_size=10, history_age=60))
        follower = Follower(bus, 100)
        await follower.follow("t:1", None)
        for offset in (1, 2, 6):
            follower.subscriber._put(Event("t:1", "e", {"i": offset}, offset, time.time()))
        got = [await follower.next(1) for _ in range(4)]
        assert [g.offset for g in got[:2]] == [1, 2]  # type: ignore[union-attr]
        assert got[2] == {"op": "gap", "topic": "t:1", "from_offset": 3, "to_offset": 5,
                          "latest": 6, "detail": got[2]["detail"]}  # type: ignore[index]
        assert got[3].offset == 6  # type: ignore[union-attr]
        await follower.close()

    run(scenario)
