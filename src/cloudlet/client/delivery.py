"""The rules every writer follows, without threads or an event loop: `Writer` (writer.py, a
background thread) and `AsyncWriter` (async_writer.py, an asyncio task) are thin shells that
hold a lock and do the waiting and the I/O around one `Delivery`.

- What add() takes: series names and times are checked as the server would, so one bad point
  raises at once instead of spoiling a batch (`rows_of_point`, `rows_of_series`,
  `rows_of_table`).
- When a batch is due: `batch_size` points wait, the oldest has waited `flush_interval`,
  or a flush / close asks (`Delivery.due`, `Delivery.wait`).
- How an answer is classed (`outcome_of`): connection failures, timeouts, 408, 429 and 5xx
  are retried (a `Retry-After` is honoured, else exponential backoff with full jitter,
  forever unless `max_retries`); 400, 413 and 422 mean the batch itself is bad and it is
  dropped; anything else (401, 403, 404) stops this writer's attempts, and a spool keeps the
  batch for the next writer.
- How much may wait in memory: without a spool at most `max_buffered` points are unsent;
  a shell makes add() wait for room up to `buffer_timeout`, then raises `BufferFull`.
- Batches settle in sequence order, so "everything added before flush() is done" is one
  number: the last sequence settled.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from cloudlet.client.batches import Batch, MemoryQueue, PointQueue, Row
from cloudlet.client.calls import build_request, read_answer
from cloudlet.client.connection import Connection
from cloudlet.client.errors import APIError, BufferFull, CloudletError
from cloudlet.client.points import DataPoint, DataSeries, DataStore, Timestamp
from cloudlet.client.spool import Spool

__all__ = ["DEFAULT_BUFFER_TIMEOUT", "DEFAULT_MAX_BUFFERED", "Delivery", "Outcome"]

log = logging.getLogger("cloudlet.client.writer")

DEFAULT_MAX_BUFFERED = 1_000_000
"""Points a writer without a spool holds unsent: about 130 MB of queued rows (measured with
tracemalloc, float values), enough for minutes of outage at thousands of points a second."""
DEFAULT_BUFFER_TIMEOUT = 30.0
"""Seconds add() waits for room before it raises `BufferFull`."""

_RESERVED = frozenset({"time", "time_offset", "all"})
_MIN_TS, _MAX_TS = -2_208_988_800_000_000, 7_258_118_400_000_000  # 1900..2200, as the server
_REJECTED = frozenset({400, 413, 422})  # the batch itself is bad: sending it again won't help

SENT, RETRY, REJECT, STOP = "sent", "retry", "reject", "stop"


# --- what add() takes -----------------------------------------------------------------------

def _series(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A series name is a non-empty string, not {name!r}.")
    if name.lower() in _RESERVED or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise ValueError(f"{name[:40]!r} can't name a series: at most 100 printable "
                         "characters, and not time, time_offset or all.")
    return name


def _row(name: str, point: DataPoint) -> Row:
    ts = point.timestamp.micros()
    if not _MIN_TS <= ts <= _MAX_TS:
        raise ValueError(f"{point.timestamp!r} is outside 1900-2200.")
    return name, ts, point.value


def rows_of_point(series: str, point: DataPoint | Any,
                  timestamp: Timestamp | int | None) -> list[Row]:
    """`add(series, point)`: a `DataPoint`, or a value with an optional timestamp."""
    if not isinstance(point, DataPoint):
        point = DataPoint(point, timestamp)
    elif timestamp is not None:
        raise TypeError("A DataPoint carries its own timestamp.")
    return [_row(_series(series), point)]


def rows_of_series(series: DataSeries | str,
                   points: DataSeries | Iterable[DataPoint] | None) -> list[Row]:
    """`add_series(DataSeries)` or `add_series(name, points)`."""
    if isinstance(series, DataSeries):
        if points is not None:
            raise TypeError("Give a DataSeries, or a name and its points.")
        name, points = series.name, series
    else:
        name = series
    name = _series(name)
    rows = []
    for point in points or ():
        if not isinstance(point, DataPoint):
            raise TypeError(f"add_series takes DataPoints, not {type(point).__name__}.")
        rows.append(_row(name, point))
    return rows


def rows_of_table(table: DataStore) -> list[Row]:
    """Every cell of a `DataStore` (None cells are no point)."""
    return [_row(_series(one.name), point) for one in table.series() for point in one]


# --- how an answer is classed ---------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What one attempt at a batch came to: `kind` is SENT (value: the server's answer),
    RETRY, REJECT or STOP (value: the error); `retry_after` is the server's wait, if any."""

    kind: str
    value: Any
    retry_after: float | None = None


