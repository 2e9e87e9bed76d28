"""Galleries (AmigoCloud's "related tables"): photos or other files attached to a dataset's
rows, the rules.

A gallery belongs to one dataset. Each of its records holds one file and is attached to a
row by `source_amigo_id`, with a filename, content type, size, hashes and JSON metadata.
The bytes are attachments of the files domain owned by `gallery:<id>`, released with the
record, the gallery, the dataset, a row deleted through the API, or the project.

Rights come from the dataset's project: read to list and download, write for everything
else. Gallery and record ids are unique in the installation, so a face can name a gallery
without its project (`/related_tables/<id>/upload`): the service finds the project and
checks the caller's rights on it. Native routes also pass the project (and dataset) of
their path; a gallery elsewhere is a 404, as is one in a project the caller can't see.
Changes publish `gallery.*` events on `project:<id>` and `dataset:<id>` after commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.datasets.ids import new_amigo_id
from cloudlet.server.datasets.service import DatasetService
from cloudlet.server.datasets.tables import galleries, gallery_records
from cloudlet.server.events.service import EventService
from cloudlet.server.files.blobs import Staged
from cloudlet.server.files.names import check_name
from cloudlet.server.files.service import Content, FileService, guess_type
from cloudlet.server.files.uploads import ChunkCheck

ProjectRef = str | int
MAX_METADATA = 256 * 1024
MAX_NAME = 200


def owner_of(gallery_id: int) -> str:
    """The owner string of a gallery's attachments in the files domain."""
    return f"gallery:{gallery_id}"


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Any JSON object of at most MAX_METADATA bytes."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata is a JSON object.")
    try:
        size = len(orjson.dumps(metadata))
    except (TypeError, orjson.JSONEncodeError):
        raise Invalid("metadata must be plain JSON.") from None
    if size > MAX_METADATA:
        raise Invalid(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA}.")
    return metadata


def _check_gallery_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise Invalid(f"A gallery name is 1 to {MAX_NAME} characters.")
    return name.strip()


