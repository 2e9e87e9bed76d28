"""The escape corpus, on both backends: every attempt is refused (400, 403 or 429) and no table
anywhere changes: not the other tenant's datasets, not Cloudlet's own tables, not ours."""

from __future__ import annotations

import pytest

from cloudlet.server.core.errors import DomainError
from tests.sql.conftest import SqlWorld

LOOP = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n{cond}) "
ATTEMPTS: list[tuple[str, str]] = [
    ("other tenant's dataset", "SELECT * FROM dataset_21"),
    ("other tenant's dataset, quoted", 'SELECT * FROM "dataset_21"'),
    ("other tenant's schema", "SELECT * FROM ds_p2.dataset_21"),
    ("other tenant joined in", "SELECT a.name, s.secret FROM dataset_11 a, dataset_21 s"),
    ("other tenant in a subquery", "SELECT (SELECT secret FROM dataset_21 LIMIT 1)"),
    ("Cloudlet's users", "SELECT * FROM users"),
    ("Cloudlet's tokens", "SELECT * FROM tokens"),
    ("Cloudlet's files", "SELECT * FROM files"),
    ("public.users", "SELECT password_hash FROM public.users"),
    ("main.users", "SELECT * FROM main.users"),
    ("users as a column qualifier", "SELECT public.users.password_hash FROM dataset_11"),
    ("sqlite_master", "SELECT * FROM sqlite_master"),
    ("the R*Tree index", "SELECT * FROM _rtree_dataset_11"),
    ("the R*Tree's shadow table", "SELECT * FROM _rtree_dataset_11_node"),
    ("the datasets domain's trigger function", "SELECT cloudlet_bound(g, 0) FROM dataset_11"),
    ("Cloudlet's internal functions", "SELECT cloudlet_store('POINT(1 2)')"),
    ("sqlite_schema", "SELECT sql FROM sqlite_schema"),
    ("pragma_table_info()", "SELECT * FROM pragma_table_info('dataset_11')"),
    ("PRAGMA", "PRAGMA table_info(dataset_11)"),
    ("PRAGMA writable_schema", "PRAGMA writable_schema = ON"),
    ("ATTACH", "ATTACH DATABASE '/tmp/cloudlet-stolen.db' AS stolen"),
    ("VACUUM INTO", "VACUUM INTO '/tmp/cloudlet-stolen.db'"),
    ("VACUUM", "VACUUM"),
    ("load_extension", "SELECT load_extension('/tmp/evil.so')"),
    ("readfile", "SELECT readfile('/etc/passwd')"),
    ("fts3_tokenizer", "SELECT fts3_tokenizer('simple')"),
    ("sqlite_version", "SELECT sqlite_version()"),
    ("pg_catalog.pg_tables", "SELECT * FROM pg_catalog.pg_tables"),
    ("pg_tables", "SELECT * FROM pg_tables"),
    ("pg_authid", "SELECT rolpassword FROM pg_authid"),
    ("information_schema", "SELECT * FROM information_schema.tables"),
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')"),
    ("pg_ls_dir", "SELECT * FROM pg_ls_dir('.')"),
    ("lo_import", "SELECT lo_import('/etc/passwd')"),
    ("pg_sleep", "SELECT pg_sleep(30)"),
    ("version", "SELECT version()"),
    ("current_user", "SELECT current_user"),
    ("user as a bare word", "SELECT user, session_user, current_schema"),
    ("regclass cast", "SELECT 'users'::regclass"),
    ("COPY TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id > /tmp/cloudlet-pwned'"),
    ("COPY FROM file", "COPY dataset_11 FROM '/etc/passwd'"),
    ("SET ROLE", "SET ROLE postgres"),
    ("RESET ROLE", "RESET ROLE"),
    ("SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION postgres"),
    ("set_config role", "SELECT set_config('role', 'postgres', false)"),
    ("SET statement_timeout", "SET statement_timeout = 0"),
    ("set_config statement_timeout", "SELECT set_config('statement_timeout', '0', false)"),
    ("stacked statements", "SELECT 1; DELETE FROM dataset_11"),
    ("stacked behind a comment", "SELECT 1 /* ; */ ; DROP TABLE dataset_11"),
    ("stacked behind a string", "SELECT ';'; DELETE FROM dataset_11"),
    ("DROP", "DROP TABLE dataset_11"),
    ("CREATE TABLE", "CREATE TABLE dataset_99 (a int)"),
    ("CREATE TABLE AS", "CREATE TABLE stolen AS SELECT * FROM dataset_11"),
    ("ALTER", "ALTER TABLE dataset_11 ADD COLUMN pwned int"),
    ("TRUNCATE", "TRUNCATE dataset_11"),
    ("CREATE FUNCTION", "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql"),
    ("GRANT", "GRANT ALL ON dataset_11 TO PUBLIC"),
    ("DO block", "DO $$ BEGIN PERFORM 1; END $$"),
    ("transaction control", "COMMIT"),
    ("BEGIN", "BEGIN"),
    ("NOTIFY", "NOTIFY cloudlet, 'x'"),
    ("EXPLAIN ANALYZE a write", "EXPLAIN ANALYZE DELETE FROM dataset_11"),
    ("SELECT INTO", "SELECT * INTO stolen FROM dataset_11"),
    ("FOR UPDATE", "SELECT * FROM dataset_11 FOR UPDATE"),
    ("data-modifying CTE", "WITH x AS (DELETE FROM dataset_11 RETURNING *) SELECT * FROM x"),
    ("CTE that does not shadow", "WITH a AS (SELECT * FROM users), users AS (SELECT 1) "
                                 "SELECT * FROM a"),
    ("CTE out of scope", "SELECT * FROM (WITH users AS (SELECT 1 AS x) SELECT * FROM users) q, "
                         "users"),
    ("parameter placeholder", "SELECT $1"),
    ("recursive CTE bomb", LOOP.format(cond="") + "SELECT count(*) FROM n"),
    ("cross join of 10^8 rows",
     LOOP.format(cond=" WHERE i < 10000") + "SELECT a.i, b.i FROM n a, n b"),
    ("string doubling bomb", "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) "
                             "SELECT length(s) FROM r"),
    ("deeply nested parentheses", "SELECT " + "(" * 5000 + "1" + ")" * 5000),
    ("deeply nested functions", "SELECT " + "abs(" * 400 + "1" + ")" * 400),
    ("very long SQL", "SELECT 1" + " + 1" * 100_000),
    ("empty", "  ;  "),
]
WRITES: list[tuple[str, str]] = [
    ("another tenant's table", "UPDATE dataset_21 SET secret = 'mine'"),
    ("Cloudlet's users", "DELETE FROM users"),
    ("Cloudlet's users, qualified", "UPDATE public.users SET is_superuser = true"),
    ("insert from another tenant",
     "INSERT INTO dataset_12 (amigo_id, address) SELECT amigo_id, secret FROM dataset_21"),
    ("update from another tenant", "UPDATE dataset_12 SET address = s.secret FROM dataset_21 s"),
    ("write into a CTE", "WITH x AS (SELECT 1) DELETE FROM x"),
    ("upsert", "INSERT INTO dataset_12 (amigo_id) VALUES ('a1') ON CONFLICT (amigo_id) "
               "DO UPDATE SET address = 'x'"),
    ("write then read", "DELETE FROM dataset_12; SELECT 1"),
    ("a write that runs away",
     "UPDATE dataset_12 SET address = (" + LOOP.format(cond="") + "SELECT max(i) FROM n)"),
]
THROUGH_GET = [
    ("DELETE through GET", "DELETE FROM dataset_11"),
    ("UPDATE through GET", "UPDATE dataset_11 SET name = 'pwned'"),
    ("INSERT through GET", "INSERT INTO dataset_11 (amigo_id) VALUES ('x')"),
]


