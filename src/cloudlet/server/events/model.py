"""Events and the wire envelope `{op, topic, event, data, id, offset, time}`.

Offsets count up from 1 per topic. A client resumes a topic by naming the last offset it saw;
the SSE cursor (`Last-Event-ID`) carries every topic's offset as `topic@offset,…`.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson


class _Ids:
    """Event ids as unique as uuid4 hex (32 hex digits: 64 random bits chosen once per
    process, then a counter) without a system call per event: a commit group publishes
    one event per stream it wrote."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked worker picks its own

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFFFFFF:016x}"


_new_id = _Ids()


@dataclass(frozen=True)
class Event:
    topic: str
    event: str
    data: dict[str, Any]
    offset: int
    time: float  # epoch seconds
    id: str = field(default_factory=_new_id)

    def envelope(self) -> dict[str, Any]:
        return {
            "op": "event",
            "topic": self.topic,
            "event": self.event,
            "data": self.data,
            "id": self.id,
            "offset": self.offset,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
        }

    @cached_property
    def wire(self) -> str:
        """The envelope as JSON text, encoded once however many subscribers get it."""
        return orjson.dumps(self.envelope()).decode()

    def stored(self) -> bytes:
        """What a backend keeps (the offset is the backend's own key)."""
        return orjson.dumps(
            {"topic": self.topic, "event": self.event, "data": self.data, "time": self.time,
             "id": self.id}
        )

    @classmethod
    def from_stored(cls, raw: bytes | str, offset: int) -> Event:
        fields = orjson.loads(raw)
        return cls(offset=offset, **fields)


@dataclass(frozen=True)
class History:
    """What a topic still holds after an offset, and whether some of it is gone."""

    events: list[Event]
    latest: int  # the newest offset the topic has ever had (0: none yet)
    missing: tuple[int, int | None] | None = None  # (first, last) offsets no longer held
    restarted: bool = False  # the asked-for offset is from before the history restarted


def gap_envelope(topic: str, history: History) -> dict[str, Any]:
    assert history.missing is not None
    first, last = history.missing
    if history.restarted:
        detail = (f"The history of {topic} restarted (the server restarted without a shared "
                  f"bus); events after {first - 1} may be lost and offsets begin again.")
    else:
        detail = f"Events {first}-{last} of {topic} are no longer in the history."
    return {"op": "gap", "topic": topic, "from_offset": first, "to_offset": last,
            "latest": history.latest, "detail": detail}


def encode_cursor(offsets: dict[str, int]) -> str:
    return ",".join(f"{topic}@{offset}" for topic, offset in sorted(offsets.items()))


def decode_cursor(text: str | None) -> dict[str, int]:
    """Parse `topic@offset,…`; anything malformed is ignored (a fresh start, not an error)."""
    offsets: dict[str, int] = {}
    for part in (text or "").split(","):
        topic, _, offset = part.strip().rpartition("@")
        if topic and offset.isdigit():
            offsets[topic] = int(offset)
    return offsets
