"""Recently resolved tokens, and what they were found allowed to do, so that a client sending
batch after batch is not looked up in the database for every request.

An entry lives `TTL` seconds at most and never past the token's expiry. Revoking anything in
this process (a token, all of a user's, a user's rights) empties the cache before and after
the commit; other workers hear of it through the event bus (`REVOCATIONS`) and empty theirs,
and the TTL bounds what a lost bus message could cost. A generation counter keeps a lookup
that raced with a revocation from storing what it read before it.

Rights (`rights`/`put_rights`: a principal's access to one project, say) follow the same
rules, and are forgotten with the principals: whatever changes a membership or a role
empties the whole cache, here and, through the bus, in the other workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from cloudlet.server.core.principal import Principal
from cloudlet.server.events.bus import Bus, Subscriber

TTL = 2.0  # seconds
MAX_ENTRIES = 10_000
REVOCATIONS = "tokens:revoked"  # internal topic: no client can follow it


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal, datetime | None]] = {}
        self._rights: dict[Hashable, tuple[float, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, credential: str, now: datetime) -> Principal | None:
        entry = self._entries.get(credential)
        if entry is None:
            return None
        stored, principal, expires_at = entry
        if time.monotonic() - stored > TTL or (expires_at is not None and expires_at <= now):
            self._entries.pop(credential, None)
            return None
        return principal

    def generation(self) -> int:
        """Read before looking a token up; `put` stores only if nothing was revoked since."""
        return self._generation

    def put(self, credential: str, principal: Principal, expires_at: datetime | None,
            generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[credential] = (time.monotonic(), principal, expires_at)

    def rights(self, key: Hashable) -> Any | None:
        """What `put_rights` stored under `key` less than `TTL` ago, else None."""
        entry = self._rights.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry[0] > TTL:
            self._rights.pop(key, None)
            return None
        return entry[1]

    def put_rights(self, key: Hashable, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._rights) >= MAX_ENTRIES:
                self._rights.clear()
            self._rights[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._rights.clear()


async def follow_revocations(bus: Bus, cache: PrincipalCache) -> asyncio.Task[None]:
    """Empty `cache` whenever any worker revokes something; runs until cancelled."""

    async def listen() -> None:
        while True:
            subscriber = Subscriber(256)
            await bus.subscribe(REVOCATIONS, subscriber)
            try:
                while await subscriber.get() is not None:
                    cache.clear()
            finally:
                await bus.unsubscribe(REVOCATIONS, subscriber)
            cache.clear()  # overflowed: something was missed, so forget everything

    return asyncio.get_running_loop().create_task(listen())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
