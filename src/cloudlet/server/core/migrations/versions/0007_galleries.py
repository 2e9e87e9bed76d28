"""Dataset galleries and their records (files attached to rows); imports remember the
resumable upload they were started from.

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from cloudlet.server.core.schema import UTCDateTime

revision = "0007"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("dataset_imports") as batch:
        batch.add_column(sa.Column("upload_id", sa.String(32)))
        batch.create_index("ux_dataset_imports_upload_id", ["upload_id"], unique=True)
    op.create_table(
        "dataset_galleries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset_id", sa.Integer,
                  sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ux_dataset_galleries_dataset_id_name", "dataset_galleries",
                    ["dataset_id", "name"], unique=True)
    op.create_index("ix_dataset_galleries_project_id", "dataset_galleries", ["project_id"])
    op.create_table(
        "gallery_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gallery_id", sa.Integer,
                  sa.ForeignKey("dataset_galleries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset_id", sa.Integer,
                  sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("amigo_id", sa.String(32), nullable=False, unique=True),
        sa.Column("source_amigo_id", sa.String(64), nullable=False),
        sa.Column("claim_id", sa.Integer, nullable=False, unique=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_gallery_records_gallery_id_source", "gallery_records",
                    ["gallery_id", "source_amigo_id"])
    op.create_index("ix_gallery_records_dataset_id_source", "gallery_records",
                    ["dataset_id", "source_amigo_id"])


def downgrade() -> None:
    op.drop_table("gallery_records")
    op.drop_table("dataset_galleries")
    with op.batch_alter_table("dataset_imports") as batch:
        batch.drop_index("ux_dataset_imports_upload_id")
        batch.drop_column("upload_id")
