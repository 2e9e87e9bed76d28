"""Retries live at one seam: a transport wrapping httpx's own, for the sync and async clients.

A request is retried when doing it twice is safe:

- GET, HEAD, PUT, DELETE and OPTIONS are idempotent by definition;
- a POST is retried only when it carries an `Idempotency-Key` header (the server then runs it
  once and replays the stored answer to any retry);
- a connection that could not be opened never reached the server, so that is retried for every
  method.

It is retried on connection failures and timeouts, and on 429, 502, 503 and 504 (plus 409 with
`Retry-After` for a keyed POST, the server's "the first attempt is still running"). Waits grow
exponentially with full jitter, and a `Retry-After` from the server is honoured as the wait
(refusing to wait longer than `max_retry_after` and raising instead). Each retry is logged on
the `cloudlet.client` logger with `attempt` and `delay` attributes on the record.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

import httpx

from cloudlet.client.errors import parse_retry_after

log = logging.getLogger("cloudlet.client")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries. `RetryPolicy(retries=0)` (or `retries=0` on the client) turns
    retrying off; tests use `backoff=0.001` to keep waits tiny."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: bool = True
    respect_retry_after: bool = True
    max_retry_after: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)

    def replayable(self, request: httpx.Request) -> bool:
        """Whether sending this request twice is safe (and its body can be sent again)."""
        if not isinstance(request.stream, httpx.ByteStream):
            return False  # a streamed upload cannot be rewound
        return request.method in self.methods or (
            request.method == "POST" and "idempotency-key" in request.headers
        )

    def retries_status(self, request: httpx.Request, response: httpx.Response) -> bool:
        if response.headers.get("idempotent-replayed") == "true":
            return False  # a stored answer: asking again replays the same one
        if response.status_code in self.statuses:
            return True
        return (
            response.status_code == 409
            and "idempotency-key" in request.headers
            and "retry-after" in response.headers
        )

    def retries_error(self, request: httpx.Request, error: httpx.TransportError) -> bool:
        return isinstance(error, _NEVER_SENT) or self.replayable(request)

    def next_delay(
        self, request: httpx.Request, attempt: int, *, response: httpx.Response | None = None,
        error: httpx.TransportError | None = None,
    ) -> float | None:
        """Seconds to wait before trying again after `attempt` tries; None means do not."""
        if attempt > self.retries:
            return None
        if error is not None:
            return self._backoff(attempt) if self.retries_error(request, error) else None
        assert response is not None
        if not (self.replayable(request) and self.retries_status(request, response)):
            return None
        if self.respect_retry_after:
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                return asked if asked <= self.max_retry_after else None
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(0, ceiling) if self.jitter else ceiling


def _log_retry(request: httpx.Request, attempt: int, delay: float, why: str) -> None:
    log.info(
        "retrying %s %s in %.2fs (retry %d): %s", request.method, request.url, delay, attempt,
        why, extra={"attempt": attempt, "delay": delay},
    )


class RetryTransport(httpx.BaseTransport):
    """Wraps a sync transport and retries what `policy` says is safe to retry."""

    def __init__(self, policy: RetryPolicy, inner: httpx.BaseTransport) -> None:
        self.policy = policy
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as error:
                delay = self.policy.next_delay(request, attempt, error=error)
                if delay is None:
                    raise
                _log_retry(request, attempt, delay, repr(error))
            else:
                delay = self.policy.next_delay(request, attempt, response=response)
                if delay is None:
                    return response
                response.close()
                _log_retry(request, attempt, delay, f"HTTP {response.status_code}")
            time.sleep(delay)

    def close(self) -> None:
        self.inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of `RetryTransport`, with the same policy."""

    def __init__(self, policy: RetryPolicy, inner: httpx.AsyncBaseTransport) -> None:
        self.policy = policy
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.inner.handle_async_request(request)
            except httpx.TransportError as error:
                delay = self.policy.next_delay(request, attempt, error=error)
                if delay is None:
                    raise
                _log_retry(request, attempt, delay, repr(error))
            else:
                delay = self.policy.next_delay(request, attempt, response=response)
                if delay is None:
                    return response
                await response.aclose()
                _log_retry(request, attempt, delay, f"HTTP {response.status_code}")
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self.inner.aclose()
