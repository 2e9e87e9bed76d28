"""The migrations build the schema the code declares: every table, column and index of
`schema.metadata`, on SQLite and PostgreSQL (a hand-written revision that forgets one, or
an index changed in one place only, fails here)."""

from __future__ import annotations

import tempfile
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import cloudlet.server.services  # noqa: F401  (imports every domain's tables)
from cloudlet.server.core import migrate
from cloudlet.server.core.db import Database
from cloudlet.server.core.schema import metadata
from tests.support import pg


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_migrated_schema_matches_the_metadata(kind: str,
                                              pg_databases: pg.PgDatabases | None) -> None:
    if kind == "postgres":
        if pg_databases is None:
            pytest.skip("no CLOUDLET_TEST_POSTGRES_URL")
        url = pg._sqlalchemy(pg_databases.clone())
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/schema.db"
    db = Database(url)
    try:
        if kind == "postgres":  # the clone comes migrated: start from nothing
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        migrate.upgrade(db)
        with db.engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # expression indexes can't be reflected
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        db.dispose()
    # unique constraints are left out: the first revisions let each backend name them
    # (and SQLite does not report unnamed ones), so only their names differ
    assert [d for d in diff if d[0] not in ("add_constraint", "remove_constraint")] == []
