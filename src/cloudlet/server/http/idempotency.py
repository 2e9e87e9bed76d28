"""`Idempotency-Key` on POST: a retried request gets the first attempt's answer.

Only authenticated POSTs with bodies up to the JSON body limit take part; the stored answer
is keyed by the credentials and the key, and bound to the exact request (method, path, query,
body): reusing a key for a different request is a 422. 5xx and 429 answers are not stored, so a
retry after a server failure or throttling runs again; nor are answers carrying secrets
(login, register, new tokens), which are never kept at rest.
"""

from __future__ import annotations

import asyncio
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudlet.server.core.idempotency import Claim, IdempotencyStore, Stored, digest
from cloudlet.server.http.problems import problem

HEADER = b"idempotency-key"
MAX_KEY = 255
_STORED_HEADERS = {"content-type", "location", "etag"}
_SECRET_ANSWERS = {"/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/tokens"}


class Idempotency:
    def __init__(self, app: ASGIApp, store: IdempotencyStore, max_body: int,
                 exempt: re.Pattern[str] | None = None) -> None:
        self.app = app
        self.store = store
        self.max_body = max_body
        self.exempt = exempt  # routes idempotent by themselves (point writes), bodies unlimited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        key = headers.get(HEADER)
        auth = headers.get(b"authorization", b"")
        if (scope["type"] != "http" or scope["method"] != "POST" or key is None or not auth
                or (self.exempt and self.exempt.match(scope["path"]))):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY:
            await problem(400, f"Idempotency-Key must be 1-{MAX_KEY} characters.")(
                scope, receive, send
            )
            return
        body, complete = await _read_body(receive, self.max_body)
        if not complete:
            await problem(
                413, f"Requests with an Idempotency-Key are limited to {self.max_body} bytes."
            )(scope, receive, send)
            return
        key_hash = digest(auth, key)
        fingerprint = digest(
            scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body
        )
        claim = await asyncio.to_thread(self.store.claim, key_hash, fingerprint)
        if claim.state == Claim.MISMATCH:
            await problem(422, "This Idempotency-Key was already used for a different request.")(
                scope, receive, send
            )
            return
        if claim.state == Claim.IN_FLIGHT:
            await problem(
                409, "A request with this Idempotency-Key is still in progress; retry shortly.",
                {"Retry-After": "1"},
            )(scope, receive, send)
            return
        if claim.state == Claim.REPLAY:
            assert claim.stored is not None
            await _replay(claim.stored, send)
            return
        await self._run(scope, body, send, key_hash)

    async def _run(self, scope: Scope, body: bytes, send: Send, key_hash: str) -> None:
        """Run the request, keep its answer, and only then send it: a client that retries
        the moment it has the answer must find it stored, not still pending."""
        messages: list[Message] = []
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def hold(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_body, hold)
        except BaseException:
            await asyncio.to_thread(self.store.release, key_hash)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status >= 500 or status == 429 or scope["path"] in _SECRET_ANSWERS:
            # not kept: a retry should run again (5xx, throttled), and secrets aren't stored
            await asyncio.to_thread(self.store.release, key_hash)
        else:
            assert start is not None
            kept = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in start.get("headers", [])
                if name.decode("latin-1").lower() in _STORED_HEADERS
            ]
            answer = b"".join(m.get("body", b"") for m in messages
                              if m["type"] == "http.response.body")
            await asyncio.to_thread(self.store.complete, key_hash, Stored(status, kept, answer))
        for message in messages:
            await send(message)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), True


async def _replay(stored: Stored, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
    headers.append((b"idempotent-replayed", b"true"))
    headers.append((b"content-length", str(len(stored.body)).encode()))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
