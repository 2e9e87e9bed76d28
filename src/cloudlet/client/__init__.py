"""The Cloudlet SDK: `Client`, `AsyncClient`, their cursors, errors and profiles.

It never imports `cloudlet.server`; it installs and runs without the `server` extra.
"""

from cloudlet.client.async_client import AsyncClient
from cloudlet.client.async_files import AsyncFiles
from cloudlet.client.async_writer import AsyncWriter
from cloudlet.client.calls import AsyncStream, Stream
from cloudlet.client.connection import Connection
from cloudlet.client.cursor import AsyncCursor, Cursor
from cloudlet.client.datasets import AsyncDatasets, Datasets, ImportFailed
from cloudlet.client.errors import (
    APIError,
    BadRequest,
    BufferFull,
    ClientError,
    CloudletError,
    ConfigError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    SpoolInUse,
    Timeout,
    TransportError,
    Unauthorized,
    ValidationError,
    WriteFailed,
)
from cloudlet.client.events import AsyncEvents, Events, SubscriptionRefused
from cloudlet.client.files import Files
from cloudlet.client.galleries import AsyncGalleries, Galleries
from cloudlet.client.mdo import MdoHelper
from cloudlet.client.points import DataPoint, DataSeries, DataStore, Timestamp, TimeUnit
from cloudlet.client.profiles import Profile, ProfileStore, config_dir
from cloudlet.client.query import AsyncQuery, Query, StreamPoint
from cloudlet.client.reports import AccumulationReport, AsyncAccumulationReport
from cloudlet.client.retries import RetryPolicy
from cloudlet.client.sql import AsyncSqlCursor, SqlCursor
from cloudlet.client.stream_data import AsyncStreamData, StreamData
from cloudlet.client.sync_client import Client
from cloudlet.client.writer import Writer

__all__ = [
    "APIError",
    "AccumulationReport",
    "AsyncAccumulationReport",
    "AsyncClient",
    "AsyncCursor",
    "AsyncDatasets",
    "AsyncEvents",
    "AsyncFiles",
    "AsyncGalleries",
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
    "Connection",
    "ConnectionFailed",
    "Cursor",
    "DataPoint",
    "DataSeries",
    "DataStore",
    "Datasets",
    "Events",
    "Files",
    "Forbidden",
    "Galleries",
    "ImportFailed",
    "MdoHelper",
    "NotFound",
    "PayloadTooLarge",
    "Profile",
    "ProfileStore",
    "Query",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "SpoolInUse",
    "SqlCursor",
    "Stream",
    "StreamData",
    "StreamPoint",
    "SubscriptionRefused",
    "TimeUnit",
    "Timeout",
    "Timestamp",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "WriteFailed",
    "Writer",
    "config_dir",
]
