"""Socket.IO 2 packets for the `/amigosocket` namespace, over `eio`, as the `amigocloud`
client uses them: connect `40/amigosocket`, then the `authenticate` emit, whose one-time
websocket session subscribes the socket to a user's or a dataset's events on the bus.

Events go out as `42/amigosocket,["<name>", {data}]`, with no ack id (the client would pass
an ack function to one-argument callbacks). Only AmigoCloud's own names are forwarded —
`realtime` and `thing:what` (`project:creation_succeeded`, …); the native API's dotted names
stay on `/api/v1/ws`. A refused `authenticate` gets a Socket.IO error packet
`44/amigosocket,"<why>"` (the client's `error` callback) and the socket stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from cloudlet.server.core.errors import DomainError
from cloudlet.server.events.follow import Follower
from cloudlet.server.events.model import Event
from cloudlet.server.faces.amigocloud import eio, wsessions
from cloudlet.server.faces.amigocloud.eio_sessions import MemorySessions, RedisSessions
from cloudlet.server.services import Services

log = logging.getLogger(__name__)
NAMESPACE = "/amigosocket"
CONNECT, DISCONNECT, EVENT, ACK, ERROR = "0", "1", "2", "3", "4"


def forwarded(event: Event) -> bool:
    return event.event == "realtime" or ":" in event.event


def parse(packet: str) -> tuple[str, str, int | None, Any]:
    """(type, namespace, ack id, data) of a Socket.IO packet; ValueError if malformed."""
    kind, rest = packet[:1], packet[1:]
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    digits = len(rest) - len(rest.lstrip("0123456789"))
    ack = int(rest[:digits]) if digits else None
    data = orjson.loads(rest[digits:]) if rest[digits:] else None
    return kind, namespace, ack, data


def packet(kind: str, namespace: str, data: Any = None, ack: int | None = None) -> str:
    text = kind + (namespace if namespace != "/" else "")
    tail = (str(ack) if ack is not None else "") + (
        orjson.dumps(data).decode() if data is not None else "")
    return text + ("," if tail and namespace != "/" else "") + tail


class _Socket:
    """A socket's subscriptions, held by the worker that served its `authenticate`."""

    def __init__(self, services: Services) -> None:
        self.follower = Follower(services.events.bus, services.settings.events_queue_size)
        self.pump: asyncio.Task[None] | None = None


class AmigoSockets:
    """The `eio.Handler` of the AmigoCloud face."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        sessions = (RedisSessions(settings.redis_url, settings.redis_prefix)
                    if settings.redis_url else MemorySessions())
        self.engine = eio.EngineIO(self, sessions)
        self.sockets: dict[str, _Socket] = {}

    async def received(self, engine: eio.EngineIO, sid: str, message: str) -> None:
        try:
            kind, namespace, ack, data = parse(message)
        except (ValueError, orjson.JSONDecodeError):
            return  # not Socket.IO: nothing to answer
        if kind == CONNECT:
            known = namespace in ("/", NAMESPACE)
            await engine.send(sid, packet(CONNECT, namespace) if known
                              else packet(ERROR, namespace, "Invalid namespace"))
        elif kind == EVENT and namespace == NAMESPACE and isinstance(data, list) and data:
            if data[0] == "authenticate":
                await self.authenticate(engine, sid, data[1] if len(data) > 1 else None)
            if ack is not None:
                await engine.send(sid, packet(ACK, namespace, [], ack))
        elif kind == DISCONNECT and namespace == NAMESPACE:
            await self.closed(sid)

    async def authenticate(self, engine: eio.EngineIO, sid: str, auth: Any) -> None:
        try:
            topic = await wsessions.redeem(self.services, auth)
        except DomainError as exc:
            await engine.send(sid, packet(ERROR, NAMESPACE, exc.detail))
            return
        socket = self.sockets.get(sid)
        if socket is None:
            socket = self.sockets[sid] = _Socket(self.services)
            socket.pump = asyncio.get_running_loop().create_task(self._pump(engine, sid, socket))
        await socket.follower.follow(topic, None)

    async def _pump(self, engine: eio.EngineIO, sid: str, socket: _Socket) -> None:
        """Forward the socket's events; end when the session does (here or on any worker)."""
        checked = time.monotonic()
        try:
            while True:
                message = await socket.follower.next(eio.PING_INTERVAL)
                if message is None:  # fell too far behind: end it, the client redials
                    await engine.close(sid)
                    return
                if isinstance(message, Event) and forwarded(message):
                    await engine.send(sid, packet(EVENT, NAMESPACE, [message.event,
                                                                     message.data]))
                if time.monotonic() - checked >= eio.PING_INTERVAL:
                    checked = time.monotonic()
                    if not await engine.alive(sid):
                        return
        except Exception:  # a bus or store outage ends this socket, never the worker
            log.exception("amigocloud socket %s ended", sid)
        finally:
            if self.sockets.get(sid) is socket:
                del self.sockets[sid]
            await socket.follower.close()

    async def closed(self, sid: str) -> None:
        socket = self.sockets.pop(sid, None)
        if socket is not None and socket.pump is not None:
            if socket.pump is not asyncio.current_task():
                socket.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await socket.pump
