"""Engine.IO protocol 3 over long-polling, written out: what socketIO-client 0.7.2 (the
`amigocloud` client's socket library) speaks, and no maintained server does any more.

Polling only: the handshake offers no upgrades, and a `transport=websocket` request is
refused with 400 at once (a client left waiting would sit out `pingTimeout`). Payloads use
the XHR2 binary framing that client reads — per packet `0x00`, the byte length as one byte
per decimal digit, `0xFF`, the packet text — or the text framing `<length>:<packet>` when a
client asks with `b64=1`.

Sessions live in this process, so with several workers the socket path needs sticky
routing. The layer above (Socket.IO) is a `Handler`; this module knows nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PING_INTERVAL = 25.0  # seconds between the client's pings when it is not hurrying
PING_TIMEOUT = 20.0  # the client's read timeout on every poll and post
POLL_HOLD = 10.0  # an idle poll answers a noop well before the client's read timeout
OPEN, CLOSE, PING, PONG, MESSAGE, NOOP = "0", "1", "2", "3", "4", "6"
ERRORS = {0: "Transport unknown", 1: "Session ID unknown", 2: "Bad handshake method",
          3: "Bad request", 5: "Unsupported protocol version"}


class Handler(Protocol):
    """What runs on top: told of each session's messages and of its end."""

    async def opened(self, session: Session) -> None: ...

    async def received(self, session: Session, message: str) -> None: ...

    async def closed(self, session: Session) -> None: ...


@dataclass(eq=False)
class Session:
    sid: str
    outbox: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_seen: float = field(default_factory=time.monotonic)
    polling: bool = False
    closed: bool = False
    state: Any = None  # the handler's own
    watcher: asyncio.Task[None] | None = None

    def send(self, message: str) -> None:
        """Queue an Engine.IO message packet for the next poll."""
        self.push(MESSAGE + message)

    def push(self, packet: str) -> None:
        if not self.closed:
            self.outbox.append(packet)
            self.ready.set()


def encode(packets: list[str], text: bool = False) -> bytes:
    if text:  # lengths in characters, as JavaScript counts them closely enough
        return "".join(f"{len(p)}:{p}" for p in packets).encode()
    out = bytearray()
    for packet in packets:
        data = packet.encode()
        out += b"\x00" + bytes(int(d) for d in str(len(data))) + b"\xff" + data
    return bytes(out)


def decode(body: bytes) -> list[str]:
    """The packets of a posted payload; ValueError if it is not one."""
    packets: list[str] = []
    if body[:1] in (b"\x00", b"\x01"):
        i = 0
        while i < len(body):
            if body[i] != 0:
                raise ValueError("binary packets are not supported")
            end = body.index(b"\xff", i)
            length = int("".join(str(d) for d in body[i + 1:end]))
            packets.append(body[end + 1:end + 1 + length].decode())
            i = end + 1 + length
        return packets
    text = body.decode()
    while text:
        length, colon, rest = text.partition(":")
        if not colon or not length.isdigit():
            raise ValueError("not an Engine.IO payload")
        packets.append(rest[:int(length)])
        text = rest[int(length):]
    return packets


def _error(code: int) -> Response:
    return JSONResponse({"code": code, "message": ERRORS[code], "detail": ERRORS[code]},
                        status_code=400)


class EngineIO:
    """The polling endpoint: a Starlette endpoint for GET and POST on one path."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sessions: dict[str, Session] = {}

    async def endpoint(self, request: Request) -> Response:
        query = request.query_params
        if query.get("EIO") != "3":
            return _error(5)
        if query.get("transport") != "polling":
            return _error(0)  # websocket included: no upgrade is ever offered
        sid = query.get("sid")
        if sid is None:
            return await self._open(request) if request.method == "GET" else _error(2)
        session = self.sessions.get(sid)
        if session is None or (session.closed and request.method != "GET"):
            return _error(1)
        session.last_seen = time.monotonic()
        if request.method == "GET":
            return await self._poll(session, query.get("b64") == "1")
        return await self._post(session, await request.body())

    async def _open(self, request: Request) -> Response:
        session = Session(secrets.token_urlsafe(15))
        self.sessions[session.sid] = session
        await self.handler.opened(session)
        session.watcher = asyncio.get_running_loop().create_task(self._watch(session))
        handshake = {"sid": session.sid, "upgrades": [],
                     "pingInterval": int(PING_INTERVAL * 1000),
                     "pingTimeout": int(PING_TIMEOUT * 1000)}
        return self._payload([OPEN + orjson.dumps(handshake).decode()],
                             request.query_params.get("b64") == "1")

    async def _poll(self, session: Session, text: bool) -> Response:
        if session.polling:
            return _error(3)  # one poll at a time
        session.polling = True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.ready.wait(), POLL_HOLD)
            packets, session.outbox = session.outbox or [NOOP], []
            session.ready.clear()
        finally:
            session.polling = False
            session.last_seen = time.monotonic()
        if session.closed:
            self.sessions.pop(session.sid, None)
        return self._payload(packets, text)

    async def _post(self, session: Session, body: bytes) -> Response:
        try:
            packets = decode(body)
        except (ValueError, UnicodeDecodeError):
            return _error(3)
        for packet in packets:
            kind, data = packet[:1], packet[1:]
            if kind == PING:
                session.push(PONG + data)
            elif kind == MESSAGE:
                await self.handler.received(session, data)
            elif kind == CLOSE:
                await self.close(session, tell=False)
        return Response(b"ok", media_type="text/html")

    async def close(self, session: Session, *, tell: bool = True) -> None:
        """End a session; `tell` leaves a close packet for a last poll to collect."""
        if session.closed:
            return
        if tell:
            session.push(CLOSE)
        session.closed = True
        session.ready.set()
        if not tell:
            self.sessions.pop(session.sid, None)
        await self.handler.closed(session)

    async def _watch(self, session: Session) -> None:
        """Drop a session the client stopped polling and pinging."""
        while session.sid in self.sessions:
            await asyncio.sleep(PING_INTERVAL)
            idle = time.monotonic() - session.last_seen
            if not session.polling and idle > PING_INTERVAL + PING_TIMEOUT:
                self.sessions.pop(session.sid, None)
                await self.close(session, tell=False)

    def _payload(self, packets: list[str], text: bool) -> Response:
        kind = "text/plain; charset=UTF-8" if text else "application/octet-stream"
        return Response(encode(packets, text), media_type=kind)
