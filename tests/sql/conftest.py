"""Two tenants' dataset tables on a real backend, and the SQL engine the server would build.

On SQLite each project's tables are in a database file of its own beside the migrated metadata
database; on PostgreSQL (CLOUDLET_TEST_POSTGRES_URL) they are schemas of a fresh database cloned
from the migrated template, which has PostGIS in schema `postgis`. Tables are made here the way
the datasets domain makes them (geometry as EWKB on SQLite, geometry(…, 4326) on PostgreSQL),
so the sandbox walls are tested against real files, roles and grants.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry import Point

from cloudlet.server.core import migrate
from cloudlet.server.core.db import Database
from cloudlet.server.sql.catalog import DatasetTable, ProjectTables
from cloudlet.server.sql.engine import Answer, SqlEngine
from cloudlet.server.sql.geometry import Geo
from cloudlet.server.sql.limits import Limits
from tests.support import pg

SQL_BACKENDS = ["sqlite"] + (["postgres"] if pg.admin_url() else [])
LIMITS = Limits(timeout=2.0, max_rows=100_000, max_bytes=4 << 20, max_length=20_000)
PLACES = [  # name, lon, lat, value
    ("San Francisco", -122.4194, 37.7749, 1.5),
    ("New York", -73.9857, 40.7484, 2.5),
    ("Paris", 2.3522, 48.8566, 3.5),
    ("Null Island", 0.0, 0.0, None),
    ("Nowhere", None, None, 0.0),
]
ADDRESSES = [("a1", "1 Main St"), ("a2", "2 Main St"), ("a3", None)]


@dataclass
class SqlWorld:
    backend: str
    engine: SqlEngine
    a: ProjectTables  # dataset_11 (places, geometry g), dataset_12 (addresses, geometry g)
    b: ProjectTables  # dataset_21 (another tenant's secrets)
    admin: Callable[[str], list[tuple[Any, ...]]]  # SQL as the operator, on project a's store
    own_tables: list[str]  # Cloudlet's own tables, for the checksums
    db: Database

    def close(self) -> None:
        self.engine.close()
        self.db.dispose()

    def run(self, query: str, *, post: bool = False, limit: int = 100, offset: int = 0,
            geometry: str = "geojson", project: ProjectTables | None = None) -> Answer:
        return self.engine.run(project or self.a, query, allow_writes=post, limit=limit,
                               offset=offset, geometry_format=geometry,
                               prepare=register_trigger_functions)

    def checksum(self) -> str:
        digest = hashlib.sha256()
        for name, rows in self._everything():
            digest.update(name.encode())
            digest.update(repr(sorted(map(repr, rows))).encode())
        return digest.hexdigest()

    def _everything(self) -> Iterator[tuple[str, list[Any]]]:
        raise NotImplementedError


COLUMNS = {"dataset_11": {"name": "text", "value": "real", "visited": "boolean",
                          "g": "geometry"},
           "dataset_12": {"address": "text", "g": "geometry"}, "dataset_21": {"secret": "text"}}


def _tables(project_id: int, names: dict[str, dict[str, str]]) -> dict[str, DatasetTable]:
    return {name: DatasetTable(name, int(name.split("_")[1]), geo, COLUMNS[name])
            for name, geo in names.items()}


def _bound(blob: bytes | None, which: int) -> float | None:
    return None if blob is None else float(shapely.from_wkb(blob).bounds[which])


def register_trigger_functions(conn: sqlite3.Connection) -> None:
    """What the datasets domain registers for its R*Tree triggers (`prepare_sqlite`)."""
    conn.execute("SELECT 1")  # a live connection
    conn.create_function("cloudlet_bound", 2, _bound, deterministic=True)


def _rtree(conn: sqlite3.Connection, table: str, geom: str) -> None:
    """An R*Tree kept by triggers, the way the datasets domain indexes a geometry column."""
    rtree = f"_rtree_{table}"
    bounds = ", ".join(f"cloudlet_bound(NEW.{geom}, {i})" for i in (0, 2, 1, 3))
    conn.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, min_x, max_x, min_y, max_y)")
    conn.execute(f"CREATE TRIGGER _{table}_rtree_ins AFTER INSERT ON {table} "
                 f"WHEN NEW.{geom} IS NOT NULL BEGIN "
                 f"INSERT INTO {rtree} VALUES (NEW.rowid, {bounds}); END")
    conn.execute(f"CREATE TRIGGER _{table}_rtree_upd AFTER UPDATE OF {geom} ON {table} BEGIN "
                 f"DELETE FROM {rtree} WHERE id = OLD.rowid; INSERT INTO {rtree} "
                 f"SELECT NEW.rowid, {bounds} WHERE NEW.{geom} IS NOT NULL; END")
    conn.execute(f"CREATE TRIGGER _{table}_rtree_del AFTER DELETE ON {table} BEGIN "
                 f"DELETE FROM {rtree} WHERE id = OLD.rowid; END")


def _ewkb(lon: float | None, lat: float | None) -> bytes | None:
    return None if lon is None else Geo(Point(lon, lat), 4326).encode()


class SqliteWorld(SqlWorld):
    meta: Path
    files: list[Path]

    def _everything(self) -> Iterator[tuple[str, list[Any]]]:
        for path in [*self.files, self.meta]:
            with sqlite3.connect(path) as conn:
                names = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
                for name in names:
                    yield f"{path.name}:{name}", conn.execute(f'SELECT * FROM "{name}"').fetchall()


def sqlite_world(tmp: Path) -> SqliteWorld:
    meta = tmp / "cloudlet.db"
    db = Database(f"sqlite:///{meta}")
    migrate.upgrade(db)
    with db.write() as tx:
        tx.conn.exec_driver_sql(
            "INSERT INTO users (username, email, password_hash, is_superuser, is_active, "
            "created_at) VALUES ('victim', 'v@example.com', 'argon2-hash', 1, 1, "
            "'2024-01-01 00:00:00')")
    a_file, b_file = tmp / "datasets-p1.db", tmp / "datasets-p2.db"
    with sqlite3.connect(a_file) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        register_trigger_functions(conn)
        conn.execute("CREATE TABLE dataset_11 (amigo_id TEXT PRIMARY KEY, name TEXT, "
                     "value REAL, visited INTEGER, g BLOB)")
        _rtree(conn, "dataset_11", "g")
        conn.executemany("INSERT INTO dataset_11 VALUES (?, ?, ?, ?, ?)",
                         [(f"p{i}", n, v, i % 2, _ewkb(x, y))
                          for i, (n, x, y, v) in enumerate(PLACES)])
        conn.execute("CREATE TABLE dataset_12 (amigo_id TEXT PRIMARY KEY, address TEXT, g BLOB)")
        _rtree(conn, "dataset_12", "g")
        conn.executemany("INSERT INTO dataset_12 (amigo_id, address) VALUES (?, ?)", ADDRESSES)
    with sqlite3.connect(b_file) as conn:
        conn.execute("CREATE TABLE dataset_21 (amigo_id TEXT PRIMARY KEY, secret TEXT)")
        conn.execute("INSERT INTO dataset_21 VALUES ('s1', 'the other tenant''s secret')")
    world = SqliteWorld(
        backend="sqlite", engine=SqlEngine(db, LIMITS, "test-secret"),
        a=ProjectTables(1, _tables(1, {"dataset_11": {"g": "POINT"},
                                       "dataset_12": {"g": "POINT"}}), sqlite_path=a_file),
        b=ProjectTables(2, _tables(2, {"dataset_21": {}}), sqlite_path=b_file),
        admin=lambda q: _sqlite_admin(a_file, q), own_tables=["users", "tokens"], db=db,
    )
    world.meta, world.files = meta, [a_file, b_file]
    return world


def _sqlite_admin(path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


class PostgresWorld(SqlWorld):
    url: str

    def _everything(self) -> Iterator[tuple[str, list[Any]]]:
        with psycopg.connect(self.url) as conn:
            tables = conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN "
                "('public', 'ds_p1', 'ds_p2') ORDER BY 1, 2").fetchall()
            for schema, name in tables:
                rows = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()  # type: ignore[arg-type]
                yield f"{schema}.{name}", rows


def postgres_world(url: str) -> PostgresWorld:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path = public, postgis")
        conn.execute("INSERT INTO users (username, email, password_hash, is_superuser, "
                     "is_active, created_at) VALUES ('victim', 'v@example.com', 'argon2-hash', "
                     "true, true, now())")
        conn.execute("CREATE SCHEMA ds_p1")
        conn.execute("CREATE SCHEMA ds_p2")
        conn.execute("CREATE TABLE ds_p1.dataset_11 (amigo_id text PRIMARY KEY, name text, "
                     "value float8, visited boolean, g geometry(Point, 4326))")
        for i, (n, x, y, v) in enumerate(PLACES):
            conn.execute("INSERT INTO ds_p1.dataset_11 VALUES (%s, %s, %s, %s, "
                         "CASE WHEN %s::float8 IS NULL THEN NULL ELSE "
                         "ST_SetSRID(ST_MakePoint(%s, %s), 4326) END)",
                         (f"p{i}", n, v, bool(i % 2), x, x, y))
        conn.execute("CREATE TABLE ds_p1.dataset_12 (amigo_id text PRIMARY KEY, address text, "
                     "g geometry(Point, 4326))")
        for amigo_id, address in ADDRESSES:
            conn.execute("INSERT INTO ds_p1.dataset_12 (amigo_id, address) VALUES (%s, %s)",
                         (amigo_id, address))
        conn.execute("CREATE TABLE ds_p2.dataset_21 (amigo_id text PRIMARY KEY, secret text)")
        conn.execute("INSERT INTO ds_p2.dataset_21 VALUES ('s1', 'the other tenant''s secret')")
    db = Database("postgresql+psycopg://" + url.split("://", 1)[1])
    world = PostgresWorld(
        backend="postgres", engine=SqlEngine(db, LIMITS, "test-secret"),
        a=ProjectTables(1, _tables(1, {"dataset_11": {"g": "POINT"},
                                       "dataset_12": {"g": "POINT"}}), pg_schema="ds_p1"),
        b=ProjectTables(2, _tables(2, {"dataset_21": {}}), pg_schema="ds_p2"),
        admin=lambda q: _pg_admin(url, q), own_tables=["users", "tokens"], db=db,
    )
    world.url = url
    return world


def _pg_admin(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path = ds_p1, public, postgis")
        cur = conn.execute(query)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def make_world(backend: str, tmp: Path, databases: pg.PgDatabases | None) -> SqlWorld:
    if backend == "postgres":
        assert databases is not None
        return postgres_world(databases.clone())
    return sqlite_world(tmp)


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          pg_databases: pg.PgDatabases | None) -> Iterator[SqlWorld]:
    made = make_world(str(request.param), tmp_path_factory.mktemp("sql"), pg_databases)
    yield made
    made.close()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory, pg_databases: pg.PgDatabases | None
           ) -> Iterator[dict[str, SqlWorld]]:
    """Both backends at once, for comparing their answers (PostgreSQL only when configured)."""
    made = {b: make_world(b, tmp_path_factory.mktemp(f"sql-{b}"), pg_databases)
            for b in SQL_BACKENDS}
    yield made
    for w in made.values():
        w.close()