def batch_request(http: httpx.Client | httpx.AsyncClient, connection: Connection, path: str,
                  batch: Batch) -> httpx.Request:
    """The one request a batch always is: fixed body and key, times in µs."""
    return build_request(
        http, connection, "POST", path, params={"precision": "us"}, content=batch.body,
        idempotency_key=False,
        headers={"Content-Type": "application/json", "Idempotency-Key": batch.key})


def outcome_of(response: httpx.Response) -> Outcome:
    try:
        return Outcome(SENT, read_answer(response))
    except APIError as error:
        status = error.status_code or 0
        if status in (408, 429) or status >= 500:
            return Outcome(RETRY, error, error.retry_after)
        return Outcome(REJECT if status in _REJECTED else STOP, error)


def failed_message(failures: list[tuple[Batch, CloudletError]]) -> str:
    points = sum(len(b) for b, _ in failures)
    return (f"{len(failures)} batch(es), {points} points, were not written; first error: "
            f"{failures[0][1]}")


# --- one writer's bookkeeping ---------------------------------------------------------------

class Delivery:
    """A writer's queue and what it knows of it. Not thread-safe: the shell calls it with its
    lock held (the queue's own I/O — a spool's fsync — is done outside that lock)."""

    def __init__(self, queue: PointQueue, *, spooled: bool, batch_size: int,
                 flush_interval: float, max_retries: int | None, backoff: float,
                 max_backoff: float, max_buffered: int, buffer_timeout: float | None) -> None:
        if batch_size < 1 or flush_interval <= 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("batch_size and flush_interval must be positive, backoffs >= 0.")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries is None (retry forever) or >= 0.")
        if max_buffered < 1 or (buffer_timeout is not None and buffer_timeout < 0):
            raise ValueError("max_buffered must be positive, buffer_timeout None or >= 0.")
        self.queue = queue
        self.spooled = spooled
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_buffered = max_buffered
        self.buffer_timeout = buffer_timeout
        self.pending: deque[Batch] = deque(queue.pending())
        self.in_batches = sum(len(b) for b in self.pending)  # points cut, not settled
        self.settled = 0  # batches settle in sequence order: everything <= this is done
        self.cut_through = self.pending[-1].last if self.pending else 0
        self.flush_through = 0
        self.oldest: float | None = time.monotonic() if queue.unbatched else None
        self.failures: list[tuple[Batch, CloudletError]] = []
        self.closing = False

    @classmethod
    def open(cls, project: str, device: str | None,
             spool_dir: str | os.PathLike[str] | None, **rules: Any) -> Delivery:
        """A writer's delivery: on a `Spool` in `spool_dir`, else in memory."""
        queue: PointQueue = (Spool(spool_dir, project, device) if spool_dir is not None
                             else MemoryQueue(device))
        try:
            return cls(queue, spooled=spool_dir is not None, **rules)
        except BaseException:
            queue.close()
            raise

    @property
    def unsent(self) -> int:
        """Points added and not settled (acknowledged, refused or given up) yet."""
        return self.queue.unbatched + self.in_batches

    # --- adding ----------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.closing:
            raise RuntimeError("This writer is closed.")

    def check_size(self, count: int) -> None:
        """One call can never add more than the memory cap (a spool has none)."""
        if not self.spooled and count > self.max_buffered:
            raise ValueError(f"This call adds {count} points, more than max_buffered="
                             f"{self.max_buffered}; add them in parts or raise max_buffered.")

    def has_room(self, count: int) -> bool:
        return self.spooled or self.unsent + count <= self.max_buffered

    def full(self, count: int) -> BufferFull:
        return BufferFull(
            f"The writer has held {self.unsent} unsent points (max_buffered="
            f"{self.max_buffered}) for {self.buffer_timeout} s, with no room for {count} "
            "more; nothing of this call was queued. Is the server reachable? A spool_dir "
            "buffers on disk instead.")

    def added(self) -> bool:
        """Rows were queued; True when the sender should wake (a new deadline, or a full
        batch)."""
        if self.oldest is None:
            self.oldest = time.monotonic()
            return True
        return self.queue.unbatched >= self.batch_size

    # --- sending ---------------------------------------------------------------------------

    def ask_flush(self) -> int:
        """Everything added so far should go out now; the sequence to wait for."""
        target = self.queue.appended_through
        self.flush_through = max(self.flush_through, target)
        return target

    def due(self) -> bool:
        if self.pending:
            return True
        waiting = self.queue.unbatched
        if not waiting:  # an adder may have set a deadline for rows the sender already cut
            self.oldest = None
            return False
        if waiting >= self.batch_size or self.closing or self.flush_through > self.cut_through:
            return True
        return self.oldest is not None and (
            time.monotonic() - self.oldest >= self.flush_interval)

    def drained(self) -> bool:
        """Closing, and nothing is left: the sender may stop."""
        return self.closing and not self.unsent

    def wait(self) -> float | None:
        """Seconds until the oldest waiting point is due (None: nothing waits)."""
        if self.oldest is None:
            return None
        return max(0.001, self.flush_interval - (time.monotonic() - self.oldest))

    def head(self) -> Batch | None:
        """The oldest unsettled batch, if one was cut (None: cut a new one)."""
        return self.pending[0] if self.pending else None

    def cut(self, batch: Batch) -> None:
        """`batch` was just cut from the queue: it is next."""
        self.pending.append(batch)
        self.in_batches += len(batch)
        self.cut_through = batch.last
        self.oldest = time.monotonic() if self.queue.unbatched else None

    def retry_in(self, batch: Batch, outcome: Outcome) -> float | None:
        """Seconds to wait before the next attempt at `batch`; None when retries are spent."""
        batch.attempts += 1
        if self.max_retries is not None and batch.attempts > self.max_retries:
            return None
        if outcome.retry_after is not None:
            delay = outcome.retry_after
        else:
            delay = random.uniform(0, min(self.max_backoff,
                                          self.backoff * 2 ** (batch.attempts - 1)))
        log.info("writer: batch %d failed (%s); retry %d in %.2fs", batch.id, outcome.value,
                 batch.attempts, delay)
        return delay

    def gave_up(self, batch: Batch, error: CloudletError, *, dropped: bool, record: bool
                ) -> None:
        """This writer will not send `batch` again; `record` keeps the failure for the next
        flush/close to raise (when there is no on_error)."""
        log.warning("writer: batch %d of %d points failed: %s%s", batch.id, len(batch), error,
                    " (kept in the spool for the next writer)"
                    if self.spooled and not dropped else "")
        if record:
            self.failures.append((batch, error))

    def settle(self, batch: Batch) -> None:
        self.pending.popleft()
        self.in_batches -= len(batch)
        self.settled = batch.last

    def take_failures(self, through: int) -> list[tuple[Batch, CloudletError]]:
        """The recorded failures of batches up to sequence `through`, now handed over."""
        mine = [f for f in self.failures if f[0].last <= through]
        self.failures = [f for f in self.failures if f[0].last > through]
        return mine

    def take_all_failures(self) -> list[tuple[Batch, CloudletError]]:
        failures, self.failures = self.failures, []
        return failures

    def closed_with(self, unsent: int, where: str | None) -> str | None:
        """What close() tells of points left unsent: the WriteFailed message without a
        spool; with one a warning is logged and nothing is raised."""
        if not unsent:
            return None
        if not self.spooled:
            return f"The writer closed with {unsent} points unsent."
        log.warning("writer closed; %d points stay in the spool %s", unsent, where)
        return None
