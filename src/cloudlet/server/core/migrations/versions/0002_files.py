"""Files and folders, versions, blobs, blob claims, upload sessions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from cloudlet.server.core.schema import UTCDateTime

revision = "0002"
down_revision = "0001"

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "file_blobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("multipart_etag", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("refs", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("touched_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "file_nodes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("file_nodes.id", ondelete="CASCADE")),
        sa.Column("root_of", sa.Integer, unique=True),
        sa.Column("kind", sa.String(6), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("blob_id", sa.Integer, sa.ForeignKey("file_blobs.id")),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_on", UTCDateTime, nullable=False),
        sa.Column("updated_on", UTCDateTime, nullable=False),
    )
    op.create_index("ux_file_nodes_parent_id_name", "file_nodes", ["parent_id", "name"],
                    unique=True)
    op.create_index("ix_file_nodes_project_id", "file_nodes", ["project_id"])
    op.create_index("ix_file_nodes_blob_id", "file_nodes", ["blob_id"])
    op.create_table(
        "file_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("file_nodes.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("blob_id", sa.Integer, sa.ForeignKey("file_blobs.id"), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_on", UTCDateTime, nullable=False),
        sa.Column("replaced_on", UTCDateTime, nullable=False),
    )
    op.create_index("ux_file_versions_node_id_version", "file_versions",
                    ["node_id", "version"], unique=True)
    op.create_index("ix_file_versions_blob_id", "file_versions", ["blob_id"])
    op.create_table(
        "blob_claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("blob_id", sa.Integer, sa.ForeignKey("file_blobs.id"), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_blob_claims_owner", "blob_claims", ["owner"])
    op.create_index("ix_blob_claims_blob_id", "blob_claims", ["blob_id"])
    op.create_table(
        "file_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("total", sa.BigInteger),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("buffered", sa.BigInteger, nullable=False),
        sa.Column("store_state", sa.JSON, nullable=False),
        sa.Column("target", sa.JSON, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("result", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "file_upload_buffers",
        sa.Column("upload_id", sa.String(32),
                  sa.ForeignKey("file_uploads.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("offset", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("file_upload_buffers", "file_uploads", "blob_claims", "file_versions",
                  "file_nodes", "file_blobs"):
        op.drop_table(table)
