"""Where dataset tables live, and that they go when their dataset or project does: the
project's own SQLite file, or its PostgreSQL schema with PostGIS geometry."""

from __future__ import annotations

import psycopg

from tests.datasets.helpers import imported
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

CSV = b"name,lat,lon\na,1,2\n"


def _pg(server: LiveServer) -> str | None:
    return server.env.get("CLOUDLET_DATABASE_URL")


def _tables(server: LiveServer, project: int) -> list[str]:
    url = _pg(server)
    if url is None:
        import sqlite3

        path = server.data_dir / "datasets" / f"project_{project}.sqlite"
        if not path.exists():
            return []
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'dataset_%'"))
    with psycopg.connect(url) as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (f"project_{project}",)))


def test_tables_live_per_project_and_go_with_it(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": "survey"}).json()
        p = project["id"]
        first = imported(c, p, CSV, "a.csv")
        second = imported(c, p, CSV, "b.csv")
        assert _tables(server, p) == sorted([first["table_name"], second["table_name"]])
        url = _pg(server)
        if url is not None:
            with psycopg.connect(url) as conn:
                kind = conn.execute(
                    "SELECT postgis.postgis_typmod_type(atttypmod), "
                    "postgis.postgis_typmod_srid(atttypmod) FROM pg_attribute WHERE attrelid = "
                    "%s::regclass AND attname = 'location'",
                    (f"project_{p}.{first['table_name']}",)).fetchone()
                assert kind == ("Point", 4326)
                schema = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace "
                                      "n ON n.oid = e.extnamespace WHERE extname = 'postgis'"
                                      ).fetchone()
                assert schema == ("postgis",)
        assert c.delete(f"/projects/{p}/datasets/{first['id']}").status_code == 204
        assert _tables(server, p) == [second["table_name"]]
        assert c.get(f"/projects/{p}/datasets/{first['id']}").status_code == 404
        assert c.delete(f"/projects/{p}").status_code == 204
        assert _tables(server, p) == []
        if url is None:
            assert not (server.data_dir / "datasets" / f"project_{p}.sqlite").exists()
        else:
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                    (f"project_{p}",)).fetchone() == (0,)
