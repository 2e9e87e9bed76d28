"""ASGI middleware of the whole app: first query parameter wins, and a cap on small bodies."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudlet.server.http.problems import problem

# bodies parsed whole in memory; uploads (multipart, octet-stream, …) enforce their own limits
_CAPPED_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/", "")


class FirstParamWins:
    """Where a query parameter repeats, keep its first occurrence.

    The AmigoCloud cursor re-sends its original parameters on every `next` URL, so the
    server's own (earlier) `offset` must win over the re-sent one. Parameters a route takes
    as a list (`repeatable`: a path pattern and the names) keep every occurrence.
    """

    def __init__(self, app: ASGIApp,
                 repeatable: tuple[re.Pattern[str], frozenset[str]] | None = None) -> None:
        self.app = app
        self.repeatable = repeatable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("query_string"):
            raw = scope["query_string"].decode("latin-1")
            pairs = parse_qsl(raw, keep_blank_values=True)
            lists: frozenset[str] = frozenset()
            if self.repeatable and self.repeatable[0].match(scope.get("path", "")):
                lists = self.repeatable[1]
            seen: set[str] = set()
            kept: list[tuple[str, str]] = []
            for key, value in pairs:
                if key in lists or key not in seen:
                    kept.append((key, value))
                    seen.add(key)
            if len(kept) != len(pairs):
                scope = {**scope, "query_string": urlencode(kept).encode("latin-1")}
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for JSON/form/text bodies over `limit` bytes: before reading when Content-Length
    says so, otherwise as soon as the stream passes the limit."""

    def __init__(self, app: ASGIApp, limit: int, exempt: re.Pattern[str] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and self.exempt.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        if not any(ctype.startswith(t) for t in _CAPPED_TYPES if t) and ctype:
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # the app's error handlers turn this into a 413
                    raise HTTPException(413, self._detail)
            return message

        await self.app(scope, counted, send)

    @property
    def _detail(self) -> str:
        return f"The request body is larger than {self.limit} bytes."

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, self._detail)(scope, receive, send)
