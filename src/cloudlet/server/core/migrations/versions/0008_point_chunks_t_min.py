"""Point chunks are read in `t_min` order: an index on (stream, t_min) lets a query
walk them without sorting every matching blob first (SQLite built a temporary B-tree of
whole chunks before the first row).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_index("ix_point_chunks_stream_id_t_min", "point_chunks",
                    ["stream_id", "t_min"])


def downgrade() -> None:
    op.drop_index("ix_point_chunks_stream_id_t_min", table_name="point_chunks")
