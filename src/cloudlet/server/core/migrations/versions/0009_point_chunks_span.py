"""The (stream, t_max) index of point chunks also holds t_min and n, so that finding the
chunks a range overlaps (every out-of-order write asks, for each stream it touches) reads
the index alone: on SQLite the lookup of each candidate's row made that query ten times
slower, and its planner could prefer walking (stream, t_min) from the stream's start.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_index("ix_point_chunks_span", "point_chunks",
                    ["stream_id", "t_max", "t_min", "n"])
    op.drop_index("ix_point_chunks_stream_id_t_max", table_name="point_chunks")


def downgrade() -> None:
    op.create_index("ix_point_chunks_stream_id_t_max", "point_chunks", ["stream_id", "t_max"])
    op.drop_index("ix_point_chunks_span", table_name="point_chunks")
