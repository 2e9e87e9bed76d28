"""Import jobs: a file (an upload spooled to disk by the route, or a finished resumable
upload session of the files domain) becomes one dataset, or several for a zip, all or none.

A job runs on a background thread of the worker that holds the file, and keeps its state in
the database (`dataset_imports`), so any worker can answer `GET …/imports/<id>` and a client
can poll it for progress: scanning reports bytes read, loading reports rows written. Failed
jobs keep the reason with the file and the line or feature at fault. A server that stops
mid-import marks the job failed on its next start and removes what it had begun.

A resumable upload is claimed from the files domain as an attachment (`import:<upload id>`)
once its whole-file hash checks out; the job copies it to the worker's disk in bounded
chunks (phase `fetching`), then releases it, so the bytes go when the job ends.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import DomainError, Invalid, NotFound, TooLarge
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.datasets.readers.formats import (
    SNIFF_BYTES,
    ZipLimits,
    check_filename,
    format_of,
    head_of,
    scan,
)
from cloudlet.server.datasets.readers.plan import Plan
from cloudlet.server.datasets.service import DatasetService
from cloudlet.server.datasets.storage import DatasetStorage
from cloudlet.server.datasets.tables import dataset_imports as jobs
from cloudlet.server.datasets.tables import datasets
from cloudlet.server.files.service import FileService

log = logging.getLogger(__name__)
FINISHED = ("succeeded", "failed")
PROGRESS_EVERY = 0.5  # seconds between progress writes


@dataclass(frozen=True)
class ImportSource:
    """What an import consumes: a local file the job now owns (deleted when it ends) and
    the name the user gave it (its suffix picks the reader; its stem names the dataset).
    With `claim` (an attachment from a resumable upload), the job first copies the
    attachment's bytes to `path`, and releases it when it ends."""

    path: Path
    filename: str
    claim: dict[str, Any] | None = None


def upload_owner(upload_id: str) -> str:
    """The owner of the attachment an import claims from a resumable upload."""
    return f"import:{upload_id}"


class Stopping(Exception):
    """The server is shutting down; the job stops between batches."""


