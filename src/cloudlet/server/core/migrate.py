"""Schema migrations (Alembic), run once at start before workers fork, or by `cloudlet db upgrade`.

The revisions live in `migrations/versions/`; they are written by hand with `op` calls that
behave the same on SQLite (batch mode) and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cloudlet.server.core.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    command.upgrade(_config(db), revision)


def pending(db: Database) -> bool:
    """True when the database is behind the code's newest revision."""
    head = ScriptDirectory.from_config(_config(db)).get_current_head()
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() != head
