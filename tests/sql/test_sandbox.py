"""The second walls on their own: statements that never passed the AST wall, sent straight to
the SQLite authorizer sandbox or run as the project's PostgreSQL role, are still refused."""

from __future__ import annotations

import psycopg
import pytest

from cloudlet.server.core.errors import DomainError
from tests.sql.conftest import PostgresWorld, SqliteWorld, SqlWorld

SQLITE_RAW = [
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_table_info('dataset_11')",
    "PRAGMA table_info(dataset_11)",
    "ATTACH DATABASE '/tmp/cloudlet-stolen.db' AS stolen",
    "VACUUM INTO '/tmp/cloudlet-stolen.db'",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT zeroblob(1000000000)",
    "CREATE TABLE pwned (a)",
    "DELETE FROM dataset_11",
    "SELECT 1; DELETE FROM dataset_11",
    "SELECT sqlite_version()",
    "SELECT * FROM _rtree_dataset_11_node",
    "SELECT cloudlet_bound(g, 0) FROM dataset_11",
    "DELETE FROM _rtree_dataset_11",
]


def _sqlite(world: SqlWorld) -> SqliteWorld:
    if not isinstance(world, SqliteWorld):
        pytest.skip("SQLite sandbox")
    return world


def _postgres(world: SqlWorld) -> PostgresWorld:
    if not isinstance(world, PostgresWorld):
        pytest.skip("PostgreSQL sandbox")
    return world


@pytest.mark.parametrize("raw", SQLITE_RAW)
def test_sqlite_authorizer_refuses_raw_statements(world: SqlWorld, raw: str) -> None:
    sqlite = _sqlite(world)
    before = sqlite.checksum()
    sandbox = sqlite.engine.sqlite
    assert sandbox is not None
    with pytest.raises(DomainError) as caught:
        sandbox.read(sqlite.a.sqlite_path, tables={"dataset_11", "dataset_12"}, ctes=set(),
                     page_sql=raw, count_sql=raw, limit=10, offset=0)
    assert caught.value.status == 400
    assert sqlite.checksum() == before


def test_sqlite_write_reaches_only_its_target(world: SqlWorld) -> None:
    sqlite = _sqlite(world)
    sandbox = sqlite.engine.sqlite
    assert sandbox is not None
    before = sqlite.checksum()
    for raw in ("DELETE FROM dataset_12", "UPDATE dataset_11 SET name = (SELECT sql FROM "
                "sqlite_master)", "INSERT INTO dataset_11 (amigo_id) SELECT name FROM "
                "pragma_table_list", "DELETE FROM _rtree_dataset_12",
                "UPDATE dataset_11 SET name = (SELECT count(*) FROM _rtree_dataset_12_node)",
                "UPDATE dataset_11 SET value = cloudlet_bound(g, 0)"):
        with pytest.raises(DomainError):
            sandbox.write(sqlite.a.sqlite_path, tables={"dataset_11"}, ctes=set(),
                          target="dataset_11", sql=raw)
    assert sqlite.checksum() == before


def test_sqlite_reads_open_the_file_read_only(world: SqlWorld) -> None:
    sqlite = _sqlite(world)
    sandbox = sqlite.engine.sqlite
    assert sandbox is not None
    conn = sandbox._connect(sqlite.a.sqlite_path, write=False)
    try:
        with pytest.raises(Exception, match="readonly|read-only|query_only"):
            conn.execute("DELETE FROM dataset_11")
    finally:
        conn.close()


def _as_role(world: PostgresWorld) -> psycopg.Connection[object]:
    pg = world.engine.pg
    assert pg is not None
    role = pg.ensure(world.a.project_id, world.a.pg_schema, world.a.tables.keys())
    url = pg._base_url.set(username=role, password=pg._password(role))
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


PG_RAW = [
    "SELECT * FROM ds_p2.dataset_21",
    "SELECT * FROM public.users",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "SET ROLE postgres",
    "SELECT set_config('role', 'postgres', false)",
    "SET SESSION AUTHORIZATION postgres",
    "CREATE TABLE ds_p1.pwned (a int)",
    "CREATE TEMP TABLE pwned (a int)",
    "CREATE TABLE public.pwned (a int)",
    "SELECT rolpassword FROM pg_authid",
    "DROP TABLE ds_p1.dataset_11",
    "ALTER TABLE ds_p1.dataset_11 ADD COLUMN pwned int",
    "SELECT lo_import('/etc/passwd')",
]