class ImportService:
    def __init__(self, db: Database, datasets: DatasetService, storage: DatasetStorage,
                 files: FileService, *, workdir: Path, limits: ZipLimits, concurrency: int,
                 max_upload: int) -> None:
        self.db = db
        self.datasets = datasets
        self.storage = storage
        self.files = files
        self.max_upload = max_upload
        self.workdir = workdir
        self.limits = limits
        self._slots = threading.BoundedSemaphore(concurrency)
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    # --- the API ---------------------------------------------------------------------------

    def check_importable(self, principal: Principal, project_ref: str,
                         filename: str | None = None) -> None:
        """Refuse early (before the upload is read) what could never be imported."""
        with self.db.read() as conn:
            self.datasets.projects.authorize(conn, principal, project_ref, Level.WRITE)
        if filename is not None:
            check_filename(filename)
        self.storage.check_ready()

    def spool_dir(self) -> Path:
        """Where routes write uploads before handing them to `start`."""
        folder = self.workdir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def start(self, principal: Principal, project_ref: str | int, source: ImportSource, *,
              name: str | None = None, description: str = "", upload_id: str | None = None
              ) -> dict[str, Any]:
        """Queue an import of `source`; returns the job (poll `get` for its progress)."""
        try:
            head = self._head(source)
            kind = format_of(source.filename, head)
            size = source.claim["size"] if source.claim else source.path.stat().st_size
            with self.db.write() as tx:
                project = self.datasets.projects.authorize(tx.conn, principal, project_ref,
                                                           Level.WRITE)
                job_id = uuid.uuid4().hex
                with tx.conn.begin_nested():
                    tx.execute(insert(jobs).values(
                        id=job_id, project_id=project["id"], filename=source.filename[:255],
                        format=kind, state="queued", phase="queued", bytes_total=size,
                        options={"name": name, "description": description}, dataset_ids=[],
                        upload_id=upload_id, created_by=principal.user_id,
                        created_at=utcnow()))
        except IntegrityError:
            if upload_id is None:
                source.path.unlink(missing_ok=True)
                raise
            # the same upload started by a concurrent request: that job owns the claim
            return self._of_upload(principal, project_ref, upload_id)
        except BaseException:
            source.path.unlink(missing_ok=True)
            self._release(source)
            raise
        thread = threading.Thread(target=self._run, args=(job_id, source, principal.user_id),
                                  name=f"import-{job_id[:8]}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return self.get(principal, project_ref, job_id)

    def start_upload(self, principal: Principal, project_ref: str | int, upload_id: str, *,
                     filename: str | None = None, md5: str | None = None,
                     sha256: str | None = None, name: str | None = None,
                     description: str = "") -> dict[str, Any]:
        """Import a resumable upload of the files domain (a session opened without a name,
        all its bytes sent), verifying the whole file's md5 and/or sha256 first: a mismatch
        discards the upload and makes nothing. `filename`'s suffix picks the reader and its
        stem names the dataset; without one (or without a suffix) the format is told from
        the content. Repeating it answers the same job."""
        filename = filename or "upload"
        check_filename(filename)
        with self.db.read() as conn:
            project = self.datasets.projects.authorize(conn, principal, project_ref,
                                                       Level.WRITE)
        existing = self._of_upload(principal, project["id"], upload_id, missing_ok=True)
        if existing is not None:
            return existing
        self.storage.check_ready()
        session = self.files.upload_status(principal, project["id"], upload_id)
        if session["kind"] != "blob":
            raise Invalid("This upload was opened with a file name, so it completes into a "
                          "file (POST …/uploads/{id}/complete); open one without a name to "
                          "import it.")
        if session["offset"] > self.max_upload:
            raise TooLarge(f"The upload is {session['offset']} bytes; the limit is "
                           f"{self.max_upload}.", limit=self.max_upload)
        if session["offset"] == 0 and session["state"] == "open":
            raise Invalid("The upload is empty.")
        claim = self.files.attachments.claim_upload(
            principal, project["id"], upload_id, owner=upload_owner(upload_id),
            filename=filename, md5=md5, sha256=sha256)
        path = self.spool_dir() / f"upload-{upload_id}"
        return self.start(principal, project["id"], ImportSource(path, filename, claim),
                          name=name, description=description, upload_id=upload_id)

    def _of_upload(self, principal: Principal, project_ref: str | int, upload_id: str, *,
                   missing_ok: bool = False) -> Any:
        with self.db.read() as conn:
            project = self.datasets.projects.authorize(conn, principal, project_ref, Level.READ)
            row = conn.execute(select(jobs).where(jobs.c.upload_id == upload_id,
                                                  jobs.c.project_id == project["id"])).first()
            if row is None:
                if missing_ok:
                    return None
                raise NotFound(f"No import of upload {upload_id!r} in this project.")
            return self._shown(conn, dict(row._mapping))

    def _head(self, source: ImportSource) -> bytes:
        if source.claim is None:
            return head_of(source.path)
        return b"".join(self.files.attachments.open(source.claim, 0, SNIFF_BYTES))

    def _release(self, source: ImportSource) -> None:
        if source.claim is None:
            return
        try:
            with self.db.write() as tx:
                self.files.attachments.release(tx, source.claim["id"])
        except NotFound:
            pass
        except Exception:
            log.exception("could not release the upload of an import")

    def get(self, principal: Principal, project_ref: str, job_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            project = self.datasets.projects.authorize(conn, principal, project_ref, Level.READ)
            row = conn.execute(select(jobs).where(jobs.c.id == job_id,
                                                  jobs.c.project_id == project["id"])).first()
            if row is None:
                raise NotFound(f"No import {job_id!r} in this project.")
            return self._shown(conn, dict(row._mapping))

    def list(self, principal: Principal, project_ref: str, *, limit: int, offset: int
             ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.datasets.projects.authorize(conn, principal, project_ref, Level.READ)
            query = select(jobs).where(jobs.c.project_id == project["id"])
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                                .limit(limit).offset(offset))
            return total, [self._shown(conn, dict(r._mapping)) for r in rows]

    def wait(self, principal: Principal, project_ref: str, job_id: str, timeout: float
             ) -> dict[str, Any]:
        """The job once finished, or as it stands after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            job = self.get(principal, project_ref, job_id)
            if job["state"] in FINISHED or time.monotonic() >= deadline:
                return job
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _shown(self, conn: Any, job: dict[str, Any]) -> dict[str, Any]:
        total, rows = job["rows_total"], job["rows_done"]
        if job["state"] == "succeeded":
            progress = 1.0
        elif job["phase"] == "loading" and total:
            progress = 0.5 + 0.5 * rows / total
        elif job["bytes_total"] and job["phase"] != "fetching":
            progress = 0.5 * job["bytes_done"] / job["bytes_total"]
        else:
            progress = 0.0
        made = []
        if job["dataset_ids"]:
            found = conn.execute(select(datasets).where(datasets.c.id.in_(job["dataset_ids"]),
                                                        datasets.c.state == "ready"))
            made = [self.datasets.shown(dict(r._mapping)) for r in found]
        return {
            "id": job["id"], "project": job["project_id"], "filename": job["filename"],
            "format": job["format"], "state": job["state"], "phase": job["phase"],
            "progress": round(min(progress, 1.0), 4), "bytes_total": job["bytes_total"],
            "bytes_done": job["bytes_done"], "rows_total": total, "rows_done": rows,
            "datasets": made, "error": job["error"], "created_at": job["created_at"],
            "finished_at": job["finished_at"], "upload_id": job["upload_id"],
        }

    # --- running ---------------------------------------------------------------------------

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.write() as tx:
            tx.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def _finish(self, job_id: str, event: str, **values: Any) -> None:
        """The job's last state, and `import.succeeded` / `import.failed` on the project's
        and the uploader's topics once it is committed."""
        with self.db.write() as tx:
            tx.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            job = tx.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if job is None:  # the project was deleted meanwhile
                return
            data = {"import_id": job_id, "project_id": job.project_id,
                    "filename": job.filename, "state": job.state,
                    "dataset_ids": list(job.dataset_ids or []), "error": job.error}
            events = self.datasets.events
            events.publish_after(tx, f"project:{job.project_id}", event, data)
            if job.created_by is not None:
                events.publish_after(tx, f"user:{job.created_by}", event, data)

    def _progress(self, job_id: str, field: str) -> Any:
        last = [0.0]

        def report(done: int) -> None:
            if self._stop.is_set():
                raise Stopping()
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                self._set(job_id, **{field: done})

        return report

    def _run(self, job_id: str, source: ImportSource, user_id: int) -> None:
        workdir = self.workdir / job_id
        made: list[tuple[int, int]] = []  # (project id, dataset id) begun
        try:
            with self._slots:
                if self._stop.is_set():
                    raise Stopping()
                if source.claim is not None:
                    self._set(job_id, state="running", phase="fetching")
                    self._fetch(job_id, source)
                self._set(job_id, state="running", phase="scanning", bytes_done=0)
                with self.db.read() as conn:
                    job = dict(conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
                               ._mapping)
                workdir.mkdir(parents=True, exist_ok=True)
                plans = scan(source.path, source.filename, job["options"].get("name"),
                             self.limits, workdir, self._progress(job_id, "bytes_done"))
                self._set(job_id, phase="loading", bytes_done=job["bytes_total"],
                          rows_total=sum(p.count for p in plans))
                loaded = 0
                for plan in plans:
                    dataset_id = self._load(job, plan, user_id, loaded, made)
                    loaded += plan.count
                    self._set(job_id, rows_done=loaded,
                              dataset_ids=[d for _, d in made])
                for _, dataset_id in made:
                    self.datasets.publish_ready(dataset_id)
                self._finish(job_id, "import.succeeded", state="succeeded", phase="done",
                             rows_done=loaded, finished_at=utcnow())
        except BaseException as error:
            self._undo(made)
            self._finish(job_id, "import.failed", state="failed", phase="failed",
                         finished_at=utcnow(), dataset_ids=[],
                         error=self._reason(error, source))
            if not isinstance(error, DomainError | Stopping):
                log.exception("import %s failed", job_id)
            if not isinstance(error, Exception):
                raise
        finally:
            source.path.unlink(missing_ok=True)
            self._release(source)
            shutil.rmtree(workdir, ignore_errors=True)
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _fetch(self, job_id: str, source: ImportSource) -> None:
        """Copy a claimed upload from the blob store to the job's file, a chunk at a time."""
        assert source.claim is not None
        report = self._progress(job_id, "bytes_done")
        done = 0
        with source.path.open("wb") as out:
            for chunk in self.files.attachments.open(source.claim):
                out.write(chunk)
                done += len(chunk)
                report(done)

    def _load(self, job: dict[str, Any], plan: Plan, user_id: int, before: int,
              made: list[tuple[int, int]]) -> int:
        with self.db.write() as tx:
            dataset_id = self.datasets.new_entry(
                tx, project_id=job["project_id"], name=plan.name,
                description=job["options"].get("description") or "", kind="table",
                columns=plan.columns, geometry_column=plan.geometry_column,
                created_by=user_id, state="importing")
        made.append((job["project_id"], dataset_id))
        self.storage.create_table(job["project_id"], dataset_id, plan.columns,
                                  geometry_column=plan.geometry_column)
        report = self._progress(job["id"], "rows_done")
        count, bbox = self.storage.load(job["project_id"], dataset_id, plan.columns,
                                        plan.batches(), lambda n: report(before + n),
                                        plan.geometry_column)
        with self.db.write() as tx:
            self.datasets.set_summary(tx, dataset_id, count, bbox)
        return dataset_id

    def _undo(self, made: list[tuple[int, int]]) -> None:
        for project_id, dataset_id in made:
            try:
                self.storage.drop_table(project_id, dataset_id)
                with self.db.write() as tx:
                    tx.execute(delete(datasets).where(datasets.c.id == dataset_id))
            except Exception:
                log.exception("could not remove the half-imported dataset %s", dataset_id)

    def _reason(self, error: BaseException, source: ImportSource) -> dict[str, Any]:
        if isinstance(error, DomainError):
            return {"status": error.status, "title": error.title, "detail": error.detail,
                    **{k: v for k, v in error.extra.items()}}
        if isinstance(error, Stopping | KeyboardInterrupt | SystemExit):
            return {"status": 503, "title": "Service Unavailable",
                    "detail": "The server stopped during the import; upload the file again."}
        return {"status": 500, "title": "Internal Server Error",
                "detail": f"Importing {source.filename} failed on the server; the server log "
                          "has the details."}

    # --- lifetime --------------------------------------------------------------------------

    def recover(self) -> None:
        """At start, before any worker: jobs a stopped server left are failed and their
        half-made datasets removed."""
        with self.db.read() as conn:
            stale = [dict(r._mapping) for r in conn.execute(
                select(datasets.c.id, datasets.c.project_id).where(
                    datasets.c.state.in_(("importing", "creating"))))]
        self._undo([(d["project_id"], d["id"]) for d in stale])
        with self.db.write() as tx:
            uploads = tx.execute(select(jobs.c.upload_id).where(
                jobs.c.state.in_(("queued", "running")), jobs.c.upload_id.is_not(None))
            ).scalars().all()
            for upload_id in uploads:
                self.files.attachments.release_owner(tx, upload_owner(upload_id))
            tx.execute(update(jobs).where(jobs.c.state.in_(("queued", "running"))).values(
                state="failed", phase="failed", finished_at=utcnow(), dataset_ids=[],
                error={"status": 503, "title": "Service Unavailable",
                       "detail": "The server stopped during the import; upload the file "
                                 "again."}))
        shutil.rmtree(self.workdir, ignore_errors=True)

    def close(self, timeout: float = 10) -> None:
        """Stop running jobs between batches and wait a little for them."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
