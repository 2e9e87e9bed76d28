"""SDK writer benchmark: how fast `Writer.add()` returns, without and with a spool, and the
same for `AsyncWriter` (`await add()`, from asyncio tasks instead of threads).

A live Cloudlet server (embedded default); for each setup, BENCH_WRITER_POINTS points are
added by 1 and by 4 threads (or tasks), then `close()` waits until the server has them all. Prints
add() calls per second (adding only) and points per second end to end (adding + delivery).
With a spool every add() is fsync'd before it returns, so it costs one disk flush — shared by
threads adding at the same moment (group commit); `add_series` spools a whole series in one.

Knobs: BENCH_WRITER_POINTS (20000; the spool setups use a tenth: they are fsync-bound).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import start_server  # noqa: E402

import cloudlet  # noqa: E402
from cloudlet import DataPoint, DataSeries  # noqa: E402

T0 = 1_700_000_000_000


def _run(client: cloudlet.Client, project: int, device: str, count: int, threads: int,
         spool: str | None, series: bool) -> tuple[float, float]:
    writer = client.writer(project, device=device, spool_dir=spool, batch_size=5_000)
    per = count // threads

    def add(k: int) -> None:
        if series:
            for start in range(0, per, 100):
                writer.add_series(DataSeries(f"s{k}", [DataPoint(i, T0 + i) for i in
                                                        range(start, min(per, start + 100))]))
            return
        for i in range(per):
            writer.add(f"s{k}", i, T0 + i)

    workers = [threading.Thread(target=add, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    added = time.perf_counter() - began
    writer.close()
    total = time.perf_counter() - began
    return per * threads / added, per * threads / total


def _run_async(url: str, token: str, project: int, device: str, count: int, tasks: int,
               spool: str | None, series: bool) -> tuple[float, float]:
    async def go() -> tuple[float, float]:
        async with cloudlet.AsyncClient(url, token, profile=False) as client:
            writer = client.writer(project, device=device, spool_dir=spool, batch_size=5_000)
            per = count // tasks

            async def add(k: int) -> None:
                if series:
                    for start in range(0, per, 100):
                        await writer.add_series(DataSeries(f"s{k}", [
                            DataPoint(i, T0 + i) for i in range(start, min(per, start + 100))]))
                    return
                for i in range(per):
                    await writer.add(f"s{k}", i, T0 + i)

            began = time.perf_counter()
            await asyncio.gather(*(add(k) for k in range(tasks)))
            added = time.perf_counter() - began
            await writer.aclose()
            total = time.perf_counter() - began
            return per * tasks / added, per * tasks / total

    return asyncio.run(go())


def main(argv: list[str]) -> None:
    count = int(os.environ.get("BENCH_WRITER_POINTS", "20000"))
    server = start_server(None, {"CLOUDLET_LOG_LEVEL": "warning"})
    try:
        user = make_user(server)
        project = user.home_project["id"]
        print(f"\nSDK Writer.add() — {count} points (spool: {count // 10}), embedded server")
        print(f"{'setup':<34}{'threads':>8}{'add() calls/s':>16}{'end to end pts/s':>18}")
        with cloudlet.Client(server.url, user.token, profile=False) as client, \
                tempfile.TemporaryDirectory() as tmp:
            setups = [("memory, add()", False, False, count),
                      ("spool (fsync per add), add()", True, False, count // 10),
                      ("spool, add_series of 100", True, True, count)]
            for n, (name, spooled, series, points) in enumerate(setups):
                for threads in (1, 4):
                    spool = f"{tmp}/spool-{n}-{threads}" if spooled else None
                    adds, end = _run(client, project, f"bench-{n}-{threads}", points, threads,
                                     spool, series)
                    calls = adds / 100 if series else adds
                    print(f"{name:<34}{threads:>8}{calls:>16,.0f}{end:>18,.0f}")
            for n, (name, spooled, series, points) in enumerate(setups):
                for tasks in (1, 4):
                    spool = f"{tmp}/aspool-{n}-{tasks}" if spooled else None
                    adds, end = _run_async(server.url, user.token, project,
                                           f"abench-{n}-{tasks}", points, tasks, spool, series)
                    calls = adds / 100 if series else adds
                    print(f"{'async ' + name:<34}{tasks:>8}{calls:>16,.0f}{end:>18,.0f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
