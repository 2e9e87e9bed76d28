"""Following topics for one connection, whatever its transport (websocket or SSE).

Order and no-loss: a topic is subscribed before its history is read, and live events are
held back until the replay is sent; anything at or below the last offset sent is dropped, so
a resumed topic yields each event exactly once, in order, or an explicit gap.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cloudlet.server.events.bus import Bus, Subscriber
from cloudlet.server.events.model import Event, History, encode_cursor, gap_envelope

Message = dict[str, Any]


class Follower:
    def __init__(self, bus: Bus, queue_size: int) -> None:
        self.bus = bus
        self.subscriber = Subscriber(queue_size)
        self.offsets: dict[str, int] = {}  # topic → last offset handed to the client
        self._lock = asyncio.Lock()
        self._after_gap: Event | None = None  # the event a live gap message stands before

    @property
    def cursor(self) -> str:
        return encode_cursor(self.offsets)

    async def follow(self, topic: str, after: int | None) -> list[Message]:
        """Subscribe; answers the acknowledgement, then any gap and the replayed history."""
        async with self._lock:
            await self.bus.subscribe(topic, self.subscriber)
            if after is None:
                latest = await self.bus.latest(topic)
                self.offsets[topic] = latest
                return [{"op": "subscribed", "topic": topic, "offset": latest}]
            history = await self.bus.history(topic, max(0, after))
            messages: list[Message] = [
                {"op": "subscribed", "topic": topic, "offset": history.latest}
            ]
            if history.missing is not None:
                messages.append(gap_envelope(topic, history))
            last = 0 if history.restarted else max(0, after)
            for event in history.events:
                messages.append(event.envelope())
                last = event.offset
            self.offsets[topic] = last
            return messages

    async def unfollow(self, topic: str) -> None:
        async with self._lock:
            self.offsets.pop(topic, None)
            await self.bus.unsubscribe(topic, self.subscriber)

    async def next(self, timeout: float) -> Event | Message | None:
        """The next live event; `{"op": "idle"}` after `timeout`; None when overflowed.

        A live event that skips offsets (a Redis reader that fell behind the history's
        trimming) is preceded by a gap message: never a silent skip.
        """
        if self._after_gap is not None:
            event, self._after_gap = self._after_gap, None
            return event
        while True:
            try:
                event = await asyncio.wait_for(self.subscriber.get(), timeout)
            except TimeoutError:
                return {"op": "idle"}
            if event is None:
                return None
            async with self._lock:
                last = self.offsets.get(event.topic)
                if last is None or event.offset <= last:
                    continue
                self.offsets[event.topic] = event.offset
                if event.offset > last + 1:
                    self._after_gap = event
                    missing = History([], event.offset, (last + 1, event.offset - 1))
                    return gap_envelope(event.topic, missing)
                return event

    async def close(self) -> None:
        for topic in list(self.offsets):
            await self.unfollow(topic)
