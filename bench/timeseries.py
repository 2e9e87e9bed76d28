"""Ingest benchmark: the same 1,000,000 points into InfluxDB 1.6 and into Cloudlet.

100 series (10 devices × 10 fields), batches of 5,000 points, timestamps one second apart
per series. Every target gets the same pre-built bodies through the same client loop (each
client a process with its own `httpx.Client`, batches dealt round-robin), with 1 and 4
clients:

- InfluxDB 1.6 (Debian's `influxdb`, installed with apt-get when missing, started with a
  temporary config: data, meta and WAL under a temp dir, HTTP and RPC on free loopback
  ports; stopped by pid afterwards), line protocol on `/write`;
- Cloudlet on SQLite (the embedded default) and on PostgreSQL, line protocol on the native
  `/api/v1/projects/{id}/write`, and the native columnar JSON form on `/points`.

Every run starts on a freshly started server (InfluxDB and Cloudlet alike), so that no run
pays for the one before it. Prints points/s, the ratio to InfluxDB with as many clients, the
server's CPU per batch during the run and in all after it (background work the run left:
compaction, events), and its resident memory after the run and at its peak — for Cloudlet,
its parse helper processes included.

Knobs: BENCH_POINTS (1000000), BENCH_BATCH (5000), BENCH_CLIENTS (1,4),
BENCH_FIELDS_PER_LINE (1; 10 puts a device's ten fields on one line),
BENCH_TS_SETUPS (influx,sqlite,postgres), BENCH_TS_FORMS (line,columnar: Cloudlet's
bodies), BENCH_CLOUDLET_<SETTING> (a Cloudlet setting for its runs), CLOUDLET_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import free_port, start_server  # noqa: E402

POINTS = int(os.environ.get("BENCH_POINTS", "1000000"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
CLIENTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "1,4").split(",")]
FIELDS_PER_LINE = int(os.environ.get("BENCH_FIELDS_PER_LINE", "1"))
SETUPS = os.environ.get("BENCH_TS_SETUPS", "influx,sqlite,postgres").split(",")
FORMS = os.environ.get("BENCH_TS_FORMS", "line,columnar").split(",")
PG_URL = os.environ.get("CLOUDLET_BENCH_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/postgres")
# BENCH_CLOUDLET_X=v runs Cloudlet with CLOUDLET_X=v (its settings: parse helpers, say)
SERVER_ENV = {k.removeprefix("BENCH_"): v for k, v in os.environ.items()
              if k.startswith("BENCH_CLOUDLET_")}
DEVICES, FIELDS = 10, 10
T0 = 1_700_000_000  # seconds


def _rounds(batch: int) -> range:
    per_round = DEVICES * FIELDS
    first = batch * BATCH // per_round
    return range(first, first + BATCH // per_round)


def _value(r: int, d: int, f: int) -> float:
    return ((r * 7919 + d * 104729 + f * 1299709) % 100000) / 100.0


def line_body(batch: int) -> bytes:
    out: list[str] = []
    for r in _rounds(batch):
        ns = (T0 + r) * 1_000_000_000
        for d in range(DEVICES):
            if FIELDS_PER_LINE > 1:
                fields = ",".join(f"f{f}={_value(r, d, f)}" for f in range(FIELDS))
                out.append(f"dev{d} {fields} {ns}")
            else:
                out.extend(f"dev{d} f{f}={_value(r, d, f)} {ns}" for f in range(FIELDS))
    return ("\n".join(out) + "\n").encode()


def columnar_body(batch: int) -> bytes:
    rounds = _rounds(batch)
    times = [(T0 + r) * 1_000_000 for r in rounds]
    devices = {f"dev{d}": {f"f{f}": {"time": times, "value": [_value(r, d, f) for r in rounds]}
                           for f in range(FIELDS)} for d in range(DEVICES)}
    return orjson.dumps({"devices": devices, "precision": "us"})


@dataclass
class Target:
    name: str
    url: str  # where the bodies go
    headers: dict[str, str]
    body: Callable[[int], bytes]
    pid: int | None  # the server process, for its memory


def _client(target_url: str, headers: dict[str, str], bodies: list[bytes], start: object,
            out: object) -> None:
    with httpx.Client(timeout=120, headers=headers) as client:
        client.get(target_url.split("/", 3)[0] + "//" + target_url.split("/")[2] + "/")
        start.wait()  # type: ignore[attr-defined]
        for body in bodies:
            answer = client.post(target_url, content=body)
            if answer.status_code not in (200, 204):
                out.put(f"{answer.status_code} {answer.text[:300]}")  # type: ignore[attr-defined]
                return
    out.put(None)  # type: ignore[attr-defined]


def run(target: Target, clients: int) -> tuple[float, float]:
    """(points/s, server CPU ms per batch): CPU is steadier than wall time on a shared
    machine."""
    ctx = mp.get_context("spawn")
    batches = POINTS // BATCH
    start, out = ctx.Event(), ctx.Queue()
    procs = []
    for i in range(clients):
        bodies = [target.body(b) for b in range(i, batches, clients)]
        proc = ctx.Process(target=_client, args=(target.url, target.headers, bodies, start, out))
        proc.start()
        procs.append(proc)
    time.sleep(1.0 + clients * 0.3)  # let every client build its bodies and connect
    cpu_before = cpu_seconds(target.pid)
    began = time.perf_counter()
    start.set()
    errors = [out.get(timeout=1800) for _ in procs]
    elapsed = time.perf_counter() - began
    cpu = cpu_seconds(target.pid) - cpu_before
    for proc in procs:
        proc.join()
    failed = [e for e in errors if e]
    if failed:
        raise RuntimeError(f"{target.name}: {failed[0]}")
    return POINTS / elapsed, cpu * 1000 / batches


def _family(pid: int) -> list[int]:
    """A process and all its descendants (Cloudlet's parse helpers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    family, todo = [], [pid]
    while todo:
        family.append(current := todo.pop())
        todo.extend(children.get(current, []))
    return family


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU so far of a process and its descendants (threads included)."""
    if pid is None:
        return 0.0
    total = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss(pid: int | None) -> str:
    """Resident memory of a process and its descendants, now and the sum of their peaks."""
    if pid is None:
        return ""
    now = peak = 0
    for member in _family(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        now += int(fields["VmRSS"].split()[0])
        peak += int(fields["VmHWM"].split()[0])
    return f"{now // 1024} / {peak // 1024} MiB"


# --- InfluxDB ----------------------------------------------------------------------------

class Influx:
    """InfluxDB 1.x (installed from Debian when missing) on a temp config: data, meta and
    WAL under a temp dir, HTTP and RPC on free loopback ports. If it never answers /ping,
    the process is stopped and the dir removed before raising, so nothing is left behind
    (the callers' try/finally only covers a started instance)."""

    def __init__(self) -> None:
        _install_influxdb()
        _check_influxdb_version()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-influx-"))
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.port = free_port()
        config = self.dir / "influxdb.conf"
        config.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[logging]
  level = "error"
""")
        log_path = self.dir / "influxd.log"
        with log_path.open("w") as log:  # the child keeps its own descriptor
            self._process = subprocess.Popen(["influxd", "-config", str(config)],
                                             stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            if self._process.poll() is not None:
                raise RuntimeError(f"influxd exited with {self._process.returncode}: "
                                   f"{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/ping", timeout=0.5).status_code == 204:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"InfluxDB did not answer /ping on {self.url} within 30 s: "
                           f"{log_path.read_text()[-2000:]}")

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, "influxd was not started"
        return self._process

    def target(self) -> Target:
        db = f"bench_{uuid.uuid4().hex[:8]}"
        httpx.post(self.url + "/query", params={"q": f'CREATE DATABASE "{db}"'}
                   ).raise_for_status()
        return Target("influxdb 1.6, line protocol", f"{self.url}/write?db={db}&precision=ns",
                      {}, line_body, self.process.pid)

    def stop(self) -> None:
        """Stop influxd by pid (if it started) and remove the temp dir."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _install_influxdb() -> None:
    """`apt-get install -y influxdb` when influxd is missing; after a failure (stale package
    lists, as on a fresh machine) `apt-get update -qq` and one more try."""
    if shutil.which("influxd") is not None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "influxdb"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0:
        return
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)


def _check_influxdb_version() -> None:
    """The reference is InfluxDB 1.x (its /write, /query and config); refuse another one."""
    answer = subprocess.run(["influxd", "version"], capture_output=True, text=True)
    found = (answer.stdout or answer.stderr).strip()
    version = found.removeprefix("InfluxDB").strip()
    if answer.returncode != 0 or not version.startswith("v1"):
        raise RuntimeError(f"The benchmark's reference is InfluxDB 1.x, but `influxd version` "
                           f"says {found!r}; install Debian's influxdb package (1.6).")


# --- Cloudlet ----------------------------------------------------------------------------

class Cloudlet:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.pg_db: str | None = None
        url = None
        if backend == "postgres":
            import psycopg

            self.pg_db = f"cloudlet_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_db}"')  # type: ignore[arg-type]
            url = PG_URL.rsplit("/", 1)[0] + "/" + self.pg_db
        self.server = start_server(url, {"CLOUDLET_LOG_LEVEL": "warning",
                                         "CLOUDLET_DEBUG_ENDPOINTS": "false", **SERVER_ENV})
        self.user = make_user(self.server)
        self.token = self.user.api_token(scope="write")

    def target(self, native: bool) -> Target:
        with self.user.client() as c:
            project = c.post("/projects", json={"name": uuid.uuid4().hex[:8]}).json()["id"]
        api = self.server.api
        headers = {"Authorization": f"Bearer {self.token}"}
        if native:
            return Target(f"cloudlet {self.backend}, columnar JSON",
                          f"{api}/projects/{project}/points",
                          {**headers, "Content-Type": "application/json"}, columnar_body,
                          self.server.process.pid)
        return Target(f"cloudlet {self.backend}, line protocol",
                      f"{api}/projects/{project}/write?precision=ns", headers, line_body,
                      self.server.process.pid)

    def stop(self) -> None:
        self.server.stop()
        if self.pg_db:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')  # type: ignore[arg-type]


def _pg_available() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
        return True
    except Exception:
        return False


def settle(pid: int | None) -> float:
    """CPU seconds the server spends after a run on its own (compaction, events), until two
    seconds pass with under 20 ms of CPU; at most two minutes."""
    if pid is None:
        return 0.0
    began = cpu_seconds(pid)
    deadline = time.monotonic() + 120
    quiet = 0
    while quiet < 4 and time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        quiet = quiet + 1 if cpu_seconds(pid) - before < 0.02 else 0
    return cpu_seconds(pid) - began


def report(target: Target, clients: int, rate: float, cpu: float, ratio: str) -> None:
    after = settle(target.pid)
    print(f"{target.name:<36}{clients:>8}{rate:>12,.0f}{ratio:>11}{cpu:>14.2f}"
          f"{after:>11.1f}{rss(target.pid):>24}", flush=True)


def main(argv: list[str]) -> None:
    print(f"timeseries ingest: {POINTS:,} points, {DEVICES * FIELDS} series, batches of "
          f"{BATCH:,}, {FIELDS_PER_LINE} field(s) per line; {os.cpu_count()} cores; every "
          "run on a freshly started server")
    print(f"{'target':<36}{'clients':>8}{'points/s':>12}{'vs influx':>11}"
          f"{'CPU ms/batch':>14}{'CPU after':>11}{'server RSS now / peak':>24}")
    reference: dict[int, float] = {}
    if "influx" in SETUPS:
        for clients in CLIENTS:
            influx = Influx()
            try:
                target = influx.target()
                rate, cpu = run(target, clients)
                reference[clients] = rate
                report(target, clients, rate, cpu, "1.00x")
            finally:
                influx.stop()
    backends = [b for b in ("sqlite", "postgres") if b in SETUPS]
    if "postgres" in backends and not _pg_available():
        print(f"(no PostgreSQL at {PG_URL}: skipped)")
        backends.remove("postgres")
    for backend in backends:
        for native in [f == "columnar" for f in ("line", "columnar") if f in FORMS]:
            for clients in CLIENTS:
                cloudlet = Cloudlet(backend)
                try:
                    target = cloudlet.target(native)
                    rate, cpu = run(target, clients)
                    ratio = f"{rate / reference[clients]:.2f}x" if clients in reference else ""
                    report(target, clients, rate, cpu, ratio)
                finally:
                    cloudlet.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
