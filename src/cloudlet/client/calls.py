"""One API call, minus the I/O: building the request and reading the answer. The sync and
async clients share these, so they cannot drift apart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from cloudlet.client.connection import Connection
from cloudlet.client.errors import ConnectionFailed, Timeout, TransportError, error_for

__all__ = ["AsyncStream", "IdempotencyKey", "Params", "Stream"]

Params = Mapping[str, Any]
IdempotencyKey = str | bool | None
"""A POST's `Idempotency-Key`: a str is sent as is, True makes one, False sends none, None
follows the client's `auto_idempotency_keys`. Sent only with credentials."""


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    connection: Connection,
    method: str,
    url: str,
    *,
    params: Params | None = None,
    data: Any = None,
    content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    idempotency_key: IdempotencyKey = None,
    auto_keys: bool = False,
    anonymous: bool = False,
) -> httpx.Request:
    """The request for one call; `anonymous` leaves the token out (logging in)."""
    method = method.upper()
    target = connection.url_for(url)
    sent = {} if anonymous else connection.auth_headers(target)
    sent.update(headers or {})
    # The server honours keys on authenticated POSTs only (answers are stored per credential),
    # and a key is what makes the retry transport resend a POST: no credential, no key.
    if method == "POST" and any(name.lower() == "authorization" for name in sent):
        key = auto_keys if idempotency_key is None else idempotency_key
        if key is True:
            sent["Idempotency-Key"] = str(uuid.uuid4())
        elif isinstance(key, str):
            sent["Idempotency-Key"] = key
    query = {k: v for k, v in (params or {}).items() if v is not None}
    return http.build_request(
        method, target, params=query or None, json=data if content is None else None,
        content=content, headers=sent,
    )


def transport_error(error: httpx.RequestError, request: httpx.Request) -> TransportError:
    where = f"{request.method} {request.url}"
    if isinstance(error, httpx.TimeoutException):
        return Timeout(f"Timed out: {where} ({type(error).__name__}).")
    if isinstance(error, httpx.NetworkError | httpx.ProtocolError | httpx.ProxyError):
        return ConnectionFailed(f"Cannot reach the server: {where}: {error or type(error)}.")
    return TransportError(f"Request failed: {where}: {error or type(error)}.")


def read_answer(response: httpx.Response, *, raw: bool = False) -> Any:
    """The answer's value: bytes when `raw`, parsed JSON, text for `text/*`, None when empty.
    Raises the matching APIError for an error status."""
    if response.is_error:
        raise error_for(response)
    if raw:
        return response.content
    if response.status_code == 204 or not response.content:
        return None
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return response.json()
    if kind.startswith("text/"):
        return response.text
    return response.content


class _ResponseView:
    """What both stream kinds show of a response before its body is read."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers


class Stream(_ResponseView):
    """A response whose body has not been read yet; use it as a context manager so the
    connection goes back to the pool."""

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        return self.response.iter_bytes(chunk_size)

    def iter_lines(self) -> Iterator[str]:
        return self.response.iter_lines()

    def read(self) -> bytes:
        return self.response.read()

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncStream(_ResponseView):
    """The async twin of `Stream`: `async with` it, and read with `aiter_bytes()`."""

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        return self.response.aiter_bytes(chunk_size)

    def aiter_lines(self) -> AsyncIterator[str]:
        return self.response.aiter_lines()

    async def aread(self) -> bytes:
        return await self.response.aread()

    async def aclose(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