def _source(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise Invalid("source_amigo_id (the amigo_id of the row the file belongs to) is "
                      "required: text of 1-64 characters.")
    return value


class GalleryService:
    def __init__(self, db: Database, datasets: DatasetService, files: FileService,
                 events: EventService) -> None:
        self.db = db
        self.datasets = datasets
        self.files = files
        self.attachments = files.attachments
        self.events = events

    # --- hooks of other deletions ----------------------------------------------------------

    def on_dataset_deleted(self, tx: Tx, dataset: dict[str, Any]) -> None:
        """A dataset's galleries go with it (their rows by cascade, their bytes here)."""
        ids = tx.execute(select(galleries.c.id).where(
            galleries.c.dataset_id == dataset["id"])).scalars().all()
        for gallery_id in ids:
            self.attachments.release_owner(tx, owner_of(gallery_id))

    def on_project_deleted(self, tx: Tx, project: dict[str, Any]) -> None:
        ids = tx.execute(select(galleries.c.id).where(
            galleries.c.project_id == project["id"])).scalars().all()
        for gallery_id in ids:
            self.attachments.release_owner(tx, owner_of(gallery_id))

    def on_row_deleted(self, tx: Tx, dataset: dict[str, Any], amigo_id: str) -> None:
        """A row deleted through the API takes its gallery records with it."""
        found = tx.execute(select(gallery_records).where(
            gallery_records.c.dataset_id == dataset["id"],
            gallery_records.c.source_amigo_id == amigo_id)).all()
        for row in found:
            record = dict(row._mapping)
            self._remove_record(tx, record)

    # --- finding and authorizing -------------------------------------------------------------

    def _gallery(self, conn: Connection, principal: Principal, gallery_id: int, need: Level,
                 project_ref: ProjectRef | None = None, dataset_id: int | None = None
                 ) -> dict[str, Any]:
        """The gallery if the caller has `need` on its project (and it is in the given
        project and dataset): 404 otherwise, 403 short of the level."""
        row = conn.execute(select(galleries).where(galleries.c.id == gallery_id)).first()
        missing = NotFound(f"No gallery {gallery_id}.")
        if row is None:
            raise missing
        gallery = dict(row._mapping)
        try:
            project = self.datasets.projects.authorize(
                conn, principal, gallery["project_id"] if project_ref is None else project_ref,
                need)
        except NotFound:
            raise missing from None
        if project["id"] != gallery["project_id"] or \
                dataset_id is not None and dataset_id != gallery["dataset_id"]:
            raise missing
        return gallery

    def _record(self, conn: Connection, principal: Principal, record_id: int, need: Level,
                gallery_id: int | None, project_ref: ProjectRef | None) -> dict[str, Any]:
        row = conn.execute(select(gallery_records).where(
            gallery_records.c.id == record_id)).first()
        missing = NotFound(f"No gallery record {record_id}.")
        if row is None or gallery_id is not None and row.gallery_id != gallery_id:
            raise missing
        try:
            self._gallery(conn, principal, row.gallery_id, need, project_ref)
        except NotFound:
            raise missing from None
        return dict(row._mapping)

    def project_of(self, principal: Principal, gallery_id: int, need: Level = Level.WRITE
                   ) -> int:
        """The project a gallery belongs to, if the caller has `need` on it."""
        with self.db.read() as conn:
            return int(self._gallery(conn, principal, gallery_id, need)["project_id"])

    # --- galleries -------------------------------------------------------------------------

    def shown(self, conn: Connection, gallery: dict[str, Any]) -> dict[str, Any]:
        count = conn.execute(select(func.count()).select_from(gallery_records).where(
            gallery_records.c.gallery_id == gallery["id"])).scalar_one()
        return {"id": gallery["id"], "project": gallery["project_id"],
                "dataset": gallery["dataset_id"], "name": gallery["name"],
                "description": gallery["description"], "record_count": count,
                "created_by": gallery["created_by"], "created_at": gallery["created_at"],
                "updated_at": gallery["updated_at"]}

    def _announce(self, tx: Tx, event: str, data: dict[str, Any]) -> None:
        for topic in (f"project:{data['project_id']}", f"dataset:{data['dataset_id']}"):
            self.events.publish_after(tx, topic, event, data)

    def _gallery_event(self, tx: Tx, event: str, gallery: dict[str, Any]) -> None:
        shown = self.shown(tx.conn, gallery)
        self._announce(tx, event, {"gallery_id": gallery["id"],
                                   "dataset_id": gallery["dataset_id"],
                                   "project_id": gallery["project_id"], "name": gallery["name"],
                                   "record_count": shown["record_count"]})

    def create(self, principal: Principal, project_ref: ProjectRef, dataset_id: int, *,
               name: str, description: str = "") -> dict[str, Any]:
        """A gallery of the dataset; names are unique within a dataset (409)."""
        name = _check_gallery_name(name)
        with self.db.write() as tx:
            _, dataset = self.datasets.authorize(tx.conn, principal, project_ref, dataset_id,
                                                 Level.WRITE)
            self._unique(tx.conn, dataset_id, name)
            now = utcnow()
            try:
                with tx.conn.begin_nested():
                    gallery_id = tx.execute(insert(galleries).values(
                        project_id=dataset["project_id"], dataset_id=dataset_id, name=name,
                        description=description or "", created_by=principal.user_id,
                        created_at=now, updated_at=now)).inserted_primary_key[0]
            except IntegrityError:
                raise self._taken(name) from None
            gallery = self._row(tx.conn, gallery_id)
            self._gallery_event(tx, "gallery.created", gallery)
            return self.shown(tx.conn, gallery)

    def _unique(self, conn: Connection, dataset_id: int, name: str,
                other_than: int | None = None) -> None:
        found = conn.execute(select(galleries.c.id).where(
            galleries.c.dataset_id == dataset_id, galleries.c.name == name)).scalar()
        if found is not None and found != other_than:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> Conflict:
        return Conflict(f"This dataset has a gallery named {name!r} already.", name=name)

    @staticmethod
    def _row(conn: Connection, gallery_id: int) -> dict[str, Any]:
        return dict(conn.execute(select(galleries).where(galleries.c.id == gallery_id)
                                 ).one()._mapping)

    def list(self, principal: Principal, project_ref: ProjectRef, dataset_id: int, *,
             limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """A dataset's galleries, oldest first."""
        with self.db.read() as conn:
            self.datasets.authorize(conn, principal, project_ref, dataset_id, Level.READ)
            query = select(galleries).where(galleries.c.dataset_id == dataset_id)
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(galleries.c.id).limit(limit).offset(offset))
            return total, [self.shown(conn, dict(r._mapping)) for r in rows]

    def get(self, principal: Principal, gallery_id: int, *,
            project_ref: ProjectRef | None = None, dataset_id: int | None = None
            ) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.shown(conn, self._gallery(conn, principal, gallery_id, Level.READ,
                                                  project_ref, dataset_id))

    def update(self, principal: Principal, gallery_id: int, *, name: str | None = None,
               description: str | None = None, project_ref: ProjectRef | None = None
               ) -> dict[str, Any]:
        with self.db.write() as tx:
            gallery = self._gallery(tx.conn, principal, gallery_id, Level.WRITE, project_ref)
            values: dict[str, Any] = {}
            if name is not None:
                values["name"] = _check_gallery_name(name)
                self._unique(tx.conn, gallery["dataset_id"], values["name"], gallery_id)
            if description is not None:
                values["description"] = description
            if values:
                tx.execute(update(galleries).where(galleries.c.id == gallery_id).values(
                    **values, updated_at=utcnow()))
                gallery = self._row(tx.conn, gallery_id)
                self._gallery_event(tx, "gallery.changed", gallery)
            return self.shown(tx.conn, gallery)

    def delete(self, principal: Principal, gallery_id: int, *,
               project_ref: ProjectRef | None = None) -> None:
        """Delete a gallery, its records and (once nothing else holds them) their bytes."""
        with self.db.write() as tx:
            gallery = self._gallery(tx.conn, principal, gallery_id, Level.WRITE, project_ref)
            self._gallery_event(tx, "gallery.deleted", gallery)
            self.attachments.release_owner(tx, owner_of(gallery_id))
            tx.execute(delete(galleries).where(galleries.c.id == gallery_id))

    # --- resumable uploads, for a face that names only the gallery --------------------------

    def open_upload(self, principal: Principal, gallery_id: int, *, total: int | None = None
                    ) -> dict[str, Any]:
        """A resumable upload session in the gallery's project (complete it with
        `add_from_upload`)."""
        return self.files.open_upload(principal, self.project_of(principal, gallery_id),
                                      total=total)

    def upload_chunk(self, principal: Principal, gallery_id: int, upload_id: str, *,
                     start: int, data: bytes, total: int | None = None,
                     check: ChunkCheck | None = None) -> dict[str, Any]:
        return self.files.upload_chunk(principal, self.project_of(principal, gallery_id),
                                       upload_id, start=start, data=data, total=total,
                                       check=check)

    def upload_status(self, principal: Principal, gallery_id: int, upload_id: str
                      ) -> dict[str, Any]:
        return self.files.upload_status(principal, self.project_of(principal, gallery_id),
                                        upload_id)

    # --- records ---------------------------------------------------------------------------

    def shown_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"id": record["id"], "amigo_id": record["amigo_id"],
                "gallery": record["gallery_id"], "dataset": record["dataset_id"],
                "project": record["project_id"], "source_amigo_id": record["source_amigo_id"],
                "filename": record["filename"], "content_type": record["content_type"],
                "size": record["size"], "md5": record["md5"], "sha256": record["sha256"],
                "metadata": record["metadata"], "created_by": record["created_by"],
                "created_at": record["created_at"], "updated_at": record["updated_at"]}

    def _record_event(self, tx: Tx, event: str, record: dict[str, Any]) -> None:
        self._announce(tx, event, {
            "record_id": record["id"], "gallery_id": record["gallery_id"],
            "dataset_id": record["dataset_id"], "project_id": record["project_id"],
            "source_amigo_id": record["source_amigo_id"], "filename": record["filename"],
            "content_type": record["content_type"], "size": record["size"]})

    def check_upload(self, principal: Principal, gallery_id: int, *,
                     project_ref: ProjectRef | None = None, source_amigo_id: str | None = None
                     ) -> dict[str, Any]:
        """Call before reading an upload's body: refuses a caller without write access
        (and, when already known, a row that isn't there) before a byte is stored."""
        with self.db.read() as conn:
            gallery = self._gallery(conn, principal, gallery_id, Level.WRITE, project_ref)
        if source_amigo_id is not None:
            self._check_row(principal, gallery, source_amigo_id)
        return gallery

    def _check_row(self, principal: Principal, gallery: dict[str, Any], amigo_id: Any) -> str:
        amigo_id = _source(amigo_id)
        try:
            self.datasets.row(principal, gallery["project_id"], gallery["dataset_id"], amigo_id)
        except NotFound:
            raise Invalid(f"source_amigo_id {amigo_id!r} is not a row of dataset "
                          f"{gallery['dataset_id']}.", source_amigo_id=amigo_id) from None
        return amigo_id

    def add(self, principal: Principal, gallery_id: int, staged: Staged, *,
            source_amigo_id: str, filename: str, content_type: str | None = None,
            metadata: dict[str, Any] | None = None, project_ref: ProjectRef | None = None
            ) -> dict[str, Any]:
        """Staged bytes (one request's upload) become a record of the gallery, attached to
        the row `source_amigo_id`. The staged bytes are discarded if this fails."""
        try:
            meta = check_metadata(metadata)
            filename = check_name(filename)
            gallery = self.check_upload(principal, gallery_id, project_ref=project_ref)
            source = self._check_row(principal, gallery, source_amigo_id)
            with self.db.write() as tx:
                self._gallery(tx.conn, principal, gallery_id, Level.WRITE, project_ref)
                claim = self.attachments.attach_staged(
                    tx, staged, project_id=gallery["project_id"], owner=owner_of(gallery_id),
                    filename=filename, content_type=guess_type(filename, content_type),
                    user_id=principal.user_id)
                return self._insert(tx, principal, gallery, claim, source, meta)
        except BaseException:
            self.files.blobs.discard(staged)
            raise

    def add_from_upload(self, principal: Principal, gallery_id: int, upload_id: str, *,
                        source_amigo_id: str, filename: str, content_type: str | None = None,
                        metadata: dict[str, Any] | None = None, md5: str | None = None,
                        sha256: str | None = None, project_ref: ProjectRef | None = None
                        ) -> dict[str, Any]:
        """Complete a resumable upload (opened without a name) as a record, verifying the
        whole file's md5 and/or sha256: a mismatch discards the upload and makes nothing.
        Repeating it answers the same record."""
        meta = check_metadata(metadata)
        filename = check_name(filename)
        gallery = self.check_upload(principal, gallery_id, project_ref=project_ref)
        source = self._check_row(principal, gallery, source_amigo_id)
        claim = self.attachments.claim_upload(
            principal, gallery["project_id"], upload_id, owner=owner_of(gallery_id),
            filename=filename, content_type=guess_type(filename, content_type), md5=md5,
            sha256=sha256)
        with self.db.read() as conn:
            done = conn.execute(select(gallery_records).where(
                gallery_records.c.claim_id == claim["id"])).first()
        if done is not None and done.gallery_id == gallery_id:
            return self.shown_record(dict(done._mapping))  # a repeated completion
        if done is not None or claim["owner"] != owner_of(gallery_id):
            raise Conflict(f"Upload {upload_id!r} was completed into something else.")
        try:
            with self.db.write() as tx:
                self._gallery(tx.conn, principal, gallery_id, Level.WRITE, project_ref)
                return self._insert(tx, principal, gallery, claim, source, meta)
        except BaseException:
            with self.db.write() as tx:
                self._release(tx, claim["id"])
            raise

    def _insert(self, tx: Tx, principal: Principal, gallery: dict[str, Any],
                claim: dict[str, Any], source: str, meta: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        record_id = tx.execute(insert(gallery_records).values(
            gallery_id=gallery["id"], project_id=gallery["project_id"],
            dataset_id=gallery["dataset_id"], amigo_id=new_amigo_id(),
            source_amigo_id=source, claim_id=claim["id"], filename=claim["filename"],
            content_type=claim["content_type"] or "application/octet-stream",
            size=claim["size"], md5=claim["md5"], sha256=claim["sha256"], metadata=meta,
            created_by=principal.user_id, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        record = self._record_row(tx.conn, record_id)
        self._record_event(tx, "gallery.record_added", record)
        return self.shown_record(record)

    @staticmethod
    def _record_row(conn: Connection, record_id: int) -> dict[str, Any]:
        return dict(conn.execute(select(gallery_records).where(
            gallery_records.c.id == record_id)).one()._mapping)

    def records(self, principal: Principal, gallery_id: int, *, limit: int, offset: int,
                source_amigo_id: str | None = None, project_ref: ProjectRef | None = None
                ) -> tuple[int, list[dict[str, Any]]]:
        """A gallery's records, oldest first (those of one row, with `source_amigo_id`)."""
        with self.db.read() as conn:
            self._gallery(conn, principal, gallery_id, Level.READ, project_ref)
            query = select(gallery_records).where(gallery_records.c.gallery_id == gallery_id)
            if source_amigo_id is not None:
                query = query.where(gallery_records.c.source_amigo_id == source_amigo_id)
            return self._page(conn, query, limit, offset)

    def row_records(self, principal: Principal, project_ref: ProjectRef, dataset_id: int,
                    amigo_id: str, *, limit: int, offset: int
                    ) -> tuple[int, list[dict[str, Any]]]:
        """Every gallery record of one row of a dataset, across its galleries."""
        self.datasets.row(principal, project_ref, dataset_id, amigo_id)
        with self.db.read() as conn:
            query = select(gallery_records).where(
                gallery_records.c.dataset_id == dataset_id,
                gallery_records.c.source_amigo_id == amigo_id)
            return self._page(conn, query, limit, offset)

    def _page(self, conn: Connection, query: Any, limit: int, offset: int
              ) -> tuple[int, list[dict[str, Any]]]:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(gallery_records.c.id).limit(limit).offset(offset))
        return total, [self.shown_record(dict(r._mapping)) for r in rows]

    def record(self, principal: Principal, record_id: int, *, gallery_id: int | None = None,
               project_ref: ProjectRef | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.shown_record(self._record(conn, principal, record_id, Level.READ,
                                                  gallery_id, project_ref))

    def update_record(self, principal: Principal, record_id: int, *,
                      filename: str | None = None, metadata: dict[str, Any] | None = None,
                      replace_metadata: bool = False, gallery_id: int | None = None,
                      project_ref: ProjectRef | None = None) -> dict[str, Any]:
        """Rename a record, and merge keys into its metadata (a null value removes a key)
        or, with `replace_metadata`, replace it."""
        given = None if metadata is None else check_metadata(metadata)
        with self.db.write() as tx:
            record = self._record(tx.conn, principal, record_id, Level.WRITE, gallery_id,
                                  project_ref)
            values: dict[str, Any] = {}
            if filename is not None:
                values["filename"] = check_name(filename)
            if given is not None:
                merged = dict(given) if replace_metadata else {
                    k: v for k, v in {**record["metadata"], **given}.items()
                    if not (k in given and given[k] is None)}
                values["metadata"] = check_metadata(merged)
            if values:
                tx.execute(update(gallery_records).where(gallery_records.c.id == record_id)
                           .values(**values, updated_at=utcnow()))
                record = self._record_row(tx.conn, record_id)
                self._record_event(tx, "gallery.record_changed", record)
            return self.shown_record(record)

    def delete_record(self, principal: Principal, record_id: int, *,
                      gallery_id: int | None = None, project_ref: ProjectRef | None = None
                      ) -> None:
        with self.db.write() as tx:
            record = self._record(tx.conn, principal, record_id, Level.WRITE, gallery_id,
                                  project_ref)
            self._remove_record(tx, record)

    def _remove_record(self, tx: Tx, record: dict[str, Any]) -> None:
        self._record_event(tx, "gallery.record_deleted", record)
        tx.execute(delete(gallery_records).where(gallery_records.c.id == record["id"]))
        self._release(tx, record["claim_id"])

    def _release(self, tx: Tx, claim_id: int) -> None:
        try:
            self.attachments.release(tx, claim_id)
        except NotFound:
            pass  # released with its gallery meanwhile

    def content(self, principal: Principal, record_id: int, *, gallery_id: int | None = None,
                project_ref: ProjectRef | None = None) -> Content:
        """What a download of the record serves (read its bytes with `read`)."""
        with self.db.read() as conn:
            record = self._record(conn, principal, record_id, Level.READ, gallery_id,
                                  project_ref)
            claim = self.attachments.get(conn, record["claim_id"])
        return Content(record["id"], record["filename"], claim["size"],
                       record["content_type"], claim["sha256"], claim["key"],
                       record["updated_at"], 1)

    def read(self, content: Content, start: int = 0, end: int | None = None
             ) -> Iterator[bytes]:
        return self.files.read(content, start, end)
