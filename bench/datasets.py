"""Datasets benchmark: importing, querying and exporting a CSV of points.

For each setup it generates one CSV of BENCH_DATASET_ROWS rows (id, name, lat, lon, value,
time) and measures, against a live server:
- **import**: upload + scan + load until the job has succeeded (rows/s, end to end);
- **chunked**: the same file as a resumable upload in CHUNK-byte chunks, then imported
  from the upload (whole-file sha256 checked, copied to the worker), end to end (rows/s),
  beside the one-request import of the same row;
- **bbox**: a page of 100 rows in a 1° box, median of 50 requests (ms);
- **export**: the whole dataset as CSV and as GeoJSON, streamed (rows/s).

Setups: Cloudlet on SQLite, Cloudlet on PostgreSQL + PostGIS (when a PostgreSQL answers at
CLOUDLET_BENCH_POSTGRES_URL, default the local one), and as the reference the same CSV
loaded with no server at all: Python's csv module into a plain SQLite table
(`executemany`), the floor under what parsing, typing and storing cost here; and, for
PostgreSQL, psycopg COPY into a plain PostGIS table.

Knobs: BENCH_DATASET_ROWS (200000), BENCH_DATASET_SETUPS (sqlite,postgres,reference),
BENCH_DATASET_CHUNK (8 MiB, the SDK's; AmigoCloud clients send 100000).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import LiveServer, start_server  # noqa: E402

ROWS = int(os.environ.get("BENCH_DATASET_ROWS", "200000"))
CHUNK = int(os.environ.get("BENCH_DATASET_CHUNK", str(8 << 20)))
SETUPS = os.environ.get("BENCH_DATASET_SETUPS", "sqlite,postgres,reference").split(",")
PG_URL = os.environ.get("CLOUDLET_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")


def _csv(n: int) -> bytes:
    rng = random.Random(7)
    out = io.StringIO()
    out.write("id,name,lat,lon,value,time\n")
    for i in range(n):
        out.write(f"{i},site {i},{rng.uniform(-60, 60):.5f},{rng.uniform(-170, 170):.5f},"
                  f"{rng.random() * 100:.3f},2024-01-{1 + i % 28:02d}T12:00:00Z\n")
    return out.getvalue().encode()


def _wait(c: Any, p: int, job: dict[str, Any]) -> dict[str, Any]:
    while job["state"] not in ("succeeded", "failed"):
        time.sleep(0.05)
        job = c.get(f"/projects/{p}/imports/{job['id']}").json()
    assert job["state"] == "succeeded", job
    return job


def _chunked(c: Any, p: int, data: bytes) -> float:
    start = time.perf_counter()
    upload_id = c.post(f"/projects/{p}/uploads", json={"total": len(data)}).json()["id"]
    for at in range(0, len(data), CHUNK):
        piece = data[at:at + CHUNK]
        c.put(f"/projects/{p}/uploads/{upload_id}", content=piece, timeout=600, headers={
            "content-type": "application/octet-stream",
            "content-range": f"bytes {at}-{at + len(piece) - 1}/{len(data)}"}
        ).raise_for_status()
    job = c.post(f"/projects/{p}/imports/from-upload", timeout=600, json={
        "upload_id": upload_id, "filename": "chunked.csv",
        "sha256": hashlib.sha256(data).hexdigest()}).json()
    _wait(c, p, job)
    return ROWS / (time.perf_counter() - start)


def _cloudlet(server: LiveServer, data: bytes) -> tuple[float, float, float, float, float]:
    user = make_user(server)
    p = user.home_project["id"]
    with user.client() as c:
        start = time.perf_counter()
        job = c.post(f"/projects/{p}/imports", params={"filename": "points.csv"}, content=data,
                     headers={"content-type": "text/csv"}, timeout=600).json()
        job = _wait(c, p, job)
        imported = ROWS / (time.perf_counter() - start)
        chunked = _chunked(c, p, data)
        d = job["datasets"][0]["id"]
        times = []
        for _ in range(50):
            x, y = random.uniform(-150, 150), random.uniform(-50, 50)
            t = time.perf_counter()
            answer = c.get(f"/projects/{p}/datasets/{d}/rows",
                           params={"bbox": f"{x},{y},{x + 1},{y + 1}", "limit": 100})
            answer.raise_for_status()
            times.append(time.perf_counter() - t)
        rates = []
        for fmt in ("csv", "geojson"):
            t = time.perf_counter()
            with c.stream("GET", f"/projects/{p}/datasets/{d}/export", params={"format": fmt},
                          timeout=600) as answer:
                for _chunk in answer.iter_bytes():
                    pass
            rates.append(ROWS / (time.perf_counter() - t))
    return imported, chunked, statistics.median(times) * 1000, rates[0], rates[1]


def _reference_sqlite(data: bytes) -> float:
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(Path(folder) / "ref.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER, name TEXT, lat REAL, lon REAL, value REAL, "
                     "time TEXT)")
        start = time.perf_counter()
        reader = csv.reader(io.StringIO(data.decode()))
        next(reader)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
                         ((int(a), b, float(c), float(d), float(e), f)
                          for a, b, c, d, e, f in reader))
        conn.execute("COMMIT")
        return ROWS / (time.perf_counter() - start)


def _reference_postgres(data: bytes) -> float | None:
    try:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA postgis")
            conn.execute("DROP TABLE IF EXISTS cloudlet_bench_ref")
            conn.execute("CREATE TABLE cloudlet_bench_ref (id bigint, name text, lat float8, "
                         "lon float8, value float8, time timestamptz, "
                         "geom postgis.geometry(Point, 4326))")
            start = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                    "COPY cloudlet_bench_ref (id, name, lat, lon, value, time) FROM STDIN "
                    "WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(data)
            conn.execute("UPDATE cloudlet_bench_ref SET geom = "
                         "postgis.ST_SetSRID(postgis.ST_MakePoint(lon, lat), 4326)")
            rate = ROWS / (time.perf_counter() - start)
            conn.execute("DROP TABLE cloudlet_bench_ref")
            return rate
    except Exception as error:  # no PostgreSQL here: skip the row
        print(f"  (postgres reference skipped: {error})")
        return None


def _pg_available() -> str | None:
    try:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3):
            return PG_URL
    except Exception:
        return None


def main(argv: list[str]) -> None:
    data = _csv(ROWS)
    print(f"\ndatasets: a CSV of {ROWS:,} points ({len(data) / 1e6:.1f} MB); import and "
          "export in rows/s, bbox page in ms (median)")
    print(f"{'setup':<44}{'import':>10}{'chunked':>10}{'bbox ms':>9}{'csv out':>10}"
          f"{'geojson':>10}")
    if "sqlite" in SETUPS:
        server = start_server()
        try:
            row = _cloudlet(server, data)
        finally:
            server.stop()
        print(f"{'cloudlet, sqlite':<44}{row[0]:>10,.0f}{row[1]:>10,.0f}{row[2]:>9.1f}"
              f"{row[3]:>10,.0f}{row[4]:>10,.0f}")
    pg = _pg_available() if "postgres" in SETUPS else None
    if pg:
        from tests.support.pg import PgDatabases

        databases = PgDatabases(pg)
        try:
            server = start_server(databases.clone())
            try:
                row = _cloudlet(server, data)
            finally:
                server.stop()
        finally:
            databases.drop_all()
        print(f"{'cloudlet, postgresql + postgis':<44}{row[0]:>10,.0f}{row[1]:>10,.0f}"
              f"{row[2]:>9.1f}{row[3]:>10,.0f}{row[4]:>10,.0f}")
    if "reference" in SETUPS:
        print(f"{'reference: csv + sqlite executemany':<44}{_reference_sqlite(data):>10,.0f}")
        if pg:
            rate = _reference_postgres(data)
            if rate:
                print(f"{'reference: psycopg COPY + ST_MakePoint':<44}{rate:>10,.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
