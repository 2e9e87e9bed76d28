"""Datasets on PostgreSQL: one schema per project (`project_<id>`), PostGIS geometry with
SRID 4326 and a GiST index on the primary geometry column. Bulk loads use COPY in one
transaction; the other operations are short statements on pooled connections."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb
from sqlalchemy import text

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, DomainError
from cloudlet.server.datasets.columns import Column
from cloudlet.server.datasets.storage.base import (
    BBox,
    DatasetStorage,
    Params,
    Progress,
    Selection,
    extent,
    quote,
    schema_name,
    table_name,
)

log = logging.getLogger(__name__)
SQL_TYPES = {"text": "text", "integer": "bigint", "real": "double precision",
             "boolean": "boolean", "timestamp": "timestamptz", "json": "jsonb"}
GEOMETRY_NAMES = {"point": "Point", "linestring": "LineString", "polygon": "Polygon",
                  "multipoint": "MultiPoint", "multilinestring": "MultiLineString",
                  "multipolygon": "MultiPolygon", "geometry": "Geometry"}
SRID = 4326


class PostgisMissing(DomainError):
    status, title = 503, "Service Unavailable"


class PostgresStorage(DatasetStorage):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._postgis: str | None = None  # the schema PostGIS lives in
        self._guard = threading.Lock()

    # --- PostGIS ---------------------------------------------------------------------------

    @property
    def postgis(self) -> str:
        """The schema holding PostGIS (`postgis` when Cloudlet created it)."""
        self.check_ready()
        assert self._postgis is not None
        return self._postgis

    def check_ready(self) -> None:
        if self._postgis is not None:
            return
        with self._guard, self.db.engine.connect() as conn:
            found = conn.execute(text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'postgis'")).scalar()
            if found is None:
                try:
                    conn.execute(text("CREATE SCHEMA IF NOT EXISTS postgis"))
                    conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis"))
                    conn.commit()
                    found = "postgis"
                except Exception as error:  # not permitted, or not installed on the host
                    conn.rollback()
                    log.warning("cannot create PostGIS: %s", error)
                    raise PostgisMissing(
                        "Datasets need PostGIS in this PostgreSQL database; an administrator "
                        "can run: CREATE SCHEMA postgis; CREATE EXTENSION postgis SCHEMA "
                        "postgis;") from None
            self._postgis = str(found)

    # --- connections -----------------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in one transaction: committed on success, rolled back on error."""
        raw = self.db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            assert isinstance(conn, psycopg.Connection)
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            raw.close()

    def _t(self, project_id: int, dataset_id: int) -> str:
        return f"{quote(schema_name(project_id))}.{quote(table_name(dataset_id))}"

    # --- tables ----------------------------------------------------------------------------

    def _sql_type(self, column: Column) -> str:
        if column.type == "geometry":
            kind = GEOMETRY_NAMES[column.geometry_type or "geometry"]
            return f"{quote(self.postgis)}.geometry({kind}, {SRID})"
        return SQL_TYPES[column.type]

    def create_table(self, project_id: int, dataset_id: int, columns: list[Column], *,
                     geometry_column: str | None, unique: tuple[str, ...] = ()) -> None:
        schema = quote(schema_name(project_id))
        defs = ["amigo_id text PRIMARY KEY"]
        for c in columns:
            extra = " NOT NULL UNIQUE" if c.name in unique else ""
            defs.append(f"{quote(c.name)} {self._sql_type(c)}{extra}")
        table = self._t(project_id, dataset_id)
        for attempt in (1, 2):
            try:
                with self._cursor() as cur:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # type: ignore[arg-type]
                    cur.execute(f"CREATE TABLE {table} ({', '.join(defs)})")  # type: ignore[arg-type]
                    if geometry_column:
                        index = quote(f"{table_name(dataset_id)}_{geometry_column}_gist")
                        g = quote(geometry_column)
                        cur.execute(  # type: ignore[arg-type]
                            f"CREATE INDEX {index} ON {table} USING gist ({g})")
                return
            except psycopg.errors.UniqueViolation:  # two first datasets made the schema at once
                if attempt == 2:
                    raise

    def add_column(self, project_id: int, dataset_id: int, column: Column, *,
                   primary: bool) -> None:
        table = self._t(project_id, dataset_id)
        with self._cursor() as cur:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} "  # type: ignore[arg-type]
                        f"{self._sql_type(column)}")
            if primary:
                index = quote(f"{table_name(dataset_id)}_{column.name}_gist")
                cur.execute(  # type: ignore[arg-type]
                    f"CREATE INDEX {index} ON {table} USING gist ({quote(column.name)})")

    def drop_table(self, project_id: int, dataset_id: int) -> None:
        with self._cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self._t(project_id, dataset_id)}")  # type: ignore[arg-type]

    def drop_project(self, tx: Tx, project_id: int) -> None:
        # in the project's own transaction: the schema goes exactly when the project does
        tx.conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote(schema_name(project_id))} CASCADE")

    # --- values ----------------------------------------------------------------------------

    def encode(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        if column.type == "json":
            return Jsonb(value)
        if column.type == "geometry":
            return None if value.is_empty else shapely.to_wkb(value)
        return value

    def _marks(self, columns: list[Column]) -> str:
        pg = quote(self.postgis)
        marks = ["%s"]
        for c in columns:
            marks.append(f"{pg}.ST_GeomFromWKB(%s, {SRID})" if c.type == "geometry" else "%s")
        return ", ".join(marks)

    def _names(self, columns: list[Column]) -> str:
        return ", ".join(["amigo_id", *(quote(c.name) for c in columns)])

    def _select_list(self, columns: list[Column]) -> str:
        pg = quote(self.postgis)
        out = ["amigo_id"]
        for c in columns:
            col = quote(c.name)
            out.append(f"{pg}.ST_AsBinary({col})" if c.type == "geometry" else col)
        return ", ".join(out)

    def _decoder(self, columns: list[Column]) -> Any:
        names = [c.name for c in columns]
        geoms = {i for i, c in enumerate(columns) if c.type == "geometry"}

        def decode(row: tuple[Any, ...]) -> dict[str, Any]:
            out: dict[str, Any] = {"amigo_id": row[0]}
            for i, value in enumerate(row[1:]):
                if i in geoms and value is not None:
                    value = shapely.from_wkb(bytes(value))
                out[names[i]] = value
            return out

        return decode

    def _row_values(self, columns: list[Column], row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["amigo_id"], *(self.encode(c, row.get(c.name)) for c in columns))

    # --- rows ------------------------------------------------------------------------------

    def load(self, project_id: int, dataset_id: int, columns: list[Column],
             batches: Iterable[list[dict[str, Any]]], progress: Progress | None = None,
             geometry_column: str | None = None) -> tuple[int, BBox | None]:
        sql = f"COPY {self._t(project_id, dataset_id)} ({self._names(columns)}) FROM STDIN"
        done = 0
        box: BBox | None = None
        try:
            with self._cursor() as cur, cur.copy(sql) as copy:  # type: ignore[arg-type]
                for batch in batches:
                    values: list[list[Any]] = [[r["amigo_id"] for r in batch]]
                    for c in columns:
                        raw = [r.get(c.name) for r in batch]
                        if c.type == "geometry":  # hex EWKB with the SRID, a batch at once
                            geoms = np.array(raw, dtype=object)
                            geoms[shapely.is_empty(geoms)] = None
                            if c.name == geometry_column:
                                box = extent(box, shapely.bounds(geoms))
                            geoms = shapely.set_srid(geoms, SRID)
                            raw = shapely.to_wkb(geoms, hex=True, include_srid=True).tolist()
                        elif c.type == "json":
                            raw = [None if v is None else Jsonb(v) for v in raw]
                        values.append(raw)
                    for row in zip(*values, strict=True):
                        copy.write_row(row)
                    done += len(batch)
                    if progress:
                        progress(done)
        except BaseException:
            self.drop_table(project_id, dataset_id)
            raise
        return done, box

    def insert(self, project_id: int, dataset_id: int, columns: list[Column],
               rows: list[dict[str, Any]]) -> None:
        sql = (f"INSERT INTO {self._t(project_id, dataset_id)} ({self._names(columns)}) "
               f"VALUES ({self._marks(columns)})")
        try:
            with self._cursor() as cur:
                cur.executemany(sql, [self._row_values(columns, r) for r in rows])  # type: ignore[arg-type]
        except psycopg.errors.IntegrityError as error:
            raise Conflict(f"Rows not added: {str(error).splitlines()[0]}.") from None

    def _get(self, cur: psycopg.Cursor[Any], project_id: int, dataset_id: int,
             columns: list[Column], amigo_id: str, lock: bool = False) -> dict[str, Any] | None:
        cur.execute(  # type: ignore[arg-type]
            f"SELECT {self._select_list(columns)} FROM {self._t(project_id, dataset_id)} "
            f"WHERE amigo_id = %s{' FOR UPDATE' if lock else ''}", (amigo_id,))
        row = cur.fetchone()
        return None if row is None else self._decoder(columns)(row)

    def get(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
            ) -> dict[str, Any] | None:
        with self._cursor() as cur:
            return self._get(cur, project_id, dataset_id, columns, amigo_id)

    def _set_sql(self, by_name: dict[str, Column], names: Iterable[str]) -> str:
        pg = quote(self.postgis)
        return ", ".join(
            f"{quote(n)} = {pg}.ST_GeomFromWKB(%s, {SRID})" if by_name[n].type == "geometry"
            else f"{quote(n)} = %s" for n in names)

    def update(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str,
               values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        by_name = {c.name: c for c in columns}
        with self._cursor() as cur:
            before = self._get(cur, project_id, dataset_id, columns, amigo_id, lock=True)
            if before is None:
                return None
            if values:
                cur.execute(  # type: ignore[arg-type]
                    f"UPDATE {self._t(project_id, dataset_id)} SET "
                    f"{self._set_sql(by_name, values)} WHERE amigo_id = %s",
                    (*(self.encode(by_name[n], v) for n, v in values.items()), amigo_id))
            after = self._get(cur, project_id, dataset_id, columns, amigo_id)
            assert after is not None
            return before, after

    def delete(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
               ) -> dict[str, Any] | None:
        with self._cursor() as cur:
            before = self._get(cur, project_id, dataset_id, columns, amigo_id, lock=True)
            if before is not None:
                cur.execute(  # type: ignore[arg-type]
                    f"DELETE FROM {self._t(project_id, dataset_id)} WHERE amigo_id = %s",
                    (amigo_id,))
            return before

    def upsert(self, project_id: int, dataset_id: int, columns: list[Column], key: str,
               rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {c.name: c for c in columns}
        table = self._t(project_id, dataset_id)
        decode = self._decoder(columns)
        stored = []
        with self._cursor() as cur:
            for row in rows:
                names = [c for c in columns if c.name in row]
                changes = [c.name for c in names if c.name != key]
                sql = (f"INSERT INTO {table} (amigo_id, {', '.join(quote(c.name) for c in names)})"
                       f" VALUES ({self._marks(names)}) ON CONFLICT ({quote(key)}) DO UPDATE SET "
                       + (", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in changes)
                          or f"{quote(key)} = EXCLUDED.{quote(key)}")
                       + f" RETURNING {self._select_list(columns)}")
                cur.execute(sql, (row["amigo_id"],  # type: ignore[arg-type]
                                  *(self.encode(by_name[c.name], row[c.name]) for c in names)))
                got = cur.fetchone()
                assert got is not None
                stored.append(decode(got))
        return stored

    def select(self, project_id: int, dataset_id: int, columns: list[Column],
               selection: Selection) -> tuple[int, list[dict[str, Any]]]:
        params = Params("pyformat")
        table = self._t(project_id, dataset_id)
        where = self._where(table, selection, params)
        limit = "" if selection.limit is None else f" LIMIT {int(selection.limit)}"
        with self._cursor() as cur:
            total = selection.known_total
            if total is None:
                cur.execute(f"SELECT count(*) FROM {table}{where}", params.values)  # type: ignore[arg-type]
                total = cur.fetchone()[0]  # type: ignore[index]
            cur.execute(  # type: ignore[arg-type]
                f"SELECT {self._select_list(columns)} FROM {table}{where} ORDER BY amigo_id"
                f"{limit} OFFSET {int(selection.offset)}", params.values)
            decode = self._decoder(columns)
            return total, [decode(r) for r in cur.fetchall()]

    def iterate(self, project_id: int, dataset_id: int, columns: list[Column],
                selection: Selection) -> Iterator[list[dict[str, Any]]]:
        params = Params("pyformat")
        table = self._t(project_id, dataset_id)
        where = self._where(table, selection, params)
        decode = self._decoder(columns)
        raw = self.db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            assert isinstance(conn, psycopg.Connection)
            with conn.cursor(name="cloudlet_export") as cur:  # server-side: never all in memory
                cur.execute(  # type: ignore[arg-type]
                    f"SELECT {self._select_list(columns)} FROM {table}{where} ORDER BY amigo_id",
                    params.values)
                while batch := cur.fetchmany(self.batch_size):
                    yield [decode(r) for r in batch]
            conn.rollback()
        finally:
            raw.close()

    def summary(self, project_id: int, dataset_id: int, geometry_column: str | None
                ) -> tuple[int, BBox | None]:
        table = self._t(project_id, dataset_id)
        with self._cursor() as cur:
            if not geometry_column:
                cur.execute(f"SELECT count(*) FROM {table}")  # type: ignore[arg-type]
                return cur.fetchone()[0], None  # type: ignore[index]
            pg, g = quote(self.postgis), quote(geometry_column)
            cur.execute(  # type: ignore[arg-type]
                f"SELECT count(*), min({pg}.ST_XMin({g})), min({pg}.ST_YMin({g})), "
                f"max({pg}.ST_XMax({g})), max({pg}.ST_YMax({g})) FROM {table}")
            row = cur.fetchone()
        assert row is not None
        return row[0], (None if row[1] is None else (row[1], row[2], row[3], row[4]))

    def _contains(self, col: str) -> str:
        return "strpos"

    def _bbox_sql(self, table: str, column: str, bbox: BBox, params: Params) -> str:
        pg = quote(self.postgis)
        box = ", ".join(params.add(float(v)) for v in bbox)
        return f"{quote(column)} OPERATOR({pg}.&&) {pg}.ST_MakeEnvelope({box}, {SRID})"
