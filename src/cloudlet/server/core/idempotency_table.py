"""Stored answers to POST requests that carried an `Idempotency-Key`."""

from sqlalchemy import Column, Integer, LargeBinary, String, Table, Text

from cloudlet.server.core.schema import UTCDateTime, metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # sha256(credentials, key)
    Column("fingerprint", String(64), nullable=False),  # sha256(method, path, query, body)
    Column("state", String(10), nullable=False),  # pending | done
    Column("status", Integer),
    Column("headers", Text),
    Column("body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
)
