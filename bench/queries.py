"""Query benchmark: the same points read back from InfluxDB 1.6 and from Cloudlet.

One stream of 1,000,000 points (one second apart, values with negatives) is loaded into
InfluxDB 1.6 (line protocol) and into Cloudlet (columnar JSON; SQLite, the embedded default,
and PostgreSQL when it answers), then queried back whole with one `httpx.Client`, streaming
each body and parsing it as it arrives:

- InfluxDB: `GET /query?chunked=true&epoch=ms` (chunks of 10,000 values, each parsed with
  orjson);
- Cloudlet: `GET /api/v1/streams/{gid}/points` as JSON (pages of `limit=10000`, and of the
  largest page, `limit=100000` (`json-100k`), following `next`; orjson), NDJSON (orjson, a
  chunk of lines at a time), CSV (`pyarrow.csv` streaming reader), Arrow IPC (`pyarrow.ipc`
  stream reader) and Parquet (`pyarrow.parquet`, whole body). Those rows carry every
  column (`stream, timestamp, time, value, output_value`, ~157 bytes a JSON row); the
  `json-100k-tv` and `ndjson-tv` rows ask `fields=time,value`, the same information
  InfluxDB's answer carries (time and value), so they compare like with like.

Prints points/s (and the ratio to InfluxDB), the body size, the client's own parse time, the
server's CPU seconds for the query (/proc/<pid>/stat: comparable when the machine is busy), and
the server's peak resident memory above its resting level for the first 100,000 points and
for all 1,000,000 (VmHWM reset through /proc/<pid>/clear_refs before each query where the
kernel allows it, and VmRSS sampled every 10 ms), which shows whether memory grows with the
result.

Then one stream of 10,000,000 points (BENCH_QUERY_BIG) is loaded the same way, read back
whole once as NDJSON (the server's memory for 10× the result), and downsampled:
`every=1h&agg=mean` (and `agg=max`) against InfluxDB's `SELECT mean(value) … GROUP BY
time(1h)`; the first answer and the best of three are printed, with the load times.

Knobs: BENCH_QUERY_POINTS (1000000), BENCH_QUERY_BIG (10000000; 0 skips the downsample part),
BENCH_QUERY_SETUPS (influx,sqlite,postgres), BENCH_QUERY_FORMATS
(json,json-100k,json-ahead,ndjson,csv,arrow,parquet,json-100k-tv,ndjson-tv),
BENCH_QUERY_REPEAT (best of 3),
CLOUDLET_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.timeseries import PG_URL, Cloudlet, Influx, _pg_available  # noqa: E402

POINTS = int(os.environ.get("BENCH_QUERY_POINTS", "1000000"))
BIG = int(os.environ.get("BENCH_QUERY_BIG", "10000000"))
SETUPS = os.environ.get("BENCH_QUERY_SETUPS", "influx,sqlite,postgres").split(",")
FORMATS = os.environ.get("BENCH_QUERY_FORMATS",
                         "json,json-100k,json-ahead,ndjson,csv,arrow,parquet,json-100k-tv,"
                         "ndjson-tv").split(",")
REPEAT = int(os.environ.get("BENCH_QUERY_REPEAT", "3"))
SMALL = min(100_000, POINTS)
T0 = 1_700_000_000  # seconds
LOAD_BATCH = 100_000  # points per Cloudlet request
INFLUX_BATCH = 10_000  # lines per InfluxDB request (its documented sweet spot: 5-10k)
LOADERS = 2  # concurrent load requests


def times_us(first: int, n: int) -> np.ndarray:
    return (T0 + np.arange(first, first + n, dtype=np.int64)) * 1_000_000


def values(first: int, n: int) -> np.ndarray:
    i = np.arange(first, first + n, dtype=np.int64)
    return ((i * 7919) % 200_001 - 100_000) / 100.0


def end_ms(n: int) -> int:
    """The inclusive end (epoch ms) that selects the first n points."""
    return (T0 + n - 1) * 1000


# --- memory ------------------------------------------------------------------------------

def _status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


class Rss:
    """The peak resident memory of a process during a block, above where it started (MiB)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, _status_kib(self.pid, "VmRSS"))
            except OSError:
                return

    def __enter__(self) -> Rss:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM
            self._hwm = True
        except OSError:
            self._hwm = False
        self.base = self.peak = _status_kib(self.pid, "VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._hwm:
            self.peak = max(self.peak, _status_kib(self.pid, "VmHWM"))

    @property
    def grew(self) -> float:
        return (self.peak - self.base) / 1024

    def text(self) -> str:
        return f"{self.peak / 1024:.0f} (+{self.grew:.0f})"


# --- readers: each returns how many points it parsed -------------------------------------

@dataclass
class Fetched:
    points: int = 0
    size: int = 0
    parse: float = 0.0  # seconds the client spent parsing
    seconds: float = 0.0
    cpu: float = 0.0  # the server's CPU seconds


class _BodyFile(io.RawIOBase):
    """A streamed httpx body as a file, for pyarrow's incremental readers."""

    def __init__(self, chunks: Iterator[bytes], got: Fetched) -> None:
        self.chunks, self.got, self.rest = chunks, got, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.rest:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.got.size += len(chunk)
            self.rest = chunk
        n = min(len(buffer), len(self.rest))
        buffer[:n] = self.rest[:n]
        self.rest = self.rest[n:]
        return n


def _lines(chunks: Iterator[bytes], got: Fetched) -> Iterator[bytes]:
    """Runs of whole lines, as they arrive."""
    tail = b""
    for chunk in chunks:
        got.size += len(chunk)
        cut = chunk.rfind(b"\n")
        if cut < 0:
            tail += chunk
            continue
        yield tail + chunk[:cut]
        tail = chunk[cut + 1:]
    if tail.strip():
        yield tail


def _check(answer: httpx.Response) -> None:
    if answer.status_code != 200:
        answer.read()
        raise RuntimeError(f"{answer.status_code} {answer.text[:200]}")


def read_influx(client: httpx.Client, url: str, query: str, got: Fetched) -> None:
    params = {"db": url.rsplit("=", 1)[1], "q": query, "chunked": "true", "epoch": "ms"}
    with client.stream("GET", url.split("?")[0], params=params) as answer:
        _check(answer)
        for run in _lines(answer.iter_bytes(), got):
            began = time.perf_counter()
            for line in run.split(b"\n"):
                if not line.strip():
                    continue
                doc = orjson.loads(line)
                for result in doc["results"]:
                    if "error" in result:
                        raise RuntimeError(result["error"])
                    for series in result.get("series", ()):
                        got.points += len(series["values"])
            got.parse += time.perf_counter() - began


def read_json(client: httpx.Client, url: str, params: dict[str, str], got: Fetched,
              page: int = 10_000) -> None:
    """JSON pages of `page` rows, one after the other, following `next`."""
    link: str | None = url
    query: dict[str, str] | None = {"format": "json", "limit": str(page), **params}
    while link:
        with client.stream("GET", link, params=query) as answer:
            _check(answer)
            body = b"".join(answer.iter_bytes())
        got.size += len(body)
        began = time.perf_counter()
        page_ = orjson.loads(body)
        got.points += len(page_["results"])
        got.parse += time.perf_counter() - began
        link, query = page_["next"], None


def read_json_max(client: httpx.Client, url: str, params: dict[str, str], got: Fetched
                  ) -> None:
    """The largest JSON page the server gives (100,000 rows), as a bulk reader asks."""
    read_json(client, url, params, got, page=100_000)


def read_json_ahead(client: httpx.Client, url: str, params: dict[str, str], got: Fetched,
                    page: int = 100_000) -> None:
    """Pages of 100,000 rows, each asked for as soon as the page before has sent its
    envelope head (`next` comes before `results`), so the server makes a page while the
    client parses the one before, as InfluxDB's chunked answer does; at most two bodies
    wait unparsed (what the SDK's iterator does)."""
    room = threading.Semaphore(2)
    sizes: list[int] = []

    def fetch(link: str, query: dict[str, str] | None) -> tuple[bytes, Any]:
        following: Any = None
        with client.stream("GET", link, params=query) as answer:
            _check(answer)
            parts: list[bytes] = []
            for chunk in answer.iter_bytes():
                parts.append(chunk)
                if following is None:
                    head = b"".join(parts)
                    cut = head.find(b',"results":[')
                    if cut >= 0:
                        parts = [head]
                        link = orjson.loads(head[:cut] + b"}")["next"]
                        following = False
                        if link:
                            room.acquire()
                            following = pool.submit(fetch, link, None)
        body = b"".join(parts)
        sizes.append(len(body))
        return body, following

    with ThreadPoolExecutor(2) as pool:
        room.acquire()
        pending: Any = pool.submit(fetch, url, {"format": "json", "limit": str(page),
                                                **params})
        while pending:
            body, pending = pending.result()
            room.release()
            began = time.perf_counter()
            got.points += len(orjson.loads(body)["results"])
            got.parse += time.perf_counter() - began
    got.size += sum(sizes)


def read_ndjson(client: httpx.Client, url: str, params: dict[str, str], got: Fetched) -> None:
    with client.stream("GET", url, params={**params, "format": "ndjson"}) as answer:
        _check(answer)
        for run in _lines(answer.iter_bytes(), got):
            began = time.perf_counter()
            got.points += len(orjson.loads(b"[" + run.strip().replace(b"\n", b",") + b"]"))
            got.parse += time.perf_counter() - began


def read_csv(client: httpx.Client, url: str, params: dict[str, str], got: Fetched) -> None:
    import pyarrow.csv as pcsv

    with client.stream("GET", url, params={**params, "format": "csv"}) as answer:
        _check(answer)
        began = time.perf_counter()
        reader = pcsv.open_csv(_BodyFile(answer.iter_bytes(), got),
                               read_options=pcsv.ReadOptions(block_size=1 << 20),
                               convert_options=pcsv.ConvertOptions(column_types={
                                   "time": "int64", "value": "float64",
                                   "output_value": "float64"}))
        for batch in reader:
            got.points += batch.num_rows
        got.parse += time.perf_counter() - began  # includes waiting on the body


def read_arrow(client: httpx.Client, url: str, params: dict[str, str], got: Fetched) -> None:
    import pyarrow.ipc as ipc

    with client.stream("GET", url, params={**params, "format": "arrow"}) as answer:
        _check(answer)
        began = time.perf_counter()
        body = io.BufferedReader(_BodyFile(answer.iter_bytes(), got), 1 << 20)
        for batch in ipc.open_stream(body):  # type: ignore[arg-type]
            got.points += batch.num_rows
        got.parse += time.perf_counter() - began  # includes waiting on the body


def read_parquet(client: httpx.Client, url: str, params: dict[str, str], got: Fetched
                 ) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with client.stream("GET", url, params={**params, "format": "parquet"}) as answer:
        _check(answer)
        body = b"".join(answer.iter_bytes())
    got.size += len(body)
    began = time.perf_counter()
    got.points += pq.read_table(pa.BufferReader(body)).num_rows
    got.parse += time.perf_counter() - began


TIME_VALUE = {"fields": "time,value"}  # what InfluxDB's /query answer carries


def read_json_max_tv(client: httpx.Client, url: str, params: dict[str, str], got: Fetched
                     ) -> None:
    """Pages of 100,000 rows of time and value only."""
    read_json(client, url, {**params, **TIME_VALUE}, got, page=100_000)


def read_ndjson_tv(client: httpx.Client, url: str, params: dict[str, str], got: Fetched
                   ) -> None:
    read_ndjson(client, url, {**params, **TIME_VALUE}, got)


READERS: dict[str, Callable[[httpx.Client, str, dict[str, str], Fetched], None]] = {
    "json": read_json, "json-100k": read_json_max, "json-ahead": read_json_ahead,
    "ndjson": read_ndjson, "csv": read_csv, "arrow": read_arrow, "parquet": read_parquet,
    "json-100k-tv": read_json_max_tv, "ndjson-tv": read_ndjson_tv}
PARSERS = {"influx": "orjson per chunk", "json": "orjson per page of 10,000",
           "json-100k": "orjson per page of 100,000",
           "json-ahead": "orjson per page of 100,000, next asked for early", "ndjson":
           "orjson per run of lines", "csv": "pyarrow.csv stream", "arrow": "pyarrow.ipc stream",
           "parquet": "pyarrow.parquet",
           "json-100k-tv": "orjson per page of 100,000; fields=time,value (as InfluxDB)",
           "ndjson-tv": "orjson per run of lines; fields=time,value (as InfluxDB)"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(pid: int, expect: int, fetch: Callable[[Fetched], None]) -> tuple[Fetched, Rss]:
    """The best of REPEAT runs of `fetch` (checked to parse `expect` points), with the
    server's CPU time in that run, and its memory in the run that grew it most."""
    best: Fetched | None = None
    worst: Rss | None = None
    for _ in range(REPEAT):
        got = Fetched()
        cpu = cpu_seconds(pid)
        with Rss(pid) as rss:
            began = time.perf_counter()
            fetch(got)
            got.seconds = time.perf_counter() - began
        got.cpu = cpu_seconds(pid) - cpu
        if got.points != expect:
            raise RuntimeError(f"parsed {got.points:,} points, expected {expect:,}")
        if best is None or got.seconds < best.seconds:
            best = got
        if worst is None or rss.grew > worst.grew:
            worst = rss
    assert best is not None and worst is not None
    return best, worst


# --- loading -----------------------------------------------------------------------------

def _post_all(url: str, headers: dict[str, str], bodies: Iterator[bytes]) -> None:
    """POST every body, LOADERS at a time, waiting out 429/503 as Retry-After says."""
    def send(client: httpx.Client, body: bytes) -> None:
        while True:
            answer = client.post(url, content=body)
            if answer.status_code in (429, 503):
                time.sleep(float(answer.headers.get("retry-after", "1")))
                continue
            if answer.status_code not in (200, 204):
                raise RuntimeError(f"load: {answer.status_code} {answer.text[:300]}")
            return

    with httpx.Client(timeout=600, headers=headers) as client, \
            ThreadPoolExecutor(LOADERS) as pool:
        pending = []
        for body in bodies:
            pending.append(pool.submit(send, client, body))
            if len(pending) >= 2 * LOADERS:
                pending.pop(0).result()
        for job in pending:
            job.result()


def influx_bodies(measurement: str, n: int) -> Iterator[bytes]:
    for first in range(0, n, INFLUX_BATCH):
        count = min(INFLUX_BATCH, n - first)
        ts = times_us(first, count) * 1000
        yield "".join(f"{measurement} value={v!r} {t}\n" for t, v in
                      zip(ts.tolist(), values(first, count).tolist(), strict=True)).encode()


def cloudlet_bodies(device: str, n: int) -> Iterator[bytes]:
    for first in range(0, n, LOAD_BATCH):
        count = min(LOAD_BATCH, n - first)
        series = {"v": {"time": times_us(first, count).tolist(),
                        "value": values(first, count).tolist()}}
        yield orjson.dumps({"devices": {device: series}, "precision": "us"})


# --- targets -----------------------------------------------------------------------------

@dataclass
class Row:
    target: str
    fmt: str
    rate: float | None = None
    size: int = 0
    parse: float = 0.0
    cpu: float = 0.0
    rss_small: str = ""
    rss_all: str = ""
    error: str = ""


@dataclass
class Figures:
    rows: list[Row] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    downsample: list[str] = field(default_factory=list)


def _row(target: str, fmt: str, pid: int, run: Callable[[int, Fetched], None]) -> Row:
    row = Row(target, fmt)
    try:
        small, rss_small = timed(pid, SMALL, lambda got: run(SMALL, got))
        got, rss_all = timed(pid, POINTS, lambda got: run(POINTS, got))
    except Exception as error:  # a missing format is a row, not the end of the run
        row.error = str(error)[:90]
        return row
    row.rate, row.size, row.parse, row.cpu = (got.points / got.seconds, got.size, got.parse,
                                              got.cpu)
    row.rss_small, row.rss_all = rss_small.text(), rss_all.text()
    return row


def _best_of_three(run: Callable[[], None]) -> tuple[float, float]:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return times[0], min(times)


def bench_influx(figures: Figures) -> None:
    influx = Influx()
    try:
        db = f"bench_{uuid.uuid4().hex[:8]}"
        httpx.post(influx.url + "/query", params={"q": f'CREATE DATABASE "{db}"'}
                   ).raise_for_status()
        url = f"{influx.url}/write?db={db}&precision=ns"
        began = time.perf_counter()
        _post_all(url, {}, influx_bodies("q1m", POINTS))
        figures.loads.append(f"influxdb 1.6: {POINTS:,} points in "
                             f"{time.perf_counter() - began:.1f} s")
        pid = influx.process.pid
        query_url = f"{influx.url}/query?db={db}"
        with httpx.Client(timeout=600) as client:
            def run(n: int, got: Fetched) -> None:
                read_influx(client, query_url, "SELECT value FROM q1m WHERE time <= "
                            f"{end_ms(n)}ms", got)

            figures.rows.append(_row("influxdb 1.6", "influx", pid, run))
            if BIG:
                began = time.perf_counter()
                _post_all(url, {}, influx_bodies("q10m", BIG))
                figures.loads.append(f"influxdb 1.6: {BIG:,} points in "
                                     f"{time.perf_counter() - began:.1f} s")
                for agg in ("mean", "max"):
                    query = (f"SELECT {agg}(value) FROM q10m WHERE time >= {T0 * 1000}ms AND "
                             f"time <= {end_ms(BIG)}ms GROUP BY time(1h) fill(none)")
                    _downsample(figures, "influxdb 1.6", agg, pid, lambda q=query: read_influx(
                        client, query_url, q, Fetched()))
    finally:
        influx.stop()


def _downsample(figures: Figures, target: str, agg: str, pid: int,
                run: Callable[[], None]) -> None:
    try:
        with Rss(pid) as rss:
            first, best = _best_of_three(run)
    except Exception as error:
        figures.downsample.append(f"{target:<22}{agg:<6} error: {str(error)[:80]}")
        return
    figures.downsample.append(f"{target:<22}{agg:<6}{first:>10.3f}{best:>10.3f}"
                              f"{rss.text():>14}")


def bench_cloudlet(backend: str, figures: Figures) -> None:
    cloudlet = Cloudlet(backend)
    try:
        target = f"cloudlet {backend}"
        api, pid = cloudlet.server.api, cloudlet.server.process.pid
        write = {"Authorization": f"Bearer {cloudlet.token}",
                 "Content-Type": "application/json"}
        read = {"Authorization": f"Bearer {cloudlet.user.api_token(scope='read')}"}
        with cloudlet.user.client() as c:
            project = c.post("/projects", json={"name": uuid.uuid4().hex[:8]}).json()["id"]
        began = time.perf_counter()
        _post_all(f"{api}/projects/{project}/points", write, cloudlet_bodies("q1m", POINTS))
        figures.loads.append(f"{target}: {POINTS:,} points in "
                             f"{time.perf_counter() - began:.1f} s (columnar JSON)")
        with httpx.Client(timeout=600, headers=read) as client:
            streams = client.get(f"{api}/projects/{project}/streams").json()["results"]
            gid = next(s["gid"] for s in streams if s["device_key"] == "q1m")
            url = f"{api}/streams/{gid}/points"
            for fmt in FORMATS:
                def run(n: int, got: Fetched, fmt: str = fmt) -> None:
                    READERS[fmt](client, url, {"end": str(end_ms(n))}, got)

                figures.rows.append(_row(target, fmt, pid, run))
            if BIG:
                began = time.perf_counter()
                _post_all(f"{api}/projects/{project}/points", write,
                          cloudlet_bodies("q10m", BIG))
                figures.loads.append(f"{target}: {BIG:,} points in "
                                     f"{time.perf_counter() - began:.1f} s (columnar JSON)")
                streams = client.get(f"{api}/projects/{project}/streams").json()["results"]
                gid = next(s["gid"] for s in streams if s["device_key"] == "q10m")
                with Rss(pid) as rss:
                    got = Fetched()
                    began = time.perf_counter()
                    read_ndjson(client, f"{api}/streams/{gid}/points", {}, got)
                    seconds = time.perf_counter() - began
                figures.downsample.append(
                    f"{target:<22}{'raw':<6}{seconds:>10.3f}{'':>10}{rss.text():>14}"
                    f"  (all {got.points:,} points as NDJSON: {got.points / seconds:,.0f}/s)")
                buckets = -(-BIG // 3600)
                for agg in ("mean", "max"):
                    def down(agg: str = agg) -> None:
                        answer = client.get(f"{api}/streams/{gid}/points", params={
                            "every": "1h", "agg": agg, "limit": "10000"})
                        _check(answer)
                        got = len(answer.json()["results"])
                        if got != buckets:
                            raise RuntimeError(f"{got} buckets, expected {buckets}")

                    _downsample(figures, target, agg, pid, down)
    finally:
        cloudlet.stop()


def report(figures: Figures) -> None:
    reference = next((r.rate for r in figures.rows if r.fmt == "influx" and r.rate), None)
    small, whole = f"RSS MiB {SMALL // 1000}k", f"{POINTS // 1000}k"
    print(f"{'target':<20}{'format':<13}{'points/s':>12}{'vs influx':>10}{'body MB':>9}"
          f"{'parse s':>9}{'srv CPU s':>10}{small:>15}{whole:>12}  client parser")
    for r in figures.rows:
        if r.error:
            print(f"{r.target:<20}{r.fmt:<13}  error: {r.error}")
            continue
        assert r.rate is not None
        ratio = f"{r.rate / reference:.2f}x" if reference else ""
        print(f"{r.target:<20}{r.fmt:<13}{r.rate:>12,.0f}{ratio:>10}{r.size / 1e6:>9.1f}"
              f"{r.parse:>9.2f}{r.cpu:>10.2f}{r.rss_small:>15}{r.rss_all:>12}  {PARSERS[r.fmt]}")
    if figures.downsample:
        print(f"\ndownsample over {BIG:,} points, every 1h ({-(-BIG // 3600):,} buckets)")
        print(f"{'target':<22}{'agg':<6}{'first s':>10}{'best s':>10}{'RSS MiB':>14}")
        for line in figures.downsample:
            print(line)
    print("\nloads: " + "; ".join(figures.loads), flush=True)


def main(argv: list[str]) -> None:
    print(f"timeseries queries: one stream of {POINTS:,} points (RSS also for the first "
          f"{SMALL:,}); {os.cpu_count()} cores; best of {REPEAT}", flush=True)
    figures = Figures()
    if "influx" in SETUPS:
        bench_influx(figures)
    backends = [b for b in ("sqlite", "postgres") if b in SETUPS]
    if "postgres" in backends and not _pg_available():
        print(f"(no PostgreSQL at {PG_URL}: skipped)")
        backends.remove("postgres")
    for backend in backends:
        bench_cloudlet(backend, figures)
    report(figures)


if __name__ == "__main__":
    main(sys.argv[1:])
