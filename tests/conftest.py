"""Fixtures: the real server on a free loopback port, on SQLite (with the in-process event
bus) and, when CLOUDLET_TEST_POSTGRES_URL is set, on PostgreSQL (each server in a fresh
database cloned from a template; with Redis as the bus when CLOUDLET_TEST_REDIS_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support import pg
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer, start_server

REDIS_ENV = "CLOUDLET_TEST_REDIS_URL"
BACKENDS = ["sqlite"] + (["postgres"] if pg.admin_url() else [])

Launch = Callable[..., LiveServer]


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[pg.PgDatabases | None]:
    url = pg.admin_url()
    if url is None:
        yield None
        return
    databases = pg.PgDatabases(url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _launcher(backend: str, databases: pg.PgDatabases | None, started: list[LiveServer]
              ) -> Launch:
    def launch(**env: str) -> LiveServer:
        url = databases.clone() if backend == "postgres" and databases else None
        redis_url = os.environ.get(REDIS_ENV)
        if backend == "postgres" and redis_url:  # the scale-out stack: PostgreSQL + Redis
            env = {"CLOUDLET_REDIS_URL": redis_url,
                   "CLOUDLET_REDIS_PREFIX": f"cloudlet-test-{uuid.uuid4().hex[:8]}", **env}
        server = start_server(url, env)
        started.append(server)
        return server

    return launch


@pytest.fixture(scope="session")
def server(backend: str, pg_databases: pg.PgDatabases | None) -> Iterator[LiveServer]:
    """The shared server of one backend; tests isolate themselves with fresh users."""
    started: list[LiveServer] = []
    yield _launcher(backend, pg_databases, started)()
    for s in started:
        s.stop()


@pytest.fixture
def launch(backend: str, pg_databases: pg.PgDatabases | None) -> Iterator[Launch]:
    """Start a server of its own with extra CLOUDLET_* settings; stopped after the test."""
    started: list[LiveServer] = []
    yield _launcher(backend, pg_databases, started)
    for s in started:
        s.stop()


@pytest.fixture
def user(server: LiveServer) -> TestUser:
    return make_user(server)


@pytest.fixture
def other_user(server: LiveServer) -> TestUser:
    return make_user(server, "o")
