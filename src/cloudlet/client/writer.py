"""`Writer`: points added from any thread, sent in batches by a background thread, never
dropped silently. The rules (batching, retries, refusals, the memory cap) are delivery.py's,
shared with `AsyncWriter`; this is the thread and the locks around them.

- Without `on_error`, failures are raised by the next `flush()`, `send()` or `close()` as
  `WriteFailed`; with it, they are reported there only.
- With `spool_dir`, every point is on disk before `add()` returns (spool.py), until
  acknowledged. Without one, at most `max_buffered` points wait in memory: add() blocks up to
  `buffer_timeout` seconds for room, then raises `BufferFull` (nothing of that call queued).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from cloudlet.client.batches import Batch, Row
from cloudlet.client.calls import transport_error
from cloudlet.client.connection import segment
from cloudlet.client.defaults import DEFAULT_TIMEOUT, TimeoutTypes, client_headers
from cloudlet.client.delivery import (
    DEFAULT_BUFFER_TIMEOUT,
    DEFAULT_MAX_BUFFERED,
    REJECT,
    RETRY,
    SENT,
    Delivery,
    Outcome,
    batch_request,
    failed_message,
    outcome_of,
    rows_of_point,
    rows_of_series,
    rows_of_table,
)
from cloudlet.client.errors import CloudletError, WriteFailed
from cloudlet.client.points import DataPoint, DataSeries, DataStore, Timestamp

if TYPE_CHECKING:
    from cloudlet.client.sync_client import Client

__all__ = ["Writer"]

log = logging.getLogger("cloudlet.client.writer")

OnSuccess = Callable[[Batch, Any], None]
OnError = Callable[[Batch, CloudletError], None]


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
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        buffer_timeout: float | None = DEFAULT_BUFFER_TIMEOUT,
        on_success: OnSuccess | None = None,
        on_error: OnError | None = None,
        max_retries: int | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
    ) -> None:
        self.project = str(project)
        self.device = device
        self.spool_dir = spool_dir
        self.on_success = on_success
        self.on_error = on_error
        self._connection = client.connection
        self._path = f"/projects/{segment(project)}/points"
        self._core = Delivery.open(
            self.project, device, spool_dir, batch_size=batch_size,
            flush_interval=flush_interval, max_retries=max_retries, backoff=backoff,
            max_backoff=max_backoff, max_buffered=max_buffered, buffer_timeout=buffer_timeout)
        self._queue = self._core.queue
        # Own HTTP client without the SDK's retry transport: the writer owns its retries.
        self._http = httpx.Client(timeout=timeout, headers=client_headers(None),
                                  follow_redirects=True)
        self._cond = threading.Condition()  # guards self._core
        self._sending = threading.Lock()  # one batch on the wire at a time, in order
        self._abort = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cloudlet-writer", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # --- adding ----------------------------------------------------------------------------

    def add(self, series: str, point: DataPoint | Any,
            timestamp: Timestamp | int | None = None) -> None:
        """One point: a `DataPoint`, or a value with an optional timestamp (a `Timestamp`, an
        int of milliseconds, or None for now). With a spool, it is on disk on return."""
        self._append(rows_of_point(series, point, timestamp))

    def add_series(self, series: DataSeries | str,
                   points: DataSeries | Iterable[DataPoint] | None = None) -> None:
        """A whole series at once: `add_series(DataSeries)` or `add_series(name, points)`
        (a `DataSeries` or DataPoints) — queued, and spooled, together."""
        self._append(rows_of_series(series, points))

    def add_table(self, table: DataStore) -> None:
        """Every cell of a `DataStore` (None cells are no point), queued together."""
        self._append(rows_of_table(table))

    def _append(self, rows: list[Row]) -> None:
        core = self._core
        core.check_open()
        if not rows:
            return
        core.check_size(len(rows))
        if core.spooled:  # the fsync happens outside the lock: adders share commits
            self._queue.append(rows)
            with self._cond:
                if core.added():
                    self._cond.notify_all()
            return
        with self._cond:
            if not core.has_room(len(rows)) and not self._cond.wait_for(
                    lambda: core.has_room(len(rows)) or core.closing, core.buffer_timeout):
                raise core.full(len(rows))
            core.check_open()
            self._queue.append(rows)
            if core.added():
                self._cond.notify_all()

    # --- waiting for delivery --------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Send everything added before this call and wait for the server's answers.

        Raises TimeoutError after `timeout` seconds (the points stay queued), and WriteFailed
        for batches that failed when there is no `on_error` to report them to."""
        core = self._core
        core.check_open()
        with self._cond:
            target = core.ask_flush()
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: core.settled >= target or self._abort.is_set(),
                                       timeout):
                raise TimeoutError(f"{core.unsent} points not acknowledged after {timeout} s.")
        self._raise_failures(target)

    def send(self) -> None:
        """Send everything added so far in this thread, one attempt per batch, and raise the
        first failure (a batch that failed to send stays queued for retries; a refused one
        is dropped, as in the background)."""
        core = self._core
        core.check_open()
        target = self._queue.appended_through
        with self._sending:
            while core.settled < target:
                batch = self._head()
                if batch is None:
                    break
                outcome = self._post(batch)
                if outcome.kind == SENT:
                    self._done(batch, outcome.value)
                    continue
                if outcome.kind != RETRY:
                    self._fail(batch, outcome.value, record=False,
                               drop=outcome.kind == REJECT)
                raise outcome.value
        self._raise_failures(target)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, wait for it, and stop. After `timeout` seconds the writer
        stops anyway: a spool keeps what is unsent for the next writer; without one it is
        lost, and WriteFailed says how much."""
        if self._closed:
            return
        with self._cond:
            self._core.closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join()
        self._closed = True
        atexit.unregister(self._at_exit)
        self._http.close()
        with self._cond:
            unsent = self._core.unsent
            failures = self._core.take_all_failures()
        self._queue.close()
        lost = self._core.closed_with(unsent, str(self.spool_dir))
        if lost:
            raise WriteFailed(lost, failures)
        if failures:
            raise WriteFailed(failed_message(failures), failures)

    @property
    def unsent(self) -> int:
        """Points added and not settled (acknowledged, refused or given up) yet."""
        with self._cond:
            return self._core.unsent

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

    def _raise_failures(self, through: int) -> None:
        with self._cond:
            mine = self._core.take_failures(through)
        if mine:
            raise WriteFailed(failed_message(mine), mine)

    # --- the sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        core = self._core
        while True:
            with self._cond:
                while not (self._abort.is_set() or core.due()):
                    if core.drained():
                        return
                    self._cond.wait(core.wait())
                if self._abort.is_set():
                    return
            delay = self._step()
            if delay:
                self._abort.wait(delay)

    def _step(self) -> float:
        """Try the next batch once; the seconds to wait before trying again (0: go on)."""
        with self._sending:
            batch = self._head()
            if batch is None:
                return 0
            outcome = self._post(batch)
            if outcome.kind == SENT:
                self._done(batch, outcome.value)
                return 0
            if outcome.kind != RETRY:
                self._fail(batch, outcome.value, drop=outcome.kind == REJECT)
                return 0
            with self._cond:
                delay = self._core.retry_in(batch, outcome)
            if delay is None:
                self._fail(batch, outcome.value, drop=False)
                return 0
            return delay

    def _head(self) -> Batch | None:
        """The batch to send next: the oldest unsettled one, or a new one. Only called with
        `_sending` held, so the head cannot change under the caller."""
        with self._cond:
            batch = self._core.head()
        if batch is not None:
            return batch
        batch = self._queue.cut(self._core.batch_size)
        if batch is not None:
            with self._cond:
                self._core.cut(batch)
        return batch

    def _post(self, batch: Batch) -> Outcome:
        request = batch_request(self._http, self._connection, self._path, batch)
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:
            return Outcome(RETRY, transport_error(exc, request))
        return outcome_of(response)

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
        if self.on_error is not None:
            _call(self.on_error, batch, error)
        with self._cond:
            self._core.gave_up(batch, error, dropped=drop,
                               record=record and self.on_error is None)
        self._settle(batch)

    def _settle(self, batch: Batch) -> None:
        with self._cond:
            self._core.settle(batch)
            self._cond.notify_all()


def _call(callback: Callable[..., None], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:  # a failing callback must not stop delivery
        log.exception("writer callback %r raised", callback)
