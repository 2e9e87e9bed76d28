"""The HTTP side every ingest route shares: reading (and un-gzipping) a body within limits,
and running authenticate → parse → queue off the event loop, then awaiting the commit."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cloudlet.server.core.errors import Invalid, TooLarge, Unauthenticated
from cloudlet.server.timeseries.batch import Batch

ONE_AT_A_TIME = 4 << 20  # bodies up to this size are prepared in turn, on one thread


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes as they arrive (413)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLarge(f"The request body is larger than {limit} bytes; send smaller batches.")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The request body is larger than {limit} bytes; send smaller "
                           "batches.")
        parts.append(chunk)
    return b"".join(parts)


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding: gzip` (or deflate), refusing output over `limit` bytes."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise Invalid(f"Unsupported Content-Encoding {encoding!r}; send gzip or nothing.")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise Invalid(f"The {encoding} body is corrupt: {error}.") from None
    if len(out) > limit:
        raise TooLarge(f"The decompressed body is larger than {limit} bytes; send smaller "
                       "batches.")
    if not inflater.eof:
        raise Invalid(f"The {encoding} body is truncated.")
    return out


async def ingest(request: Request, token: str | None, project: str,
                 parse: Callable[[bytes], Batch], *, device: str | None = None
                 ) -> dict[str, Any]:
    """Read the body, then authenticate, decode, parse and queue off the event loop (on the
    ingest's one prepare thread, unless the body is big), and await the writer's commit."""
    if token is None:
        raise Unauthenticated("Authentication required: send 'Authorization: Bearer <token>'.")
    services = request.app.state.services
    settings = request.app.state.settings
    body = await read_body(request, settings.max_write_body)
    encoding = request.headers.get("content-encoding")

    def prepare() -> Any:
        principal = services.tokens.authenticate(token)
        batch = parse(decode_body(body, encoding, settings.max_write_body))
        return services.ingest.submit(principal, project, batch, device=device)

    if len(body) <= ONE_AT_A_TIME:
        loop = asyncio.get_running_loop()
        future = await loop.run_in_executor(services.ingest.preparer, prepare)
    else:  # a big body would hold up every batch behind it: it takes a thread of its own
        future = await run_in_threadpool(prepare)
    result: dict[str, Any] = await asyncio.wrap_future(future)
    return result
