"""Stream events: a timestamp and a JSON object of extra data on a stream (IOTile's events).

An event may also carry a file of the stream's project, through the files feature: one that
is there already (`file=` its id), or bytes uploaded with the event (`create_with_upload`,
which the native multipart form and the IOTile face's event upload share), stored as a file
in a folder of the project, where the native API lists and serves it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, insert, select

from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.timeseries.batch import now_micros, precision_factor
from cloudlet.server.timeseries.streams import StreamService
from cloudlet.server.timeseries.tables import stream_events
from cloudlet.server.timeseries.times import one_time

if TYPE_CHECKING:
    from cloudlet.server.files.blobs import Staged
    from cloudlet.server.files.service import FileService

MAX_EXTRA = 64 * 1024


def present(row: Any, stream_gid: str) -> dict[str, Any]:
    return {"id": row.id, "stream": stream_gid, "timestamp": row.ts,
            "extra_data": json.loads(row.extra_data or "{}"), "file": row.file_id,
            "created_at": row.created_at}


class StreamEventService:
    def __init__(self, db: Database, streams: StreamService, events: EventService,
                 files: FileService) -> None:
        self.db = db
        self.streams = streams
        self.events = events
        self.files = files

    def create(self, principal: Principal, stream_ref: str, *, timestamp: Any = None,
               precision: str | None = None, extra_data: dict[str, Any] | None = None,
               file: int | str | None = None) -> dict[str, Any]:
        """Record an event on a stream; `timestamp` (epoch in `precision`, or ISO-8601)
        defaults to now. `file` attaches a file of the stream's project that the caller
        may read (its id): 404 when there is none, 400 for a folder; nothing is written."""
        ts, text = _checked(timestamp, precision, extra_data)
        file_id = None
        if file is not None:
            file_id = _file_id(file)
            with self.db.read() as conn:
                project_id = self.streams.locate(conn, principal, stream_ref,
                                                 Level.WRITE)["project_id"]
            found = self.files.get(principal, project_id, file_id)
            if found["type"] != "file":
                raise Invalid(f"{file_id} is a folder; attach a file.", field="file")
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

    def create_with_upload(self, principal: Principal, stream_ref: str, staged: Staged, *,
                           filename: str, content_type: str | None, folder: str,
                           timestamp: Any = None, precision: str | None = None,
                           extra_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """An event with uploaded bytes: they become a file in `folder` (a path, made when
        missing) of the stream's project, renamed on a clash, attached to the new event.
        On any failure neither stays, and the staged bytes are discarded."""
        try:
            _checked(timestamp, precision, extra_data)
            with self.db.read() as conn:
                stream = self.streams.locate(conn, principal, stream_ref, Level.WRITE)
            project_id = stream["project_id"]
            self.files.check_upload(principal, project_id)
            parent, _ = self.files.mkdir(principal, project_id, path=folder)
        except BaseException:
            self.files.blobs.discard(staged)
            raise
        node, _ = self.files.create_file(
            principal, project_id, staged, name=filename, parent=parent["id"],
            content_type=content_type, metadata={"stream": stream["gid"]},
            on_conflict="rename")
        try:
            return self.create(principal, stream["gid"], timestamp=timestamp,
                               precision=precision, extra_data=extra_data, file=node["id"])
        except BaseException:
            self.files.delete(principal, project_id, [node["id"]])
            raise

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


def _checked(timestamp: Any, precision: str | None, extra_data: Any) -> tuple[int, str]:
    """The event's time in µs (now when not given) and its extra data as JSON text."""
    if extra_data is not None and not isinstance(extra_data, dict):
        raise Invalid("extra_data must be a JSON object.", field="extra_data")
    text = orjson.dumps(extra_data or {}).decode()
    if len(text) > MAX_EXTRA:
        raise Invalid(f"extra_data is limited to {MAX_EXTRA} bytes of JSON.",
                      field="extra_data")
    if timestamp is None:
        return now_micros(), text
    return one_time(timestamp, precision_factor(precision), "timestamp"), text


def _file_id(file: int | str) -> int:
    text = str(file).strip()
    if isinstance(file, bool) or not text.isdigit():
        raise Invalid(f"file must be the id of a file of the stream's project, not {file!r}.",
                      field="file")
    return int(text)
