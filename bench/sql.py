"""SQL isolation benchmark: while one project runs runaway queries, does another project's
simple query keep its latency?

For each backend (SQLite; PostgreSQL when one answers at CLOUDLET_BENCH_POSTGRES_URL, default
the local one) it starts a server and measures the latency of a small query in project B,
first alone (the reference), then while project A keeps RUNAWAYS recursive-CTE bombs running
(each stopped by the statement timeout, CLOUDLET_SQL_TIMEOUT = BENCH_SQL_TIMEOUT), and prints
p50/p99 side by side, with how many runaways were stopped (429) meanwhile.

Knobs: BENCH_SQL_QUERIES (300 per pass), BENCH_SQL_RUNAWAYS (2 concurrent), BENCH_SQL_TIMEOUT
(2 s), BENCH_SQL_SETUPS (sqlite,postgres).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import LiveServer, start_server  # noqa: E402

QUERIES = int(os.environ.get("BENCH_SQL_QUERIES", "300"))
RUNAWAYS = int(os.environ.get("BENCH_SQL_RUNAWAYS", "2"))
TIMEOUT = os.environ.get("BENCH_SQL_TIMEOUT", "2")
SETUPS = os.environ.get("BENCH_SQL_SETUPS", "sqlite,postgres").split(",")
SIMPLE = ("WITH t(x, g) AS (VALUES (1, ST_MakePoint(1, 2)), (2, ST_MakePoint(3, 4))) "
          "SELECT count(*), sum(x), ST_AsText(max(g)) FROM t")
RUNAWAY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"


def _latencies(client: httpx.Client, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        answer = client.get(url, params={"query": SIMPLE})
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    return times


def _runaway(server: LiveServer, token: str, project: int, stop: threading.Event,
             stopped: list[int]) -> None:
    with httpx.Client(base_url=server.api, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        while not stop.is_set():
            answer = client.get(f"/projects/{project}/sql", params={"query": RUNAWAY})
            if answer.status_code == 429:
                stopped.append(1)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _measure(name: str, database_url: str | None) -> None:
    server = start_server(database_url, {"CLOUDLET_SQL_TIMEOUT": TIMEOUT})
    try:
        a, b = make_user(server, "a"), make_user(server, "b")
        url = f"/projects/{b.home_project['id']}/sql"
        with httpx.Client(base_url=server.api, timeout=60,
                          headers={"Authorization": f"Bearer {b.token}"}) as client:
            _latencies(client, url, 20)  # warm up
            alone = _latencies(client, url, QUERIES)
            stop, stopped = threading.Event(), []
            threads = [threading.Thread(target=_runaway, daemon=True,
                                        args=(server, a.token, a.home_project["id"], stop,
                                              stopped)) for _ in range(RUNAWAYS)]
            for t in threads:
                t.start()
            time.sleep(0.5)  # the runaways are running
            beside = _latencies(client, url, QUERIES)
            stop.set()
            for t in threads:
                t.join(timeout=float(TIMEOUT) * 3)
        print(f"{name:<12}{_pct(alone, 50):>12.1f}{_pct(alone, 99):>9.1f}"
              f"{_pct(beside, 50):>16.1f}{_pct(beside, 99):>9.1f}{len(stopped):>14}", flush=True)
    finally:
        server.stop()


def _postgres() -> tuple[object, str] | None:
    url = os.environ.get("CLOUDLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        from tests.support.pg import PgDatabases

        databases = PgDatabases(url)
    except Exception as error:  # no PostgreSQL here: the SQLite figures stand alone
        print(f"postgres: skipped ({type(error).__name__})")
        return None
    return databases, databases.clone()


def main(argv: list[str]) -> None:
    print(f"sql: latency (ms) of a small query in project B, {QUERIES} sequential requests, "
          f"alone (reference) and beside {RUNAWAYS} runaway queries in project A "
          f"(stopped at {TIMEOUT} s)")
    print(f"{'backend':<12}{'alone p50':>12}{'p99':>9}{'beside p50':>16}{'p99':>9}"
          f"{'runaways 429':>14}")
    if "sqlite" in SETUPS:
        _measure("sqlite", None)
    if "postgres" in SETUPS and (found := _postgres()) is not None:
        databases, url = found
        try:
            _measure("postgres", url)
        finally:
            databases.drop_all()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv[1:])
