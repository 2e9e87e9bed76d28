"""The AST wall, PostgreSQL's column names and the SQLite transpiler, without a server."""

from __future__ import annotations

import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from cloudlet.server.core.errors import Invalid
from cloudlet.server.sql import transpile
from cloudlet.server.sql.dialect import Refused
from cloudlet.server.sql.geometry import Geo, decode, fmt, to_wkt
from cloudlet.server.sql.names import column_name
from cloudlet.server.sql.wall import check

TABLES = {"dataset_1", "dataset_2"}


def ok(sql: str, post: bool = False):  # type: ignore[no-untyped-def]
    return check(sql, tables=TABLES, allow_writes=post, max_length=10_000)


def refused(sql: str, post: bool = False) -> str:
    with pytest.raises(Refused) as caught:
        ok(sql, post)
    return caught.value.detail


def test_statement_kinds_per_method() -> None:
    assert ok("SELECT * FROM dataset_1").kind == "select"
    assert ok("WITH a AS (SELECT 1) SELECT * FROM a").kind == "select"
    assert ok("SELECT 1 UNION SELECT 2").kind == "select"
    assert ok("DELETE FROM dataset_1", post=True).target == "dataset_1"
    assert ok("INSERT INTO dataset_2 (a) VALUES (1)", post=True).target == "dataset_2"
    assert "POST" in refused("UPDATE dataset_1 SET a = 1")
    assert "DDL" in refused("CREATE TABLE x (a int)", post=True)
    assert "VALUES" in refused("VALUES (1)")


def test_cte_scoping_follows_postgresql() -> None:
    assert ok("WITH users AS (SELECT 1) SELECT * FROM users").tables == frozenset()
    assert ok("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
              "SELECT * FROM n").tables == frozenset()
    assert "users" in refused("WITH a AS (SELECT * FROM users), users AS (SELECT 1) "
                              "SELECT * FROM a")
    assert "users" in refused("WITH users AS (SELECT * FROM users) SELECT * FROM users")
    assert "users" in refused("SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) q, "
                              "users")
    assert ok("WITH a AS (SELECT * FROM dataset_1), b AS (SELECT * FROM a) SELECT * FROM b"
              ).tables == {"dataset_1"}


def test_quoted_names_keep_their_case() -> None:
    assert ok('SELECT * FROM "dataset_1"').tables == {"dataset_1"}
    assert ok("SELECT * FROM DATASET_1").tables == {"dataset_1"}
    assert "DATASET_1" in refused('SELECT * FROM "DATASET_1"')


def test_length_and_depth() -> None:
    assert "characters" in refused("SELECT 1" + " " * 10_001)
    assert "nested" in refused("SELECT " + "(" * 3000 + "1" + ")" * 3000)
    assert "nest" in refused("SELECT " + "abs(" * 250 + "1" + ")" * 250)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True))
@settings(max_examples=200, deadline=None)
def test_no_other_table_name_passes(name: str) -> None:
    query = f'SELECT * FROM "{name}"'
    if name in TABLES:
        assert ok(query).tables == {name}
    else:
        with pytest.raises(Refused):
            ok(query)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_text_is_checked_or_refused_never_crashes(text: str) -> None:
    try:
        checked = ok(text)
    except Invalid:
        return
    assert checked.tables <= TABLES


@pytest.mark.parametrize(("expression", "name"), [
    ("count(*)", "count"), ("ST_X(g)", "st_x"), ("x::int", "x"), ("1::int", "int4"),
    ("'a'::text", "text"), ("x + 1", "?column?"), ("CASE WHEN x THEN 1 END", "case"),
    ("coalesce(a, b)", "coalesce"), ("ST_MakePoint(1, 2)::geography", "st_makepoint"),
    ("x AS y", "y"), ('x AS "Y"', "Y"), ("Amigo_ID", "amigo_id"), ("t.Name", "name"),
    ("row_number() OVER ()", "row_number"), ("(SELECT max(a) FROM dataset_2)", "max"),
    ("EXISTS (SELECT 1)", "exists"), ("trim(x)", "btrim"),
])
def test_postgresql_column_names(expression: str, name: str) -> None:
    tree = ok(f"SELECT {expression} FROM dataset_1").tree
    assert column_name(tree.expressions[0]) == name


