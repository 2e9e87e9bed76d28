"""Engine.IO protocol 3 over long-polling, written out: what socketIO-client 0.7.2 (the
`amigocloud` client's socket library) speaks, and no maintained server does any more.

Polling only: the handshake offers no upgrades, and a `transport=websocket` request is
refused with 400 at once (a client left waiting would sit out `pingTimeout`). Payloads use
the XHR2 binary framing that client reads — per packet `0x00`, the byte length as one byte
per decimal digit, `0xFF`, the packet text — or the text framing `<length>:<packet>` when a
client asks with `b64=1`.

Session state is in `eio_sessions` (this process, or Redis for several workers). The layer
above (Socket.IO) is a `Handler`; this module knows nothing of it.
"""

from __future__ import annotations

import secrets
from typing import Protocol

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cloudlet.server.faces.amigocloud.eio_sessions import LIFETIME, Sessions

PING_INTERVAL = 25.0  # seconds between the client's pings when it is not hurrying
PING_TIMEOUT = LIFETIME - PING_INTERVAL  # the client's read timeout on every poll and post
POLL_HOLD = 10.0  # an idle poll answers a noop well before the client's read timeout
OPEN, CLOSE, PING, PONG, MESSAGE, NOOP = "0", "1", "2", "3", "4", "6"
ERRORS = {0: "Transport unknown", 1: "Session ID unknown", 2: "Bad handshake method",
          3: "Bad request", 5: "Unsupported protocol version"}


class Handler(Protocol):
    """What runs on top: told of each session's messages and of its end."""

    async def received(self, engine: EngineIO, sid: str, message: str) -> None: ...

    async def closed(self, sid: str) -> None: ...


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

    def __init__(self, handler: Handler, sessions: Sessions) -> None:
        self.handler = handler
        self.sessions = sessions

    async def endpoint(self, request: Request) -> Response:
        query = request.query_params
        if query.get("EIO") != "3":
            return _error(5)
        if query.get("transport") != "polling":
            return _error(0)  # websocket included: no upgrade is ever offered
        text = query.get("b64") == "1"
        sid = query.get("sid")
        if sid is None:
            return await self._open(text) if request.method == "GET" else _error(2)
        if not await self.sessions.touch(sid):
            return _error(1)
        if request.method == "GET":
            return self._payload(await self.sessions.take(sid, POLL_HOLD) or [NOOP], text)
        try:
            packets = decode(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(3)
        for packet in packets:
            kind, data = packet[:1], packet[1:]
            if kind == PING:
                await self.sessions.push(sid, [PONG + data])
            elif kind == MESSAGE:
                await self.handler.received(self, sid, data)
            elif kind == CLOSE:
                await self.close(sid)
        return Response(b"ok", media_type="text/html")

    async def send(self, sid: str, message: str) -> None:
        """Queue an Engine.IO message packet for the session's next poll."""
        await self.sessions.push(sid, [MESSAGE + message])

    async def alive(self, sid: str) -> bool:
        return await self.sessions.alive(sid)

    async def close(self, sid: str) -> None:
        await self.sessions.end(sid)
        await self.handler.closed(sid)

    async def _open(self, text: bool) -> Response:
        sid = secrets.token_urlsafe(15)
        await self.sessions.create(sid)
        handshake = {"sid": sid, "upgrades": [], "pingInterval": int(PING_INTERVAL * 1000),
                     "pingTimeout": int(PING_TIMEOUT * 1000)}
        return self._payload([OPEN + orjson.dumps(handshake).decode()], text)

    def _payload(self, packets: list[str], text: bool) -> Response:
        kind = "text/plain; charset=UTF-8" if text else "application/octet-stream"
        return Response(encode(packets, text), media_type=kind)
