"""Dataset rules: the catalogue, rows, exports, realtime positions, events.

Rights come from the dataset's project (`ProjectService.authorize`): read to see, write to
change anything, including creating and deleting datasets. A dataset of another project, or
one still being imported, is a 404. Rows live in `DatasetStorage`; after each change the
catalogue's `feature_count` and bounding box are brought up to date and `dataset.changed`
goes out after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from shapely import Point
from sqlalchemy import Connection, delete, func, insert, select, update

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.datasets import export, wire
from cloudlet.server.datasets.columns import Column, check_columns, coerce_row, iso
from cloudlet.server.datasets.ids import new_amigo_id
from cloudlet.server.datasets.storage import BBox, DatasetStorage, Selection
from cloudlet.server.datasets.tables import datasets
from cloudlet.server.events.service import EventService
from cloudlet.server.projects.service import ProjectService, gid_of

KINDS = ("table", "realtime")
REALTIME_COLUMNS = [Column("object_id", "text"), Column("latitude", "real"),
                    Column("longitude", "real"), Column("timestamp", "timestamp"),
                    Column("location", "geometry", "point")]
MAX_ROWS_PER_CALL = 10_000


def _bounds(geoms: list[Any]) -> list[BBox]:
    return [g.bounds for g in geoms if g is not None and not g.is_empty]


def _union(a: BBox | None, boxes: list[BBox]) -> BBox | None:
    for b in boxes:
        a = b if a is None else (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                                 max(a[3], b[3]))
    return a


def _on_edge(box: BBox | None, inner: BBox) -> bool:
    """Whether removing `inner` may shrink `box` (it touches an edge)."""
    return box is None or inner[0] <= box[0] or inner[1] <= box[1] or inner[2] >= box[2] \
        or inner[3] >= box[3]


class DatasetService:
    def __init__(self, db: Database, projects: ProjectService, events: EventService,
                 storage: DatasetStorage) -> None:
        self.db = db
        self.projects = projects
        self.events = events
        self.storage = storage
        self._delete_hooks: list[Callable[[Tx, dict[str, Any]], None]] = []
        self._row_delete_hooks: list[Callable[[Tx, dict[str, Any], str], None]] = []

    def on_delete(self, hook: Callable[[Tx, dict[str, Any]], None]) -> None:
        """Run `hook(tx, dataset)` inside the transaction that deletes a dataset (galleries
        release their bytes)."""
        self._delete_hooks.append(hook)

    def on_row_delete(self, hook: Callable[[Tx, dict[str, Any], str], None]) -> None:
        """Run `hook(tx, dataset, amigo_id)` after a row was deleted through the API."""
        self._row_delete_hooks.append(hook)

    # --- what other domains call -----------------------------------------------------------

    def topic(self, conn: Connection, principal: Principal, key: str) -> str:
        """Authorizer of `dataset:<id>` topics: read access to the dataset's project."""
        row = None
        if key.isdigit():
            row = conn.execute(select(datasets.c.project_id).where(
                datasets.c.id == int(key), datasets.c.state == "ready")).first()
        if row is None:
            raise NotFound(f"No topic dataset:{key}.")
        try:
            self.projects.authorize(conn, principal, row.project_id, Level.READ)
        except NotFound:
            raise NotFound(f"No topic dataset:{key}.") from None
        return f"dataset:{int(key)}"

    def on_project_deleted(self, tx: Tx, project: dict[str, Any]) -> None:
        """Project deletion hook: the project's dataset storage goes with it."""
        self.storage.drop_project(tx, project["id"])

    def authorize(self, conn: Connection, principal: Principal, project_ref: str | int,
                  dataset_id: int, need: Level) -> tuple[dict[str, Any], dict[str, Any]]:
        """(project, dataset catalogue row) if the caller has `need` on the project."""
        project = self.projects.authorize(conn, principal, project_ref, need)
        return project, self._row(conn, project["id"], dataset_id)

    def columns_of(self, dataset: dict[str, Any]) -> list[Column]:
        return [Column.of(c) for c in dataset["columns"]]

    def refresh_summary(self, dataset_id: int) -> None:
        """Recount rows and recompute the extent from the table (after user SQL changed it)."""
        with self.db.read() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is None:
            return
        dataset = dict(row._mapping)
        count, bbox = self.storage.summary(dataset["project_id"], dataset_id,
                                           dataset["geometry_column"])
        with self.db.write() as tx:
            self.set_summary(tx, dataset_id, count, bbox)
            self._changed(tx, dataset_id, "rows")

    # --- catalogue -------------------------------------------------------------------------

    def _row(self, conn: Connection, project_id: int, dataset_id: int) -> dict[str, Any]:
        row = conn.execute(select(datasets).where(
            datasets.c.id == dataset_id, datasets.c.project_id == project_id,
            datasets.c.state == "ready")).first()
        if row is None:
            raise NotFound(f"No dataset {dataset_id} in this project.")
        return dict(row._mapping)

    def shown(self, dataset: dict[str, Any]) -> dict[str, Any]:
        """A catalogue row as the native API shows it."""
        return wire.dataset_json(dataset, gid_of(dataset["project_id"]))

    def summary_event(self, dataset: dict[str, Any]) -> dict[str, Any]:
        shown = self.shown(dataset)
        return {"dataset_id": dataset["id"], "project_id": dataset["project_id"],
                **{k: shown[k] for k in ("name", "kind", "table_name", "feature_count",
                                          "bbox")}}

    def _announce(self, tx: Tx, dataset: dict[str, Any], event: str, **extra: Any) -> None:
        data = {**self.summary_event(dataset), **extra}
        self.events.publish_after(tx, f"project:{dataset['project_id']}", event, data)
        self.events.publish_after(tx, f"dataset:{dataset['id']}", event, data)

    def _changed(self, tx: Tx, dataset_id: int, change: str) -> None:
        row = tx.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is not None:
            self._announce(tx, dict(row._mapping), "dataset.changed", change=change)

    def list(self, principal: Principal, project_ref: str, *, limit: int, offset: int,
             search: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, project_ref, Level.READ)
            query = select(datasets).where(datasets.c.project_id == project["id"],
                                           datasets.c.state == "ready")
            if search:
                query = query.where(func.lower(datasets.c.name).contains(search.lower()))
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(datasets.c.id).limit(limit).offset(offset))
            return total, [self.shown(dict(r._mapping)) for r in rows]

    def get(self, principal: Principal, project_ref: str, dataset_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.shown(self.authorize(conn, principal, project_ref, dataset_id,
                                              Level.READ)[1])

    def new_entry(self, tx: Tx, *, project_id: int, name: str, description: str, kind: str,
                  columns: list[Column], geometry_column: str | None, created_by: int | None,
                  state: str) -> int:
        now = utcnow()
        return int(tx.execute(insert(datasets).values(
            project_id=project_id, name=name[:200], description=description, kind=kind,
            state=state, columns=[c.wire() for c in columns], geometry_column=geometry_column,
            feature_count=0, created_by=created_by, created_at=now, updated_at=now,
        )).inserted_primary_key[0])

    def create(self, principal: Principal, project_ref: str, *, name: str, description: str,
               kind: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
        """An empty dataset with the given columns (a realtime one gets object_id, latitude,
        longitude, timestamp and a location point first)."""
        if kind not in KINDS:
            raise Invalid(f"Unknown dataset kind {kind!r}; use table or realtime.")
        fixed = REALTIME_COLUMNS if kind == "realtime" else []
        declared = check_columns(columns, reserved=("amigo_id", *(c.name for c in fixed)))
        all_columns = [*fixed, *declared]
        geometry = next((c.name for c in all_columns if c.type == "geometry"), None)
        self.storage.check_ready()
        with self.db.write() as tx:
            project = self.projects.authorize(tx.conn, principal, project_ref, Level.WRITE)
            dataset_id = self.new_entry(
                tx, project_id=project["id"], name=name, description=description, kind=kind,
                columns=all_columns, geometry_column=geometry, created_by=principal.user_id,
                state="creating")
        try:
            self.storage.create_table(project["id"], dataset_id, all_columns,
                                      geometry_column=geometry,
                                      unique=("object_id",) if kind == "realtime" else ())
        except BaseException:
            with self.db.write() as tx:
                tx.execute(delete(datasets).where(datasets.c.id == dataset_id))
            raise
        return self.publish_ready(dataset_id)

    def publish_ready(self, dataset_id: int) -> dict[str, Any]:
        """Make a dataset visible and announce it (`dataset.created`)."""
        with self.db.write() as tx:
            tx.execute(update(datasets).where(datasets.c.id == dataset_id).values(
                state="ready", updated_at=utcnow()))
            dataset = dict(tx.execute(select(datasets).where(datasets.c.id == dataset_id)
                                      ).one()._mapping)
            self._announce(tx, dataset, "dataset.created")
            return self.shown(dataset)

    def update(self, principal: Principal, project_ref: str, dataset_id: int, *,
               name: str | None, description: str | None,
               add_columns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Rename, describe, and add columns (null in existing rows; the first geometry
        column added to a dataset without one becomes its indexed primary geometry)."""
        if add_columns:
            self._add_columns(principal, project_ref, dataset_id, add_columns)
        with self.db.write() as tx:
            self.authorize(tx.conn, principal, project_ref, dataset_id, Level.WRITE)
            values = {k: v for k, v in {"name": name, "description": description}.items()
                      if v is not None}
            if values:
                tx.execute(update(datasets).where(datasets.c.id == dataset_id).values(
                    **values, updated_at=utcnow()))
            dataset = dict(tx.execute(select(datasets).where(datasets.c.id == dataset_id)
                                      ).one()._mapping)
            self._announce(tx, dataset, "dataset.changed", change="metadata")
            return self.shown(dataset)

    def _add_columns(self, principal: Principal, project_ref: str, dataset_id: int,
                     raw: list[dict[str, Any]]) -> None:
        dataset = self._read(principal, project_ref, dataset_id, Level.WRITE)
        existing = self.columns_of(dataset)
        added = check_columns(raw, existing=tuple(c.name for c in existing))
        geometry = dataset["geometry_column"]
        for column in added:
            primary = column.type == "geometry" and geometry is None
            self.storage.add_column(dataset["project_id"], dataset_id, column,
                                    primary=primary)
            if primary:
                geometry = column.name
            with self.db.write() as tx:  # one column at a time: the catalogue follows DDL
                existing.append(column)
                tx.execute(update(datasets).where(datasets.c.id == dataset_id).values(
                    columns=[c.wire() for c in existing], geometry_column=geometry,
                    updated_at=utcnow()))

    def delete(self, principal: Principal, project_ref: str, dataset_id: int) -> None:
        with self.db.write() as tx:
            _, dataset = self.authorize(tx.conn, principal, project_ref, dataset_id,
                                        Level.WRITE)
            self._announce(tx, dataset, "dataset.deleted")
            for hook in self._delete_hooks:
                hook(tx, dataset)
            tx.execute(delete(datasets).where(datasets.c.id == dataset_id))
        self.storage.drop_table(dataset["project_id"], dataset_id)

    # --- rows ------------------------------------------------------------------------------

    def _read(self, principal: Principal, project_ref: str, dataset_id: int, need: Level
              ) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.authorize(conn, principal, project_ref, dataset_id, need)[1]

    def selection(self, dataset: dict[str, Any], params: dict[str, str], *,
                  limit: int | None = None, offset: int = 0) -> Selection:
        """Filters and bbox from query parameters; with neither, the catalogue's count is
        the total (so paging a large table does not count it on every page)."""
        filters = wire.parse_filters(params, self.columns_of(dataset))
        bbox = wire.parse_bbox(params.get("bbox"))
        if bbox is not None and not dataset["geometry_column"]:
            raise Invalid("This dataset has no geometry column to filter by bbox.")
        known = dataset["feature_count"] if not filters and bbox is None else None
        return Selection(filters=filters, bbox=bbox, geometry_column=dataset["geometry_column"],
                         limit=limit, offset=offset, known_total=known)

    def rows(self, principal: Principal, project_ref: str, dataset_id: int, *,
             params: dict[str, str], limit: int, offset: int
             ) -> tuple[dict[str, Any], int, list[dict[str, Any]]]:
        """(dataset, total, page of typed rows) matching the filters and bbox in `params`."""
        dataset = self._read(principal, project_ref, dataset_id, Level.READ)
        selection = self.selection(dataset, params, limit=limit, offset=offset)
        total, rows = self.storage.select(dataset["project_id"], dataset_id,
                                          self.columns_of(dataset), selection)
        return dataset, total, rows

    def row(self, principal: Principal, project_ref: str, dataset_id: int, amigo_id: str
            ) -> tuple[dict[str, Any], dict[str, Any]]:
        dataset = self._read(principal, project_ref, dataset_id, Level.READ)
        found = self.storage.get(dataset["project_id"], dataset_id, self.columns_of(dataset),
                                 amigo_id)
        if found is None:
            raise NotFound(f"No row {amigo_id!r} in dataset {dataset_id}.")
        return dataset, found

    def add_rows(self, principal: Principal, project_ref: str, dataset_id: int,
                 rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Insert rows (wire values; an `amigo_id` may be given); all or none."""
        dataset = self._read(principal, project_ref, dataset_id, Level.WRITE)
        if not rows:
            raise Invalid("No rows given.")
        if len(rows) > MAX_ROWS_PER_CALL:
            raise Invalid(f"At most {MAX_ROWS_PER_CALL} rows per call; send more calls.")
        columns = self.columns_of(dataset)
        by_name = {c.name: c for c in columns}
        typed = []
        for i, raw in enumerate(rows):
            if not isinstance(raw, dict):
                raise Invalid(f"rows[{i}]: a row is a JSON object.")
            given = raw.get("amigo_id")
            if given is not None and (not isinstance(given, str) or not 0 < len(given) <= 64):
                raise Invalid(f"rows[{i}]: amigo_id must be text of 1-64 characters.")
            values = coerce_row(by_name, {k: v for k, v in raw.items() if k != "amigo_id"},
                                where=f"rows[{i}]: ")
            typed.append({"amigo_id": given or new_amigo_id(), **values})
        self.storage.insert(dataset["project_id"], dataset_id, columns, typed)
        geometry = dataset["geometry_column"]
        added = _bounds([r.get(geometry) for r in typed]) if geometry else []
        self._summary_after(dataset, len(typed), added, [], "rows_added")
        return dataset, typed

    def update_row(self, principal: Principal, project_ref: str, dataset_id: int,
                   amigo_id: str, values: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
        dataset = self._read(principal, project_ref, dataset_id, Level.WRITE)
        columns = self.columns_of(dataset)
        if "amigo_id" in values and values["amigo_id"] != amigo_id:
            raise Invalid("amigo_id cannot be changed.")
        typed = coerce_row({c.name: c for c in columns},
                           {k: v for k, v in values.items() if k != "amigo_id"})
        changed = self.storage.update(dataset["project_id"], dataset_id, columns, amigo_id,
                                      typed)
        if changed is None:
            raise NotFound(f"No row {amigo_id!r} in dataset {dataset_id}.")
        before, after = changed
        geometry = dataset["geometry_column"]
        if geometry and geometry in typed:
            self._summary_after(dataset, 0, _bounds([after.get(geometry)]),
                                _bounds([before.get(geometry)]), "row_updated")
        else:
            self._summary_after(dataset, 0, [], [], "row_updated")
        return dataset, after

    def delete_row(self, principal: Principal, project_ref: str, dataset_id: int,
                   amigo_id: str) -> None:
        dataset = self._read(principal, project_ref, dataset_id, Level.WRITE)
        gone = self.storage.delete(dataset["project_id"], dataset_id, self.columns_of(dataset),
                                   amigo_id)
        if gone is None:
            raise NotFound(f"No row {amigo_id!r} in dataset {dataset_id}.")
        geometry = dataset["geometry_column"]
        removed = _bounds([gone.get(geometry)]) if geometry else []
        self._summary_after(dataset, -1, [], removed, "row_deleted")
        if self._row_delete_hooks:
            with self.db.write() as tx:
                for hook in self._row_delete_hooks:
                    hook(tx, dataset, amigo_id)

    def _summary_after(self, dataset: dict[str, Any], delta: int, added: list[BBox],
                       removed: list[BBox], change: str) -> None:
        """Keep feature_count and bbox current: grow the box with what was added; recompute
        from the table only when something on its edge went away."""
        with self.db.write() as tx:
            current = tx.execute(select(datasets).where(datasets.c.id == dataset["id"])
                                 .with_for_update()).first()
            if current is None:
                raise NotFound(f"No dataset {dataset['id']} in this project.")
            box: BBox | None = None
            if current.min_x is not None:
                box = (current.min_x, current.min_y, current.max_x, current.max_y)
            if any(_on_edge(box, r) for r in removed):
                count, box = self.storage.summary(dataset["project_id"], dataset["id"],
                                                  dataset["geometry_column"])
            else:
                count, box = current.feature_count + delta, _union(box, added)
            self.set_summary(tx, dataset["id"], count, box)
            self._changed(tx, dataset["id"], change)

    def set_summary(self, tx: Tx, dataset_id: int, count: int, box: BBox | None) -> None:
        minx, miny, maxx, maxy = box if box is not None else (None, None, None, None)
        tx.execute(update(datasets).where(datasets.c.id == dataset_id).values(
            feature_count=count, min_x=minx, min_y=miny, max_x=maxx, max_y=maxy,
            updated_at=utcnow()))

    # --- export ----------------------------------------------------------------------------

    def export(self, principal: Principal, project_ref: str, dataset_id: int, *, format: str,
               params: dict[str, str]) -> tuple[dict[str, Any], Iterator[bytes]]:
        """(dataset, the file as a stream of bytes) in `csv` or `geojson`."""
        if format not in export.FORMATS:
            raise Invalid(f"Unknown export format {format!r}; use csv or geojson.")
        dataset = self._read(principal, project_ref, dataset_id, Level.READ)
        selection = self.selection(dataset, params)
        columns = self.columns_of(dataset)
        batches = self.storage.iterate(dataset["project_id"], dataset_id, columns, selection)
        if format == "csv":
            return dataset, export.csv_stream(columns, batches)
        return dataset, export.geojson_stream(dataset["geometry_column"], batches)

    # --- realtime --------------------------------------------------------------------------

    def post_positions(self, principal: Principal, project_ref: str, dataset_id: int,
                       positions: list[Any]) -> list[dict[str, Any]]:
        """Move objects (insert or update by object_id) and publish a `realtime` event on
        `dataset:<id>`: `{dataset_id, data: [{object_id, latitude, longitude, …}]}`."""
        dataset = self._read(principal, project_ref, dataset_id, Level.WRITE)
        if dataset["kind"] != "realtime":
            raise Conflict(f"Dataset {dataset_id} is not a realtime dataset.")
        if not positions:
            raise Invalid("No positions given.")
        if len(positions) > MAX_ROWS_PER_CALL:
            raise Invalid(f"At most {MAX_ROWS_PER_CALL} positions per call.")
        columns = self.columns_of(dataset)
        by_name = {c.name: c for c in columns if c.name != "location"}
        rows = []
        for i, raw in enumerate(positions):
            where = f"positions[{i}]: "
            if not isinstance(raw, dict):
                raise Invalid(f"{where}a position is a JSON object.")
            if raw.get("object_id") in (None, ""):
                raise Invalid(f"{where}object_id is required.")
            raw = {**raw, "object_id": str(raw["object_id"])}
            if raw.get("latitude") is None or raw.get("longitude") is None:
                raise Invalid(f"{where}latitude and longitude are required.")
            raw.setdefault("timestamp", iso(datetime.now(UTC)))
            typed = coerce_row(by_name, raw, where=where)
            lat, lon = typed["latitude"], typed["longitude"]
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Invalid(f"{where}latitude must be within ±90 and longitude within ±180.")
            rows.append({"amigo_id": new_amigo_id(), **typed, "location": Point(lon, lat)})
        stored = self.storage.upsert(dataset["project_id"], dataset_id, columns, "object_id",
                                     rows)
        count, box = self.storage.summary(dataset["project_id"], dataset_id, "location")
        data = [{k: wire.value_json(v) for k, v in row.items() if k != "location"}
                for row in stored]
        with self.db.write() as tx:
            self.set_summary(tx, dataset_id, count, box)
            self.events.publish_after(tx, f"dataset:{dataset_id}", "realtime",
                                      {"dataset_id": dataset_id, "data": data})
        return data
