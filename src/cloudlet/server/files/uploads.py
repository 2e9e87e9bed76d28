"""Resumable upload sessions: open, send chunks in order with `Content-Range`, ask where to
resume, complete with the whole file's md5 and/or sha256.

Everything about a session lives in its row (and, on S3, in buffered chunks not yet making
a 5 MiB part, in `file_upload_buffers`), so any worker can take any chunk. A chunk is
checked (its length, its optional checksum) before it counts; a bad or short chunk is
dropped, and the session still says the offset to resume from. Completing reads the staged
bytes back to hash them (hash state can't be handed between workers), outside any
transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound, TooLarge
from cloudlet.server.core.schema import utcnow
from cloudlet.server.files.blobs import BlobRegistry, Staged, too_large
from cloudlet.server.files.digests import digest_all
from cloudlet.server.files.tables import file_upload_buffers, file_uploads

TAKEOVER = timedelta(minutes=15)  # a completion this old was abandoned by its worker


@dataclass(frozen=True)
class ChunkCheck:
    """What a chunk claims about itself: its checksums (either may be None)."""

    md5_base64: str | None = None
    sha256_hex: str | None = None

    def verify(self, data: bytes) -> None:
        if self.md5_base64 is not None:
            try:
                wanted = base64.b64decode(self.md5_base64, validate=True)
            except (binascii.Error, ValueError):
                raise Invalid("Content-MD5 must be the base64 of the chunk's md5.") from None
            if hashlib.md5(data).digest() != wanted:
                raise Invalid("The chunk does not match its Content-MD5; it was not kept.",
                              reason="checksum")
        if self.sha256_hex is not None and \
                hashlib.sha256(data).hexdigest() != self.sha256_hex.strip().lower():
            raise Invalid("The chunk does not match its SHA-256; it was not kept.",
                          reason="checksum")


def parse_content_range(header: str | None, length: int) -> tuple[int, int | None]:
    """`bytes start-end/total` (total may be `*`) → (start, total); checks `end` against the
    chunk's length."""
    if header is None:
        raise Invalid("A chunk needs a Content-Range header: bytes start-end/total.")
    unit, _, spec = header.strip().partition(" ")
    span, _, total_text = spec.partition("/")
    first, _, last = span.partition("-")
    try:
        if unit.lower() != "bytes":
            raise ValueError
        start, end = int(first), int(last)
        total = None if total_text.strip() in ("*", "") else int(total_text)
    except ValueError:
        raise Invalid(f"Bad Content-Range {header!r}; use bytes start-end/total.") from None
    if start < 0 or end < start - 1 or end - start + 1 != length:
        raise Invalid(f"Content-Range {header!r} says {end - start + 1} bytes but the chunk "
                      f"has {length}; it was not kept.")
    if total is not None and (total < end + 1 or total < 0):
        raise Invalid(f"Content-Range {header!r} ends past its total.")
    return start, total


