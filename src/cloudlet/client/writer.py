"""`Writer`: points added from any thread, sent in batches by a background thread, never
dropped silently.

- A batch is sent when `batch_size` points wait, when the oldest has waited `flush_interval`
  seconds, or when `flush()` / `send()` / `close()` ask. Batches go out one at a time, in add()
  order, each with a fixed body and `Idempotency-Key` (the server replaces the same stream and
  time, so a re-sent batch never duplicates a point).
- Connection failures, timeouts, 408, 429 and 5xx are retried with exponential backoff and
  full jitter (a `Retry-After` is honoured), forever unless `max_retries` is given. 400, 413 and
  422 mean the batch itself is bad: it goes to `on_error` and is dropped. Other answers (401,
  403, 404) go to `on_error` and are not retried in this session; with a spool the batch stays
  on disk and is sent again by the next writer on that directory.
- Without `on_error`, failures are raised by the next `flush()`, `send()` or `close()` as
  `WriteFailed`; with it, they are reported there only.
- With `spool_dir`, every point is on disk before `add()` returns (spool.py), until acknowledged.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from cloudlet.client.batches import Batch, MemoryQueue, PointQueue, Row
from cloudlet.client.calls import build_request, read_answer, transport_error
from cloudlet.client.connection import segment
from cloudlet.client.defaults import DEFAULT_TIMEOUT, TimeoutTypes, client_headers
from cloudlet.client.errors import APIError, CloudletError, WriteFailed
from cloudlet.client.points import DataPoint, DataSeries, DataStore, Timestamp
from cloudlet.client.spool import Spool

if TYPE_CHECKING:
    from cloudlet.client.sync_client import Client

__all__ = ["Writer"]

log = logging.getLogger("cloudlet.client.writer")

OnSuccess = Callable[[Batch, Any], None]
OnError = Callable[[Batch, CloudletError], None]

_RESERVED = frozenset({"time", "time_offset", "all"})
_MIN_TS, _MAX_TS = -2_208_988_800_000_000, 7_258_118_400_000_000  # 1900..2200, as the server
_REJECTED = frozenset({400, 413, 422})  # the batch itself is bad: sending it again won't help
_SENT, _RETRY, _REJECT, _STOP = "sent", "retry", "reject", "stop"


def _series(name: object) -> str:
    """The server's series-name rules, checked at add() so a bad name never spoils a batch."""
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