def test_values_with_a_column_list_becomes_a_cte() -> None:
    checked = ok("UPDATE dataset_1 AS d SET g = c.g FROM (VALUES ('a', ST_SetSRID("
                 "ST_MakePoint(1, 2), 4326))) AS c(amigo_id, g) WHERE c.amigo_id = d.amigo_id",
                 post=True)
    text, ctes = transpile.to_sqlite(checked.tree, checked, {"dataset_1": {"g": "point"}})
    assert text.startswith("WITH cloudlet_values_1(amigo_id, g) AS (VALUES (")
    # stored the way PostGIS stores into geometry(Point, 4326): SRID and type checked
    assert "FROM cloudlet_values_1 AS c" in text
    assert "SET g = CLOUDLET_STORE(c.g, 4326, 'point')" in text
    assert ctes == {"cloudlet_values_1"}


def test_casts_become_functions_on_sqlite() -> None:
    checked = ok("SELECT g::geography, 'POINT(1 2)'::geometry(Point, 4326), x::int, "
                 "x::text FROM dataset_1")
    text, _ = transpile.to_sqlite(checked.tree, checked, {})
    assert "CLOUDLET_GEOGRAPHY(g)" in text
    assert "CLOUDLET_GEOMETRY('POINT(1 2)', 4326, 'POINT')" in text
    assert "CLOUDLET_INTEGER(x)" in text and "CAST(x AS TEXT)" in text


@given(rows=st.integers(0, 30), own_limit=st.none() | st.integers(0, 30),
       own_offset=st.none() | st.integers(0, 30), limit=st.integers(1, 10),
       offset=st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_paging_folds_into_the_statements_own_limit(rows: int, own_limit: int | None,
                                                    own_offset: int | None, limit: int,
                                                    offset: int) -> None:
    query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) " \
            f"SELECT i FROM n WHERE i <= {rows} ORDER BY i"
    if own_limit is not None:
        query += f" LIMIT {own_limit}"
    if own_offset is not None:
        query += f" OFFSET {own_offset}"
    checked = ok(query)
    text, _ = transpile.to_sqlite(transpile.page(checked.tree, limit, offset), checked, {})
    whole = list(range(1, rows + 1))[own_offset or 0:]
    whole = whole[:own_limit] if own_limit is not None else whole
    with sqlite3.connect(":memory:") as conn:
        assert [r[0] for r in conn.execute(text)] == whole[offset:offset + limit]
        count, _ = transpile.to_sqlite(transpile.counting(checked.tree, 1000), checked, {})
        assert conn.execute(count).fetchone()[0] == len(whole)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_postgis_number_text_reads_back(number: float) -> None:
    text = fmt(number, 15)
    assert math.isclose(float(text), number, rel_tol=1e-14, abs_tol=1e-15)
    assert fmt(number, 9) == fmt(float(fmt(number, 9)), 9)


@given(st.floats(-180, 180), st.floats(-90, 90), st.sampled_from([0, 4326]))
def test_geometry_round_trips_through_every_accepted_form(x: float, y: float, srid: int
                                                          ) -> None:
    geo = Geo(Point(x, y), srid)
    blob = geo.encode()
    assert decode(blob) == decode(blob.hex()) == decode(blob.hex().upper())
    back = decode(blob)
    assert back is not None and back.srid == srid and back.shape.equals(geo.shape)
    wkt = decode(f"SRID={srid};{to_wkt(geo.shape, 17)}")
    assert wkt is not None and wkt.srid == srid
