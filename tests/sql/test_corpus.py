"""One corpus of PostgreSQL/PostGIS statements, run on SQLite (transpiled, shapely functions) and
on PostgreSQL + PostGIS; the answers must agree: names, types and values (floats to 1e-9
relative, or the stated tolerance for the documented geography approximations)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.sql.conftest import SqlWorld

SF = "ST_SetSRID(ST_MakePoint(-122.4194, 37.7749), 4326)"
NY = "ST_SetSRID(ST_MakePoint(-73.9857, 40.7484), 4326)"
SQUARE = "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326)"
CORPUS: list[tuple[str, float]] = [  # (statement, relative tolerance)
    # the AmigoCloud client's own statements
    ("SELECT address, amigo_id FROM dataset_12 ORDER BY amigo_id", 0),
    ("SELECT count(*) FROM dataset_11 WHERE g IS NOT NULL", 0),
    ("select * from dataset_11 order by amigo_id", 0),
    # ordinary SQL
    ("SELECT name, value FROM dataset_11 WHERE value > 1 ORDER BY value DESC", 0),
    ("SELECT name, visited, NOT visited AS unvisited FROM dataset_11 WHERE visited "
     "ORDER BY name", 0),
    ("SELECT count(*), count(value), sum(value), avg(value), min(value), max(value) "
     "FROM dataset_11", 1e-12),
    ("SELECT value IS NULL AS missing, count(*) AS n FROM dataset_11 GROUP BY value IS NULL "
     "ORDER BY 1", 0),
    ("SELECT name FROM dataset_11 ORDER BY value NULLS FIRST, name", 0),
    ("SELECT name FROM dataset_11 ORDER BY value DESC, name", 0),
    ("SELECT lower(name), upper(name), length(name), substring(name, 1, 3), "
     "replace(name, ' ', '_'), trim('  x  '), coalesce(value, -1), nullif(value, 1.5) "
     "FROM dataset_11 ORDER BY amigo_id", 0),
    ("SELECT name || '!' AS shout, name ILIKE '%york%' AS ny, name LIKE 'P%' AS p "
     "FROM dataset_11 ORDER BY amigo_id", 0),
    ("SELECT abs(-2.5), round(2.567, 2), ceil(1.2), floor(1.8), sqrt(16.0), power(2, 10), "
     "7 / 2, 7 % 3, 7.0 / 2", 1e-12),
    ("SELECT CASE WHEN value > 2 THEN 'big' WHEN value IS NULL THEN 'none' ELSE 'small' END "
     "AS size, name FROM dataset_11 ORDER BY amigo_id", 0),
    ("SELECT value::int, '42'::int, 3::text, 2.5::numeric * 2 AS doubled, 1::int "
     "FROM dataset_11 WHERE value IS NOT NULL ORDER BY amigo_id", 1e-12),
    ("SELECT name, row_number() OVER (ORDER BY value DESC NULLS LAST) AS rank_by_value, "
     "sum(value) OVER (ORDER BY amigo_id) AS running FROM dataset_11 ORDER BY amigo_id", 1e-12),
    ("SELECT name, lag(name) OVER (ORDER BY amigo_id), dense_rank() OVER (ORDER BY value) "
     "FROM dataset_11 ORDER BY amigo_id", 0),
    ("WITH big AS (SELECT * FROM dataset_11 WHERE value >= 2) SELECT count(*) FROM big", 0),
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
     "SELECT sum(i), max(i) FROM n", 0),
    ("SELECT a.name, b.address FROM dataset_11 a JOIN dataset_12 b ON b.amigo_id = "
     "'a' || substring(a.amigo_id, 2, 1) ORDER BY a.name", 0),
    ("SELECT a.amigo_id FROM dataset_11 a LEFT JOIN dataset_12 b ON a.amigo_id = b.amigo_id "
     "WHERE b.amigo_id IS NULL ORDER BY 1", 0),
    ("SELECT amigo_id FROM dataset_11 UNION SELECT amigo_id FROM dataset_12 ORDER BY 1", 0),
    ("SELECT name FROM dataset_11 WHERE amigo_id IN (SELECT 'p' || 1) OR value BETWEEN 3 AND 4 "
     "ORDER BY 1", 0),
    ("SELECT EXISTS (SELECT 1 FROM dataset_12 WHERE address IS NULL), "
     "(SELECT max(value) FROM dataset_11)", 0),
    ("SELECT c.a, c.b FROM (VALUES (1, 'one'), (2, 'two')) AS c(a, b) ORDER BY c.a", 0),
    ("SELECT greatest(1, 5, 3), least(4, 2, 8), true AS yes, 1 < 2, NULL IS NULL", 0),
    ("SELECT string_agg(name, ', ') FROM (SELECT name FROM dataset_11 WHERE value > 0 "
     "ORDER BY name) AS t", 0),
    ("SELECT bool_and(value > 0), bool_or(value > 3) FROM dataset_11", 0),
    # spatial: constructors, accessors, text
    ("SELECT ST_AsText(g), ST_X(g), ST_Y(g), ST_SRID(g) FROM dataset_11 ORDER BY amigo_id", 0),
    ("SELECT ST_AsGeoJSON(g), ST_AsEWKT(g) FROM dataset_11 ORDER BY amigo_id", 0),
    ("SELECT ST_MakePoint(1, 2), ST_SetSRID(ST_MakePoint(1.5, -2.25), 4326) AS p", 0),
    ("SELECT ST_AsText(ST_MakePoint(1.0 / 3, 2)), ST_AsText(ST_MakePoint(1, 2, 3)), "
     "ST_AsText(ST_GeomFromText('MULTIPOINT(1 2, 3 4)')), "
     "ST_AsText(ST_GeomFromText('POINT EMPTY'))", 0),
    ("SELECT ST_AsText(ST_GeomFromGeoJSON('{\"type\":\"LineString\",\"coordinates\":"
     "[[0,0],[1,1]]}')), ST_SRID(ST_GeomFromGeoJSON('{\"type\":\"Point\","
     "\"coordinates\":[1,2]}'))", 0),
    ("SELECT ST_GeometryType(g), ST_AsText('SRID=4326;POINT(3 4)'::geometry) FROM dataset_11 "
     "WHERE amigo_id = 'p0'", 0),
    ("SELECT 'POINT(1 2)'::geometry, ST_AsText(ST_MakePoint(10, 20)::geometry)", 0),
    # spatial: measures (degrees on geometry, meters on geography)
    (f"SELECT ST_Distance({SF}, {NY})", 1e-12),
    (f"SELECT ST_Distance({SF}::geography, {NY}::geography)", 1e-9),
    (f"SELECT ST_Distance({SF}::geography, {NY}::geography, false)", 1e-9),
    (f"SELECT ST_DistanceSphere({SF}, {NY})", 1e-9),
    ("SELECT ST_Distance('SRID=4326;POINT(0 0)'::geography, "
     "'SRID=4326;LINESTRING(1 -1, 1 1)'::geography)", 1e-9),
    (f"SELECT ST_DWithin({SF}::geography, {NY}::geography, 4200000), "
     f"ST_DWithin({SF}::geography, {NY}::geography, 4100000), ST_DWithin({SF}, {NY}, 50)", 0),
    ("SELECT name, round(ST_Distance(g::geography, "
     "ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326)::geography)) AS meters FROM dataset_11 "
     "WHERE g IS NOT NULL ORDER BY meters", 0),
    (f"SELECT ST_Area({SQUARE}), ST_Area({SQUARE}::geography), ST_Length({SQUARE})", 1e-9),
    ("SELECT ST_Length(ST_GeomFromText('LINESTRING(0 0, 3 4)')), "
     "ST_Length('SRID=4326;LINESTRING(0 0, 1 1)'::geography)", 1e-9),
    # spatial: predicates and processing
    (f"SELECT ST_Intersects({SQUARE}, ST_SetSRID(ST_MakePoint(0.5, 0.5), 4326)), "
     f"ST_Within(ST_SetSRID(ST_MakePoint(2, 2), 4326), {SQUARE}), "
     f"ST_Contains({SQUARE}, ST_SetSRID(ST_MakePoint(0.2, 0.3), 4326))", 0),
    ("SELECT name FROM dataset_11 WHERE ST_Intersects(g, ST_GeomFromText("
     "'POLYGON((-130 30, -60 30, -60 50, -130 50, -130 30))', 4326)) ORDER BY name", 0),
    ("SELECT ST_Area(ST_Buffer(ST_MakePoint(0, 0), 1)), "
     "ST_Area(ST_Buffer(ST_MakePoint(0, 0), 1, 2))", 1e-12),
    ("SELECT ST_AsText(ST_Envelope(ST_GeomFromText('LINESTRING(0 0, 1 2)'))), "
     "ST_AsText(ST_Envelope(ST_GeomFromText('LINESTRING(0 0, 0 2)'))), "
     "ST_AsText(ST_Envelope(ST_MakePoint(1, 2))), "
     "ST_AsText(ST_Centroid(ST_GeomFromText('POLYGON((0 0, 3 0, 3 1, 0 0))')))", 0),
    ("SELECT ST_Area(ST_Buffer('SRID=4326;POINT(10 50)'::geography, 1000))", 2e-3),
    ("SELECT ST_AsGeoJSON(ST_Centroid(ST_Envelope(ST_Buffer(g, 0.5)))) FROM dataset_11 "
     "WHERE amigo_id = 'p2'", 0),
]


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tolerance) for x, y in zip(a, b,
                                                                              strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=tolerance or 1e-15, abs_tol=1e-9)
    return bool(a == b)


@pytest.mark.parametrize(("query", "tolerance"), CORPUS, ids=[q[:60] for q, _ in CORPUS])
def test_both_backends_agree(worlds: dict[str, SqlWorld], query: str, tolerance: float) -> None:
    answers = {b: w.run(query) for b, w in worlds.items()}
    sqlite = answers["sqlite"]
    assert sqlite.data, "every corpus statement answers rows"
    if "postgres" not in answers:
        pytest.skip("PostgreSQL not configured: SQLite ran the corpus alone")
    postgres = answers["postgres"]
    assert sqlite.columns == postgres.columns
    assert sqlite.count == postgres.count
    assert _close(sqlite.data, postgres.data, tolerance), (sqlite.data, postgres.data)


def test_writes_agree_and_keep_the_spatial_index(worlds: dict[str, SqlWorld]) -> None:
    """The AmigoCloud geocoder's UPDATE … FROM (VALUES …) AS c(…), then a spatial read."""
    update = ("UPDATE dataset_12 AS d SET g = c.g FROM (VALUES "
              "('a1', ST_SetSRID(ST_MakePoint(-77.0365, 38.8977), 4326)), "
              "('a2', ST_SetSRID(ST_MakePoint(2.2945, 48.8584), 4326))) AS c(amigo_id, g) "
              "WHERE c.amigo_id = d.amigo_id")
    check = ("SELECT amigo_id, ST_AsText(g), ST_X(g) FROM dataset_12 WHERE g IS NOT NULL "
             "ORDER BY amigo_id")
    answers = {}
    for backend, world in worlds.items():
        assert world.run(update, post=True).count == 2
        answers[backend] = world.run(check).data
        assert world.run("SELECT count(*) FROM dataset_12 WHERE g IS NOT NULL").data == [
            {"count": 2}]
        if backend == "sqlite":  # the datasets domain's R*Tree followed the update
            assert world.admin("SELECT count(*) FROM _rtree_dataset_12") == [(2,)]
        world.run("UPDATE dataset_12 SET g = NULL", post=True)
        if backend == "sqlite":
            assert world.admin("SELECT count(*) FROM _rtree_dataset_12") == [(0,)]
    assert answers["sqlite"][0] == {"amigo_id": "a1", "st_astext": "POINT(-77.0365 38.8977)",
                                    "st_x": -77.0365}
    if "postgres" in answers:
        assert answers["sqlite"] == answers["postgres"]


