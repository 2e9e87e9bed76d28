"""The database side of blobs: one row per distinct content (by sha256), reference-counted.

- `writer()` stages bytes arriving in one request, hashing them on the way and enforcing the
  size limit; `register()` then turns staged bytes into a blob row (or adds a reference to
  the existing one with the same sha256, dropping the duplicate bytes).
- `retain()` / `release()` move the count; at zero the bytes are collected after commit.
- `reconcile()` (housekeeping) recounts blobs whose references vanished without a release,
  such as the files of a deleted project (a foreign-key cascade).

Collecting deletes the row and then the bytes in one transaction, and `register()` moves
staged bytes into place while holding the same row, so a blob being collected can never take
freshly uploaded identical bytes with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, select, update

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import TooLarge
from cloudlet.server.core.schema import utcnow
from cloudlet.server.files.blobstore import BlobStore, State
from cloudlet.server.files.digests import Digests, Hasher
from cloudlet.server.files.tables import blob_claims, file_blobs, file_nodes, file_versions

log = logging.getLogger(__name__)
ONE_SHOT_PART = 8 * 1024 * 1024


@dataclass(frozen=True)
class Staged:
    """Complete bytes in the store, not yet a blob: `staged` is their temporary key."""

    staged: str
    digests: Digests


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"The file is larger than the limit of {limit} bytes.", limit=limit)


class BlobWriter:
    """Bytes of one upload, in order, into a staging of the store (called off the event
    loop: it hashes and writes). Use `close()` once, or `abort()` on any failure."""

    def __init__(self, store: BlobStore, max_size: int) -> None:
        self.store = store
        self.max_size = max_size
        self.hasher = Hasher()
        self._state: State | None = store.start()
        self._offset = 0
        self._buffer = bytearray()
        self._part = max(store.min_part_size, ONE_SHOT_PART) if store.min_part_size > 1 \
            else 1 << 20

    @property
    def size(self) -> int:
        return self.hasher.size

    def write(self, data: bytes) -> None:
        if self.hasher.size + len(data) > self.max_size:
            raise too_large(self.max_size)
        self.hasher.update(data)
        self._buffer += data
        if len(self._buffer) >= self._part:
            self._flush()

    def _flush(self) -> None:
        assert self._state is not None
        if self._buffer:
            self._state = self.store.chunk(self._state, self._offset, bytes(self._buffer))
            self._offset += len(self._buffer)
            self._buffer.clear()

    def close(self) -> Staged:
        self._flush()
        assert self._state is not None
        staged = self.store.finish(self._state)
        self._state = None
        return Staged(staged, self.hasher.digests())

    def abort(self) -> None:
        if self._state is not None:
            state, self._state = self._state, None
            try:
                self.store.abort(state)
            except Exception:
                log.exception("could not drop an aborted upload's staging")


class BlobRegistry:
    def __init__(self, db: Database, store: BlobStore, *, max_size: int) -> None:
        self.db = db
        self.store = store
        self.max_size = max_size

    def writer(self, max_size: int | None = None) -> BlobWriter:
        return BlobWriter(self.store, self.max_size if max_size is None else max_size)

    def register(self, tx: Tx, staged: Staged) -> dict[str, Any]:
        """The blob holding these bytes, with one more reference (the caller's)."""
        d = staged.digests
        now = utcnow()
        found = tx.execute(
            select(file_blobs).where(file_blobs.c.sha256 == d.sha256).with_for_update()
        ).first()
        if found is not None and found.refs > 0 and self.store.exists(found.key):
            tx.execute(update(file_blobs).where(file_blobs.c.id == found.id)
                       .values(refs=file_blobs.c.refs + 1, touched_at=now))
            key = self.store.promote(staged.staged, d.sha256)
            if key != found.key:  # a random-keyed store: the duplicate bytes go
                tx.after_commit(lambda: self._drop(key))
            return {**found._mapping, "refs": found.refs + 1}
        key = self.store.promote(staged.staged, d.sha256)
        values = dict(key=key, sha256=d.sha256, md5=d.md5, multipart_etag=d.multipart_etag,
                      size=d.size, refs=1, touched_at=now)
        if found is not None:  # a blob on its way out (or whose bytes were lost): revive it
            old = found.key
            tx.execute(update(file_blobs).where(file_blobs.c.id == found.id).values(**values))
            if old != key:
                tx.after_commit(lambda: self._drop(old))
            return {**found._mapping, **values}
        blob_id = tx.execute(insert(file_blobs).values(**values, created_at=now)
                             ).inserted_primary_key[0]
        return {"id": blob_id, **values, "created_at": now}

    def discard(self, staged: Staged) -> None:
        """Staged bytes nobody will register (a failed check after the upload)."""
        self._drop(staged.staged)

    def retain(self, tx: Tx, blob_id: int, count: int = 1) -> None:
        tx.execute(update(file_blobs).where(file_blobs.c.id == blob_id)
                   .values(refs=file_blobs.c.refs + count, touched_at=utcnow()))

    def release(self, tx: Tx, blob_id: int, count: int = 1) -> None:
        tx.execute(update(file_blobs).where(file_blobs.c.id == blob_id)
                   .values(refs=file_blobs.c.refs - count))
        refs = tx.execute(select(file_blobs.c.refs).where(file_blobs.c.id == blob_id)).scalar()
        if refs is not None and refs <= 0:
            tx.after_commit(lambda: self.collect(blob_id))

    def get(self, conn: Connection, blob_id: int) -> dict[str, Any]:
        row = conn.execute(select(file_blobs).where(file_blobs.c.id == blob_id)).one()
        return dict(row._mapping)

    def collect(self, blob_id: int) -> bool:
        """Delete an unreferenced blob, row and bytes; False if it is referenced again."""
        with self.db.write() as tx:
            key = tx.execute(
                delete(file_blobs)
                .where(file_blobs.c.id == blob_id, file_blobs.c.refs <= 0)
                .returning(file_blobs.c.key)
            ).scalar()
            if key is None:
                return False
            self.store.delete(key)
        return True

    def reconcile(self, grace: float) -> int:
        """Zero the count of blobs no node, version or claim holds (and untouched for
        `grace` seconds, so an upload registering right now is safe), then collect every
        blob at zero. Returns how many were collected."""
        cutoff = utcnow() - timedelta(seconds=grace)
        held = [
            exists().where(file_nodes.c.blob_id == file_blobs.c.id),
            exists().where(file_versions.c.blob_id == file_blobs.c.id),
            exists().where(blob_claims.c.blob_id == file_blobs.c.id),
        ]
        with self.db.write() as tx:
            tx.execute(update(file_blobs).where(
                file_blobs.c.refs > 0, file_blobs.c.touched_at < cutoff,
                and_(*(~h for h in held)),
            ).values(refs=0))
        with self.db.read() as conn:
            doomed = conn.execute(select(file_blobs.c.id).where(file_blobs.c.refs <= 0))
            ids = [row.id for row in doomed]
        return sum(self.collect(blob_id) for blob_id in ids)

    def _drop(self, key: str) -> None:
        try:
            self.store.delete(key)
        except Exception:
            log.exception("could not delete staged bytes %s", key)
