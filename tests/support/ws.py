"""A small websocket client for the realtime tests (JSON envelopes, pings skipped)."""

from __future__ import annotations

import asyncio
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
