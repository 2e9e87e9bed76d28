"""Stream events: a timestamp and a JSON object of extra data on a stream (IOTile's events).

An event may also carry a file: `file_id` names a file of the stream's project (the IOTile
face's event upload stores it in the project's files, where the native API lists and serves
it).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy import func, insert, select

from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.timeseries.batch import Problems, now_micros, one_micros, precision_factor
from cloudlet.server.timeseries.streams import StreamService
from cloudlet.server.timeseries.tables import stream_events

MAX_EXTRA = 64 * 1024


def present(row: Any, stream_gid: str) -> dict[str, Any]:
    return {"id": row.id, "stream": stream_gid, "timestamp": row.ts,
            "extra_data": json.loads(row.extra_data or "{}"), "file": row.file_id,
            "created_at": row.created_at}


class StreamEventService:
    def __init__(self, db: Database, streams: StreamService, events: EventService) -> None:
        self.db = db
        self.streams = streams
        self.events = events

    def create(self, principal: Principal, stream_ref: str, *, timestamp: Any = None,
               precision: str | None = None, extra_data: dict[str, Any] | None = None,
               file_id: int | None = None) -> dict[str, Any]:
        """Record an event on a stream; `timestamp` (epoch in `precision`, or ISO-8601)
        defaults to now."""
        if extra_data is not None and not isinstance(extra_data, dict):
            raise Invalid("extra_data must be a JSON object.")
        text = orjson.dumps(extra_data or {}).decode()
        if len(text) > MAX_EXTRA:
            raise Invalid(f"extra_data is limited to {MAX_EXTRA} bytes of JSON.")
        if timestamp is None:
            ts = now_micros()
        else:
            problems = Problems()
            ts = one_micros(timestamp, precision_factor(precision), problems, "timestamp")
            problems.raise_if_any()
        with self.db.write() as tx:
            stream = self.streams.locate(tx.conn, principal, stream_ref, Level.WRITE)
            event_id = tx.execute(insert(stream_events).values(
                stream_id=stream["id"], ts=ts, extra_data=text, file_id=file_id,
                created_by=principal.user_id, created_at=utcnow())).inserted_primary_key[0]
            row = tx.execute(select(stream_events).where(stream_events.c.id == event_id)).one()
            shown = present(row, stream["gid"])
            for topic in (f"stream:{stream['gid']}", f"project:{stream['project_id']}"):
                self.events.publish_after(tx, topic, "stream.event",
                                          {k: v for k, v in shown.items() if k != "created_at"})
            return shown

    def list(self, principal: Principal, stream_ref: str, *, limit: int, offset: int,
             start: int | None = None, end: int | None = None, has_file: bool | None = None,
             descending: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """A stream's events in [start, end] (inclusive), with or without a file, by time."""
        if start is not None and end is not None and start > end:
            raise Invalid("start is after end.")
        with self.db.read() as conn:
            stream = self.streams.locate(conn, principal, stream_ref, Level.READ)
            query = select(stream_events).where(stream_events.c.stream_id == stream["id"])
            if start is not None:
                query = query.where(stream_events.c.ts >= start)
            if end is not None:
                query = query.where(stream_events.c.ts <= end)
            if has_file is not None:
                column = stream_events.c.file_id
                query = query.where(column.is_not(None) if has_file else column.is_(None))
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            keys = (stream_events.c.ts, stream_events.c.id)
            rows = conn.execute(query.order_by(*(k.desc() for k in keys) if descending
                                               else keys).limit(limit).offset(offset))
            return total, [present(r, stream["gid"]) for r in rows]

    def get(self, principal: Principal, event_id: int) -> dict[str, Any]:
        """One event by its id, if the caller can read its stream (404 otherwise), with its
        stream's project id (where its file is)."""
        with self.db.read() as conn:
            row = conn.execute(select(stream_events).where(stream_events.c.id == event_id)
                               ).first()
            parts = self.streams.gid_parts(conn, [row.stream_id]) if row else {}
            if row is None or row.stream_id not in parts:
                raise NotFound(f"No event {event_id}.")
            stream = self.streams.locate(conn, principal, parts[row.stream_id]["stream"],
                                         Level.READ)
            return {**present(row, stream["gid"]), "project_id": stream["project_id"]}
