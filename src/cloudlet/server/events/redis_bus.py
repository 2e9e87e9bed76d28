"""The event bus on Redis Streams, for several workers: one stream per topic.

Offsets are assigned atomically with the append (a Lua script: INCR then XADD with the id
`0-<offset>`), so they are dense per topic across all workers and a stream's ids are the
offsets themselves. Each process runs one reader task that XREADs the topics its own
connections follow and fans events out locally; a per-process control stream wakes it when
that set changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import redis
import redis.asyncio as aioredis

from cloudlet.server.events.bus import Bus, Subscriber, fan_out
from cloudlet.server.events.model import Event, History

log = logging.getLogger(__name__)

_APPEND = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[2], '0-' .. n, 'e', ARGV[1])
return n
"""


READ_BLOCK_MS = 1000  # well under any socket timeout; the control stream wakes it sooner


def _offset(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[1])


class RedisBus(Bus):
    def __init__(
        self, url: str, *, prefix: str, history_size: int, history_age: float
    ) -> None:
        super().__init__(history_size=history_size, history_age=history_age)
        self.url = url
        self.prefix = prefix
        self._sync = redis.Redis.from_url(url)
        self._append = self._sync.register_script(_APPEND)
        self._async: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._control = f"{prefix}:ctl:{uuid.uuid4().hex}"
        self._positions: dict[str, str] = {}  # topic → last stream id read
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._closing = False

    def _stream(self, topic: str) -> str:
        return f"{self.prefix}:ev:{topic}"

    def _counter(self, topic: str) -> str:
        return f"{self.prefix}:evn:{topic}"

    def publish(self, topic: str, event: str, data: dict[str, Any]) -> Event:
        made = Event(topic=topic, event=event, data=data, offset=0, time=time.time())
        offset = int(
            self._append(
                keys=[self._stream(topic), self._counter(topic)],
                args=[made.stored(), self.history_size],
            )
        )
        return Event(topic=topic, event=event, data=data, offset=offset, time=made.time,
                     id=made.id)

    async def start(self) -> None:
        self._async = aioredis.Redis.from_url(self.url)

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        assert self._async is not None, "start() first"
        followers = self._subscribers.get(topic)
        if followers is None:
            # registered before the await below, so a concurrent first subscriber joins this
            # set instead of replacing it
            followers = self._subscribers[topic] = set()
            followers.add(subscriber)
            latest = await self._async.get(self._counter(topic))
            self._positions[topic] = f"0-{int(latest or 0)}"
        followers.add(subscriber)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())
        await self._async.xadd(self._control, {"t": topic}, maxlen=10)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        followers = self._subscribers.get(topic)
        if followers is None:
            return
        followers.discard(subscriber)
        if not followers:
            del self._subscribers[topic]
            self._positions.pop(topic, None)

    async def _read(self) -> None:
        assert self._async is not None
        control_at = "$"
        while self._subscribers and not self._closing:
            streams = {self._stream(t): pos for t, pos in self._positions.items()}
            streams[self._control] = control_at
            try:
                answer = await self._async.xread(streams, block=READ_BLOCK_MS)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if self._closing:  # redis-py may turn our cancellation into one of these
                    return
                log.warning("event bus: redis read failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for stream, entries in answer or []:
                name = stream.decode()
                if name == self._control:
                    control_at = entries[-1][0].decode()
                    continue
                topic = name[len(self.prefix) + 4:]
                if topic not in self._positions:
                    continue
                for entry_id, fields in entries:
                    self._positions[topic] = entry_id.decode()
                    made = Event.from_stored(fields[b"e"], _offset(entry_id))
                    fan_out(list(self._subscribers.get(topic, ())), made)

    async def claim_once(self, key: str, ttl: float) -> bool:
        assert self._async is not None
        made = await self._async.set(f"{self.prefix}:claim:{key}", 1, nx=True,
                                     px=max(1, int(ttl * 1000)))
        return bool(made)

    async def latest(self, topic: str) -> int:
        assert self._async is not None
        return int(await self._async.get(self._counter(topic)) or 0)

    async def history(self, topic: str, after: int) -> History:
        assert self._async is not None
        pipe = self._async.pipeline(transaction=True)
        pipe.get(self._counter(topic))
        pipe.xrange(self._stream(topic), min="-", max="+", count=1)
        pipe.xrange(self._stream(topic), min=f"0-{after + 1}", max="+")
        latest_raw, first, entries = await pipe.execute()
        latest = int(latest_raw or 0)
        if after > latest:  # the history restarted: everything held is news
            entries = await self._async.xrange(self._stream(topic), min="-", max="+")
        oldest = _offset(first[0][0]) if first else latest + 1
        events = [Event.from_stored(fields[b"e"], _offset(i)) for i, fields in entries]
        return self._held(events, after, latest, oldest - 1)

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._async is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._async.delete(self._control), 2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._async.aclose(), 2)
        self._sync.close()
