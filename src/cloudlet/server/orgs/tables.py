"""Organisations and their members."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from cloudlet.server.core.schema import UTCDateTime, metadata

orgs = Table(
    "orgs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(50), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("about", Text, nullable=False, server_default=""),
    # set for the personal org every user gets; such an org can't be deleted or left empty
    Column("personal_user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

org_members = Table(
    "org_members",
    metadata,
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(10), nullable=False),  # owner | admin | member
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_org_members_user_id", "user_id"),
)
