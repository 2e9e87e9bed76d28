"""Users, their API tokens and sessions, and the login throttle counters."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    func,
)

from cloudlet.server.core.schema import UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("password_hash", String(200)),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("is_superuser", Boolean, nullable=False, server_default="0"),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ux_users_username", func.lower(users.c.username), unique=True)
Index("ux_users_email", func.lower(users.c.email), unique=True)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),  # "api" (opaque secret) or "jwt" (signed)
    Column("name", String(100), nullable=False, server_default=""),
    Column("secret_hash", String(64), unique=True),  # sha256 of an api secret
    Column("jti", String(32), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False, server_default=""),
    Column("scope", String(10), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE")),
    Column("device_id", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Index("ix_tokens_user_id", "user_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(300), primary_key=True),  # "account:<name>" or "address:<ip>"
    Column("failures", Integer, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
)
