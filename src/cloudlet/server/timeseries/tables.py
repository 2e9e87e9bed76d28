"""Devices, variables, streams, their points (chunks + head) and stream events.

Points are not a row each: per stream, time-ordered chunks of packed arrays (`point_chunks`,
see codec.py) hold them, and a small head table takes out-of-order points and overwrites
until the compactor folds them into the chunks.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cloudlet.server.core.schema import UTCDateTime, metadata

ChunkId = BigInteger().with_variant(Integer, "sqlite")  # a rowid alias on SQLite


def _unit_columns(prefix: str, nullable: bool) -> list[Column]:  # type: ignore[type-arg]
    """A unit: short and full names, integer multiply and divide, float offset (MDO)."""
    default = {} if nullable else {"server_default": ""}
    return [
        Column(f"{prefix}_unit_short", String(20), nullable=nullable, **default),
        Column(f"{prefix}_unit_full", String(100), nullable=nullable, **default),
        Column(f"{prefix}_m", Integer, nullable=nullable, **({} if nullable else
                                                            {"server_default": "1"})),
        Column(f"{prefix}_d", Integer, nullable=nullable, **({} if nullable else
                                                            {"server_default": "1"})),
        Column(f"{prefix}_o", Double, nullable=nullable, **({} if nullable else
                                                           {"server_default": "0"})),
    ]


devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(100)),  # the external key, unique per project
    Column("label", String(200), nullable=False, server_default=""),
    Column("tags", Text, nullable=False, server_default="{}"),  # JSON object
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "key"),
)

variables = Table(
    "variables",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("lid", Integer, nullable=False),  # the project-local 4-hex id (0x5001)
    Column("name", String(100), nullable=False),
    *_unit_columns("in", nullable=False),
    *_unit_columns("out", nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "lid"),
    UniqueConstraint("project_id", "name"),
)

streams = Table(
    "streams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Integer, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("variable_id", Integer, ForeignKey("variables.id", ondelete="CASCADE"),
           nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("tags", Text, nullable=False, server_default="{}"),  # JSON object
    *_unit_columns("in", nullable=True),  # NULL: the variable's unit
    *_unit_columns("out", nullable=True),
    Column("last_ts", BigInteger),  # newest timestamp stored (chunks or head), µs
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("device_id", "variable_id"),
    Index("ix_streams_project_id", "project_id"),
)

point_chunks = Table(
    "point_chunks",
    metadata,
    Column("id", ChunkId, primary_key=True),  # write order: a later chunk is newer
    Column("stream_id", Integer, ForeignKey("streams.id", ondelete="CASCADE"), nullable=False),
    Column("t_min", BigInteger, nullable=False),
    Column("t_max", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    # the one index: the read order, and the spans a range overlaps from the index alone
    # (every out-of-order write asks for them); a second index would double the pages each
    # commit dirties, one per stream written
    Index("ix_point_chunks_span", "stream_id", "t_min", "id", "t_max", "n"),
)

point_head = Table(
    "point_head",
    metadata,
    Column("stream_id", Integer, ForeignKey("streams.id", ondelete="CASCADE"),
           primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("value", Double, nullable=False),
    sqlite_with_rowid=False,
)

stream_events = Table(
    "stream_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stream_id", Integer, ForeignKey("streams.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),  # µs
    Column("extra_data", Text, nullable=False, server_default="{}"),  # JSON object
    # the attached file, once the files domain lands: a reference to its file row
    Column("file_id", Integer),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_stream_events_stream_id_ts", "stream_id", "ts"),
)
