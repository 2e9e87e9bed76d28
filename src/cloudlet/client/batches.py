"""What a `Writer` queues and sends: rows of (series, µs time, value) numbered in add() order,
cut into `Batch`es, each with a fixed body and an `Idempotency-Key`.

`MemoryQueue` keeps rows in memory; `Spool` (spool.py) keeps them on disk until the server
acknowledges them. Both hand out rows in sequence order and batches in cut order, which is
what lets `Writer.flush()` wait on one number: the last sequence settled.
"""

from __future__ import annotations

import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudlet.client.points import DataPoint, DataSeries, Timestamp, TimeUnit

__all__ = ["Batch", "MemoryQueue", "PointQueue", "Row", "batch_body"]

Row = tuple[str, int, Any]
"""(series, time in µs, value)."""


def batch_body(rows: Sequence[Row], device: str | None) -> bytes:
    """The series-form JSON body for `rows` (times in µs, sent with `precision=us`)."""
    series: dict[str, dict[str, list[Any]]] = {}
    for name, ts, value in rows:
        into = series.setdefault(name, {"time": [], "value": []})
        into["time"].append(ts)
        into["value"].append(value)
    body: dict[str, Any] = {"series": series}
    if device is not None:
        body["device"] = device
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Batch:
    """Points sent in one request. `first`..`last` are the sequence numbers it covers; `body`
    and `key` never change, so a re-sent batch (after a retry or a restart) is the same
    request."""

    id: int
    key: str
    first: int
    last: int
    rows: list[Row]
    body: bytes
    attempts: int = field(default=0, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def series(self) -> list[DataSeries]:
        """The batch's points as one `DataSeries` per series name, in add() order."""
        found: dict[str, DataSeries] = {}
        for name, ts, value in self.rows:
            one = found.setdefault(name, DataSeries(name))
            one.add(DataPoint(value, Timestamp(ts, TimeUnit.MICROSECONDS)))
        return list(found.values())


def new_key() -> str:
    return f"writer-{uuid.uuid4().hex}"


class PointQueue(ABC):
    """Rows waiting to be sent, and the batches cut from them that are not settled yet."""

    device: str | None

    @abstractmethod
    def append(self, rows: Sequence[Row]) -> int:
        """Queue `rows`; returns the sequence number of the last one. With a spool, the rows
        are on disk when this returns."""

    @abstractmethod
    def cut(self, limit: int) -> Batch | None:
        """The next batch of up to `limit` queued rows (None when none wait)."""

    @abstractmethod
    def pending(self) -> list[Batch]:
        """Batches cut before and not settled (a spool's, from an earlier process)."""

    @abstractmethod
    def settle(self, batch: Batch) -> None:
        """Forget `batch`: the server has it, or refused it for good."""

    @property
    @abstractmethod
    def unbatched(self) -> int:
        """How many queued rows are not in a batch yet."""

    @property
    @abstractmethod
    def appended_through(self) -> int:
        """The sequence number of the last row queued."""

    @abstractmethod
    def close(self) -> None:
        """Release what the queue holds open."""


class MemoryQueue(PointQueue):
    """Rows in memory: lost if the process dies before they are sent."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self._lock = threading.Lock()
        self._rows: deque[Row] = deque()
        self._last = 0
        self._next_batch = 1

    def append(self, rows: Sequence[Row]) -> int:
        with self._lock:
            self._rows.extend(rows)
            self._last += len(rows)
            return self._last

    def cut(self, limit: int) -> Batch | None:
        with self._lock:
            if not self._rows:
                return None
            count = min(limit, len(self._rows))
            rows = [self._rows.popleft() for _ in range(count)]
            first = self._last - len(self._rows) - count + 1
            batch_id, self._next_batch = self._next_batch, self._next_batch + 1
        return Batch(batch_id, new_key(), first, first + count - 1, rows,
                     batch_body(rows, self.device))

    def pending(self) -> list[Batch]:
        return []

    def settle(self, batch: Batch) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def unbatched(self) -> int:
        return len(self._rows)

    @property
    def appended_through(self) -> int:
        return self._last
