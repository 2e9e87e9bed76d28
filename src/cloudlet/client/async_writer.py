"""`AsyncWriter`: the asyncio twin of `Writer` (writer.py), method for method, with the same
rules (delivery.py) and the same spool format, so either can pick up the other's spool_dir.

`await add()` returns once the point is queued — with a spool, once it is on disk (the fsync
runs in a worker thread, the event loop goes on). Batches go out from one asyncio task;
`await flush()`, `await send()` and `await aclose()` (or `async with`) behave as the sync
writer's `flush()`, `send()` and `close()`. Without a spool, a full writer (`max_buffered`)
makes `add()` wait up to `buffer_timeout` seconds for room, then raise `BufferFull`.
Callbacks may be plain functions or coroutine functions; they run on the writer's task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

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
    from cloudlet.client.async_client import AsyncClient

__all__ = ["AsyncWriter"]

log = logging.getLogger("cloudlet.client.writer")

T = TypeVar("T")
OnSuccess = Callable[[Batch, Any], Awaitable[None] | None]
OnError = Callable[[Batch, CloudletError], Awaitable[None] | None]


class AsyncWriter:
    """Batches points to one project (and device); make one with `client.writer(...)` inside
    a running event loop, and use it from that loop. `async with` it, or `await
    writer.aclose()`: both send everything added and wait for the answers. Options are the
    sync `Writer`'s."""

    def __init__(
        self,
        client: AsyncClient,
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
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("An AsyncWriter starts a task: make it inside a running event "
                               "loop (or use the sync Client's writer).") from None
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
        self._http = httpx.AsyncClient(timeout=timeout, headers=client_headers(None),
                                       follow_redirects=True)
        self._cond = asyncio.Condition()  # wakes the sender, flushers and waiting adders
        self._sending = asyncio.Lock()  # one batch on the wire at a time, in order
        self._abort = asyncio.Event()
        self._closed = False
        self._task = loop.create_task(self._run(), name="cloudlet-writer")

    # --- adding ----------------------------------------------------------------------------

    async def add(self, series: str, point: DataPoint | Any,
                  timestamp: Timestamp | int | None = None) -> None:
        """One point: a `DataPoint`, or a value with an optional timestamp (a `Timestamp`, an
        int of milliseconds, or None for now). With a spool, it is on disk on return."""
        await self._append(rows_of_point(series, point, timestamp))

    async def add_series(self, series: DataSeries | str,
                         points: DataSeries | Iterable[DataPoint] | None = None) -> None:
        """A whole series at once: `add_series(DataSeries)` or `add_series(name, points)`."""
        await self._append(rows_of_series(series, points))

    async def add_table(self, table: DataStore) -> None:
        """Every cell of a `DataStore` (None cells are no point), queued together."""
        await self._append(rows_of_table(table))

    async def _append(self, rows: list[Row]) -> None:
        core = self._core
        core.check_open()
        if not rows:
            return
        core.check_size(len(rows))
        if core.spooled:  # on disk before add() returns; the loop runs on meanwhile
            await asyncio.to_thread(self._queue.append, rows)
            async with self._cond:
                if core.added():
                    self._cond.notify_all()
            return
        async with self._cond:
            if not core.has_room(len(rows)):
                try:
                    async with asyncio.timeout(core.buffer_timeout):
                        await self._cond.wait_for(
                            lambda: core.has_room(len(rows)) or core.closing)
                except TimeoutError:
                    raise core.full(len(rows)) from None
            core.check_open()
            self._queue.append(rows)
            if core.added():
                self._cond.notify_all()

    # --- waiting for delivery --------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> None:
        """Send everything added before this call and wait for the server's answers.

        Raises TimeoutError after `timeout` seconds (the points stay queued), and WriteFailed
        for batches that failed when there is no `on_error` to report them to."""
        core = self._core
        core.check_open()
        async with self._cond:
            target = core.ask_flush()
            self._cond.notify_all()
            try:
                async with asyncio.timeout(timeout):
                    await self._cond.wait_for(
                        lambda: core.settled >= target or self._abort.is_set())
            except TimeoutError:
                raise TimeoutError(
                    f"{core.unsent} points not acknowledged after {timeout} s.") from None
        await self._raise_failures(target)

    async def send(self) -> None:
        """Send everything added so far from this coroutine, one attempt per batch, and raise
        the first failure (a batch that failed to send stays queued for retries; a refused
        one is dropped, as in the background)."""
        core = self._core
        core.check_open()
        target = self._queue.appended_through
        async with self._sending:
            while core.settled < target:
                batch = await self._head()
                if batch is None:
                    break
                outcome = await self._post(batch)
                if outcome.kind == SENT:
                    await self._done(batch, outcome.value)
                    continue
                if outcome.kind != RETRY:
                    await self._fail(batch, outcome.value, record=False,
                                     drop=outcome.kind == REJECT)
                raise outcome.value
        await self._raise_failures(target)

    async def close(self, timeout: float | None = None) -> None:
        """Send what is queued, wait for it, and stop. After `timeout` seconds the writer
        stops anyway, abandoning a request in flight: a spool keeps what is unsent for the
        next writer; without one it is lost, and WriteFailed says how much."""
        if self._closed:
            return
        self._closed = True
        async with self._cond:
            self._core.closing = True
            self._cond.notify_all()
        done, _ = await asyncio.wait([self._task], timeout=timeout)
        if not done:  # stop now, even mid-request: a spool sends that batch again later
            self._abort.set()
            self._task.cancel()
            await asyncio.wait([self._task])
        if not self._task.cancelled() and self._task.exception() is not None:
            log.error("writer task failed", exc_info=self._task.exception())
        await self._http.aclose()
        unsent = self._core.unsent
        failures = self._core.take_all_failures()
        await self._io(self._queue.close)
        lost = self._core.closed_with(unsent, str(self.spool_dir))
        if lost:
            raise WriteFailed(lost, failures)
        if failures:
            raise WriteFailed(failed_message(failures), failures)

    aclose = close  # the name `contextlib.aclosing()` calls

    @property
    def unsent(self) -> int:
        """Points added and not settled (acknowledged, refused or given up) yet."""
        return self._core.unsent

    async def __aenter__(self) -> AsyncWriter:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _raise_failures(self, through: int) -> None:
        mine = self._core.take_failures(through)
        if mine:
            raise WriteFailed(failed_message(mine), mine)

    async def _io(self, call: Callable[..., T], *args: Any) -> T:
        """A queue call: in a worker thread for a spool (it waits for the disk), inline for
        memory."""
        if self._core.spooled:
            return await asyncio.to_thread(call, *args)
        return call(*args)

    # --- the sending task ------------------------------------------------------------------

    async def _run(self) -> None:
        core = self._core
        try:
            while True:
                async with self._cond:
                    while not (self._abort.is_set() or core.due()):
                        if core.drained():
                            return
                        try:
                            async with asyncio.timeout(core.wait()):
                                await self._cond.wait()
                        except TimeoutError:
                            pass
                    if self._abort.is_set():
                        return
                delay = await self._step()
                if delay:
                    try:
                        async with asyncio.timeout(delay):
                            await self._abort.wait()
                    except TimeoutError:
                        pass
        except asyncio.CancelledError:  # close() ran out of time, or the loop is ending
            core.closing = True
            self._queue.close()  # a spool's lock and database are released now
            if core.unsent and not self._abort.is_set():
                log.warning("writer task cancelled with %d points unsent%s; await "
                            "writer.aclose() before the event loop ends", core.unsent,
                            f" (they stay in the spool {self.spool_dir})" if core.spooled
                            else "")
            raise

    async def _step(self) -> float:
        """Try the next batch once; the seconds to wait before trying again (0: go on)."""
        async with self._sending:
            batch = await self._head()
            if batch is None:
                return 0
            outcome = await self._post(batch)
            if outcome.kind == SENT:
                await self._done(batch, outcome.value)
                return 0
            if outcome.kind != RETRY:
                await self._fail(batch, outcome.value, drop=outcome.kind == REJECT)
                return 0
            delay = self._core.retry_in(batch, outcome)
            if delay is None:
                await self._fail(batch, outcome.value, drop=False)
                return 0
            return delay

    async def _head(self) -> Batch | None:
        """The batch to send next: the oldest unsettled one, or a new one (`_sending` is
        held)."""
        batch = self._core.head()
        if batch is not None:
            return batch
        batch = await self._io(self._queue.cut, self._core.batch_size)
        if batch is not None:
            self._core.cut(batch)
        return batch

    async def _post(self, batch: Batch) -> Outcome:
        request = batch_request(self._http, self._connection, self._path, batch)
        try:
            response = await self._http.send(request)
        except httpx.RequestError as exc:
            return Outcome(RETRY, transport_error(exc, request))
        return outcome_of(response)

    async def _done(self, batch: Batch, answer: Any) -> None:
        await self._io(self._queue.settle, batch)
        if self.on_success is not None:
            await _call(self.on_success, batch, answer)
        await self._settle(batch)

    async def _fail(self, batch: Batch, error: CloudletError, *, drop: bool,
                    record: bool = True) -> None:
        if drop:
            await self._io(self._queue.settle, batch)
        if self.on_error is not None:
            await _call(self.on_error, batch, error)
        self._core.gave_up(batch, error, dropped=drop, record=record and self.on_error is None)
        await self._settle(batch)

    async def _settle(self, batch: Batch) -> None:
        async with self._cond:
            self._core.settle(batch)
            self._cond.notify_all()


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a failing callback must not stop delivery
        log.exception("writer callback %r raised", callback)