class UploadSessions:
    def __init__(self, db: Database, blobs: BlobRegistry, *, expiry: int, max_chunk: int
                 ) -> None:
        self.db = db
        self.blobs = blobs
        self.store = blobs.store
        self.expiry = timedelta(seconds=expiry)
        self.max_chunk = max_chunk

    def open(self, tx: Tx, *, project_id: int, user_id: int, total: int | None,
             target: dict[str, Any]) -> dict[str, Any]:
        if total is not None and total > self.blobs.max_size:
            raise too_large(self.blobs.max_size)
        now = utcnow()
        upload_id = secrets.token_hex(16)
        tx.execute(insert(file_uploads).values(
            id=upload_id, project_id=project_id, created_by=user_id, total=total, offset=0,
            buffered=0, store_state=self.store.start(), target=target, state="open",
            created_at=now, expires_at=now + self.expiry,
        ))
        return self.row(tx.conn, project_id, upload_id)

    def row(self, conn: Connection, project_id: int, upload_id: str, *, lock: bool = False
            ) -> dict[str, Any]:
        query = select(file_uploads).where(file_uploads.c.id == upload_id,
                                           file_uploads.c.project_id == project_id)
        found = conn.execute(query.with_for_update() if lock else query).first()
        if found is None or found.expires_at < utcnow() and found.state == "open":
            raise NotFound(f"No upload session {upload_id!r} in this project (it may have "
                           "expired).")
        return dict(found._mapping)

    def chunk(self, *, project_id: int, upload_id: str, start: int, total: int | None,
              data: bytes, check: ChunkCheck) -> dict[str, Any]:
        if len(data) > self.max_chunk:
            raise TooLarge(f"A chunk may hold at most {self.max_chunk} bytes.",
                           limit=self.max_chunk)
        check.verify(data)
        with self.db.write() as tx:
            session = self._open_row(tx.conn, project_id, upload_id)
            known = session["total"]
            if total is not None and known is not None and total != known:
                raise Invalid(f"This upload is {known} bytes long, not {total}.")
            total = known if known is not None else total
            if start != session["offset"]:
                raise Conflict(
                    f"This chunk starts at {start} but the upload has {session['offset']} "
                    "bytes; resume from there.", offset=session["offset"])
            end = start + len(data)
            limit = min(self.blobs.max_size, total if total is not None else end)
            if end > self.blobs.max_size:
                raise too_large(self.blobs.max_size)
            if end > limit:
                raise Invalid(f"This chunk ends past the upload's {total} bytes.")
            state, buffered = self._store_chunk(tx, session, start, data)
            tx.execute(update(file_uploads).where(file_uploads.c.id == upload_id).values(
                offset=end, buffered=buffered, store_state=state, total=total,
                expires_at=utcnow() + self.expiry,
            ))
            return self.row(tx.conn, project_id, upload_id)

    def _open_row(self, conn: Connection, project_id: int, upload_id: str) -> dict[str, Any]:
        session = self.row(conn, project_id, upload_id, lock=True)
        if session["state"] != "open":
            raise Conflict(f"Upload {upload_id!r} is {session['state']}; it takes no more "
                           "chunks.")
        return session

    def _store_chunk(self, tx: Tx, session: dict[str, Any], start: int, data: bytes
                     ) -> tuple[dict[str, Any], int]:
        """Into the store when a part is full (always, on local disk), else buffered."""
        state, buffered = session["store_state"], session["buffered"]
        if buffered + len(data) < self.store.min_part_size:
            tx.execute(insert(file_upload_buffers).values(
                upload_id=session["id"], offset=start, data=data))
            return state, buffered + len(data)
        pending = self._take_buffers(tx, session["id"])
        part = b"".join(pending) + data
        return self.store.chunk(state, start - buffered, part), 0

    def _take_buffers(self, tx: Tx, upload_id: str) -> list[bytes]:
        rows = tx.execute(select(file_upload_buffers.c.data)
                          .where(file_upload_buffers.c.upload_id == upload_id)
                          .order_by(file_upload_buffers.c.offset))
        pending = [bytes(r.data) for r in rows]
        tx.execute(delete(file_upload_buffers)
                   .where(file_upload_buffers.c.upload_id == upload_id))
        return pending

    def finish(self, *, project_id: int, upload_id: str, md5: str | None,
               sha256: str | None) -> tuple[dict[str, Any], Staged | None]:
        """The session's bytes, complete and verified against the given hashes; the
        session is left `finishing` until the caller's `done()`. None instead of the bytes
        when the session was completed before (its `result` says what it gave)."""
        if md5 is None and sha256 is None:
            raise Invalid("Completing an upload needs the file's md5 or sha256 (hex).")
        with self.db.write() as tx:
            session = self.row(tx.conn, project_id, upload_id, lock=True)
            state = session["store_state"]
            if session["state"] == "done":
                return session, None
            if session["state"] == "finishing":
                started = datetime.fromisoformat(state["finishing_at"])
                if utcnow() - started < TAKEOVER:
                    raise Conflict("This upload is being completed; retry shortly.",
                                   retry_after=5)
            elif session["state"] != "open":
                raise Conflict(f"Upload {upload_id!r} is {session['state']}.")
            else:
                if session["total"] is not None and session["offset"] != session["total"]:
                    raise Conflict(
                        f"The upload has {session['offset']} of {session['total']} bytes; "
                        "send the rest first.", offset=session["offset"])
                pending = self._take_buffers(tx, upload_id)
                if pending:
                    state = self.store.chunk(state, session["offset"] - session["buffered"],
                                             b"".join(pending))
                state = {**state, "staged": self.store.finish(state)}
            state = {**state, "finishing_at": utcnow().isoformat()}
            tx.execute(update(file_uploads).where(file_uploads.c.id == upload_id)
                       .values(state="finishing", store_state=state, buffered=0))
        digests = digest_all(self.store.open_range(state["staged"]))
        staged = Staged(state["staged"], digests)
        mismatch = [name for name, given, actual in (("md5", md5, digests.md5),
                                                     ("sha256", sha256, digests.sha256))
                    if given is not None and given.strip().lower() != actual]
        if mismatch:
            self.blobs.discard(staged)
            self._set_state(upload_id, "aborted")
            raise Invalid(f"The uploaded bytes do not match the given {' and '.join(mismatch)}"
                          "; the upload was discarded, start again.", reason="checksum")
        return session, staged

    def done(self, tx: Tx, upload_id: str, result: dict[str, Any]) -> None:
        tx.execute(update(file_uploads).where(file_uploads.c.id == upload_id)
                   .values(state="done", result=result))

    def abort(self, *, project_id: int, upload_id: str) -> None:
        with self.db.write() as tx:
            session = self.row(tx.conn, project_id, upload_id, lock=True)
            if session["state"] == "done":
                raise Conflict(f"Upload {upload_id!r} is complete already.")
            tx.execute(delete(file_uploads).where(file_uploads.c.id == upload_id))
        self._drop_staging(session)

    def _set_state(self, upload_id: str, state: str) -> None:
        with self.db.write() as tx:
            tx.execute(update(file_uploads).where(file_uploads.c.id == upload_id)
                       .values(state=state))

    def _drop_staging(self, session: dict[str, Any]) -> None:
        state = session["store_state"]
        if session["state"] in ("open", "finishing") and "staged" not in state:
            self.store.abort(state)
        elif "staged" in state and session["state"] != "done":
            self.blobs.discard(Staged(state["staged"], digest_all([])))

    def live_stagings(self) -> set[str]:
        """The stagings that sessions still hold (the sweep leaves them alone)."""
        with self.db.read() as conn:
            states = conn.execute(select(file_uploads.c.store_state).where(
                file_uploads.c.state.in_(("open", "finishing")))).scalars()
            return {self.store.staging_id(s) for s in states}

    def expire(self) -> int:
        """Delete expired open sessions, and finished ones a day after they expired."""
        now = utcnow()
        with self.db.write() as tx:
            rows = tx.execute(select(file_uploads).where(
                file_uploads.c.expires_at < now)).all()
            stale = [dict(r._mapping) for r in rows
                     if r.state != "done" or r.expires_at < now - timedelta(days=1)]
            if stale:
                tx.execute(delete(file_uploads).where(
                    file_uploads.c.id.in_([s["id"] for s in stale])))
        for session in stale:
            self._drop_staging(session)
        return len(stale)