class Writer:
    """Batches points to one project (and device); make one with `client.writer(...)`.

    Use it as a context manager, or call `close()`: both send everything added and wait for
    the answers. `flush()` waits for everything added before it; `send()` does the sending in
    the calling thread and raises on the first failure.
    """

    def __init__(
        self,
        client: Client,
        project: str | int,
        *,
        device: str | None = None,
        batch_size: int = 5_000,
        flush_interval: float = 1.0,
        spool_dir: str | os.PathLike[str] | None = None,
        on_success: OnSuccess | None = None,
        on_error: OnError | None = None,
        max_retries: int | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    ) -> None:
        if batch_size < 1 or flush_interval <= 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("batch_size and flush_interval must be positive, backoffs >= 0.")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries is None (retry forever) or >= 0.")
        self.project = str(project)
        self.device = device
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_success = on_success
        self.on_error = on_error
        self._connection = client.connection
        self._path = f"/projects/{segment(project)}/points"
        self._queue: PointQueue = (Spool(spool_dir, self.project, device) if spool_dir
                                   is not None else MemoryQueue(device))
        self.spool_dir = spool_dir
        # Own HTTP client without the SDK's retry transport: the writer owns its retries.
        self._http = httpx.Client(timeout=timeout, headers=client_headers(None),
                                  follow_redirects=True)
        self._cond = threading.Condition()
        self._sending = threading.Lock()  # one batch on the wire at a time, in order
        self._abort = threading.Event()
        self._pending: deque[Batch] = deque(self._queue.pending())
        self._settled = 0  # batches settle in sequence order: everything <= this is done
        self._cut_through = self._pending[-1].last if self._pending else 0
        self._flush_through = 0
        self._oldest: float | None = time.monotonic() if self._queue.unbatched else None
        self._failures: list[tuple[Batch, CloudletError]] = []
        self._closing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cloudlet-writer", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # --- adding ----------------------------------------------------------------------------

    def add(self, series: str, point: DataPoint | Any,
            timestamp: Timestamp | int | None = None) -> None:
        """One point: a `DataPoint`, or a value with an optional timestamp (a `Timestamp`, an
        int of milliseconds, or None for now). With a spool, it is on disk on return."""
        if not isinstance(point, DataPoint):
            point = DataPoint(point, timestamp)
        elif timestamp is not None:
            raise TypeError("A DataPoint carries its own timestamp.")
        self._append([_row(_series(series), point)])

    def add_series(self, series: DataSeries | str,
                   points: DataSeries | Iterable[DataPoint] | None = None) -> None:
        """A whole series at once: `add_series(DataSeries)` or `add_series(name, points)`
        (a `DataSeries` or DataPoints) — queued, and spooled, together."""
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
        self._append(rows)

    def add_table(self, table: DataStore) -> None:
        """Every cell of a `DataStore` (None cells are no point), queued together."""
        rows = [_row(_series(one.name), point) for one in table.series() for point in one]
        self._append(rows)

    def _append(self, rows: list[Row]) -> None:
        if self._closing:
            raise RuntimeError("This writer is closed.")
        if not rows:
            return
        self._queue.append(rows)
        with self._cond:
            if self._oldest is None:  # the sender now has a deadline to wait for
                self._oldest = time.monotonic()
                self._cond.notify_all()
            elif self._queue.unbatched >= self.batch_size:
                self._cond.notify_all()

    # --- waiting for delivery --------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Send everything added before this call and wait for the server's answers.

        Raises TimeoutError after `timeout` seconds (the points stay queued), and WriteFailed
        for batches that failed when there is no `on_error` to report them to."""
        self._check_open()
        target = self._queue.appended_through
        with self._cond:
            self._flush_through = max(self._flush_through, target)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._settled >= target or self._abort.is_set(),
                                       timeout):
                raise TimeoutError(f"{self.unsent} points not acknowledged after {timeout} s.")
        self._raise_failures(target)

    def send(self) -> None:
        """Send everything added so far in this thread, one attempt per batch, and raise the
        first failure (a batch that failed to send stays queued for retries; a refused one
        is dropped, as in the background)."""
        self._check_open()
        target = self._queue.appended_through
        with self._sending:
            while self._settled < target:
                batch = self._head()
                if batch is None:
                    break
                outcome, value, _ = self._post(batch)
                if outcome == _SENT:
                    self._done(batch, value)
                    continue
                if outcome != _RETRY:
                    self._fail(batch, value, record=False, drop=outcome == _REJECT)
                raise value
        self._raise_failures(target)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, wait for it, and stop. After `timeout` seconds the writer
        stops anyway: a spool keeps what is unsent for the next writer; without one it is
        lost, and WriteFailed says how much."""
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join()
        unsent = self.unsent
        self._closed = True
        atexit.unregister(self._at_exit)
        self._http.close()
        self._queue.close()
        failures, self._failures = self._failures, []
        if unsent and not isinstance(self._queue, Spool):
            raise WriteFailed(f"The writer closed with {unsent} points unsent.", failures)
        if unsent:
            log.warning("writer closed; %d points stay in the spool %s", unsent, self.spool_dir)
        if failures:
            raise WriteFailed(_failed(failures), failures)

    @property
    def unsent(self) -> int:
        """Points added and not settled (acknowledged, refused or given up) yet."""
        with self._cond:
            return self._queue.unbatched + sum(len(b) for b in self._pending)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _at_exit(self) -> None:
        """A writer left open at interpreter exit still delivers what it can in 10 s."""
        try:
            self.close(timeout=10)
        except CloudletError as error:
            log.error("writer closed at exit: %s", error)

    def _check_open(self) -> None:
        if self._closing:
            raise RuntimeError("This writer is closed.")

    def _raise_failures(self, through: int) -> None:
        with self._cond:
            mine = [f for f in self._failures if f[0].last <= through]
            self._failures = [f for f in self._failures if f[0].last > through]
        if mine:
            raise WriteFailed(_failed(mine), mine)

    # --- the sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._abort.is_set() or (self._closing and not self.unsent):
                        return
                    self._cond.wait(self._wait())
                if self._abort.is_set():
                    return
            delay = self._step()
            if delay:
                self._abort.wait(delay)

    def _due(self) -> bool:
        if self._abort.is_set() or self._pending:
            return True
        waiting = self._queue.unbatched
        if not waiting:
            return False
        if (waiting >= self.batch_size or self._closing
                or self._flush_through > self._cut_through):
            return True
        return self._oldest is not None and (
            time.monotonic() - self._oldest >= self.flush_interval)

    def _wait(self) -> float | None:
        if self._oldest is None:
            return None
        return max(0.001, self.flush_interval - (time.monotonic() - self._oldest))

    def _step(self) -> float:
        """Try the next batch once; the seconds to wait before trying again (0: go on)."""
        with self._sending:
            batch = self._head()
            if batch is None:
                return 0
            outcome, value, retry_after = self._post(batch)
            if outcome == _SENT:
                self._done(batch, value)
                return 0
            if outcome != _RETRY:
                self._fail(batch, value, drop=outcome == _REJECT)
                return 0
            batch.attempts += 1
            if self.max_retries is not None and batch.attempts > self.max_retries:
                self._fail(batch, value, drop=False)
                return 0
            delay = retry_after if retry_after is not None else self._backoff(batch.attempts)
            log.info("writer: batch %d failed (%s); retry %d in %.2fs", batch.id, value,
                     batch.attempts, delay)
            return delay

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def _head(self) -> Batch | None:
        """The batch to send next: the oldest unsettled one, or a new one. Only called with
        `_sending` held, so the head cannot change under the caller."""
        with self._cond:
            if self._pending:
                return self._pending[0]
        batch = self._queue.cut(self.batch_size)
        if batch is None:
            return None
        with self._cond:
            self._pending.append(batch)
            self._cut_through = batch.last
            self._oldest = time.monotonic() if self._queue.unbatched else None
        return batch

    def _post(self, batch: Batch) -> tuple[str, Any, float | None]:
        request = build_request(
            self._http, self._connection, "POST", self._path, params={"precision": "us"},
            content=batch.body, idempotency_key=False,
            headers={"Content-Type": "application/json", "Idempotency-Key": batch.key})
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:
            return _RETRY, transport_error(exc, request), None
        try:
            return _SENT, read_answer(response), None
        except APIError as error:
            status = error.status_code
            if status in (408, 429) or status >= 500:
                return _RETRY, error, error.retry_after
            return (_REJECT if status in _REJECTED else _STOP), error, None

    def _done(self, batch: Batch, answer: Any) -> None:
        self._queue.settle(batch)
        if self.on_success is not None:
            _call(self.on_success, batch, answer)
        self._settle(batch)

    def _fail(self, batch: Batch, error: CloudletError, *, drop: bool,
              record: bool = True) -> None:
        """A batch that will not be sent again by this writer; `drop` also removes it from
        the spool (the server refused it: sending it again can't succeed)."""
        if drop:
            self._queue.settle(batch)
        log.warning("writer: batch %d of %d points failed: %s%s", batch.id, len(batch), error,
                    "" if drop or not isinstance(self._queue, Spool)
                    else " (kept in the spool for the next writer)")
        if self.on_error is not None:
            _call(self.on_error, batch, error)
        elif record:
            with self._cond:
                self._failures.append((batch, error))
        self._settle(batch)

    def _settle(self, batch: Batch) -> None:
        with self._cond:
            self._pending.popleft()
            self._settled = batch.last
            self._cond.notify_all()


def _call(callback: Callable[..., None], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:  # a failing callback must not stop delivery
        log.exception("writer callback %r raised", callback)


def _failed(failures: list[tuple[Batch, CloudletError]]) -> str:
    points = sum(len(b) for b, _ in failures)
    return (f"{len(failures)} batch(es), {points} points, were not written; first error: "
            f"{failures[0][1]}")
