"""Variables (a project's series names, with a 4-hex local id and units) and streams
(project, device, variable), with their gids and effective units.

A series name seen for the first time in a project becomes a variable (local ids count up
from 0x5001); its first write for a device creates the stream. A device token sees only its
own device's streams.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.gid import GidError, ProjectSlug, StreamSlug, VariableSlug
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.timeseries import units
from cloudlet.server.timeseries.batch import check_series_name
from cloudlet.server.timeseries.devices import DeviceService, check_tags, device_gid
from cloudlet.server.timeseries.tables import devices, streams, variables

FIRST_LID = 0x5001


def stream_gid(project_id: int, device_id: int, lid: int) -> str:
    return str(StreamSlug().from_parts(project_id, device_id, lid))


def present_variable(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "gid": str(VariableSlug(row.lid, row.project_id)),
        "lid": f"{row.lid:04x}",
        "name": row.name,
        "project": str(ProjectSlug(row.project_id)),
        "input_unit": units.of_row(row, "in"),
        "output_unit": units.of_row(row, "out"),
        "created_at": row.created_at,
    }


STREAM_COLUMNS = (
    streams, variables.c.lid, variables.c.name.label("series"), devices.c.key.label("device_key"),
    *(variables.c[f"{p}_{f}"].label(f"var_{p}_{f}") for p in ("in", "out") for f in (
        "unit_short", "unit_full", "m", "d", "o")),
)


def _joined() -> Any:
    return select(*STREAM_COLUMNS).join(
        variables, variables.c.id == streams.c.variable_id).join(
        devices, devices.c.id == streams.c.device_id)


def present_stream(row: Any) -> dict[str, Any]:
    m = row._mapping
    base = {p: units.of_row({f"{p}_{f}": m[f"var_{p}_{f}"] for f in units.FIELDS}, p)
            for p in ("in", "out")}
    return {
        "id": m["id"],
        "gid": stream_gid(m["project_id"], m["device_id"], m["lid"]),
        "project": str(ProjectSlug(m["project_id"])),
        "project_id": m["project_id"],
        "device": device_gid(m["device_id"]),
        "device_key": m["device_key"],
        "variable": str(VariableSlug(m["lid"], m["project_id"])),
        "lid": f"{m['lid']:04x}",
        "series": m["series"],
        "label": m["label"],
        "tags": json.loads(m["tags"] or "{}"),
        "input_unit": units.of_row(m, "in", base["in"]),
        "output_unit": units.of_row(m, "out", base["out"]),
        "last_timestamp": m["last_ts"],
        "created_at": m["created_at"],
    }


class StreamService:
    def __init__(self, db: Database, projects: ProjectService, devices: DeviceService) -> None:
        self.db = db
        self.projects = projects
        self.devices = devices

    # --- what the writer calls, inside its transaction -------------------------------------

    def variable_id(self, tx: Tx, project_id: int, name: str) -> int:
        """The project's variable for a series name, created on first use."""
        found = tx.execute(select(variables.c.id).where(
            variables.c.project_id == project_id, variables.c.name == name)).scalar()
        if found is not None:
            return int(found)
        return self._insert_variable(tx, project_id, name, None, {})

    def _insert_variable(self, tx: Tx, project_id: int, name: str, lid: int | None,
                         unit_columns: dict[str, Any]) -> int:
        if lid is None:
            top = tx.execute(select(func.max(variables.c.lid)).where(
                variables.c.project_id == project_id)).scalar()
            lid = FIRST_LID if top is None or top < FIRST_LID else top + 1
            if lid > 0xFFFF:
                taken = {r[0] for r in tx.execute(select(variables.c.lid).where(
                    variables.c.project_id == project_id))}
                free = next((i for i in range(1, 0x10000) if i not in taken), None)
                if free is None:
                    raise Conflict("This project has used all 65535 variable ids.")
                lid = free
        return int(tx.execute(insert(variables).values(
            project_id=project_id, lid=lid, name=name, created_at=utcnow(), **unit_columns,
        )).inserted_primary_key[0])

    def stream_id(self, tx: Tx, project_id: int, device_id: int, variable_id: int) -> int:
        found = tx.execute(select(streams.c.id).where(
            streams.c.device_id == device_id, streams.c.variable_id == variable_id)).scalar()
        if found is not None:
            return int(found)
        return int(tx.execute(insert(streams).values(
            project_id=project_id, device_id=device_id, variable_id=variable_id,
            created_at=utcnow())).inserted_primary_key[0])

    def set_tags(self, tx: Tx, stream_id: int, tags: dict[str, str]) -> None:
        tx.execute(update(streams).where(streams.c.id == stream_id).values(
            tags=json.dumps(tags, sort_keys=True)))

    def gid_parts(self, conn: Connection, stream_ids: list[int]) -> dict[int, dict[str, Any]]:
        """gid, device gid and series of streams, for event payloads."""
        rows = conn.execute(select(streams.c.id, streams.c.project_id, streams.c.device_id,
                                   variables.c.lid, variables.c.name).join(
            variables, variables.c.id == streams.c.variable_id).where(
            streams.c.id.in_(stream_ids)))
        return {r.id: {"stream": stream_gid(r.project_id, r.device_id, r.lid),
                       "device": device_gid(r.device_id), "series": r.name,
                       "project_id": r.project_id} for r in rows}

    # --- lookups -------------------------------------------------------------------------

    def topic(self, conn: Connection, principal: Principal, key: str) -> str:
        """Authorizer of `stream:<gid>` event topics: read access to the stream."""
        return f"stream:{self.locate(conn, principal, key, Level.READ)['gid']}"

    def locate(self, conn: Connection, principal: Principal, ref: str, need: Level
               ) -> dict[str, Any]:
        """The stream named by a gid, if the caller has `need` on its project (404 when the
        caller can't see it; a device token sees only its own device's streams)."""
        try:
            parts = StreamSlug(ref.strip()).get_parts()
        except (GidError, AttributeError):
            raise NotFound(f"No stream {ref!r}; streams are named by gids like "
                           "s--0000-0001--0000-0000-0000-0002--5001.") from None
        project_id = parts["project"].id
        if self.projects.resolve(conn, project_id) is None:
            raise NotFound(f"No stream {ref!r}.")
        self.projects.authorize(conn, principal, project_id, Level.READ)
        row = conn.execute(_joined().where(
            streams.c.project_id == project_id, streams.c.device_id == parts["device"].id,
            variables.c.lid == parts["variable"].id)).first()
        if row is None or (principal.device_id is not None
                           and row.device_id != principal.device_id):
            raise NotFound(f"No stream {ref!r}.")
        if need > Level.READ:
            if principal.device_id is not None:
                principal.require_scope(need, "this")
            else:
                self.projects.authorize(conn, principal, project_id, need)
        return present_stream(row)

    # --- the native face's operations: variables -----------------------------------------

    def create_variable(self, principal: Principal, project_ref: str, *, name: str,
                        lid: str | int | None = None, input_unit: dict[str, Any] | None = None,
                        output_unit: dict[str, Any] | None = None) -> dict[str, Any]:
        check_series_name(name)
        local = None if lid is None else _local_id(lid)
        columns = {**units.columns("in", input_unit), **units.columns("out", output_unit)}
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            try:
                with tx.conn.begin_nested():
                    var_id = self._insert_variable(tx, project["id"], name, local, columns)
            except IntegrityError:
                raise Conflict(f"This project already has a variable named {name!r}"
                               + (f" or with id {local:04x}." if local is not None else "."),
                               code="duplicate_variable") from None
            return present_variable(self._variable_row(tx.conn, project["id"], str(var_id),
                                                       by_id=True))

    def list_variables(self, principal: Principal, project_ref: str, *, limit: int,
                       offset: int) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            query = select(variables).where(variables.c.project_id == project["id"])
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(variables.c.lid).limit(limit).offset(offset))
            return total, [present_variable(r) for r in rows]

    def get_variable(self, principal: Principal, project_ref: str, ref: str) -> dict[str, Any]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            return present_variable(self._variable_row(conn, project["id"], ref))

    def update_variable(self, principal: Principal, project_ref: str, ref: str, *,
                        input_unit: dict[str, Any] | None = None,
                        output_unit: dict[str, Any] | None = None) -> dict[str, Any]:
        columns = {**units.columns("in", input_unit), **units.columns("out", output_unit)}
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            row = self._variable_row(tx.conn, project["id"], ref)
            if columns:
                tx.execute(update(variables).where(variables.c.id == row.id).values(**columns))
            return present_variable(self._variable_row(tx.conn, project["id"], str(row.id),
                                                       by_id=True))

    def _variable_row(self, conn: Connection, project_id: int, ref: str, by_id: bool = False
                      ) -> Any:
        if by_id:
            where = variables.c.id == int(ref)
        elif ref.lower().startswith("v--"):
            try:
                slug = VariableSlug(ref)
            except GidError:
                raise NotFound(f"No variable {ref!r}.") from None
            if slug.project.id not in (0, project_id):
                raise NotFound(f"No variable {ref!r} in this project.")
            where = variables.c.lid == slug.id
        else:
            by_name = conn.execute(select(variables).where(
                variables.c.project_id == project_id, variables.c.name == ref)).first()
            if by_name is not None:
                return by_name
            try:
                where = variables.c.lid == _local_id(ref)
            except Invalid:
                raise NotFound(f"No variable {ref!r} in this project.") from None
        row = conn.execute(select(variables).where(where, variables.c.project_id == project_id)
                           ).first()
        if row is None:
            raise NotFound(f"No variable {ref!r} in this project.")
        return row

    # --- the native face's operations: streams --------------------------------------------

    def list(self, principal: Principal, project_ref: str, *, limit: int, offset: int,
             device: str | None = None, series: str | None = None
             ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            query = self._scoped(conn, principal, project["id"],
                                 devices=() if device is None else (device,),
                                 series=() if series is None else (series,))
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(streams.c.id).limit(limit).offset(offset))
            return total, [present_stream(r) for r in rows]

    def in_scope(self, conn: Connection, principal: Principal, project_ref: str, *,
                 devices: Sequence[str] = (), series: Sequence[str] = ()
                 ) -> list[dict[str, Any]]:
        """Every stream of a project (of some devices, of some series names or variable
        gids) the caller may read, by id; a device token gets its own device's only."""
        project = self.projects.authorize(conn, principal, project_ref, Level.READ)
        query = self._scoped(conn, principal, project["id"], devices=devices, series=series)
        return [present_stream(r) for r in conn.execute(query.order_by(streams.c.id))]

    def _scoped(self, conn: Connection, principal: Principal, project_id: int, *,
                devices: Sequence[str], series: Sequence[str]) -> Select[Any]:
        """The one stream filter of listings and queries: the project's streams, a device
        token's own device only, narrowed to devices (gid, key or id; 404 for one the
        project lacks) and to series (names, or variable gids)."""
        query = _joined().where(streams.c.project_id == project_id)
        if principal.device_id is not None:
            query = query.where(streams.c.device_id == principal.device_id)
        if devices:
            ids = []
            for ref in devices:
                found = self.devices.find(conn, project_id, ref)
                if found is None:
                    raise NotFound(f"No device {ref!r} in this project.")
                ids.append(found["id"])
            query = query.where(streams.c.device_id.in_(ids))
        if series:
            gids = [s for s in series if s.lower().startswith("v--")]
            names = [s for s in series if s not in gids]
            var_ids = [self._variable_row(conn, project_id, g).id for g in gids]
            query = query.where(or_(variables.c.name.in_(names), variables.c.id.in_(var_ids)))
        return query

    def get(self, principal: Principal, ref: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.locate(conn, principal, ref, Level.READ)

    def update(self, principal: Principal, ref: str, *, label: str | None = None,
               tags: dict[str, Any] | None = None, input_unit: dict[str, Any] | None = None,
               output_unit: dict[str, Any] | None = None, clear_units: bool = False
               ) -> dict[str, Any]:
        """Change a stream's label, tags or unit overrides (`clear_units` drops them, so the
        variable's units apply again)."""
        values: dict[str, Any] = {}
        if clear_units:
            values.update({f"{p}_{f}": None for p in ("in", "out") for f in units.FIELDS})
        values.update({**units.columns("in", input_unit), **units.columns("out", output_unit)})
        if label is not None:
            if len(label) > 200:
                raise Invalid("label is limited to 200 characters.")
            values["label"] = label
        if tags is not None:
            values["tags"] = json.dumps(check_tags(tags), sort_keys=True)
        with self.db.write() as tx:
            found = self.locate(tx.conn, principal, ref, Level.WRITE)
            if values:
                tx.execute(update(streams).where(streams.c.id == found["id"]).values(**values))
            row = tx.conn.execute(_joined().where(streams.c.id == found["id"])).one()
            return present_stream(row)


def _local_id(value: str | int) -> int:
    try:
        lid = VariableSlug(value).id
    except GidError:
        raise Invalid(f"A variable id is 1-4 hex digits (e.g. 5001), not {value!r}.") from None
    if lid == 0:
        raise Invalid("Variable id 0 is reserved.")
    return lid
