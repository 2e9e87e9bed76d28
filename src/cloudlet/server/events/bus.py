"""The event bus contract, and its in-process implementation (the embedded default).

Publishing never blocks: it may come from any thread (services run in a thread pool) and
hands each event to subscribers' bounded queues. A subscriber that falls behind is marked
overflowed and its connection closes; publishers and other subscribers never wait for it.
"""

from __future__ import annotations

import abc
import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cloudlet.server.events.model import Event, History


class Subscriber:
    """One connection's inbox for all the topics it follows."""

    def __init__(self, maxsize: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.overflow = asyncio.Event()  # set once, for whoever must close the connection

    def deliver(self, event: Event) -> None:
        """Thread-safe, never blocks."""
        fan_out([self], event)

    def _put(self, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.overflow.set()
            self.queue._queue.clear()  # type: ignore[attr-defined]
            self.queue.put_nowait(None)  # wake the reader, which closes the connection

    async def get(self) -> Event | None:
        """The next event, or None once this subscriber has overflowed."""
        event = await self.queue.get()
        return None if self.overflowed else event


def fan_out(subscribers: list[Subscriber], event: Event) -> None:
    """Hand an event to many subscribers: directly on their loop's own thread, otherwise
    with one thread-safe wake-up per loop (not one per subscriber)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_loop.setdefault(subscriber.loop, []).append(subscriber)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, group in by_loop.items():
        if loop is running:
            _put_all(group, event)
        else:
            try:
                loop.call_soon_threadsafe(_put_all, group, event)
            except RuntimeError:  # that loop is gone
                pass


def _put_all(subscribers: list[Subscriber], event: Event) -> None:
    for subscriber in subscribers:
        subscriber._put(event)


class Bus(abc.ABC):
    """Per-topic ordered events with a bounded history (by count and by age)."""

    def __init__(self, *, history_size: int, history_age: float) -> None:
        self.history_size = history_size
        self.history_age = history_age

    @abc.abstractmethod
    def publish(self, topic: str, event: str, data: dict[str, Any]) -> Event: ...

    @abc.abstractmethod
    async def subscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    @abc.abstractmethod
    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    @abc.abstractmethod
    async def history(self, topic: str, after: int) -> History: ...

    @abc.abstractmethod
    async def latest(self, topic: str) -> int:
        """The newest offset of a topic (0 if it has none)."""

    @abc.abstractmethod
    async def claim_once(self, key: str, ttl: float) -> bool:
        """True for the first claim of `key` within `ttl` seconds, across every worker that
        shares this bus: how one-time credentials stay one-time."""

    async def start(self) -> None:  # noqa: B027 - a hook; the in-process bus needs none
        """Called once the app's event loop runs."""

    async def close(self) -> None:  # noqa: B027 - likewise
        """Called when the app shuts down."""

    def _held(self, events: list[Event], after: int, latest: int, trimmed: int) -> History:
        """Shared gap rule: offsets after `after` that are neither held nor in the future."""
        cutoff = time.time() - self.history_age
        fresh = [e for e in events if e.time >= cutoff]
        if fresh and len(fresh) < len(events):
            trimmed = max(trimmed, fresh[0].offset - 1)
        elif not fresh and events:
            trimmed = max(trimmed, events[-1].offset)
        if after > latest:  # an offset from before the history restarted (a server restart)
            return History(fresh, latest, (after + 1, None), restarted=True)
        fresh = [e for e in fresh if e.offset > after]
        missing = (after + 1, trimmed) if trimmed > after else None
        return History(fresh, latest, missing)


@dataclass
class _Topic:
    log: deque[Event] = field(default_factory=deque)
    latest: int = 0
    trimmed: int = 0  # the highest offset dropped from the history
    subscribers: set[Subscriber] = field(default_factory=set)


class MemoryBus(Bus):
    """All in this process: fine for one worker, which is what SQLite allows anyway."""

    def __init__(self, *, history_size: int, history_age: float) -> None:
        super().__init__(history_size=history_size, history_age=history_age)
        self._lock = threading.Lock()
        self._topics: dict[str, _Topic] = {}
        self._claims: dict[str, float] = {}  # key → when its claim lapses

    def publish(self, topic: str, event: str, data: dict[str, Any]) -> Event:
        with self._lock:
            state = self._topics.setdefault(topic, _Topic())
            state.latest += 1
            made = Event(topic=topic, event=event, data=data, offset=state.latest,
                         time=time.time())
            state.log.append(made)
            self._trim(state)
            subscribers = list(state.subscribers)
        fan_out(subscribers, made)
        return made

    def _trim(self, state: _Topic) -> None:
        cutoff = time.time() - self.history_age
        while state.log and (len(state.log) > self.history_size or state.log[0].time < cutoff):
            state.trimmed = state.log.popleft().offset

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._topics.setdefault(topic, _Topic()).subscribers.add(subscriber)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        with self._lock:
            state = self._topics.get(topic)
            if state:
                state.subscribers.discard(subscriber)

    async def claim_once(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            self._claims = {k: t for k, t in self._claims.items() if t > now}
            if key in self._claims:
                return False
            self._claims[key] = now + ttl
            return True

    async def latest(self, topic: str) -> int:
        with self._lock:
            state = self._topics.get(topic)
            return state.latest if state else 0

    async def history(self, topic: str, after: int) -> History:
        with self._lock:
            state = self._topics.get(topic)
            if state is None:
                return self._held([], after, 0, 0)
            self._trim(state)
            return self._held(list(state.log), after, state.latest, state.trimmed)
