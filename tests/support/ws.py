"""A small websocket client for the realtime tests (JSON envelopes, pings skipped)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.support.live import LiveServer


class Socket:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, server: LiveServer, token: str, *, header: bool = False) -> Socket:
        url = server.url.replace("http://", "ws://") + "/api/v1/ws"
        headers = {"Authorization": f"Bearer {token}"} if header else None
        conn = await connect(url, additional_headers=headers, max_size=None)
        socket = cls(conn)
        try:
            if not header:
                await socket.send(op="auth", token=token)
            ready = await socket.recv()
            assert ready["op"] == "ready", ready
        except BaseException:
            await conn.close()
            raise
        return socket

    async def send(self, **message: Any) -> None:
        await self.conn.send(orjson.dumps(message).decode())

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.conn.recv(),
                                                                          timeout))
            if message["op"] != "ping":
                return message

    async def subscribe(self, topic: str, offset: int | None = None) -> dict[str, Any]:
        await self.send(op="subscribe", topic=topic, **({} if offset is None else
                                                        {"offset": offset}))
        return await self.recv()

    async def events(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while len(got) < n:
            message = await self.recv(timeout)
            assert message["op"] == "event", message
            got.append(message)
        return got

    async def close(self) -> None:
        await self.conn.close()


class RawSocket:
    """A websocket client at the byte level, which can simply stop reading (a stalled peer),
    with a small receive buffer so the stall reaches the server quickly."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def open(cls, server: LiveServer, token: str) -> RawSocket:
        host, port = server.url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /api/v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(sock)

    def send(self, **message: Any) -> None:
        payload = orjson.dumps(message)
        mask = os.urandom(4)
        header = bytes([0x81])
        length = len(payload)
        header += bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + \
            struct.pack("!H", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def read_until_closed(self, timeout: float) -> bytes:
        """Everything the server sends until it hangs up."""
        self.sock.settimeout(timeout)
        data = bytearray()
        while chunk := self.sock.recv(1 << 20):
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self.sock.close()
