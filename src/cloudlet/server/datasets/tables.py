"""The datasets catalogue: what each dataset is (its rows live in per-project storage), its
import jobs, and its galleries: files attached to rows, whose bytes the files domain holds as
attachments owned by `gallery:<id>`."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from cloudlet.server.core.schema import UTCDateTime, metadata

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("kind", String(10), nullable=False),  # table | realtime
    Column("state", String(10), nullable=False),  # importing (invisible) | ready
    Column("columns", JSON, nullable=False),  # [{name, type, geometry_type?}] in table order
    Column("geometry_column", String(63)),  # the primary geometry: bbox, GeoJSON, filters
    Column("feature_count", BigInteger, nullable=False, server_default="0"),
    Column("min_x", Float),
    Column("min_y", Float),
    Column("max_x", Float),
    Column("max_y", Float),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_datasets_project_id", "project_id"),
)

dataset_imports = Table(
    "dataset_imports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("format", String(20), nullable=False),
    Column("state", String(10), nullable=False),  # queued | running | succeeded | failed
    Column("phase", String(20), nullable=False, server_default=""),
    Column("bytes_total", BigInteger, nullable=False, server_default="0"),
    Column("bytes_done", BigInteger, nullable=False, server_default="0"),
    Column("rows_total", BigInteger, nullable=False, server_default="0"),
    Column("rows_done", BigInteger, nullable=False, server_default="0"),
    Column("options", JSON, nullable=False),  # name, description as asked
    Column("dataset_ids", JSON, nullable=False),
    Column("error", JSON),  # {detail, file?, line?, feature?}
    Column("upload_id", String(32)),  # the resumable upload it was started from, if any
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Index("ix_dataset_imports_project_id", "project_id"),
    Index("ux_dataset_imports_upload_id", "upload_id", unique=True),
)

galleries = Table(
    "dataset_galleries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ux_dataset_galleries_dataset_id_name", "dataset_id", "name", unique=True),
    Index("ix_dataset_galleries_project_id", "project_id"),
)

gallery_records = Table(
    "gallery_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("gallery_id", Integer, ForeignKey("dataset_galleries.id", ondelete="CASCADE"),
           nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("amigo_id", String(32), nullable=False, unique=True),
    Column("source_amigo_id", String(64), nullable=False),  # the row it belongs to
    Column("claim_id", Integer, nullable=False, unique=True),  # the files domain's attachment
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("md5", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_gallery_records_gallery_id_source", "gallery_id", "source_amigo_id"),
    Index("ix_gallery_records_dataset_id_source", "dataset_id", "source_amigo_id"),
)