@pytest.fixture(scope="module")
def before(world: SqlWorld) -> str:
    return world.checksum()


def _refused(world: SqlWorld, query: str, post: bool) -> DomainError:
    with pytest.raises(DomainError) as caught:
        world.run(query, post=post)
    assert caught.value.status in (400, 403, 429), caught.value.detail
    assert caught.value.detail
    return caught.value


@pytest.mark.parametrize(("what", "query"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_attempt_is_refused(world: SqlWorld, before: str, what: str, query: str,
                            post: bool) -> None:
    _refused(world, query, post)
    assert world.checksum() == before


@pytest.mark.parametrize(("what", "query"), WRITES + THROUGH_GET,
                         ids=[a[0] for a in WRITES + THROUGH_GET])
def test_write_attempt_is_refused(world: SqlWorld, before: str, what: str, query: str) -> None:
    _refused(world, query, post=not what.endswith("through GET"))
    assert world.checksum() == before


def test_runaway_queries_stop_at_the_limit_they_hit(world: SqlWorld) -> None:
    bomb = _refused(world, LOOP.format(cond="") + "SELECT count(*) FROM n", False)
    assert bomb.status == 429 and "timeout" in bomb.detail
    cross = _refused(world, LOOP.format(cond=" WHERE i < 10000") + "SELECT a.i FROM n a, n b",
                     False)
    assert cross.status == 400 and "rows" in cross.detail


def test_refusals_name_the_offending_part(world: SqlWorld) -> None:
    assert "dataset_21" in _refused(world, "SELECT * FROM dataset_21", False).detail
    assert "pg_read_file" in _refused(world, "SELECT pg_read_file('x')", False).detail
    assert "users" in _refused(world, "SELECT * FROM users", False).detail
    assert "SET" in _refused(world, "SET ROLE postgres", False).detail
    assert "POST" in _refused(world, "DELETE FROM dataset_11", False).detail
    assert "one statement" in _refused(world, "SELECT 1; SELECT 2", False).detail


def test_the_tenant_still_reads_and_writes_its_own_data(world: SqlWorld) -> None:
    """The walls are not just closed doors: the same world answers legitimate statements."""
    assert world.run("SELECT count(*) FROM dataset_11").data == [{"count": 5}]
    changed = world.run("UPDATE dataset_12 SET address = address WHERE amigo_id = 'a1'",
                        post=True)
    assert changed.count == 1
