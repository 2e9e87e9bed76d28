"""Realtime transports: the websocket `/ws` and server-sent events `/events`.

Websocket protocol (JSON text frames, envelope `{op, topic, event, data, id, offset}`):
- authenticate with `Authorization: Bearer …` on the upgrade, or a first message
  `{"op": "auth", "token": "…"}`; the server answers `{"op": "ready", …}`;
- `{"op": "subscribe", "topic": "project:3", "offset": 41?}` → `subscribed`, then any `gap`
  and the history after that offset, then live `event`s; `unsubscribe` likewise;
- a topic the caller may not read answers `{"op": "error", "topic", "detail"}` and the
  connection stays up;
- the server sends `{"op": "ping"}` periodically (answer optional); `{"op": "ping"}` from the
  client gets `pong`;
- close codes: 4401 credentials missing, revoked or expired (checked every few seconds),
  4008 too slow: the bounded queue overflowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from cloudlet.server.core.errors import DomainError, Invalid
from cloudlet.server.core.principal import Principal
from cloudlet.server.events.follow import Follower
from cloudlet.server.events.model import Event, decode_cursor
from cloudlet.server.http.auth import SCHEMES, Caller, Svc
from cloudlet.server.services import Services

router = APIRouter(tags=["events"])
AUTH_TIMEOUT = 10.0
CLOSE_AUTH, CLOSE_SLOW = 4401, 4008
SLOW_CLOSE_WAIT = 30.0


def _header_token(raw: str | None) -> str | None:
    scheme, _, value = (raw or "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() in SCHEMES and value and value != "None" else None


class _Socket:
    """One websocket connection: client messages in, events out, periodic checks."""

    def __init__(self, ws: WebSocket, services: Services) -> None:
        self.ws = ws
        self.services = services
        settings = services.settings
        self.follower = Follower(services.events.bus, settings.events_queue_size)
        self.ping_every = float(settings.events_ping_interval)
        self.recheck_every = float(settings.events_recheck_interval)
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any] | Event) -> None:
        text = message.wire if isinstance(message, Event) else orjson.dumps(message).decode()
        async with self.send_lock:
            await self.ws.send_text(text)

    async def authenticate(self) -> tuple[str, Principal] | None:
        token = _header_token(self.ws.headers.get("authorization"))
        if token is None:
            try:
                first = orjson.loads(
                    await asyncio.wait_for(self.ws.receive_text(), AUTH_TIMEOUT)
                )
                token = first.get("token") if first.get("op") == "auth" else None
            except (TimeoutError, orjson.JSONDecodeError, AttributeError):
                token = None
        if not isinstance(token, str) or not token:
            await self.refuse("Send the token first: {\"op\": \"auth\", \"token\": \"…\"}.")
            return None
        try:
            return token, await asyncio.to_thread(self.services.tokens.authenticate, token)
        except DomainError as exc:
            await self.refuse(exc.detail)
            return None

    async def refuse(self, detail: str) -> None:
        await self.send({"op": "error", "detail": detail})
        await self.ws.close(CLOSE_AUTH, detail[:120])

    async def run(self) -> None:
        await self.ws.accept()
        known = await self.authenticate()
        if known is None:
            return
        token, principal = known
        await self.send({"op": "ready", "user": principal.username,
                         "user_id": principal.user_id})
        tasks = [
            asyncio.create_task(self.inbound(principal)),
            asyncio.create_task(self.outbound()),
            asyncio.create_task(self.recheck(token)),
            asyncio.create_task(self.overflow()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.follower.close()

    async def inbound(self, principal: Principal) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                try:
                    message = orjson.loads(await self.ws.receive_text())
                    op = message.get("op")
                except (orjson.JSONDecodeError, AttributeError):
                    await self.send({"op": "error", "detail": "Messages are JSON objects."})
                    continue
                if op == "subscribe":
                    await self.subscribe(principal, message.get("topic"), message.get("offset"))
                elif op == "unsubscribe":
                    topic = str(message.get("topic"))
                    await self.follower.unfollow(topic)
                    await self.send({"op": "unsubscribed", "topic": topic})
                elif op == "ping":
                    await self.send({"op": "pong"})
                else:
                    await self.send({"op": "error", "detail": f"Unknown op {op!r}; use "
                                     "subscribe, unsubscribe or ping."})

    async def subscribe(self, principal: Principal, requested: Any, offset: Any) -> None:
        try:
            if not isinstance(requested, str):
                raise Invalid("subscribe needs a topic such as project:3.")
            if offset is not None and (not isinstance(offset, int) or offset < 0):
                raise Invalid("offset is the last offset you saw: a whole number.")
            topic = await asyncio.to_thread(
                self.services.events.authorize, principal, requested
            )
        except DomainError as exc:
            await self.send({"op": "error", "topic": requested, "detail": exc.detail})
            return
        for message in await self.follower.follow(topic, offset):
            await self.send(message)

    async def outbound(self) -> None:
        while True:
            message = await self.follower.next(self.ping_every)
            if message is None:
                return  # overflowed: `overflow` closes the connection
            await self.send({"op": "ping"} if isinstance(message, dict) else message)

    async def overflow(self) -> None:
        """Close a connection whose queue overflowed.

        The queue is dropped at once, so memory stays bounded; the error and the close frame
        go out behind what the socket already holds, and if the client doesn't drain that
        within `SLOW_CLOSE_WAIT`, the connection is cut without them.
        """
        await self.follower.subscriber.overflow.wait()
        detail = "Too slow: the event queue overflowed; reconnect and resume."
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SLOW_CLOSE_WAIT):
                async with self.send_lock:
                    await self.ws.send_text(
                        orjson.dumps({"op": "error", "detail": detail}).decode()
                    )
                    await self.ws.close(CLOSE_SLOW, detail[:120])

    async def recheck(self, token: str) -> None:
        """Close within seconds of a revocation or expiry; drop topics whose access ended.

        Connections made together are spread over the interval, so their checks don't all
        hit the database at the same moment.
        """
        delay = random.uniform(0, self.recheck_every)
        while True:
            await asyncio.sleep(delay)
            delay = self.recheck_every
            try:
                principal = await asyncio.to_thread(self.services.tokens.authenticate, token)
            except DomainError as exc:
                await self.refuse(exc.detail)
                return
            for topic in list(self.follower.offsets):
                try:
                    await asyncio.to_thread(self.services.events.authorize, principal, topic)
                except DomainError:
                    await self.follower.unfollow(topic)
                    await self.send({"op": "unsubscribed", "topic": topic,
                                     "detail": "You no longer have access to this topic."})


@router.websocket("/ws")
async def websocket_events(websocket: WebSocket) -> None:
    await _Socket(websocket, websocket.app.state.services).run()


@router.get("/events", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "An event stream"}})
def event_stream(
    request: Request,
    caller: Caller,
    services: Svc,
    topics: str = Query(description="Comma-separated topics, e.g. user:1,project:3"),
    last_event_id: str | None = Header(None, description="Resume: the last `id:` received"),
    cursor: str | None = Query(None, description="Resume, as Last-Event-ID (for curl)"),
) -> StreamingResponse:
    """Server-sent events for clients that can't use the websocket (browsers, curl)."""
    wanted = [t.strip() for t in topics.split(",") if t.strip()]
    if not wanted:
        raise Invalid("Name at least one topic: ?topics=user:1,project:3")
    canonical = [services.events.authorize(caller, t) for t in wanted]
    resume = decode_cursor(last_event_id or cursor)
    token = request.state.token
    return StreamingResponse(
        _sse(services, canonical, resume, token),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _frame(follower: Follower, message: dict[str, Any] | Event) -> bytes:
    if isinstance(message, Event):
        name, data = message.event, message.wire
    else:
        name = message.get("event") if message["op"] == "event" else message["op"]
        data = orjson.dumps(message).decode()
    return f"id: {follower.cursor}\nevent: {name}\ndata: {data}\n\n".encode()


async def _sse(services: Services, topics: list[str], resume: dict[str, int], token: str
               ) -> AsyncIterator[bytes]:
    settings = services.settings
    follower = Follower(services.events.bus, settings.events_queue_size)
    next_check = time.monotonic() + settings.events_recheck_interval
    try:
        yield b"retry: 2000\n\n"
        for topic in topics:
            for message in await follower.follow(topic, resume.get(topic)):
                yield _frame(follower, message)
        while True:
            message = await follower.next(min(settings.events_ping_interval,
                                              settings.events_recheck_interval))
            if message is None:
                yield _frame(follower, {"op": "error", "detail": "Too slow: the event queue "
                                        "overflowed; reconnect with Last-Event-ID."})
                return
            if isinstance(message, dict):  # idle
                yield b": ping\n\n"
            else:
                yield _frame(follower, message)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + settings.events_recheck_interval
                try:
                    await asyncio.to_thread(services.tokens.authenticate, token)
                except DomainError as exc:
                    yield _frame(follower, {"op": "error", "detail": exc.detail})
                    return
    finally:
        await follower.close()
