"""SQL over real datasets on the live server: tables made by imports and the native API, the
AmigoCloud geocoder's UPDATE read back through the datasets endpoints, the catalogue kept
current with a `dataset.changed` event, paging past 1000 rows, joins, grants that follow new
datasets, the corpus compared across both backends, and the escape corpus against two
projects' real tables."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from tests.conftest import Launch, _launcher
from tests.datasets.helpers import export, imported, rows
from tests.sql.conftest import ADDRESSES, PLACES
from tests.sql.test_corpus import CORPUS, _close
from tests.sql.test_escape import ATTEMPTS, THROUGH_GET, WRITES
from tests.support import pg
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer
from tests.support.ws import Socket

ADDRESS_CSV = (b"address,geom\n"
               b"1 Main St,POINT (-71.06 42.36)\n"
               b"White House,\n"
               b"Eiffel Tower,\n"
               b"Nowhere,\n")
GEOCODED = {"White House": (-77.0365, 38.8977), "Eiffel Tower": (2.2945, 48.8584)}


def _sql(c: httpx.Client, project: int, query: str, **params: Any) -> httpx.Response:
    return c.get(f"/projects/{project}/sql", params={"query": query, **params})


def _write(c: httpx.Client, project: int, query: str) -> httpx.Response:
    return c.post(f"/projects/{project}/sql", json={"query": query})


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_geocoder_update_reads_back_through_datasets(server: LiveServer, user: TestUser
                                                     ) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = imported(c, p, ADDRESS_CSV, "addresses.csv")
    table, base = ds["table_name"], f"/projects/{p}/datasets/{ds['id']}"
    assert ds["geometry_column"] == "geom" and ds["feature_count"] == 4
    with user.client() as c:
        ids = {r["address"]: r["amigo_id"] for r in rows(c, p, ds["id"])}
        # what the import stored, SQL reads as PostGIS geometry with its SRID
        first = _ok(_sql(c, p, f"SELECT ST_AsText(geom), ST_X(geom), ST_SRID(geom) "
                               f"FROM {table} WHERE geom IS NOT NULL"))
        assert first["data"] == [{"st_astext": "POINT(-71.06 42.36)", "st_x": -71.06,
                                  "st_srid": 4326}]

    values = ", ".join(f"('{ids[a]}', ST_SetSRID(ST_MakePoint({x}, {y}), 4326))"
                       for a, (x, y) in GEOCODED.items())
    update = (f"UPDATE {table} as d SET geom = c.geom FROM (values {values}) "
              f"as c(amigo_id, geom) WHERE c.amigo_id = d.amigo_id")

    async def geocode() -> tuple[httpx.Response, list[dict[str, Any]]]:
        sock = await Socket.open(server, user.token)
        try:
            assert (await sock.subscribe(f"dataset:{ds['id']}"))["op"] == "subscribed"
            with user.client() as c:
                answer = await asyncio.to_thread(_write, c, p, update)
            return answer, await sock.events(1)
        finally:
            await sock.close()

    answer, events = asyncio.run(geocode())
    assert _ok(answer)["count"] == 2
    assert events[0]["event"] == "dataset.changed"
    assert events[0]["data"]["change"] == "rows" and events[0]["data"]["feature_count"] == 4

    with user.client() as c:
        assert _ok(_sql(c, p, f"SELECT count(*) FROM {table} WHERE geom IS NOT NULL")
                   )["data"] == [{"count": 3}]
        assert _ok(_sql(c, p, f"SELECT ST_SRID(geom) AS srid, count(*) FROM {table} "
                              f"WHERE geom IS NOT NULL GROUP BY 1"))["data"] == [
            {"srid": 4326, "count": 3}]
        # the rows endpoint, the GeoJSON export and the catalogue's bbox all see the update
        by_address = {r["address"]: r["geom"] for r in rows(c, p, ds["id"])}
        for address, (x, y) in GEOCODED.items():
            assert by_address[address] == {"type": "Point", "coordinates": [x, y]}
        assert by_address["Nowhere"] is None
        features = json.loads(export(c, p, ds["id"], "geojson"))["features"]
        assert {f["properties"]["address"]: f["geometry"] for f in features}[
            "Eiffel Tower"] == {"type": "Point", "coordinates": [2.2945, 48.8584]}
        meta = c.get(base).json()
        assert meta["feature_count"] == 4
        assert meta["bbox"] == pytest.approx([-77.0365, 38.8977, 2.2945, 48.8584])
        assert [r["address"] for r in rows(c, p, ds["id"], bbox="2,48,3,49")] == [
            "Eiffel Tower"]  # the spatial index followed the SQL write

        # PostGIS's column rules hold on both backends, and a refused write changes nothing
        for bad, words in ((f"UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(1, 2), "
                            f"3857)", "SRID"),
                           (f"UPDATE {table} SET geom = ST_GeomFromText("
                            f"'LINESTRING(0 0, 1 1)', 4326)", "type"),
                           (f"UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(1, 2, 3), "
                            f"4326)", "Z dimension"),
                           (f"UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(1, 2), "
                            f"4326)::geography", "geography")):
            refused = _write(c, p, bad)
            assert refused.status_code == 400 and words in refused.json()["detail"], refused.text
        assert _ok(_sql(c, p, f"SELECT count(*) FROM {table} WHERE geom IS NOT NULL")
                   )["data"] == [{"count": 3}]

        # as in PostGIS, a geometry without an SRID takes the column's
        assert _ok(_write(c, p, f"UPDATE {table} SET geom = ST_MakePoint(10, 50) "
                                f"WHERE address = 'Nowhere'"))["count"] == 1
        assert _ok(_sql(c, p, f"SELECT ST_SRID(geom) FROM {table} WHERE address = 'Nowhere'")
                   )["data"] == [{"st_srid": 4326}]
        assert c.get(base).json()["bbox"] == pytest.approx([-77.0365, 38.8977, 10, 50])

        # deleting through SQL: the count and the box follow
        assert _ok(_write(c, p, f"DELETE FROM {table} WHERE address = 'Nowhere'"))["count"] == 1
        meta = c.get(base).json()
        assert meta["feature_count"] == 3
        assert meta["bbox"] == pytest.approx([-77.0365, 38.8977, 2.2945, 48.8584])


def test_paging_past_a_thousand_rows(user: TestUser) -> None:
    p = user.home_project["id"]
    csv = "n,lat,lon\n" + "".join(f"{i},{i / 100:.2f},{-i / 100:.2f}\n" for i in range(1500))
    with user.client() as c:
        ds = imported(c, p, csv.encode(), "many.csv")
        assert ds["feature_count"] == 1500
        query = f"SELECT n, location FROM {ds['table_name']} ORDER BY n"
        first = _ok(_sql(c, p, query, limit=1000))
    assert first["count"] == 1500 and len(first["data"]) == 1000
    assert first["data"][999] == {"n": 999, "location": {"type": "Point",
                                                         "coordinates": [-9.99, 9.99]}}
    assert first["next"].startswith("http://") and first["previous"] is None
    assert parse_qs(urlsplit(first["next"]).query)["offset"] == ["1000"]
    auth = {"Authorization": f"Bearer {user.token}"}
    # the AmigoCloud cursor appends its original parameters: the first occurrence wins
    resent = httpx.QueryParams({"query": query, "limit": 1000, "offset": 0})
    second = httpx.get(f"{first['next']}&{resent}", headers=auth).json()
    assert [r["n"] for r in second["data"]] == list(range(1000, 1500))
    assert second["count"] == 1500 and second["next"] is None
    assert second["previous"].startswith("http://")
    with user.client() as c:
        assert _ok(_sql(c, p, f"SELECT count(*) FROM {ds['table_name']} "
                              f"WHERE location IS NOT NULL"))["data"] == [{"count": 1500}]


def test_joins_and_distances_in_meters(user: TestUser) -> None:
    p = user.home_project["id"]
    cities = (b"name,lat,lon\nWhite House,38.8977,-77.0365\nLincoln Memorial,38.8893,-77.0502\n"
              b"Eiffel Tower,48.8584,2.2945\n")
    with user.client() as c:
        places = imported(c, p, cities, "landmarks.csv")
        visits = imported(c, p, b"who,place\nann,White House\nbob,Eiffel Tower\n"
                                b"cat,White House\n", "visits.csv")
        joined = _ok(_sql(c, p, f"SELECT v.who, l.name, ST_Y(l.location) AS lat "
                                f"FROM {visits['table_name']} v JOIN {places['table_name']} l "
                                f"ON l.name = v.place ORDER BY v.who"))
        assert joined["data"] == [{"who": "ann", "name": "White House", "lat": 38.8977},
                                  {"who": "bob", "name": "Eiffel Tower", "lat": 48.8584},
                                  {"who": "cat", "name": "White House", "lat": 38.8977}]
        near = _ok(_sql(c, p, f"SELECT b.name, round(ST_Distance(a.location::geography, "
                              f"b.location::geography)) AS meters "
                              f"FROM {places['table_name']} a, {places['table_name']} b "
                              f"WHERE a.name = 'White House' AND a.name <> b.name AND "
                              f"ST_DWithin(a.location::geography, b.location::geography, "
                              f"2000)"))
        # the WGS84 geodesic, as PostGIS geography measures it (geographiclib: 1510.71 m)
        assert near["data"] == [{"name": "Lincoln Memorial", "meters": 1511.0}]
        counted = _ok(_sql(c, p, f"SELECT l.name, count(v.who) AS visits "
                                 f"FROM {places['table_name']} l LEFT JOIN "
                                 f"{visits['table_name']} v ON v.place = l.name "
                                 f"GROUP BY l.name ORDER BY visits DESC, l.name"))
        assert counted["data"] == [{"name": "White House", "visits": 2},
                                   {"name": "Eiffel Tower", "visits": 1},
                                   {"name": "Lincoln Memorial", "visits": 0}]


def test_grants_follow_datasets_made_later(user: TestUser) -> None:
    """The project's SQL role exists after the first query; datasets imported or created
    afterwards are reachable, deleted ones are gone."""
    p = user.home_project["id"]
    with user.client() as c:
        assert _ok(_sql(c, p, "SELECT 1 AS one"))["data"] == [{"one": 1}]
        early = imported(c, p, b"a\n1\n", "early.csv")
        assert _ok(_sql(c, p, f"SELECT a FROM {early['table_name']}"))["data"] == [{"a": 1}]
        later = c.post(f"/projects/{p}/datasets", json={"name": "later", "columns": [
            {"name": "b", "type": "text"}]}).json()
        assert _ok(_write(c, p, f"INSERT INTO {later['table_name']} (amigo_id, b) "
                                f"VALUES ('x1', 'hello')"))["count"] == 1
        assert c.get(f"/projects/{p}/datasets/{later['id']}").json()["feature_count"] == 1
        assert [r["b"] for r in rows(c, p, later["id"])] == ["hello"]
        assert c.delete(f"/projects/{p}/datasets/{early['id']}").status_code == 204
        gone = _sql(c, p, f"SELECT a FROM {early['table_name']}")
        assert gone.status_code == 400 and early["table_name"] in gone.json()["detail"]


# --- the corpus, both backends, real tables ------------------------------------------------

def _seed(c: httpx.Client, p: int) -> dict[str, str]:
    """Datasets 'places' and 'addresses' made through the native API, filled through SQL
    with the rows the corpus expects; returns corpus name → real table name."""
    places = c.post(f"/projects/{p}/datasets", json={"name": "places", "columns": [
        {"name": "name", "type": "text"}, {"name": "value", "type": "real"},
        {"name": "visited", "type": "boolean"},
        {"name": "g", "type": "geometry", "geometry_type": "point"}]}).json()
    addresses = c.post(f"/projects/{p}/datasets", json={"name": "addresses", "columns": [
        {"name": "address", "type": "text"},
        {"name": "g", "type": "geometry", "geometry_type": "point"}]}).json()

    def literal(v: Any) -> str:
        return "NULL" if v is None else f"'{v}'" if isinstance(v, str) else repr(v)

    values = ", ".join(
        f"('p{i}', {literal(n)}, {literal(v)}, {'true' if i % 2 else 'false'}, "
        + ("NULL" if x is None else f"ST_SetSRID(ST_MakePoint({x}, {y}), 4326)") + ")"
        for i, (n, x, y, v) in enumerate(PLACES))
    _ok(_write(c, p, f"INSERT INTO {places['table_name']} (amigo_id, name, value, visited, g) "
                     f"VALUES {values}"))
    _ok(_write(c, p, f"INSERT INTO {addresses['table_name']} (amigo_id, address) VALUES "
                     + ", ".join(f"('{a}', {literal(t)})" for a, t in ADDRESSES)))
    return {"dataset_11": places["table_name"], "dataset_12": addresses["table_name"]}


def _named(query: str, names: dict[str, str]) -> str:
    return re.sub(r"dataset_\d+(?!\d)", lambda m: names.get(m.group(0), m.group(0)), query)


@pytest.fixture(scope="module")
def both_servers(pg_databases: pg.PgDatabases | None) -> Iterator[dict[str, LiveServer]]:
    if pg_databases is None:
        pytest.skip("PostgreSQL not configured: nothing to compare SQLite with")
    started: list[LiveServer] = []
    yield {b: _launcher(b, pg_databases, started)() for b in ("sqlite", "postgres")}
    for s in started:
        s.stop()


def test_the_corpus_agrees_across_backends_on_real_tables(
        both_servers: dict[str, LiveServer], backend: str) -> None:
    if backend != "postgres":
        pytest.skip("run once, in the PostgreSQL session, against both servers")
    answers: dict[str, list[dict[str, Any]]] = {}
    for name, server in both_servers.items():
        user = make_user(server)
        p = user.home_project["id"]
        got = []
        with user.client() as c:
            names = _seed(c, p)
            for query, _ in CORPUS:
                got.append(_ok(_sql(c, p, _named(query, names))))
        answers[name] = got
    for (query, tolerance), lite, post in zip(CORPUS, answers["sqlite"], answers["postgres"],
                                              strict=True):
        assert lite["columns"] == post["columns"], query
        assert lite["count"] == post["count"], query
        assert _close(lite["data"], post["data"], tolerance), (query, lite, post)


# --- the escape corpus against two projects' real tables -----------------------------------

def _checksum(server: LiveServer, backend: str) -> str:
    """Every row of every table: Cloudlet's own and every project's datasets."""
    digest = hashlib.sha256()
    if backend == "sqlite":
        files = sorted(server.data_dir.glob("*.db")) + sorted(
            (server.data_dir / "datasets").glob("*.sqlite"))
        for path in files:
            with sqlite3.connect(path) as conn:
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table' ORDER BY name").fetchall():
                    data = conn.execute(f'SELECT * FROM "{name}"').fetchall()
                    digest.update(f"{path.name}:{name}{sorted(map(repr, data))}".encode())
        assert files, "the metadata database and the dataset files were found"
        return digest.hexdigest()
    with psycopg.connect(server.env["CLOUDLET_DATABASE_URL"]) as conn:
        tables = conn.execute("SELECT schemaname, tablename FROM pg_tables WHERE schemaname "
                              "= 'public' OR schemaname LIKE 'project_%' ORDER BY 1, 2").fetchall()
        for schema, name in tables:
            data = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()  # type: ignore[arg-type]
            digest.update(f"{schema}.{name}{sorted(map(repr, data))}".encode())
    return digest.hexdigest()


def test_escape_corpus_on_two_projects_real_tables(launch: Launch, backend: str) -> None:
    server = launch(CLOUDLET_SQL_TIMEOUT="1")
    tenant, other = make_user(server), make_user(server)
    p, q = tenant.home_project["id"], other.home_project["id"]
    with tenant.client() as c:
        names = _seed(c, p)
    with other.client() as c:
        secret = c.post(f"/projects/{q}/datasets", json={"name": "secrets", "columns": [
            {"name": "secret", "type": "text"}]}).json()
        _ok(_write(c, q, f"INSERT INTO {secret['table_name']} (amigo_id, secret) "
                         f"VALUES ('s1', 'the other tenant''s secret')"))
    names["dataset_21"] = secret["table_name"]
    before = _checksum(server, backend)
    attempts = [(what, query, post) for what, query in ATTEMPTS for post in (False, True)]
    attempts += [(what, query, not what.endswith("through GET"))
                 for what, query in WRITES + THROUGH_GET]
    with tenant.client() as c:
        for what, query, post in attempts:
            query = _named(query, names).replace("ds_p2", f"project_{q}")
            if not post and len(query) > 30_000:
                continue  # too long for a URL; POST refuses it below the same wall
            answer = _write(c, p, query) if post else _sql(c, p, query)
            assert answer.status_code in (400, 403, 429), (what, post, answer.text)
            assert answer.json()["detail"], what
        assert _checksum(server, backend) == before
        # the walls are not just closed doors: the tenant still reads its own rows
        assert _ok(_sql(c, p, f"SELECT count(*) FROM {names['dataset_11']}"))["data"] == [
            {"count": len(PLACES)}]


def test_deleting_a_project_drops_its_tables_schema_and_role(server: LiveServer,
                                                             user: TestUser,
                                                             backend: str) -> None:
    def left(p: int) -> list[Any]:
        """What the project keeps outside its rows: its file, or its schema and role."""
        if backend == "sqlite":
            return list((server.data_dir / "datasets").glob(f"project_{p}.sqlite"))
        with psycopg.connect(server.env["CLOUDLET_DATABASE_URL"]) as conn:
            return [*conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = %s",
                                  (f"project_{p}",)).fetchall(),
                    *conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                  (f"cloudlet\\_%\\_p{p}",)).fetchall()]

    with user.client() as c:
        project = c.post("/projects", json={"name": "with-sql"}).json()
        p = project["id"]
        ds = imported(c, p, b"a\n1\n", "one.csv")
        assert _ok(_sql(c, p, f"SELECT a FROM {ds['table_name']}"))["data"] == [{"a": 1}]
        assert len(left(p)) == (1 if backend == "sqlite" else 2)
        assert c.delete(f"/projects/{p}").status_code == 204
    assert left(p) == []