def test_geometry_as_wkt_on_request(worlds: dict[str, SqlWorld]) -> None:
    for world in worlds.values():
        answer = world.run("SELECT g FROM dataset_11 WHERE amigo_id = 'p2'", geometry="wkt")
        assert answer.data == [{"g": "POINT(2.3522 48.8566)"}]
        assert answer.columns == [{"name": "g", "type": "geometry"}]


POSTGIS_ANSWERS = [  # measured on this machine's PostGIS 3.3, for runs without PostgreSQL
    (f"SELECT ST_Distance({SF}::geography, {NY}::geography)", 4128677.4547413),
    ("SELECT ST_Distance(ST_SetSRID(ST_MakePoint(-122.4,37.77),4326)::geography, "
     "ST_SetSRID(ST_MakePoint(-73.98,40.75),4326)::geography)", 4139043.38199025),
    ("SELECT ST_DistanceSphere(ST_SetSRID(ST_MakePoint(-122.4,37.77),4326), "
     "ST_SetSRID(ST_MakePoint(-73.98,40.75),4326))", 4128989.19309297),
    ("SELECT ST_Area('SRID=4326;POLYGON((0 0,1 0,1 1,0 1,0 0))'::geography)",
     12308778361.469454),
    ("SELECT ST_Length('SRID=4326;LINESTRING(0 0,1 1)'::geography)", 156899.56829134029),
    ("SELECT ST_Area(ST_Buffer(ST_MakePoint(0,0), 1))", 3.121445152258052),
]


@pytest.mark.parametrize(("query", "expected"), POSTGIS_ANSWERS[1:])
def test_sqlite_matches_recorded_postgis(worlds: dict[str, SqlWorld], query: str,
                                         expected: float) -> None:
    (value,) = worlds["sqlite"].run(query).data[0].values()
    assert math.isclose(value, expected, rel_tol=1e-9)
