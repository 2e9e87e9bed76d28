"""Where Engine.IO sessions live: each one's liveness and its queue of packets awaiting a
poll. In this process by default; in Redis when `CLOUDLET_REDIS_URL` is set, so that with
several workers any worker serves any poll or post of a session (no sticky routing needed).

A session is alive while the client keeps polling or posting: every request renews it for
`LIFETIME` seconds (the client pings at least every `pingInterval`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

LIFETIME = 45.0  # pingInterval + pingTimeout


class Sessions(Protocol):
    async def create(self, sid: str) -> None: ...

    async def touch(self, sid: str) -> bool:
        """Renew a session; False if it is unknown or over."""

    async def alive(self, sid: str) -> bool: ...

    async def push(self, sid: str, packets: list[str]) -> None: ...

    async def take(self, sid: str, hold: float) -> list[str]:
        """Every queued packet, waiting up to `hold` seconds for one; [] if none came."""

    async def end(self, sid: str) -> None: ...


@dataclass
class _Box:
    packets: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    seen: float = field(default_factory=time.monotonic)


class MemorySessions:
    """One process's sessions (the embedded default runs one worker)."""

    def __init__(self) -> None:
        self._boxes: dict[str, _Box] = {}

    async def create(self, sid: str) -> None:
        now = time.monotonic()  # sweep the sessions their clients left
        self._boxes = {k: b for k, b in self._boxes.items() if now - b.seen < LIFETIME}
        self._boxes[sid] = _Box()

    async def touch(self, sid: str) -> bool:
        box = self._boxes.get(sid)
        if box is not None:
            box.seen = time.monotonic()
        return box is not None

    async def alive(self, sid: str) -> bool:
        box = self._boxes.get(sid)
        return box is not None and time.monotonic() - box.seen < LIFETIME

    async def push(self, sid: str, packets: list[str]) -> None:
        box = self._boxes.get(sid)
        if box is not None:
            box.packets.extend(packets)
            box.ready.set()

    async def take(self, sid: str, hold: float) -> list[str]:
        box = self._boxes.get(sid)
        if box is None:
            return []
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(box.ready.wait(), hold)
        packets, box.packets = box.packets, []
        box.ready.clear()
        box.seen = time.monotonic()
        return packets

    async def end(self, sid: str) -> None:
        box = self._boxes.pop(sid, None)
        if box is not None:
            box.ready.set()  # release a held poll


class RedisSessions:
    """Sessions shared by every worker: a liveness key and a packet list per session."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._client: Any = None

    @property
    def _redis(self) -> Any:
        if self._client is None:  # made on first use, inside the server's event loop
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url)
        return self._client

    def _keys(self, sid: str) -> tuple[str, str]:
        return f"{self.prefix}:eio:{sid}", f"{self.prefix}:eio:{sid}:out"

    async def create(self, sid: str) -> None:
        await self._redis.set(self._keys(sid)[0], 1, px=int(LIFETIME * 1000))

    async def touch(self, sid: str) -> bool:
        return bool(await self._redis.pexpire(self._keys(sid)[0], int(LIFETIME * 1000)))

    async def alive(self, sid: str) -> bool:
        return bool(await self._redis.exists(self._keys(sid)[0]))

    async def push(self, sid: str, packets: list[str]) -> None:
        live, out = self._keys(sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(out, *packets)
            pipe.pexpire(out, int(LIFETIME * 1000))
            await pipe.execute()

    async def take(self, sid: str, hold: float) -> list[str]:
        out = self._keys(sid)[1]
        first = await self._redis.blpop([out], timeout=max(1, int(hold)))
        if first is None:
            return []
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrange(out, 0, -1)
            pipe.delete(out)
            rest, _ = await pipe.execute()
        return [p.decode() for p in (first[1], *rest)]

    async def end(self, sid: str) -> None:
        await self._redis.delete(*self._keys(sid))
