"""Datasets catalogue and import jobs; PostGIS (in its own schema) on PostgreSQL.

The dataset tables themselves are not here: they are made at run time, one per dataset, in
the project's own SQLite file or PostgreSQL schema (see cloudlet.server.datasets.storage).

Revision ID: 0004
Revises: 0003
"""

import logging

import sqlalchemy as sa
from alembic import op

from cloudlet.server.core.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
log = logging.getLogger(__name__)


def _postgis() -> None:
    """Create PostGIS in schema `postgis` when missing and permitted; otherwise leave a note
    (datasets then answer a clear error until an administrator creates it)."""
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first():
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS postgis"))
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis"))
    except sa.exc.DBAPIError as error:
        log.warning("PostGIS could not be created (%s); run as a superuser: "
                    "CREATE SCHEMA postgis; CREATE EXTENSION postgis SCHEMA postgis;",
                    str(error.orig).strip())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgis()
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("geometry_column", sa.String(63)),
        sa.Column("feature_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("min_x", sa.Float),
        sa.Column("min_y", sa.Float),
        sa.Column("max_x", sa.Float),
        sa.Column("max_y", sa.Float),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_datasets_project_id", "datasets", ["project_id"])
    op.create_table(
        "dataset_imports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False, server_default=""),
        sa.Column("bytes_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("dataset_ids", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_index("ix_dataset_imports_project_id", "dataset_imports", ["project_id"])


def downgrade() -> None:
    op.drop_table("dataset_imports")
    op.drop_table("datasets")
