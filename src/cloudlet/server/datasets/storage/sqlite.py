"""Datasets on SQLite: one file per project, so user SQL can be confined to it.

Writes to a file are serialized by a per-file lock (and `BEGIN IMMEDIATE` against other
processes); bulk loads commit in batches so other writers to the project are not held up
for the whole import. Readers use their own connections under WAL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from cloudlet.server.core.db import Tx
from cloudlet.server.core.errors import Conflict, NotFound
from cloudlet.server.datasets.columns import Column
from cloudlet.server.datasets.storage.base import (
    BBox,
    DatasetStorage,
    Params,
    Progress,
    Selection,
    extent,
    quote,
    table_name,
)

SRID = 4326
SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "boolean": "INTEGER",
             "timestamp": "TEXT", "json": "TEXT", "geometry": "BLOB"}


def _bound(blob: bytes | None, which: int) -> float | None:
    """`cloudlet_bound(wkb, 0..3)`: minx, miny, maxx, maxy of a WKB geometry (the last
    geometry's bounds are kept, since the R*Tree triggers ask four times per row)."""
    if blob is None:
        return None
    if _last_bounds[0] is not blob and _last_bounds[0] != blob:
        geom = shapely.from_wkb(blob)
        _last_bounds[0], _last_bounds[1] = blob, geom.bounds
    value = _last_bounds[1][which]
    return None if value != value else float(value)


_last_bounds: list[Any] = [None, (0.0, 0.0, 0.0, 0.0)]
_bound_lock = threading.Lock()


def _locked_bound(blob: bytes | None, which: int) -> float | None:
    with _bound_lock:
        return _bound(blob, which)


def _overlaps(blob: bytes | None, minx: float, miny: float, maxx: float, maxy: float
              ) -> int:
    """`cloudlet_bbox_overlaps(wkb, …)`: the geometry's bounds meet the box (exact, where
    the R*Tree's float32 boxes are only close)."""
    if blob is None:
        return 0
    x0, y0, x1, y1 = shapely.from_wkb(blob).bounds
    return int(x1 >= minx and x0 <= maxx and y1 >= miny and y0 <= maxy)


def register_functions(conn: sqlite3.Connection) -> None:
    """The functions dataset triggers and filters call; every connection needs them."""
    conn.create_function("cloudlet_bound", 2, _locked_bound, deterministic=True)
    conn.create_function("cloudlet_bbox_overlaps", 5, _overlaps, deterministic=True)


def _ewkb(geoms: Any) -> Any:
    """Little-endian EWKB with SRID 4326: what SQL's geometry functions write and PostGIS
    sends, so a value stored through SQL and one stored here read back the same."""
    return shapely.to_wkb(shapely.set_srid(geoms, SRID), include_srid=True, byte_order=1)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteStorage(DatasetStorage):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # --- files and connections -----------------------------------------------------------

    def path(self, project_id: int) -> Path:
        """The project's dataset file (the SQL feature opens it, through `connect`)."""
        return self.root / f"project_{int(project_id)}.sqlite"

    def connect(self, project_id: int, *, create: bool = False) -> sqlite3.Connection:
        path = self.path(project_id)
        if not create and not path.exists():
            raise NotFound("No such dataset.")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: big tables and R*Trees load faster
        register_functions(conn)
        return conn

    def _lock(self, project_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(project_id, threading.Lock())

    @contextmanager
    def _writing(self, project_id: int, *, create: bool = False,
                 conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction under the file's lock, on `conn` or a new connection."""
        with self._lock(project_id):
            own = conn is None
            conn = conn or self.connect(project_id, create=create)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                if own:
                    conn.close()

    @contextmanager
    def _reading(self, project_id: int) -> Iterator[sqlite3.Connection]:
        conn = self.connect(project_id)
        try:
            yield conn
        finally:
            conn.close()

    def check_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    # --- tables ----------------------------------------------------------------------------

    def create_table(self, project_id: int, dataset_id: int, columns: list[Column], *,
                     geometry_column: str | None, unique: tuple[str, ...] = ()) -> None:
        table = table_name(dataset_id)
        defs = ["amigo_id TEXT PRIMARY KEY NOT NULL"]
        for c in columns:
            extra = " NOT NULL UNIQUE" if c.name in unique else ""
            defs.append(f"{quote(c.name)} {SQL_TYPES[c.type]}{extra}")
        with self._writing(project_id, create=True) as conn:
            conn.execute(f"CREATE TABLE {quote(table)} ({', '.join(defs)})")
            if geometry_column:
                self._rtree(conn, table, geometry_column)

    def _rtree(self, conn: sqlite3.Connection, table: str, geom: str) -> None:
        rtree = quote(f"_rtree_{table}")
        conn.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, min_x, max_x, min_y, max_y)")
        for trigger in self._triggers(table, geom):  # not executescript: it would commit
            conn.execute(trigger)

    def _triggers(self, table: str, geom: str) -> list[str]:
        """Keep the R*Tree current on insert, update and delete (the insert one first)."""
        rtree, g, t = quote(f"_rtree_{table}"), quote(geom), quote(table)
        bounds = ", ".join(f"cloudlet_bound(NEW.{g}, {i})" for i in (0, 2, 1, 3))
        return [
            f"""CREATE TRIGGER {quote(f"_{table}_rtree_ins")} AFTER INSERT ON {t}
                WHEN NEW.{g} IS NOT NULL BEGIN
                  INSERT INTO {rtree} VALUES (NEW.rowid, {bounds});
                END""",
            f"""CREATE TRIGGER {quote(f"_{table}_rtree_upd")} AFTER UPDATE OF {g} ON {t} BEGIN
                  DELETE FROM {rtree} WHERE id = OLD.rowid;
                  INSERT INTO {rtree} SELECT NEW.rowid, {bounds} WHERE NEW.{g} IS NOT NULL;
                END""",
            f"""CREATE TRIGGER {quote(f"_{table}_rtree_del")} AFTER DELETE ON {t} BEGIN
                  DELETE FROM {rtree} WHERE id = OLD.rowid;
                END""",
        ]

    def add_column(self, project_id: int, dataset_id: int, column: Column, *,
                   primary: bool) -> None:
        table = table_name(dataset_id)
        with self._writing(project_id) as conn:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} "
                         f"{SQL_TYPES[column.type]}")
            if primary:
                self._rtree(conn, table, column.name)

    def drop_table(self, project_id: int, dataset_id: int) -> None:
        if not self.path(project_id).exists():
            return
        table = table_name(dataset_id)
        with self._writing(project_id) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            conn.execute(f"DROP TABLE IF EXISTS {quote('_rtree_' + table)}")

    def drop_project(self, tx: Tx, project_id: int) -> None:
        def remove() -> None:
            with self._lock(project_id):
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{self.path(project_id)}{suffix}").unlink(missing_ok=True)

        tx.after_commit(remove)

    # --- values ----------------------------------------------------------------------------

    def encode(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        kind = column.type
        if kind == "boolean":
            return int(value)
        if kind == "timestamp":
            return _ts(value)
        if kind == "json":
            return orjson.dumps(value).decode()
        if kind == "geometry":
            return None if value.is_empty else _ewkb(value)
        return value

    def _decoder(self, columns: list[Column]) -> Any:
        kinds = [c.type for c in columns]
        names = ["amigo_id", *(c.name for c in columns)]

        def decode(row: tuple[Any, ...]) -> dict[str, Any]:
            out: dict[str, Any] = {"amigo_id": row[0]}
            for name, kind, value in zip(names[1:], kinds, row[1:], strict=True):
                if value is not None:
                    if kind == "boolean":
                        value = bool(value)
                    elif kind == "timestamp":
                        value = datetime.fromisoformat(value)
                    elif kind == "json":
                        value = orjson.loads(value)
                    elif kind == "geometry":
                        value = shapely.from_wkb(value)
                out[name] = value
            return out

        return decode

    def _row_values(self, columns: list[Column], row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["amigo_id"], *(self.encode(c, row.get(c.name)) for c in columns))

    def _insert_sql(self, dataset_id: int, columns: list[Column]) -> str:
        names = ", ".join(["amigo_id", *(quote(c.name) for c in columns)])
        marks = ", ".join("?" * (len(columns) + 1))
        return f"INSERT INTO {quote(table_name(dataset_id))} ({names}) VALUES ({marks})"

    def _select_sql(self, dataset_id: int, columns: list[Column]) -> str:
        names = ", ".join(["amigo_id", *(quote(c.name) for c in columns)])
        return f"SELECT {names} FROM {quote(table_name(dataset_id))}"

    # --- rows ------------------------------------------------------------------------------

    def load(self, project_id: int, dataset_id: int, columns: list[Column],
             batches: Iterable[list[dict[str, Any]]], progress: Progress | None = None,
             geometry_column: str | None = None) -> tuple[int, BBox | None]:
        """Rows get explicit rowids, so the R*Tree is filled from bounds computed a batch at
        a time, with the insert trigger held off until the load is done (nobody else
        writes to a table that is still being imported)."""
        table = table_name(dataset_id)
        names = ", ".join(["rowid", "amigo_id", *(quote(c.name) for c in columns)])
        sql = (f"INSERT INTO {quote(table)} ({names}) "
               f"VALUES ({', '.join('?' * (len(columns) + 2))})")
        rtree = f"INSERT INTO {quote('_rtree_' + table)} VALUES (?, ?, ?, ?, ?)"
        done = 0
        box: BBox | None = None
        own = self.connect(project_id)  # one connection, so its page cache stays warm
        try:
            if geometry_column:
                with self._writing(project_id, conn=own) as conn:
                    conn.execute(f"DROP TRIGGER {quote(f'_{table}_rtree_ins')}")
            for batch in batches:
                rows, boxes, bounds = self._encode_batch(columns, batch, done + 1,
                                                         geometry_column)
                if bounds is not None:
                    box = extent(box, bounds)
                with self._writing(project_id, conn=own) as conn:  # the lock, per batch
                    conn.executemany(sql, rows)
                    if boxes:
                        conn.executemany(rtree, boxes)
                done += len(rows)
                if progress:
                    progress(done)
            if geometry_column:
                with self._writing(project_id, conn=own) as conn:
                    conn.execute(self._triggers(table, geometry_column)[0])
        except BaseException:
            own.close()
            self.drop_table(project_id, dataset_id)
            raise
        own.close()
        return done, box

    def _encode_batch(self, columns: list[Column], batch: list[dict[str, Any]], first: int,
                      geometry_column: str | None
                      ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Any]:
        """A batch as insert tuples (geometries encoded all at once), R*Tree rows, and the
        primary geometries' bounds."""
        rowids = range(first, first + len(batch))
        values: list[list[Any]] = [list(rowids), [r["amigo_id"] for r in batch]]
        boxes: list[tuple[Any, ...]] = []
        bounds = None
        for c in columns:
            raw = [r.get(c.name) for r in batch]
            if c.type == "geometry":
                geoms = np.array(raw, dtype=object)
                geoms[shapely.is_empty(geoms)] = None
                if c.name == geometry_column:
                    bounds = shapely.bounds(geoms)
                    boxes = [(rid, b[0], b[2], b[1], b[3]) for rid, b in zip(
                        rowids, bounds.tolist(), strict=True) if b[0] == b[0]]
                values.append(_ewkb(geoms).tolist())
            elif c.type in ("boolean", "timestamp", "json"):
                values.append([self.encode(c, v) for v in raw])
            else:
                values.append(raw)
        return list(zip(*values, strict=True)), boxes, bounds

    def insert(self, project_id: int, dataset_id: int, columns: list[Column],
               rows: list[dict[str, Any]]) -> None:
        sql = self._insert_sql(dataset_id, columns)
        with self._writing(project_id) as conn:
            try:
                conn.executemany(sql, [self._row_values(columns, r) for r in rows])
            except sqlite3.IntegrityError as error:
                raise Conflict(f"Rows not added: {error}.") from None

    def get(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
            ) -> dict[str, Any] | None:
        with self._reading(project_id) as conn:
            return self._get(conn, dataset_id, columns, amigo_id)

    def _get(self, conn: sqlite3.Connection, dataset_id: int, columns: list[Column],
             amigo_id: str) -> dict[str, Any] | None:
        row = conn.execute(self._select_sql(dataset_id, columns) + " WHERE amigo_id = ?",
                           (amigo_id,)).fetchone()
        return None if row is None else self._decoder(columns)(row)

    def update(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str,
               values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        by_name = {c.name: c for c in columns}
        with self._writing(project_id) as conn:
            before = self._get(conn, dataset_id, columns, amigo_id)
            if before is None:
                return None
            if values:
                sets = ", ".join(f"{quote(n)} = ?" for n in values)
                conn.execute(
                    f"UPDATE {quote(table_name(dataset_id))} SET {sets} WHERE amigo_id = ?",
                    (*(self.encode(by_name[n], v) for n, v in values.items()), amigo_id))
            after = self._get(conn, dataset_id, columns, amigo_id)
            assert after is not None
            return before, after

    def delete(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
               ) -> dict[str, Any] | None:
        with self._writing(project_id) as conn:
            before = self._get(conn, dataset_id, columns, amigo_id)
            if before is not None:
                conn.execute(f"DELETE FROM {quote(table_name(dataset_id))} WHERE amigo_id = ?",
                             (amigo_id,))
            return before

    def upsert(self, project_id: int, dataset_id: int, columns: list[Column], key: str,
               rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {c.name: c for c in columns}
        table = quote(table_name(dataset_id))
        stored = []
        with self._writing(project_id) as conn:
            for row in rows:
                found = conn.execute(f"SELECT amigo_id FROM {table} WHERE {quote(key)} = ?",
                                     (row[key],)).fetchone()
                if found is None:
                    values = {**row}
                    conn.execute(self._insert_sql(dataset_id, columns),
                                 self._row_values(columns, values))
                    amigo_id = values["amigo_id"]
                else:
                    amigo_id = found[0]
                    changes = {k: v for k, v in row.items() if k not in ("amigo_id", key)}
                    if changes:
                        sets = ", ".join(f"{quote(n)} = ?" for n in changes)
                        conn.execute(f"UPDATE {table} SET {sets} WHERE amigo_id = ?",
                                     (*(self.encode(by_name[n], v) for n, v in changes.items()),
                                      amigo_id))
                got = self._get(conn, dataset_id, columns, amigo_id)
                assert got is not None
                stored.append(got)
        return stored

    def select(self, project_id: int, dataset_id: int, columns: list[Column],
               selection: Selection) -> tuple[int, list[dict[str, Any]]]:
        params = Params("named")
        where = self._where(table_name(dataset_id), selection, params)
        table = quote(table_name(dataset_id))
        with self._reading(project_id) as conn:
            total = selection.known_total
            if total is None:
                total = conn.execute(f"SELECT count(*) FROM {table}{where}", params.values
                                     ).fetchone()[0]
            sql = (f"{self._select_sql(dataset_id, columns)}{where} ORDER BY amigo_id "
                   f"LIMIT {int(selection.limit or -1)} OFFSET {int(selection.offset)}")
            decode = self._decoder(columns)
            return total, [decode(r) for r in conn.execute(sql, params.values)]

    def iterate(self, project_id: int, dataset_id: int, columns: list[Column],
                selection: Selection) -> Iterator[list[dict[str, Any]]]:
        params = Params("named")
        where = self._where(table_name(dataset_id), selection, params)
        decode = self._decoder(columns)
        with self._reading(project_id) as conn:
            conn.execute("BEGIN")  # one snapshot for the whole export
            cursor = conn.execute(
                f"{self._select_sql(dataset_id, columns)}{where} ORDER BY amigo_id",
                params.values)
            while batch := cursor.fetchmany(self.batch_size):
                yield [decode(r) for r in batch]
            conn.execute("COMMIT")

    def summary(self, project_id: int, dataset_id: int, geometry_column: str | None
                ) -> tuple[int, BBox | None]:
        table = table_name(dataset_id)
        with self._reading(project_id) as conn:
            count = conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0]
            if not geometry_column:
                return count, None
            rtree, g = quote(f"_rtree_{table}"), quote(geometry_column)
            rough = conn.execute(f"SELECT min(min_x), min(min_y), max(max_x), max(max_y) "
                                 f"FROM {rtree}").fetchone()
            if rough[0] is None:
                return count, None
            # the R*Tree's float32 boxes find the few rows near each edge; their exact
            # bounds give the extent without decoding every geometry
            exact = []
            for i, (column, agg, side) in enumerate((("min_x", "min", "<="),
                                                     ("min_y", "min", "<="),
                                                     ("max_x", "max", ">="),
                                                     ("max_y", "max", ">="))):
                margin = abs(rough[i]) * 1e-6 + 1e-6
                near = rough[i] + margin if side == "<=" else rough[i] - margin
                exact.append(conn.execute(
                    f"SELECT {agg}(cloudlet_bound({g}, {i})) FROM {quote(table)} WHERE rowid "
                    f"IN (SELECT id FROM {rtree} WHERE {column} {side} ?)", (near,)
                ).fetchone()[0])
        return count, (exact[0], exact[1], exact[2], exact[3])

    def _contains(self, col: str) -> str:
        return "instr"

    def _bbox_sql(self, table: str, column: str, bbox: BBox, params: Params) -> str:
        minx, miny, maxx, maxy = (params.add(v) for v in bbox)
        # the R*Tree narrows with float32 boxes; the function then checks exactly
        return (f"rowid IN (SELECT id FROM {quote('_rtree_' + table)} "
                f"WHERE max_x >= {minx} AND min_x <= {maxx} AND max_y >= {miny} "
                f"AND min_y <= {maxy}) AND cloudlet_bbox_overlaps({quote(column)}, "
                f"{minx}, {miny}, {maxx}, {maxy})")
