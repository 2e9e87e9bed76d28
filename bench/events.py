"""Events benchmark: publish N events to one topic with 1, 100 and 1,000 websocket
subscribers; print events/s delivered and p50/p99 end-to-end latency, for Cloudlet's
in-process bus, its Redis bus (when CLOUDLET_BENCH_REDIS_URL or a local Redis is there), and a
bare `websockets` broadcast server as the reference."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import free_port, start_server  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SUBSCRIBERS = [int(n) for n in os.environ.get("BENCH_SUBSCRIBERS", "1,100,1000").split(",")]


def _when(envelope: dict[str, object]) -> float:
    stamp = envelope["time"]
    if isinstance(stamp, float):
        return stamp
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


async def _drain(conn: ClientConnection, count: int, latencies: list[float]) -> int:
    got = 0
    while got < count:
        envelope = orjson.loads(await asyncio.wait_for(conn.recv(), 60))
        if envelope.get("op") == "event":
            latencies.append(time.time() - _when(envelope))
            got += 1
    return got


async def _run(open_subscriber, publish, n_subs: int) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
    subscribers = [await open_subscriber() for _ in range(n_subs)]
    latencies: list[float] = []
    started = time.perf_counter()
    drains = [asyncio.create_task(_drain(s, EVENTS, latencies)) for s in subscribers]
    await publish()
    delivered = sum(await asyncio.gather(*drains, return_exceptions=False))
    elapsed = time.perf_counter() - started
    for s in subscribers:
        await s.close()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return delivered / elapsed, p50, p99, delivered


def _cloudlet(extra_env: dict[str, str]):  # type: ignore[no-untyped-def]
    server = start_server(None, {"CLOUDLET_EVENTS_QUEUE_SIZE": str(EVENTS + 100),
                                 "CLOUDLET_EVENTS_HISTORY_SIZE": str(EVENTS + 100),
                                 **extra_env})
    user = make_user(server)
    topic = f"user:{user.id}"
    url = server.url.replace("http://", "ws://") + "/api/v1/ws"

    async def open_subscriber() -> ClientConnection:
        conn = await connect(url, max_size=None, max_queue=None)
        await conn.send(orjson.dumps({"op": "auth", "token": user.token}).decode())
        await conn.recv()
        await conn.send(orjson.dumps({"op": "subscribe", "topic": topic}).decode())
        await conn.recv()
        return conn

    async def publish() -> None:
        async with httpx.AsyncClient(timeout=600) as http:
            await http.post(server.api + "/_debug/publish",
                            json={"topic": topic, "count": EVENTS, "size": 0})

    return server, open_subscriber, publish


def _reference():  # type: ignore[no-untyped-def]
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("reference_ws.py")),
                                str(port)])
    url = f"ws://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}", timeout=0.2)
            break
        except httpx.TransportError:
            time.sleep(0.05)

    async def open_subscriber() -> ClientConnection:
        return await connect(url, max_size=None, max_queue=None)

    async def publish() -> None:
        async with connect(url) as pub:
            await pub.send(orjson.dumps({"op": "publish", "count": EVENTS}).decode())
            await pub.recv()

    return process, open_subscriber, publish


def _redis_url() -> str | None:
    url = os.environ.get("CLOUDLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url).ping()
        return url
    except Exception:
        return None


def main(argv: list[str]) -> None:
    print(f"events: {EVENTS} events to one topic; delivered events/s, p50/p99 latency (ms)")
    print(f"{'setup':<28}{'subscribers':>12}{'events/s':>12}{'p50':>9}{'p99':>9}")
    setups = [("cloudlet, in-process bus", {})]
    redis_url = _redis_url()
    if redis_url:
        setups.append(("cloudlet, redis bus", {"CLOUDLET_REDIS_URL": redis_url,
                                               "CLOUDLET_REDIS_PREFIX": "cloudlet-bench"}))
    for n_subs in SUBSCRIBERS:
        for name, env in setups:
            server, open_subscriber, publish = _cloudlet(env)
            try:
                rate, p50, p99, _ = asyncio.run(_run(open_subscriber, publish, n_subs))
            finally:
                server.stop()
            print(f"{name:<28}{n_subs:>12}{rate:>12,.0f}{p50:>9.1f}{p99:>9.1f}", flush=True)
        process, open_subscriber, publish = _reference()
        try:
            rate, p50, p99, _ = asyncio.run(_run(open_subscriber, publish, n_subs))
        finally:
            process.terminate()
            process.wait()
        print(f"{'reference: bare websockets':<28}{n_subs:>12}{rate:>12,.0f}{p50:>9.1f}"
              f"{p99:>9.1f}", flush=True)
