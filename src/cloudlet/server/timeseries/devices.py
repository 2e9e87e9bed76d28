"""Devices: registration (chosen or generated key, 409 on a duplicate), lookup, device tokens.

A device belongs to a project and has an int id, a gid (`d--0000-0000-0000-0001`), an optional
external key unique in its project, a label and tags. Registering needs write access to the
project (a write-scoped project token will do); a device token (write scope, restricted to one
device) writes only that device's streams and registers nothing.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.gid import DeviceSlug, GidError, ProjectSlug
from cloudlet.server.accounts.tokens import TokenService
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.timeseries.batch import check_device_key
from cloudlet.server.timeseries.tables import devices, streams


def device_gid(device_id: int) -> str:
    return str(DeviceSlug(device_id))


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in tags.items()):
        raise Invalid("tags must be an object of names to strings or numbers.")
    if len(json.dumps(tags)) > 10_000:
        raise Invalid("tags are limited to 10,000 characters of JSON.")
    return {k: str(v) for k, v in tags.items()}


def present(row: dict[str, Any], stream_count: int | None = None) -> dict[str, Any]:
    shown = {
        "id": row["id"],
        "gid": device_gid(row["id"]),
        "key": row["key"],
        "label": row["label"],
        "project": str(ProjectSlug(row["project_id"])),
        "project_id": row["project_id"],
        "tags": json.loads(row["tags"] or "{}"),
        "created_at": row["created_at"],
    }
    if stream_count is not None:
        shown["stream_count"] = stream_count
    return shown


class DeviceService:
    def __init__(self, db: Database, projects: ProjectService, tokens: TokenService,
                 events: EventService) -> None:
        self.db = db
        self.projects = projects
        self.tokens = tokens
        self.events = events

    # --- lookups other services call ---------------------------------------------------------

    def find(self, conn: Connection, project_id: int, ref: str | int) -> dict[str, Any] | None:
        """The project's device named by its gid, its key or its int id."""
        text = str(ref).strip()
        if text.lower().startswith("d--"):
            try:
                where = devices.c.id == DeviceSlug(text).id
            except GidError:
                return None
        else:
            row = conn.execute(select(devices).where(
                devices.c.project_id == project_id, devices.c.key == text)).first()
            if row is not None or not text.isdigit():
                return dict(row._mapping) if row else None
            where = devices.c.id == int(text)
        row = conn.execute(select(devices).where(where, devices.c.project_id == project_id)
                           ).first()
        return dict(row._mapping) if row else None

    def by_id(self, conn: Connection, device_id: int) -> dict[str, Any] | None:
        row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
        return dict(row._mapping) if row else None

    def insert(self, tx: Tx, *, project_id: int, key: str | None, label: str = "",
               tags: dict[str, str] | None = None, created_by: int | None) -> dict[str, Any]:
        """Insert a device row and announce it after commit (`device.registered`); raises
        IntegrityError on a duplicate key."""
        device_id = tx.execute(insert(devices).values(
            project_id=project_id, key=key, label=label, tags=json.dumps(tags or {}),
            created_by=created_by, created_at=utcnow(),
        )).inserted_primary_key[0]
        row = self.by_id(tx.conn, device_id)
        assert row is not None
        shown = present(row)
        self.events.publish_after(tx, f"project:{project_id}", "device.registered",
                                  _event(shown))
        return row

    # --- the native face's operations -----------------------------------------------------

    def register(self, principal: Principal, project_ref: str, *, key: str | None = None,
                 label: str = "", tags: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new device with the key the caller chose, or one the server generates."""
        if key is not None:
            check_device_key(key)
        clean = check_tags(tags)
        if len(label) > 200:
            raise Invalid("label is limited to 200 characters.")
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            if principal.device_id is not None:
                raise PermissionDenied("A device token can't register devices.")
            for _ in range(5):
                chosen = key or secrets.token_hex(8)
                try:
                    with tx.conn.begin_nested():
                        row = self.insert(tx, project_id=project["id"], key=chosen, label=label,
                                          tags=clean, created_by=principal.user_id)
                    return present(row, 0)
                except IntegrityError:
                    if key is not None:
                        raise Conflict(f"A device with key {key!r} is already registered in "
                                       "this project.", code="duplicate_device") from None
            raise Conflict("Could not generate a free device key; try again.")

    def list(self, principal: Principal, project_ref: str, *, limit: int, offset: int,
             search: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            query = select(devices).where(devices.c.project_id == project["id"])
            if principal.device_id is not None:
                query = query.where(devices.c.id == principal.device_id)
            if search:
                needle = search.lower()
                query = query.where(or_(func.lower(devices.c.key).contains(needle),
                                        func.lower(devices.c.label).contains(needle)))
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = [dict(r._mapping) for r in conn.execute(
                query.order_by(devices.c.id).limit(limit).offset(offset))]
            counts = self._stream_counts(conn, [r["id"] for r in rows])
            return total, [present(r, counts.get(r["id"], 0)) for r in rows]

    def get(self, principal: Principal, project_ref: str, ref: str) -> dict[str, Any]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            row = self._visible(conn, principal, project["id"], ref)
            return present(row, self._stream_counts(conn, [row["id"]]).get(row["id"], 0))

    def locate(self, principal: Principal, gid: str) -> dict[str, Any]:
        """A device by its gid alone (`d--…` names one device in the whole installation),
        if the caller can read its project; 404 otherwise."""
        try:
            device_id = DeviceSlug(gid.strip()).id
        except (GidError, AttributeError):
            raise NotFound(f"No device {gid!r}; devices are named by gids like "
                           "d--0000-0000-0000-0001.") from None
        with self.db.read() as conn:
            row = self.by_id(conn, device_id)
            if row is None:
                raise NotFound(f"No device {gid!r}.")
            self.projects.authorize(conn, principal, row["project_id"], Level.READ)
            row = self._visible(conn, principal, row["project_id"], str(gid))
            return present(row, self._stream_counts(conn, [row["id"]]).get(row["id"], 0))

    def update(self, principal: Principal, project_ref: str, ref: str, *,
               label: str | None = None, tags: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            row = self._visible(tx.conn, principal, project["id"], ref)
            values: dict[str, Any] = {}
            if label is not None:
                if len(label) > 200:
                    raise Invalid("label is limited to 200 characters.")
                values["label"] = label
            if tags is not None:
                values["tags"] = json.dumps(check_tags(tags))
            if values:
                tx.execute(update(devices).where(devices.c.id == row["id"]).values(**values))
            fresh = self.by_id(tx.conn, row["id"])
            assert fresh is not None
            return present(fresh, self._stream_counts(tx.conn, [row["id"]]).get(row["id"], 0))

    def create_token(self, principal: Principal, project_ref: str, ref: str, *, name: str,
                     expires_in: int | None) -> tuple[dict[str, Any], str]:
        """A write token for one device: it writes that device's streams and nothing else."""
        if principal.device_id is not None:
            raise PermissionDenied("A device token can't create tokens.")
        if expires_in is not None and expires_in <= 0:
            raise Invalid("expires_in must be a positive number of seconds.")
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            row = self._visible(tx.conn, principal, project["id"], ref)
            expires_at = utcnow() + timedelta(seconds=expires_in) if expires_in else None
            info, secret = self.tokens.issue_api_token(
                tx, user_id=principal.user_id, scope="write",
                name=name or f"device {row['key'] or device_gid(row['id'])}",
                project_id=project["id"], device_id=row["id"], expires_at=expires_at)
            return info, secret

    # --- helpers -----------------------------------------------------------------------------

    def _visible(self, conn: Connection, principal: Principal, project_id: int, ref: str
                 ) -> dict[str, Any]:
        row = self.find(conn, project_id, ref)
        if row is None or (principal.device_id is not None and row["id"] != principal.device_id):
            raise NotFound(f"No device {ref!r} in this project.")
        return row

    def _stream_counts(self, conn: Connection, ids: list[int]) -> dict[int, int]:
        if not ids:
            return {}
        rows = conn.execute(select(streams.c.device_id, func.count()).where(
            streams.c.device_id.in_(ids)).group_by(streams.c.device_id))
        return {r[0]: r[1] for r in rows}


def _event(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: shown[k] for k in ("id", "gid", "key", "label", "project", "project_id")}
