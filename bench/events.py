"""Events benchmark: publish events to one topic with 1, 100 and 1,000 websocket subscribers.

For each subscriber count it runs two passes against the same server:
- **burst**: all events published as fast as the bus takes them; prints delivered events/s
  (summed over subscribers), and whether every subscriber got every event;
- **paced**: events published at a steady rate the subscribers can keep up with; prints the
  p50/p99 end-to-end latency (publish → client receipt, same clock).

Setups: Cloudlet with the in-process bus, Cloudlet with the Redis bus (when a Redis answers
at CLOUDLET_BENCH_REDIS_URL, default the local one), and as the reference a bare `websockets`
server broadcasting the same envelopes with no auth, bus or queues. Subscribers are spread
over several client processes so that the clients are not the bottleneck.

Knobs: BENCH_EVENTS (10000), BENCH_SUBSCRIBERS (1,100,1000), BENCH_PACED_DELIVERIES (total
deliveries per second in the paced pass, 10000), BENCH_CLIENT_PROCESSES (4), BENCH_SETUPS
(memory,redis,reference).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
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
PACED_DELIVERIES = int(os.environ.get("BENCH_PACED_DELIVERIES", "10000"))
CLIENT_PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "4"))
SETUPS = os.environ.get("BENCH_SETUPS", "memory,redis,reference").split(",")


@dataclass
class Target:
    """How to reach one setup: open a subscriber, and publish `count` events."""

    url: str
    auth: list[dict[str, object]]  # messages a subscriber sends after connecting
    publish: Callable[[int, float], None]  # (count, interval)
    stop: Callable[[], None]


def _when(envelope: dict[str, object]) -> float:
    stamp = envelope["time"]
    if isinstance(stamp, float):
        return stamp
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


async def _subscribers(url: str, auth: list[dict[str, object]], n: int, count: int,
                       ready: object, go: object) -> tuple[int, list[float], int]:
    conns: list[ClientConnection] = []
    for _ in range(n):
        conn = await connect(url, max_size=None, max_queue=None)
        for message in auth:
            await conn.send(orjson.dumps(message).decode())
            if message.get("op") in ("auth", "subscribe"):
                answer = orjson.loads(await asyncio.wait_for(conn.recv(), 30))
                if answer.get("op") not in ("ready", "subscribed"):
                    raise RuntimeError(f"{message.get('op')} refused: {answer}")
        conns.append(conn)
    ready.set()  # type: ignore[attr-defined]
    latencies: list[float] = []
    gaps: list[object] = []

    async def drain(conn: ClientConnection) -> int:
        got = 0
        deadline = time.monotonic() + 600  # pings must not keep it waiting
        try:
            while got < count:
                left = deadline - time.monotonic()
                envelope = orjson.loads(await asyncio.wait_for(conn.recv(), max(left, 0.01)))
                if envelope.get("op") == "gap":
                    gaps.append(envelope)
                if envelope.get("op") == "event":
                    if got % 10 == 0:  # a sample keeps the clients light
                        latencies.append(time.time() - _when(envelope))
                    got += 1
        except TimeoutError:
            pass
        return got

    delivered = sum(await asyncio.gather(*(drain(c) for c in conns)))
    for conn in conns:
        await conn.close()
    return delivered, latencies, len(gaps)


def _client_process(url: str, auth: list[dict[str, object]], n: int, count: int,
                    ready: object, go: object, out: object) -> None:
    out.put(asyncio.run(_subscribers(url, auth, n, count, ready, go)))  # type: ignore[attr-defined]


def _run(target: Target, n_subs: int, count: int, interval: float
         ) -> tuple[float, float, float, str]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs, events = [], []
    per = [n_subs // CLIENT_PROCESSES + (1 if i < n_subs % CLIENT_PROCESSES else 0)
           for i in range(CLIENT_PROCESSES)]
    for n in (p for p in per if p):
        ready = ctx.Event()
        proc = ctx.Process(target=_client_process,
                           args=(target.url, target.auth, n, count, ready, None, out))
        proc.start()
        procs.append(proc)
        events.append(ready)
    for ready in events:
        ready.wait(120)
    started = time.perf_counter()
    target.publish(count, interval)
    results = [out.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    delivered = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else float("nan")
    gaps = sum(r[2] for r in results)
    complete = "yes" if delivered == count * n_subs else f"{delivered / count / n_subs:.1%}"
    return delivered / elapsed, p50, p99, complete + (f" ({gaps} gaps)" if gaps else "")


def _cloudlet(extra_env: dict[str, str]) -> Target:
    server = start_server(None, {"CLOUDLET_EVENTS_QUEUE_SIZE": str(EVENTS + 100),
                                 "CLOUDLET_EVENTS_HISTORY_SIZE": str(EVENTS + 100), **extra_env})
    user = make_user(server)
    topic = f"user:{user.id}"

    def publish(count: int, interval: float) -> None:
        answer = httpx.post(server.api + "/_debug/publish", timeout=3600,
                            json={"topic": topic, "count": count, "size": 0,
                                  "interval": interval})
        answer.raise_for_status()

    return Target(
        url=server.url.replace("http://", "ws://") + "/api/v1/ws",
        auth=[{"op": "auth", "token": user.token}, {"op": "subscribe", "topic": topic}],
        publish=publish,
        stop=server.stop,
    )


def _reference() -> Target:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("reference_ws.py")), str(port)])
    url = f"ws://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}", timeout=0.2)
            break
        except httpx.TransportError:
            time.sleep(0.05)

    def publish(count: int, interval: float) -> None:
        async def go() -> None:
            async with connect(url) as pub:
                await pub.send(orjson.dumps({"op": "publish", "count": count,
                                             "interval": interval}).decode())
                await pub.recv()

        asyncio.run(go())

    def stop() -> None:
        process.terminate()
        process.wait()

    return Target(url=url, auth=[], publish=publish, stop=stop)


def _redis_url() -> str | None:
    url = os.environ.get("CLOUDLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url).ping()
        return url
    except Exception:
        return None


def main(argv: list[str]) -> None:
    print(f"events: {EVENTS} events to one topic; burst: delivered events/s (all subscribers); "
          f"paced at {PACED_DELIVERIES} deliveries/s: latency p50/p99 (ms)")
    print(f"{'setup':<28}{'subs':>6}{'burst ev/s':>12}{'all got all':>13}"
          f"{'paced p50':>11}{'p99':>9}")
    setups: list[tuple[str, Callable[[], Target]]] = []
    if "memory" in SETUPS:
        setups.append(("cloudlet, in-process bus", lambda: _cloudlet({})))
    redis_url = _redis_url()
    if redis_url and "redis" in SETUPS:
        setups.append(("cloudlet, redis bus", lambda: _cloudlet(
            {"CLOUDLET_REDIS_URL": redis_url,
             "CLOUDLET_REDIS_PREFIX": f"cloudlet-bench-{os.getpid()}"})))
    if "reference" in SETUPS:
        setups.append(("reference: bare websockets", _reference))
    for n_subs in SUBSCRIBERS:
        paced_events = min(EVENTS, max(200, PACED_DELIVERIES * 10 // n_subs))
        interval = n_subs / PACED_DELIVERIES
        for name, make in setups:
            target = make()
            try:
                rate, _, _, complete = _run(target, n_subs, EVENTS, 0)
                _, p50, p99, _ = _run(target, n_subs, paced_events, interval)
            finally:
                target.stop()
            print(f"{name:<28}{n_subs:>6}{rate:>12,.0f}{complete:>13}"
                  f"{p50:>11.1f}{p99:>9.1f}", flush=True)
