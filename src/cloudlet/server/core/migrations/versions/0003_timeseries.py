"""Devices, variables, streams, point chunks and head, stream events.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from cloudlet.server.core.schema import UTCDateTime

revision = "0003"
down_revision = "0002"

ChunkId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _units(prefix: str, nullable: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    if nullable:
        return [
            sa.Column(f"{prefix}_unit_short", sa.String(20)),
            sa.Column(f"{prefix}_unit_full", sa.String(100)),
            sa.Column(f"{prefix}_m", sa.Integer),
            sa.Column(f"{prefix}_d", sa.Integer),
            sa.Column(f"{prefix}_o", sa.Double),
        ]
    return [
        sa.Column(f"{prefix}_unit_short", sa.String(20), nullable=False, server_default=""),
        sa.Column(f"{prefix}_unit_full", sa.String(100), nullable=False, server_default=""),
        sa.Column(f"{prefix}_m", sa.Integer, nullable=False, server_default="1"),
        sa.Column(f"{prefix}_d", sa.Integer, nullable=False, server_default="1"),
        sa.Column(f"{prefix}_o", sa.Double, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("key", sa.String(100)),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("tags", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("project_id", "key", name="uq_devices_project_id_key"),
    )
    op.create_table(
        "variables",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("lid", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        *_units("in", False),
        *_units("out", False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("project_id", "lid", name="uq_variables_project_id_lid"),
        sa.UniqueConstraint("project_id", "name", name="uq_variables_project_id_name"),
    )
    op.create_table(
        "streams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("variable_id", sa.Integer,
                  sa.ForeignKey("variables.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("tags", sa.Text, nullable=False, server_default="{}"),
        *_units("in", True),
        *_units("out", True),
        sa.Column("last_ts", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("device_id", "variable_id",
                            name="uq_streams_device_id_variable_id"),
    )
    op.create_index("ix_streams_project_id", "streams", ["project_id"])
    op.create_table(
        "point_chunks",
        sa.Column("id", ChunkId, primary_key=True),
        sa.Column("stream_id", sa.Integer, sa.ForeignKey("streams.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("t_min", sa.BigInteger, nullable=False),
        sa.Column("t_max", sa.BigInteger, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_point_chunks_stream_id_t_max", "point_chunks", ["stream_id", "t_max"])
    op.create_table(
        "point_head",
        sa.Column("stream_id", sa.Integer, sa.ForeignKey("streams.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("ts", sa.BigInteger, primary_key=True),
        sa.Column("value", sa.Double, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stream_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("stream_id", sa.Integer, sa.ForeignKey("streams.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("extra_data", sa.Text, nullable=False, server_default="{}"),
        sa.Column("file_id", sa.Integer),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_stream_events_stream_id_ts", "stream_events", ["stream_id", "ts"])


def downgrade() -> None:
    for name in ("stream_events", "point_head", "point_chunks", "streams", "variables",
                 "devices"):
        op.drop_table(name)
