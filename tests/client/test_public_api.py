"""`cloudlet.__all__` is the public surface; this pins it so a change is a decision."""

from __future__ import annotations

import cloudlet
import cloudlet.client

PUBLIC = [
    "APIError",
    "AccumulationReport",
    "AsyncAccumulationReport",
    "AsyncClient",
    "AsyncCursor",
    "AsyncEvents",
    "AsyncFiles",
    "AsyncQuery",
    "AsyncSqlCursor",
    "AsyncStream",
    "AsyncStreamData",
    "AsyncWriter",
    "BadRequest",
    "BufferFull",
    "Client",
    "ClientError",
    "CloudletError",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "Cursor",
    "DataPoint",
    "DataSeries",
    "DataStore",
    "Events",
    "Files",
    "DeviceSlug",
    "Forbidden",
    "GidError",
    "ImportFailed",
    "MdoHelper",
    "NotFound",
    "PayloadTooLarge",
    "Profile",
    "ProfileStore",
    "ProjectSlug",
    "Query",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "SpoolInUse",
    "SqlCursor",
    "Stream",
    "StreamData",
    "StreamPoint",
    "StreamSlug",
    "SubscriptionRefused",
    "TimeUnit",
    "Timeout",
    "Timestamp",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "VariableSlug",
    "WriteFailed",
    "Writer",
    "__version__",
]


def test_all_is_pinned() -> None:
    assert cloudlet.__all__ == PUBLIC


def test_every_public_name_exists_and_is_the_sdk_object() -> None:
    for name in cloudlet.__all__:
        assert hasattr(cloudlet, name), name
    for name in set(cloudlet.__all__) & set(cloudlet.client.__all__):
        assert getattr(cloudlet, name) is getattr(cloudlet.client, name)


def test_version() -> None:
    assert cloudlet.__version__ == "0.1.0"
