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
from typing import Any

import orjson

from cloudlet.server.core.errors import DomainError
from cloudlet.server.events.follow import Follower
from cloudlet.server.events.model import Event
from cloudlet.server.faces.amigocloud import eio, wsessions
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
    def __init__(self, services: Services) -> None:
        self.follower = Follower(services.events.bus, services.settings.events_queue_size)
        self.pump: asyncio.Task[None] | None = None


class AmigoSockets:
    """The `eio.Handler` of the AmigoCloud face."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.engine = eio.EngineIO(self)

    async def opened(self, session: eio.Session) -> None:
        session.state = _Socket(self.services)

    async def received(self, session: eio.Session, message: str) -> None:
        try:
            kind, namespace, ack, data = parse(message)
        except (ValueError, orjson.JSONDecodeError):
            return  # not Socket.IO: nothing to answer
        if kind == CONNECT:
            known = namespace in ("/", NAMESPACE)
            session.send(packet(CONNECT, namespace) if known
                         else packet(ERROR, namespace, "Invalid namespace"))
        elif kind == EVENT and namespace == NAMESPACE and isinstance(data, list) and data:
            if data[0] == "authenticate":
                await self.authenticate(session, data[1] if len(data) > 1 else None)
            if ack is not None:
                session.send(packet(ACK, namespace, [], ack))
        elif kind == DISCONNECT and namespace == NAMESPACE:
            await self.closed(session)
            session.state = _Socket(self.services)

    async def authenticate(self, session: eio.Session, auth: Any) -> None:
        socket: _Socket = session.state
        try:
            topic = await wsessions.redeem(self.services, auth)
        except DomainError as exc:
            session.send(packet(ERROR, NAMESPACE, exc.detail))
            return
        await socket.follower.follow(topic, None)
        if socket.pump is None:
            socket.pump = asyncio.get_running_loop().create_task(self._pump(session, socket))

    async def _pump(self, session: eio.Session, socket: _Socket) -> None:
        while not session.closed:
            message = await socket.follower.next(eio.PING_INTERVAL)
            if message is None:  # this socket fell too far behind: end it, the client redials
                await self.engine.close(session)
                return
            if isinstance(message, Event) and forwarded(message):
                session.send(packet(EVENT, NAMESPACE, [message.event, message.data]))

    async def closed(self, session: eio.Session) -> None:
        socket: _Socket = session.state
        if socket.pump is not None and socket.pump is not asyncio.current_task():
            socket.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await socket.pump
        await socket.follower.close()