@pytest.mark.parametrize("raw", PG_RAW)
def test_postgres_role_refuses_raw_statements(world: SqlWorld, raw: str) -> None:
    postgres = _postgres(world)
    before = postgres.checksum()
    with _as_role(postgres) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(raw)  # type: ignore[arg-type]
    assert isinstance(caught.value, psycopg.errors.InsufficientPrivilege), caught.value
    assert postgres.checksum() == before


def test_postgres_reads_are_read_only_and_alone(world: SqlWorld) -> None:
    postgres = _postgres(world)
    pg = postgres.engine.pg
    assert pg is not None
    role = pg.ensure(postgres.a.project_id, postgres.a.pg_schema, postgres.a.tables.keys())
    before = postgres.checksum()
    for raw in ("DELETE FROM dataset_11", "SELECT 1; DELETE FROM dataset_11"):
        with pytest.raises(DomainError):
            pg.read(role, page_sql=raw, count_sql=raw, limit=10, offset=0)
    with pytest.raises(DomainError):
        pg.write(role, sql_text="SELECT 1; DELETE FROM dataset_11")
    assert postgres.checksum() == before


def test_postgres_session_settings_never_survive_a_request(world: SqlWorld) -> None:
    """What a statement sets on its connection is discarded before the next one gets it."""
    postgres = _postgres(world)
    pg = postgres.engine.pg
    assert pg is not None
    role = pg.ensure(postgres.a.project_id, postgres.a.pg_schema, postgres.a.tables.keys())
    for _ in range(3):  # pooled connections are reused
        pg.read(role, page_sql="SELECT set_config('statement_timeout', '0', false), "
                "set_config('work_mem', '1GB', false)", count_sql="SELECT 1", limit=10,
                offset=0)
        after = pg.read(role, page_sql="SELECT current_setting('statement_timeout'), "
                        "current_setting('work_mem'), current_user", count_sql="SELECT 1",
                        limit=10, offset=0)
        timeout, work_mem, user = after.rows[0]
        assert timeout != "0" and work_mem != "1GB" and user == role


def test_postgres_role_has_no_attributes_or_memberships(world: SqlWorld) -> None:
    postgres = _postgres(world)
    with _as_role(postgres) as role:
        name = role.info.user
        role.execute("GRANT SELECT ON ds_p1.dataset_11 TO PUBLIC")  # only a warning: no grant
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT has_table_privilege('public', 'ds_p1.dataset_11', "
                            "'SELECT')").fetchone() == (False,)
        assert conn.execute(
            "SELECT rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
            "rolreplication FROM pg_roles WHERE rolname = %s", (name,)).fetchone() == (
            False, False, False, False, False, False)
        assert conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON "
                            "r.oid = m.member WHERE r.rolname = %s", (name,)).fetchone() == (0,)
        assert conn.execute("SELECT has_database_privilege('public', current_database(), "
                            "'CONNECT')").fetchone() == (False,)
        assert conn.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')"
                            ).fetchone() == (False,)
        grants = conn.execute(
            "SELECT DISTINCT table_schema || '.' || table_name FROM "
            "information_schema.role_table_grants WHERE grantee = %s ORDER BY 1",
            (name,)).fetchall()
        assert grants == [("ds_p1.dataset_11",), ("ds_p1.dataset_12",)]


def test_a_new_dataset_is_granted_and_a_forgotten_one_revoked(world: SqlWorld) -> None:
    postgres = _postgres(world)
    pg = postgres.engine.pg
    assert pg is not None
    postgres.admin("CREATE TABLE ds_p1.dataset_13 (amigo_id text)")
    try:
        role = pg.ensure(1, "ds_p1", {"dataset_11", "dataset_12", "dataset_13"})
        assert pg.read(role, page_sql="SELECT count(*) FROM dataset_13", count_sql="",
                       limit=10, offset=0).rows == [(0,)]
        role = pg.ensure(1, "ds_p1", {"dataset_11"})
        with pytest.raises(DomainError, match="permission denied"):
            pg.read(role, page_sql="SELECT count(*) FROM dataset_12", count_sql="",
                    limit=10, offset=0)
    finally:
        pg.ensure(1, "ds_p1", {"dataset_11", "dataset_12"})
        postgres.admin("DROP TABLE ds_p1.dataset_13")
