"""Point chunks keep one index, (stream, t_min, id, t_max, n), instead of (stream, t_max)
and (stream, t_min): it gives the read order (t_min, id), and finding the chunks a range
overlaps (every out-of-order write asks, for each stream it touches) reads the index alone —
on SQLite the lookup of each candidate's row made that query ten times slower. One index
instead of two also halves the index pages a commit dirties (one per stream written): on
SQLite a commit of 100 streams' chunks took 1.7 ms with two, 1.05 ms with one.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_index("ix_point_chunks_span", "point_chunks",
                    ["stream_id", "t_min", "id", "t_max", "n"])
    op.drop_index("ix_point_chunks_stream_id_t_max", table_name="point_chunks")
    op.drop_index("ix_point_chunks_stream_id_t_min", table_name="point_chunks")


def downgrade() -> None:
    op.create_index("ix_point_chunks_stream_id_t_min", "point_chunks", ["stream_id", "t_min"])
    op.create_index("ix_point_chunks_stream_id_t_max", "point_chunks", ["stream_id", "t_max"])
    op.drop_index("ix_point_chunks_span", table_name="point_chunks")
