"""Projects (the tenant boundary for devices, files and datasets) and their members."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from cloudlet.server.core.schema import UTCDateTime, metadata

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("is_home", Boolean, nullable=False, server_default="0"),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_projects_org_id", "org_id"),
)

project_members = Table(
    "project_members",
    metadata,
    Column(
        "project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(10), nullable=False),  # read | write | admin
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_project_members_user_id", "user_id"),
)
