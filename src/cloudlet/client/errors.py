"""What can go wrong talking to Cloudlet. Catch the branch you mean::

    CloudletError                 status_code, detail, response (None when there was no answer)
    ├── ConfigError               no server URL, an unknown profile, an unreadable config file
    │   └── SpoolInUse            another live writer holds this spool_dir
    ├── TransportError            no usable answer from the server
    │   ├── ConnectionFailed      could not connect, or the connection dropped
    │   └── Timeout               connect, read, write or pool timeout
    ├── APIError                  the server answered with an error status
    │   ├── ClientError           any 4xx without a class of its own
    │   │   ├── BadRequest        400
    │   │   ├── Unauthorized      401: no, expired or revoked credentials
    │   │   ├── Forbidden         403
    │   │   ├── NotFound          404
    │   │   ├── Conflict          409
    │   │   ├── PayloadTooLarge   413
    │   │   ├── ValidationError   422, with `errors`: [{field, message}]
    │   │   └── RateLimited       429, with `retry_after`
    │   └── ServerError           5xx
    ├── WriteFailed               a Writer's batches were refused or given up, with `failures`
    └── BufferFull                a Writer without a spool stayed full (`max_buffered`) past
                                  `buffer_timeout`: the points of that add() were not queued

`detail` is the server's problem+json `detail` (the human sentence); `retry_after` is the
`Retry-After` header in seconds, on any APIError that carried one.
"""

from __future__ import annotations

import email.utils
import time
from http import HTTPStatus
from typing import Any

import httpx

__all__ = [
    "APIError",
    "BadRequest",
    "BufferFull",
    "ClientError",
    "CloudletError",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "SpoolInUse",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "WriteFailed",
    "error_for",
    "parse_retry_after",
]


class CloudletError(Exception):
    """Base of every error the SDK raises."""

    def __init__(
        self, detail: str, *, status_code: int | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.response = response


class ConfigError(CloudletError):
    """The client could not be configured: no URL, an unknown profile, a broken config file."""


class SpoolInUse(ConfigError):
    """Another live `Writer` (in this process or another) holds the `spool_dir`."""


class WriteFailed(CloudletError):
    """`Writer.flush()`, `close()` or `send()` found batches that did not reach the server;
    `failures` lists `(batch, error)` pairs (the batch's points are in `batch.series()`)."""

    def __init__(self, detail: str, failures: list[tuple[Any, CloudletError]]) -> None:
        super().__init__(detail)
        self.failures = failures


class BufferFull(CloudletError):
    """A `Writer` without a spool held `max_buffered` unsent points for `buffer_timeout`
    seconds (the server is slow or away): the points of the call that raised were not
    queued, and the caller decides what to do with them."""


class TransportError(CloudletError):
    """The request got no usable answer; `response` is None."""


class ConnectionFailed(TransportError):
    """Could not connect to the server, or the connection dropped mid-request."""


class Timeout(TransportError):
    """The server took longer than the client's timeout."""


class APIError(CloudletError):
    """The server answered with an error status (problem+json)."""

    def __init__(
        self, detail: str, *, status_code: int, response: httpx.Response | None = None,
        title: str = "", retry_after: float | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, status_code=status_code, response=response)
        self.title = title or _phrase(status_code)
        self.retry_after = retry_after
        self.problem = problem or {}

    def __str__(self) -> str:
        return f"{self.status_code} {self.title}: {self.detail}"


class ClientError(APIError):
    """A 4xx answer: the request needs changing before it can succeed."""


class BadRequest(ClientError):
    """400: the request is malformed (e.g. the body is not valid JSON)."""


class Unauthorized(ClientError):
    """401: no credentials, or they are wrong, expired or revoked."""


class Forbidden(ClientError):
    """403: the credentials are fine but do not allow this."""


class NotFound(ClientError):
    """404: no such object (or no access to know it exists), or no such endpoint."""


class Conflict(ClientError):
    """409: the object already exists, or an idempotent request is still in flight."""


class PayloadTooLarge(ClientError):
    """413: the body is over the server's limit."""


class ValidationError(ClientError):
    """422: the body is well-formed but invalid; `errors` lists `{field, message}`."""

    @property
    def errors(self) -> list[dict[str, str]]:
        found = self.problem.get("errors")
        return list(found) if isinstance(found, list) else []


class RateLimited(ClientError):
    """429: too many requests; wait `retry_after` seconds (None when the server did not say)."""


class ServerError(APIError):
    """5xx: the server failed; retrying later may work."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error answer; the body must have been read."""
    status = response.status_code
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    detail = problem.get("detail") or problem.get("title") or response.text.strip()[:500]
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ClientError)
    return cls(
        str(detail or _phrase(status)),
        status_code=status,
        response=response,
        title=str(problem.get("title") or ""),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        problem=problem,
    )
