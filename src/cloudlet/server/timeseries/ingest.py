"""Writing points: the one entry every face calls.

A face parses its wire format into a `Batch` (batch.py, parsing.py, lineprotocol.py) and
calls `IngestService.write` (async) or `write_blocking` (from a worker thread) with the
caller's principal. The service checks rights on the exact objects — a device token writes
only its own device's streams, a read token nothing, a project token only its project —
resolves what already exists, and hands the rest to the single writer, which registers
unknown devices (when the caller may), creates variables and streams on first use, and
acknowledges after the commit.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection

from cloudlet.gid import GidError, StreamSlug
from cloudlet.server.accounts.principal_cache import PrincipalCache
from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound, PermissionDenied
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.timeseries.batch import Batch, check_device_key, check_series_name
from cloudlet.server.timeseries.devices import DeviceService
from cloudlet.server.timeseries.parse_helpers import ParseHelpers
from cloudlet.server.timeseries.store import PointStore
from cloudlet.server.timeseries.streams import StreamService
from cloudlet.server.timeseries.tables import streams, variables
from cloudlet.server.timeseries.writer import Job, Part, Writer

OWN_DEVICE_ONLY = "A device token writes only its own device's streams."


class IngestService:
    def __init__(self, db: Database, projects: ProjectService, devices: DeviceService,
                 streams: StreamService, store: PointStore, writer: Writer,
                 rights: PrincipalCache, parsers: ParseHelpers) -> None:
        self.db = db
        self.parsers = parsers  # line protocol bodies are parsed there
        self.rights = rights  # who may write where, remembered as briefly as principals are
        self.projects = projects
        self.devices = devices
        self.streams = streams
        self.store = store
        self.writer = writer
        # requests parse and check their batches one at a time, on one thread: several
        # parsing at once only take turns at the GIL, and starve the writer thread of it
        self.preparer = ThreadPoolExecutor(1, thread_name_prefix="cloudlet-ingest-prepare")
        self._device_ids: dict[tuple[int, str], int] = {}  # (project, key) -> id, immutable

    def forget(self) -> None:
        """Drop the remembered device ids (a project was deleted: on SQLite its ids, and its
        devices' ids, can be handed out again to another project)."""
        self._device_ids.clear()

    def close(self) -> None:
        """Finish what is queued (prepared batches, then the writer's jobs)."""
        self.preparer.shutdown(wait=True)
        self.parsers.close()
        self.writer.close()

    # --- writing ---------------------------------------------------------------------------

    async def write(self, principal: Principal, project_ref: str | int, batch: Batch, *,
                    device: str | None = None) -> dict[str, Any]:
        """Check, queue and await one atomic batch; returns `{points, streams,
        devices_registered}` once committed. `device` names the device of blocks that name
        none."""
        future = await asyncio.to_thread(self.submit, principal, project_ref, batch,
                                         device=device)
        return await asyncio.wrap_future(future)

    def write_blocking(self, principal: Principal, project_ref: str | int, batch: Batch, *,
                       device: str | None = None) -> dict[str, Any]:
        return self.submit(principal, project_ref, batch, device=device).result()

    def submit(self, principal: Principal, project_ref: str | int, batch: Batch, *,
               device: str | None = None) -> Future[dict[str, Any]]:
        """Authorize and resolve (in the calling thread), then queue for the writer."""
        own: int | None = principal.device_id
        with self.db.read() as conn:
            project = self._writable(conn, principal, project_ref)
            if own is not None and self.devices.by_id(conn, own) is None:
                raise NotFound("This token's device no longer exists.")
            parts = [self._part(conn, principal, project["id"], block, device)
                     for block in batch.blocks if len(block.ts)]
        job = Job(project_id=project["id"], user_id=principal.user_id, register=own is None,
                  parts=parts, points=sum(len(p.ts) for p in parts))
        if not parts:
            job.future.set_result({"points": 0, "streams": [], "devices_registered": []})
            return job.future
        return self.writer.submit(job)

    def _writable(self, conn: Connection, principal: Principal, ref: str | int
                  ) -> dict[str, Any]:
        """The project, if the caller may write points into it (a device token: into its
        own device's streams); a success is remembered briefly (see principal_cache)."""
        key = ("write points", principal, str(ref))
        project: dict[str, Any] | None = self.rights.rights(key)
        if project is not None:
            return project
        generation = self.rights.generation()
        project = self.projects.authorize(conn, principal, ref, Level.READ)
        if principal.device_id is not None:
            principal.require_scope(Level.WRITE, "writing points")
        elif project["access"] < Level.WRITE:
            self.projects.authorize(conn, principal, project["id"], Level.WRITE)
        self.rights.put_rights(key, project, generation)
        return project

    def _part(self, conn: Connection, principal: Principal, project_id: int, block: Any,
              default_device: str | None) -> Part:
        own = principal.device_id
        if block.stream is not None:
            stream_id, device_id = self._stream(conn, project_id, block.stream)
            if own is not None and device_id != own:
                raise PermissionDenied(OWN_DEVICE_ONLY)
            return Part(ts=block.ts, values=block.values, stream_id=stream_id, tags=block.tags,
                        ordered=block.ordered)
        check_series_name(block.series)
        ref = default_device if default_device is not None else block.device
        if ref is None:
            if own is None:
                raise Invalid("Name the device these points belong to (`device`).")
            return Part(ts=block.ts, values=block.values, device_id=own, series=block.series,
                        tags=block.tags, ordered=block.ordered)
        device_id = self._device(conn, project_id, str(ref))
        if own is not None and device_id != own:
            raise PermissionDenied(OWN_DEVICE_ONLY)
        if device_id is not None:
            return Part(ts=block.ts, values=block.values, device_id=device_id,
                        series=block.series, tags=block.tags, ordered=block.ordered)
        return Part(ts=block.ts, values=block.values, device_key=str(ref), series=block.series,
                    tags=block.tags, ordered=block.ordered)

    def _device(self, conn: Connection, project_id: int, ref: str) -> int | None:
        """The id of an existing device (gid or key), or None for an unknown key."""
        cached = self._device_ids.get((project_id, ref))
        if cached is not None:
            return cached
        if ref.lower().startswith("d--"):
            row = self.devices.find(conn, project_id, ref)
            if row is None:
                raise NotFound(f"No device {ref!r} in this project.")
        else:
            check_device_key(ref)
            row = self.devices.find(conn, project_id, ref)
            if row is None or row["key"] != ref:
                return None
        self._device_ids[(project_id, ref)] = row["id"]
        return int(row["id"])

    def _stream(self, conn: Connection, project_id: int, ref: str) -> tuple[int, int]:
        try:
            parts = StreamSlug(ref).get_parts()
        except (GidError, AttributeError):
            raise Invalid(f"{ref!r} is not a stream gid.") from None
        if parts["project"].id != project_id:
            raise Invalid(f"Stream {ref} belongs to another project.")
        row = conn.execute(
            streams.select().with_only_columns(streams.c.id, streams.c.device_id).join(
                variables, variables.c.id == streams.c.variable_id).where(
                streams.c.project_id == project_id, streams.c.device_id == parts["device"].id,
                variables.c.lid == parts["variable"].id)).first()
        if row is None:
            raise NotFound(f"No stream {ref} in this project; write with a device and a "
                           "series name to create it.")
        return int(row.id), int(row.device_id)
