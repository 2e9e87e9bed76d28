"""Files and folders (one tree per project), their versions, the blobs holding their bytes,
blob claims held by other domains, and resumable upload sessions.

`file_blobs.refs` counts every reference to a blob: file nodes, versions and claims. Bytes
are deleted only when it falls to zero (see blobs.py), so two identical files share them.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

from cloudlet.server.core.schema import UTCDateTime, metadata

# jsonb on PostgreSQL (indexable, comparable), JSON1 text on SQLite
Json = JSON().with_variant(JSONB(), "postgresql")

file_blobs = Table(
    "file_blobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False, unique=True),  # server-made, never a user name
    Column("sha256", String(64), nullable=False, unique=True),
    Column("md5", String(32), nullable=False),
    Column("multipart_etag", String(40), nullable=False),  # S3 style, 6 MiB parts
    Column("size", BigInteger, nullable=False),
    Column("refs", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("touched_at", UTCDateTime, nullable=False),  # last time refs went up
)

file_nodes = Table(
    "file_nodes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("file_nodes.id", ondelete="CASCADE")),
    Column("root_of", Integer, unique=True),  # the project id, on a project's root folder only
    Column("kind", String(6), nullable=False),  # file | folder
    Column("name", String(255), nullable=False),
    Column("metadata", Json, nullable=False),
    Column("tags", Json, nullable=False),
    Column("blob_id", Integer, ForeignKey("file_blobs.id")),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(255)),
    Column("version", Integer, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_on", UTCDateTime, nullable=False),
    Column("updated_on", UTCDateTime, nullable=False),
    Index("ux_file_nodes_parent_id_name", "parent_id", "name", unique=True),
    Index("ix_file_nodes_project_id", "project_id"),
    Index("ix_file_nodes_blob_id", "blob_id"),
)

file_versions = Table(
    "file_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("node_id", Integer, ForeignKey("file_nodes.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("metadata", Json, nullable=False),
    Column("tags", Json, nullable=False),
    Column("blob_id", Integer, ForeignKey("file_blobs.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(255)),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_on", UTCDateTime, nullable=False),  # when this content was uploaded
    Column("replaced_on", UTCDateTime, nullable=False),
    Index("ux_file_versions_node_id_version", "node_id", "version", unique=True),
    Index("ix_file_versions_blob_id", "blob_id"),
)

blob_claims = Table(
    "blob_claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("blob_id", Integer, ForeignKey("file_blobs.id"), nullable=False),
    Column("owner", String(100), nullable=False),  # e.g. "dataset:12", "stream_event:7"
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255)),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_blob_claims_owner", "owner"),
    Index("ix_blob_claims_blob_id", "blob_id"),
)

file_uploads = Table(
    "file_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("total", BigInteger),  # the announced size, if known
    Column("offset", BigInteger, nullable=False),  # bytes received and kept
    Column("buffered", BigInteger, nullable=False),  # of those, bytes not yet in the store
    Column("store_state", JSON, nullable=False),  # the blob store's staging (S3 upload id…)
    Column("target", JSON, nullable=False),  # what to make on completion: name, parent, …
    Column("state", String(10), nullable=False),  # open | done | aborted
    Column("result", JSON),  # what completion gave (node or blob), for a repeated complete
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# chunks received but not yet in the store (the store takes parts of at least 5 MiB on S3)
file_upload_buffers = Table(
    "file_upload_buffers",
    metadata,
    Column(
        "upload_id", String(32), ForeignKey("file_uploads.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("offset", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
