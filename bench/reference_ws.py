"""The reference for the events benchmark: a bare `websockets` server that broadcasts the
same envelopes to the same clients, with no auth, bus or queues. Run as a subprocess."""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve

clients: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    clients.add(ws)
    try:
        async for raw in ws:
            message = orjson.loads(raw)
            if message.get("op") == "publish":
                interval = float(message.get("interval", 0))
                for i in range(message["count"]):
                    envelope = {"op": "event", "topic": "bench", "event": "debug",
                                "data": {"i": i, "pad": ""}, "offset": i + 1,
                                "time": time.time()}
                    broadcast(clients - {ws}, orjson.dumps(envelope).decode())
                    if interval:
                        await asyncio.sleep(interval)
                    elif i % 100 == 99:
                        await asyncio.sleep(0)
                await ws.send("done")
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
