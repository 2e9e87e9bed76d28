"""Fresh PostgreSQL databases for test servers, each cloned from one migrated template."""

from __future__ import annotations

import os
import uuid

import psycopg

from cloudlet.server.core import migrate
from cloudlet.server.core.db import Database

ENV = "CLOUDLET_TEST_POSTGRES_URL"


def admin_url() -> str | None:
    return os.environ.get(ENV) or None


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


class PgDatabases:
    """Creates a migrated template once, then hands out clones; drops all at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"cloudlet_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tmpl"
        self.created: list[str] = []
        self._execute(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        with psycopg.connect(_with_db(url, self.template), autocommit=True) as conn:
            # PostGIS in its own schema; every clone inherits it (datasets need it)
            conn.execute("CREATE SCHEMA IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis")
        db = Database(_sqlalchemy(_with_db(url, self.template)))
        try:
            migrate.upgrade(db)
        finally:
            db.dispose()
        with psycopg.connect(_with_db(url, self.template), autocommit=True) as conn:
            # PostGIS in a schema of its own, as an operator installs it (datasets and SQL)
            conn.execute("CREATE SCHEMA IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis")

    def _execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def clone(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return _with_db(self.url, name)

    def drop_all(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            oids = [row[0] for row in conn.execute(
                "SELECT oid FROM pg_database WHERE datname = ANY(%s)", (self.created,))]
        for name in reversed(self.created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with psycopg.connect(self.url, autocommit=True) as conn:  # the SQL sandbox's roles
            for oid in oids:
                for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                            (f"cloudlet\\_{oid}\\_p%",)).fetchall():
                    conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # type: ignore[arg-type]


def _sqlalchemy(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]
