"""The single point writer of a process: one thread, group commit, background compaction.

Requests hand the writer a validated `Job` and wait on its future. The writer takes every job
queued at that moment (up to a cap) and applies them in one transaction — `BEGIN IMMEDIATE`
on SQLite, each job in a savepoint so that a failing job fails alone — and acknowledges each
job after the commit. While it commits, new jobs queue up and form the next group, so
concurrent writers share commits without anyone waiting on a timer.

When no job has come for a moment, it compacts streams that gathered head points or small
chunks, one stream per transaction, and goes back to jobs as soon as one arrives.

On PostgreSQL with several workers each process has its own writer; the rows of the streams a
transaction writes are locked (`FOR UPDATE`), so writers of one stream take turns.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from cloudlet.server.core.db import Database, Tx, unavailable
from cloudlet.server.core.errors import NotFound, Throttled, Unavailable
from cloudlet.server.events.service import EventService
from cloudlet.server.timeseries import codec
from cloudlet.server.timeseries.devices import DeviceService
from cloudlet.server.timeseries.store import SMALL_CHUNK, PointStore, StreamPoints, Written
from cloudlet.server.timeseries.streams import StreamService

log = logging.getLogger(__name__)

GROUP_POINTS = 500_000  # at most this many points in one transaction
SMALL_BATCH = 20  # a stream.data event carries its points up to this many
COMPACT_AFTER = 8  # small chunks (or head writes) before a stream is worth compacting
IDLE = 0.5  # seconds without jobs before compaction starts
# a stream this far behind is compacted between commit groups even while writes keep coming
# (never idle): what bounds its head and its small chunks under a steady load
OVERDUE = 256 * COMPACT_AFTER


@dataclass
class Part:
    """One series of a job, resolved as far as a read could: a stream id, or a device (id
    or key still to register) plus a series name."""

    ts: Any
    values: Any
    stream_id: int | None = None
    device_id: int | None = None
    device_key: str | None = None
    series: str | None = None
    tags: dict[str, str] | None = None
    ordered: bool = False


@dataclass
class Job:
    project_id: int
    user_id: int
    register: bool
    parts: list[Part]
    points: int
    future: Future[dict[str, Any]] = field(default_factory=Future)


class Writer:
    def __init__(self, db: Database, store: PointStore, devices: DeviceService,
                 streams: StreamService, events: EventService, *, max_queued: int) -> None:
        self.db = db
        self.store = store
        self.devices = devices
        self.streams = streams
        self.events = events
        self.max_queued = max_queued
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()  # C: no Condition
        self._queued = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._closed = False
        # ids are immutable once committed; cleared whenever a transaction fails
        self._device_ids: dict[tuple[int, str], int] = {}
        self._variable_ids: dict[tuple[int, str], int] = {}
        self._stream_ids: dict[tuple[int, int], int] = {}
        self._stream_tags: dict[int, dict[str, str]] = {}
        self._stream_info: dict[int, dict[str, Any]] = {}
        self._dirty: dict[int, int] = {}
        self._newest: dict[int, int | None] = {}  # per stream, on SQLite (see _store)
        self._overdue: set[int] = set()  # streams whose compaction can't wait for idleness
        self._stale = False
        self._startup_scan = True
        # events go out on their own thread, after the acknowledgement, in commit order
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="cloudlet-point-events")

    # --- the requests' side ----------------------------------------------------------------

    def submit(self, job: Job) -> Future[dict[str, Any]]:
        """Queue a job; 429 with Retry-After when too many points are already waiting."""
        with self._lock:
            if self._closed:
                raise Unavailable("The server is shutting down; retry shortly.", retry_after=2)
            if self._queued and self._queued + job.points > self.max_queued:
                raise Throttled(f"The point writer is behind ({self._queued} points "
                                "queued); retry shortly.", retry_after=1)
            self._queued += job.points
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cloudlet-point-writer",
                                                daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job.future

    def busy(self) -> bool:
        """Whether points are queued or being committed (other requests are writing)."""
        return self._queued > 0

    def pause(self, seconds: float) -> None:
        """Hold the writer (tests of back-pressure)."""
        self._paused_until = time.monotonic() + seconds

    def close(self, timeout: float = 30) -> None:
        """Finish the queued jobs and stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
        self._publisher.shutdown(wait=True)

    # --- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=IDLE)
            except queue.Empty:
                self._compact_while_idle()
                continue
            if job is None:
                return
            group = [job]
            points = job.points
            stop = False
            while points < GROUP_POINTS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
                points += more.points
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._commit(group, points)
            if stop:
                return

    def _commit(self, group: list[Job], points: int) -> None:
        """One transaction for the group; the points leave the queue before anyone is
        answered, so that a client's next request finds the writer idle (`busy`)."""
        try:
            with self.db.write() as tx:
                if self._stale:  # a project went: its ids may be handed out again
                    self._stale = False
                    self._forget()
                outcomes = self._write_group(tx, group)
        except BaseException as error:  # the commit itself failed: nobody's write is in
            self._release(points)
            self._forget()
            busy = unavailable(error)  # a lock held too long, the database gone: 503
            for job in group:
                if not job.future.done():
                    job.future.set_exception(busy or error)
            if not isinstance(error, Exception):
                raise
            if busy is not None:
                log.warning("point write transaction failed: %s", error)
            else:
                log.exception("point write transaction failed")
            return
        self._release(points)
        announced: dict[int, list[tuple[Written, Any, Any]]] = {}
        for job, result, error in outcomes:
            if job.future.done():
                pass  # its caller gave up (a cancelled request): committed all the same
            elif error is not None:
                job.future.set_exception(unavailable(error) or error)
            else:
                job.future.set_result(result["answer"])
            if error is None:
                announced.setdefault(job.project_id, []).extend(result["written"])
        for project_id, written in announced.items():  # one announcement per commit group
            self._publisher.submit(self._announce, project_id, written)
        if self._overdue:  # after the answers; one stream per group, so writes go first
            stream_id = self._overdue.pop()
            self._dirty.pop(stream_id, None)
            try:
                self.compact(stream_id)
            except Exception:
                log.exception("compacting stream %s failed", stream_id)

    def _release(self, points: int) -> None:
        with self._lock:
            self._queued -= points

    def _write_group(self, tx: Tx, group: list[Job]) -> list[tuple[Job, Any, Any]]:
        """Every job's points in one store write; if that write fails, each job on its own
        (resolved and written in its savepoint) so that a failing job fails alone."""
        try:
            with tx.conn.begin_nested():
                return self._merged(tx, group)
        except Exception as error:
            self._forget()
            if unavailable(error) is not None:
                raise  # each job on its own would only wait for the same lock again
            log.debug("merged point write failed; writing the jobs one by one", exc_info=True)
        return [(job, *self._attempt(tx, job, self._apply)) for job in group]

    def _merged(self, tx: Tx, group: list[Job]) -> list[tuple[Job, Any, Any]]:
        """Jobs resolve their streams (in a savepoint of their own when that may write or
        fail: a device to register, a stream to create, tags to set); then their points
        are stored at once, per stream as `_combined` says."""
        failed: dict[int, BaseException] = {}
        resolved: list[tuple[int, dict[int, StreamPoints], list[str]]] = []
        for index, job in enumerate(group):
            sids = self._cached(job)
            registered: list[str] = []
            if sids is None:
                found, error = self._attempt(tx, job, self._resolve)
                if error is not None:
                    failed[index] = error
                    continue
                sids, registered = found
            resolved.append((index, self._per_stream(job, sids), registered))
        per_stream: dict[int, list[StreamPoints]] = {}
        for _, points, _ in resolved:
            for sid, item in points.items():
                per_stream.setdefault(sid, []).append(item)
        self._store(tx, [item for sid, parts in per_stream.items()
                         for item in _combined(sid, parts)])
        results = {index: self._result(tx, points, registered)
                   for index, points, registered in resolved}
        return [(job, results.get(index), failed.get(index)) for index, job in enumerate(group)]

    def _attempt(self, tx: Tx, job: Job, step: Any) -> tuple[Any, BaseException | None]:
        for attempt in (1, 2):
            try:
                with tx.conn.begin_nested():
                    return step(tx, job), None
            except IntegrityError as error:  # a stale cache or a race with another worker
                self._forget()
                if attempt == 2:
                    return None, error
            except Exception as error:
                self._forget()
                return None, error
        raise AssertionError("unreachable")

    def forget_soon(self) -> None:
        """Drop the caches before the next write (a project was deleted: on SQLite the ids
        of its rows can be handed out again). Any thread; the writer clears them itself."""
        self._stale = True

    def _forget(self) -> None:
        self._device_ids.clear()
        self._variable_ids.clear()
        self._stream_ids.clear()
        self._stream_tags.clear()
        self._stream_info.clear()  # ids of rolled-back rows can be handed out again
        self._newest.clear()

    def _apply(self, tx: Tx, job: Job) -> dict[str, Any]:
        """One job on its own: resolve, store, answer."""
        sids, registered = self._resolve(tx, job)
        points = self._per_stream(job, sids)
        self._store(tx, list(points.values()))
        return self._result(tx, points, registered)

    def _cached(self, job: Job) -> list[int] | None:
        """The parts' stream ids if the caches know them all and no tags change (nothing
        to write or look up), else None."""
        sids = []
        for part in job.parts:
            sid = part.stream_id
            if sid is None:
                device_id = part.device_id
                if device_id is None:
                    device_id = self._device_ids.get((job.project_id, part.device_key or ""))
                variable_id = self._variable_ids.get((job.project_id, part.series or ""))
                if device_id is None or variable_id is None:
                    return None
                sid = self._stream_ids.get((device_id, variable_id))
                if sid is None:
                    return None
            if part.tags and self._stream_tags.get(sid) != part.tags:
                return None
            sids.append(sid)
        return sids

    def _resolve(self, tx: Tx, job: Job) -> tuple[list[int], list[str]]:
        """The parts' stream ids, registering devices and creating streams as allowed."""
        sids = []
        registered: list[str] = []
        for part in job.parts:
            stream_id = part.stream_id
            if stream_id is None:
                device_id = part.device_id
                if device_id is None:
                    assert part.device_key is not None
                    device_id = self._device(tx, job, part.device_key, part.tags, registered)
                assert part.series is not None
                stream_id = self._stream(tx, job.project_id, device_id, part.series)
            if part.tags and self._stream_tags.get(stream_id) != part.tags:
                self.streams.set_tags(tx, stream_id, part.tags)
                self._stream_tags[stream_id] = part.tags
            sids.append(stream_id)
        return sids, registered

    def _per_stream(self, job: Job, sids: list[int]) -> dict[int, StreamPoints]:
        """A job's points per stream, sorted and deduplicated (a later part wins)."""
        per_stream: dict[int, list[Part]] = {}
        for part, sid in zip(job.parts, sids, strict=True):
            per_stream.setdefault(sid, []).append(part)
        return {sid: StreamPoints(sid, parts[0].ts, parts[0].values)
                if len(parts) == 1 and parts[0].ordered
                else StreamPoints(sid, *codec.merge([(p.ts, p.values) for p in parts]))
                for sid, parts in per_stream.items()}

    def _store(self, tx: Tx, items: list[StreamPoints]) -> None:
        """Write the points; note which streams got head points or small chunks. On SQLite
        this writer saw every write, so it keeps each stream's newest timestamp itself."""
        known = None if self.store.is_postgres else self._newest
        for w in self.store.write(tx, items, known):
            if known is not None:
                known[w.stream_id] = w.newest
            small = 1 if w.count - w.to_head < SMALL_CHUNK else 0
            if small or w.to_head:
                before = self._dirty.get(w.stream_id, 0)
                after = self._dirty[w.stream_id] = before + small + (
                    COMPACT_AFTER if w.to_head else 0)
                if before < OVERDUE <= after:
                    self._overdue.add(w.stream_id)

    def _result(self, tx: Tx, points: dict[int, StreamPoints], registered: list[str]
                ) -> dict[str, Any]:
        """A job's answer and what its announcement carries."""
        written = [Written(sid, len(p.ts), int(p.ts[0]), int(p.ts[-1]), 0)
                   for sid, p in points.items() if len(p.ts)]
        missing = [w.stream_id for w in written if w.stream_id not in self._stream_info]
        if missing:
            self._stream_info.update(self.streams.gid_parts(tx.conn, missing))
        answer = {
            "points": sum(w.count for w in written),
            "streams": [self._stream_info[w.stream_id]["stream"] for w in written],
            "devices_registered": registered,
        }
        return {"answer": answer, "written": [
            (w, self._stream_info[w.stream_id],
             points[w.stream_id] if w.count <= SMALL_BATCH else None) for w in written]}

    def _device(self, tx: Tx, job: Job, key: str, tags: dict[str, str] | None,
                registered: list[str]) -> int:
        cache_key = (job.project_id, key)
        found = self._device_ids.get(cache_key)
        if found is not None:
            return found
        row = self.devices.find(tx.conn, job.project_id, key)
        if row is None or row["key"] != key:
            if not job.register:
                raise NotFound(f"No device {key!r} in this project, and this token may not "
                               "register devices.")
            row = self.devices.insert(tx, project_id=job.project_id, key=key, tags=tags,
                                      created_by=job.user_id)
            registered.append(key)
        self._device_ids[cache_key] = row["id"]
        return int(row["id"])

    def _stream(self, tx: Tx, project_id: int, device_id: int, series: str) -> int:
        var_key = (project_id, series)
        variable_id = self._variable_ids.get(var_key)
        if variable_id is None:
            variable_id = self.streams.variable_id(tx, project_id, series)
            self._variable_ids[var_key] = variable_id
        stream_key = (device_id, variable_id)
        stream_id = self._stream_ids.get(stream_key)
        if stream_id is None:
            stream_id = self.streams.stream_id(tx, project_id, device_id, variable_id)
            self._stream_ids[stream_key] = stream_id
        return stream_id

    def _announce(self, project_id: int, written: list[tuple[Written, Any, Any]]) -> None:
        """`stream.data` on each stream's topic, and one summary on the project's topic, for
        all the requests of one commit group (a stream written by several of them gets one
        event that sums them up). Runs on the publisher thread, after the acknowledgement."""
        per_stream: dict[int, dict[str, Any]] = {}
        for w, info, points in written:
            pairs = None if points is None else [
                [t, v] for t, v in zip(points.ts.tolist(), points.values.tolist(), strict=True)]
            data = per_stream.get(w.stream_id)
            if data is None:
                data = per_stream[w.stream_id] = {**info, "count": w.count, "first": w.first,
                                                  "last": w.last}
                if pairs is not None:
                    data["points"] = pairs
                continue
            data["count"] += w.count
            data["first"] = min(data["first"], w.first)
            data["last"] = max(data["last"], w.last)
            if pairs is not None and "points" in data and data["count"] <= SMALL_BATCH:
                data["points"] = data["points"] + pairs
            else:
                data.pop("points", None)
        summaries = list(per_stream.values())
        if not summaries:
            return
        for data in summaries:
            self.events.publish(f"stream:{data['stream']}", "stream.data", data)
        self.events.publish(f"project:{project_id}", "stream.data", {
            "project_id": project_id, "count": sum(s["count"] for s in summaries),
            "first": min(s["first"] for s in summaries),
            "last": max(s["last"] for s in summaries), "streams": summaries})

    # --- compaction ----------------------------------------------------------------------

    def _compact_while_idle(self) -> None:
        if self._startup_scan:
            self._startup_scan = False
            try:
                with self.db.read() as conn:
                    for stream_id in self.store.candidates(conn):
                        self._dirty[stream_id] = COMPACT_AFTER
            except Exception:
                log.exception("could not look for streams to compact")
        while self._queue.empty():
            ready = [s for s, n in self._dirty.items() if n >= COMPACT_AFTER]
            if not ready:
                return
            stream_id = ready[0]
            self._dirty.pop(stream_id, None)
            try:
                self.compact(stream_id)
            except Exception:
                log.exception("compacting stream %s failed", stream_id)

    def compact(self, stream_id: int) -> bool:
        self._overdue.discard(stream_id)
        with self.db.write() as tx:
            return self.store.compact(tx, stream_id)

    def compact_all(self) -> int:
        """Compact every stream that needs it now (tests, maintenance); returns how many."""
        with self.db.read() as conn:
            candidates = self.store.candidates(conn)
        done = 0
        for stream_id in candidates:
            self._dirty.pop(stream_id, None)
            done += self.compact(stream_id)
        return done


def _combined(stream_id: int, parts: list[StreamPoints]) -> list[StreamPoints]:
    """One stream's points from the jobs of a group: each job's as they are, in time order,
    when their spans are disjoint — several clients' batches are, and a batch that comes
    after its neighbours then lands in the gap between their chunks, where one chunk of
    them both would have a hole it must rewrite; else merged, a later job winning on equal
    timestamps as it would as a later write."""
    parts = [p for p in parts if len(p.ts)]
    if len(parts) < 2:
        return parts
    ordered = sorted(parts, key=lambda p: int(p.ts[0]))
    if all(a.ts[-1] < b.ts[0] for a, b in itertools.pairwise(ordered)):
        return ordered
    return [StreamPoints(stream_id, *codec.merge([(p.ts, p.values) for p in parts]))]
