"""Bus backends, picked by URL and imported lazily: the embedded default needs no Redis."""

from __future__ import annotations

import importlib

from cloudlet.server.events.bus import Bus
from cloudlet.server.settings import Settings

BACKENDS = {
    "memory": "cloudlet.server.events.bus:MemoryBus",
    "redis": "cloudlet.server.events.redis_bus:RedisBus",
    "rediss": "cloudlet.server.events.redis_bus:RedisBus",
}


def make_bus(settings: Settings) -> Bus:
    url = settings.redis_url or "memory://"
    scheme = url.split("://", 1)[0]
    if scheme not in BACKENDS:
        raise ValueError(f"No event bus for {url!r}; use redis://… or leave it unset.")
    module, _, name = BACKENDS[scheme].partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise RuntimeError(
            f"CLOUDLET_REDIS_URL needs the redis extra: pip install 'cloudlet[redis]' ({exc})"
        ) from exc
    sizes = {"history_size": settings.events_history_size,
             "history_age": float(settings.events_history_age)}
    if scheme == "memory":
        return cls(**sizes)  # type: ignore[no-any-return]
    return cls(url, prefix=settings.redis_prefix, **sizes)  # type: ignore[no-any-return]
