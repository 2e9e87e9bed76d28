"""Blobs held by other domains, without a node in the project's visible tree: a dataset's
imported CSV, a gallery photo, a stream event's file, a streamer report.

A claim is one reference to a blob, owned by a string the holder chooses (`"dataset:12"`,
`"stream_event:7"`); releasing it (or everything an owner holds) drops the reference, and
the bytes go when nothing else holds them. Methods taking a `Tx` join the caller's
transaction and check no rights: the calling domain has checked the caller's rights on the
project already. The others take the `Principal` and need write (or read) access.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.files.blobs import BlobRegistry, Staged
from cloudlet.server.files.names import check_name
from cloudlet.server.files.tables import blob_claims, file_blobs

if TYPE_CHECKING:
    from cloudlet.server.files.uploads import UploadSessions
    from cloudlet.server.projects.service import ProjectService

MAX_OWNER = 100


class Attachments:
    def __init__(self, db: Database, projects: ProjectService, blobs: BlobRegistry,
                 uploads: UploadSessions) -> None:
        self.db = db
        self.projects = projects
        self.blobs = blobs
        self.uploads = uploads

    def attach_staged(self, tx: Tx, staged: Staged, *, project_id: int, owner: str,
                      filename: str, content_type: str | None = None,
                      user_id: int | None = None) -> dict[str, Any]:
        """Staged bytes become a blob held by `owner` (in the caller's transaction)."""
        _check_owner(owner)
        blob = self.blobs.register(tx, staged)
        return self._claim(tx, blob["id"], project_id=project_id, owner=owner,
                           filename=filename, content_type=content_type, user_id=user_id)

    def claim_blob(self, tx: Tx, blob_id: int, *, project_id: int, owner: str, filename: str,
                   content_type: str | None = None, user_id: int | None = None
                   ) -> dict[str, Any]:
        """One more reference to an existing blob, e.g. a file node's (`node["blob_id"]`
        from `FileService.tree.node`), so the holder keeps the bytes even when the file is
        deleted."""
        _check_owner(owner)
        self.blobs.retain(tx, blob_id)
        return self._claim(tx, blob_id, project_id=project_id, owner=owner,
                           filename=filename, content_type=content_type, user_id=user_id)

    def store(self, principal: Principal, project: str | int, chunks: Iterable[bytes], *,
              owner: str, filename: str, content_type: str | None = None) -> dict[str, Any]:
        """Store bytes (an iterable of chunks, read once) as an attachment of `owner`."""
        _check_owner(owner)
        with self.db.read() as conn:
            project_id = self.projects.authorize(conn, principal, project, Level.WRITE)["id"]
        writer = self.blobs.writer()
        try:
            for chunk in chunks:
                writer.write(chunk)
            staged = writer.close()
        except BaseException:
            writer.abort()
            raise
        try:
            with self.db.write() as tx:
                return self.attach_staged(tx, staged, project_id=project_id, owner=owner,
                                          filename=filename, content_type=content_type,
                                          user_id=principal.user_id)
        except BaseException:
            self.blobs.discard(staged)
            raise

    def claim_upload(self, principal: Principal, project: str | int, upload_id: str, *,
                     owner: str, filename: str | None = None,
                     content_type: str | None = None, md5: str | None = None,
                     sha256: str | None = None) -> dict[str, Any]:
        """Complete an upload session (opened without a name) as an attachment of `owner`,
        verifying the whole-file md5/sha256. Repeating it answers the same attachment."""
        _check_owner(owner)
        with self.db.read() as conn:
            project_id = self.projects.authorize(conn, principal, project, Level.WRITE)["id"]
            if self.uploads.row(conn, project_id, upload_id)["target"]["kind"] != "blob":
                raise Invalid("This upload was opened with a file name: it completes into a "
                              "file, not an attachment.")
        session, staged = self.uploads.finish(project_id=project_id, upload_id=upload_id,
                                              md5=md5, sha256=sha256)
        if staged is None:
            with self.db.read() as conn:
                return self.get(conn, session["result"]["claim"])
        try:
            with self.db.write() as tx:
                claim = self.attach_staged(
                    tx, staged, project_id=project_id, owner=owner,
                    filename=filename or session["target"].get("name") or "upload",
                    content_type=content_type, user_id=principal.user_id)
                self.uploads.done(tx, upload_id, {"claim": claim["id"]})
                return claim
        except BaseException:
            self.blobs.discard(staged)
            raise

    def get(self, conn: Connection, claim_id: int) -> dict[str, Any]:
        row = conn.execute(
            select(blob_claims, file_blobs.c.key, file_blobs.c.size, file_blobs.c.md5,
                   file_blobs.c.sha256, file_blobs.c.multipart_etag)
            .select_from(blob_claims.join(file_blobs, file_blobs.c.id == blob_claims.c.blob_id))
            .where(blob_claims.c.id == claim_id)).first()
        if row is None:
            raise NotFound(f"No attachment {claim_id}.")
        return dict(row._mapping)

    def of_owner(self, conn: Connection, owner: str) -> list[dict[str, Any]]:
        ids = conn.execute(select(blob_claims.c.id).where(blob_claims.c.owner == owner)
                           .order_by(blob_claims.c.id)).scalars()
        return [self.get(conn, claim_id) for claim_id in ids]

    def open(self, claim: dict[str, Any], start: int = 0, end: int | None = None
             ) -> Iterator[bytes]:
        """The bytes of an attachment (from `get`)."""
        return self.blobs.store.open_range(claim["key"], start, end)

    def release(self, tx: Tx, claim_id: int) -> None:
        blob_id = tx.execute(delete(blob_claims).where(blob_claims.c.id == claim_id)
                             .returning(blob_claims.c.blob_id)).scalar()
        if blob_id is None:
            raise NotFound(f"No attachment {claim_id}.")
        self.blobs.release(tx, blob_id)

    def release_owner(self, tx: Tx, owner: str) -> int:
        """Drop every attachment `owner` holds (call it when deleting the owner)."""
        blob_ids = list(tx.execute(delete(blob_claims).where(blob_claims.c.owner == owner)
                                   .returning(blob_claims.c.blob_id)).scalars())
        for blob_id in blob_ids:
            self.blobs.release(tx, blob_id)
        return len(blob_ids)

    def _claim(self, tx: Tx, blob_id: int, *, project_id: int, owner: str, filename: str,
               content_type: str | None, user_id: int | None) -> dict[str, Any]:
        claim_id = tx.execute(insert(blob_claims).values(
            project_id=project_id, blob_id=blob_id, owner=owner,
            filename=check_name(filename), content_type=content_type, created_by=user_id,
            created_at=utcnow())).inserted_primary_key[0]
        return self.get(tx.conn, claim_id)


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not owner or len(owner) > MAX_OWNER:
        raise Invalid(f"An attachment's owner is 1 to {MAX_OWNER} characters.")
