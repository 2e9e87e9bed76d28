"""`GET/POST /api/v1/projects/{project}/sql` on the live server, through raw HTTP, the SDK and
the CLI, with statements over VALUES and recursive CTEs; tests/sql/test_datasets_live.py runs
SQL over real imported datasets, and test_escape.py and test_corpus.py test the walls below the
route."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from cloudlet import BadRequest, Client, RateLimited
from cloudlet.cli.main import app
from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

ROWS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) "


def _sql(user: TestUser, **params: object) -> httpx.Response:
    with user.client() as c:
        return c.get(f"/projects/{user.home_project['id']}/sql", params=params)


def test_answer_shape_names_and_types(user: TestUser) -> None:
    answer = _sql(user, query="WITH t(x, g) AS (VALUES (1, ST_MakePoint(1, 2)), (2, NULL)) "
                              "SELECT count(*), max(x)::text, ST_X(max(g)), "
                              "ST_AsText(ST_MakePoint(1, 2)), 1 < 2 AS yes, "
                              "ST_SetSRID(ST_MakePoint(-70.5, 40.25), 4326) AS where_ FROM t")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["columns"] == [
        {"name": "count", "type": "integer"}, {"name": "max", "type": "string"},
        {"name": "st_x", "type": "number"}, {"name": "st_astext", "type": "string"},
        {"name": "yes", "type": "boolean"}, {"name": "where_", "type": "geometry"}]
    assert body["data"] == [{"count": 2, "max": "2", "st_x": 1.0, "st_astext": "POINT(1 2)",
                             "yes": True, "where_": {"type": "Point",
                                                     "coordinates": [-70.5, 40.25]}}]
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    wkt = _sql(user, query="SELECT ST_MakePoint(1, 2) AS p", geometry="wkt").json()
    assert wkt["data"] == [{"p": "POINT(1 2)"}]


def test_pages_with_absolute_links_and_first_parameter_wins(user: TestUser) -> None:
    query = ROWS + "SELECT i FROM n ORDER BY i"
    first = _sql(user, query=query, limit=50).json()
    assert first["count"] == 120 and [r["i"] for r in first["data"]] == list(range(1, 51))
    assert first["next"].startswith(user.server.api) and first["previous"] is None
    assert parse_qs(urlsplit(first["next"]).query)["query"] == [query]
    # the AmigoCloud cursor re-sends its original parameters after the server's next link
    again = httpx.get(first["next"] + "&" + httpx.QueryParams(
        {"query": query, "limit": 50, "offset": 0}).__str__(),
        headers={"Authorization": f"Bearer {user.token}"})
    second = again.json()
    assert [r["i"] for r in second["data"]] == list(range(51, 101))
    assert second["count"] == 120 and second["previous"] is not None
    last = httpx.get(second["next"], headers={"Authorization": f"Bearer {user.token}"}).json()
    assert [r["i"] for r in last["data"]] == list(range(101, 121)) and last["next"] is None


def test_post_runs_reads_and_refuses_writes_without_tables(user: TestUser) -> None:
    with user.client() as c:
        url = f"/projects/{user.home_project['id']}/sql"
        read = c.post(url, json={"query": ROWS + "SELECT i FROM n", "limit": 10})
        assert read.status_code == 200 and read.json()["count"] == 120
        assert "query=" in read.json()["next"]
        write = c.post(url, json={"query": "DELETE FROM dataset_1"})
        assert write.status_code == 400
        assert "dataset_1" in write.json()["detail"]


@pytest.mark.parametrize("query", [
    "SELECT * FROM users", "SELECT pg_read_file('/etc/passwd')", "SELECT 1; SELECT 2",
    "SET ROLE postgres", "PRAGMA table_info(users)", "DROP TABLE users",
    "SELECT * FROM sqlite_master", "SELECT * FROM pg_catalog.pg_tables",
])
def test_refusals_are_problems(user: TestUser, query: str) -> None:
    for method in ("GET", "POST"):
        with user.client() as c:
            url = f"/projects/{user.home_project['id']}/sql"
            answer = c.get(url, params={"query": query}) if method == "GET" else \
                c.post(url, json={"query": query})
        assert answer.status_code == 400, (method, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_writes_through_get_are_refused(user: TestUser) -> None:
    answer = _sql(user, query="UPDATE dataset_1 SET a = 1")
    assert answer.status_code == 400 and "POST" in answer.json()["detail"]


def test_a_runaway_query_answers_429(launch: Launch) -> None:
    server = launch(CLOUDLET_SQL_TIMEOUT="0.5")
    user = make_user(server)
    answer = _sql(user, query="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                              "SELECT count(*) FROM n")
    assert answer.status_code == 429, answer.text
    assert "timeout" in answer.json()["detail"] and answer.headers["retry-after"]
    assert _sql(user, query="SELECT 1 AS ok").json()["data"] == [{"ok": 1}]


def test_sdk_cursor_columns_and_pandas(server: LiveServer, user: TestUser) -> None:
    project = user.home_project["id"]
    with Client(server.url, user.token) as client:
        cursor = client.sql(project, ROWS + "SELECT i, i * 2 AS twice FROM n ORDER BY i",
                            {"limit": 25})
        rows = list(cursor)
        assert [r["i"] for r in rows] == list(range(1, 121))
        assert cursor.get("columns") == [{"name": "i", "type": "integer"},
                                         {"name": "twice", "type": "integer"}]
        assert cursor.get("count") == 120
        frame = client.sql(project, ROWS + "SELECT i FROM n").to_pandas()
        assert list(frame.columns) == ["i"] and len(frame) == 120 and frame["i"].sum() == 7260
        with pytest.raises(BadRequest) as refused:
            list(client.sql(project, "SELECT * FROM users"))
        assert "users" in refused.value.detail
        with pytest.raises(BadRequest):
            client.sql(project, "DELETE FROM dataset_9")  # POSTed, and refused at once


def test_sdk_maps_the_time_limit_to_rate_limited(launch: Launch) -> None:
    server = launch(CLOUDLET_SQL_TIMEOUT="0.3")
    user = make_user(server)
    with Client(server.url, user.token, retries=0) as client, pytest.raises(RateLimited):
        list(client.sql(user.home_project["id"], "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                                                 "SELECT i + 1 FROM n) SELECT count(*) FROM n"))


def test_cli_formats(server: LiveServer, user: TestUser) -> None:
    env = {"CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token, "COLUMNS": "200"}
    runner = CliRunner()
    project = str(user.home_project["id"])
    query = ("WITH t(name, g) AS (VALUES ('a', ST_MakePoint(1, 2)), ('b', NULL)) "
             "SELECT name, g FROM t ORDER BY name")
    table = runner.invoke(app, ["sql", project, query], env=env)
    assert table.exit_code == 0, table.output
    assert "POINT(1 2)" in table.stdout and "name" in table.stdout
    as_csv = runner.invoke(app, ["sql", project, query, "--format", "csv"], env=env)
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["name", "g"], ["a", "POINT(1 2)"],
                                                             ["b", ""]]
    as_json = runner.invoke(app, ["sql", project, query, "--format", "json"], env=env)
    assert json.loads(as_json.stdout) == [
        {"name": "a", "g": {"type": "Point", "coordinates": [1, 2]}}, {"name": "b", "g": None}]
    cut = runner.invoke(app, ["sql", project, ROWS + "SELECT i FROM n", "--limit", "5",
                              "--format", "json"], env=env)
    assert len(json.loads(cut.stdout)) == 5 and "Showing 5 of 120" in cut.stderr
    refused = runner.invoke(app, ["sql", project, "SELECT * FROM users"], env=env)
    assert refused.exit_code == 1 and "users" in refused.stderr


def test_deleting_a_project_drops_its_sql_role(server: LiveServer, user: TestUser,
                                               backend: str) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": "short-lived"}).json()
        assert c.get(f"/projects/{project['id']}/sql",
                     params={"query": "SELECT 1 AS one"}).status_code == 200
    if backend != "postgres":
        with user.client() as c:
            assert c.delete(f"/projects/{project['id']}").status_code == 204
        return  # SQLite has no roles; the datasets domain removes the project's file
    url = server.env["CLOUDLET_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                           ).fetchone()[0]  # type: ignore[index]
        role = f"cloudlet_{oid}_p{project['id']}"
        found = conn.execute("SELECT rolinherit, rolsuper, rolcreaterole, rolcreatedb "
                             "FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        assert found == (False, False, False, False)
        members = conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON "
                               "r.oid = m.member WHERE r.rolname = %s", (role,)).fetchone()
        assert members == (0,)
    with user.client() as c:
        assert c.delete(f"/projects/{project['id']}").status_code == 204
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                            ).fetchone() is None
