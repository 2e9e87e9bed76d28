"""Cloudlet: a self-hosted data cloud for connected devices and scientific data.

`import cloudlet` gives the SDK (`cloudlet.Client`, `cloudlet.AsyncClient`, the errors) and
the global ids; the server is a separate extra and is never imported from here.
"""

__version__ = "0.1.0"

from cloudlet.client import (
    APIError,
    AsyncClient,
    AsyncCursor,
    AsyncStream,
    BadRequest,
    Client,
    ClientError,
    CloudletError,
    ConfigError,
    Conflict,
    ConnectionFailed,
    Cursor,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Profile,
    ProfileStore,
    RateLimited,
    RetryPolicy,
    ServerError,
    Stream,
    Timeout,
    TransportError,
    Unauthorized,
    ValidationError,
)
from cloudlet.gid import DeviceSlug, GidError, ProjectSlug, StreamSlug, VariableSlug

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncCursor",
    "AsyncStream",
    "BadRequest",
    "Client",
    "ClientError",
    "CloudletError",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "Cursor",
    "DeviceSlug",
    "Forbidden",
    "GidError",
    "NotFound",
    "PayloadTooLarge",
    "Profile",
    "ProfileStore",
    "ProjectSlug",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Stream",
    "StreamSlug",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "VariableSlug",
    "__version__",
]
