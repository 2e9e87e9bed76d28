"""Files benchmark: upload and download one large file through the API on local disk.

Prints MB/s for a plain `cp` of the same file on the same disk (the ceiling), an upload in
one streamed request, a resumable upload (8 MiB chunks), and a download (each through the
SDK, which also hashes on its side); and the server's resident memory when idle and at its
peak during the transfers, which must not grow with the file (target: < 100 MB above idle).

Knobs: BENCH_FILE_MIB (1024).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cloudlet

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import make_user  # noqa: E402
from tests.support.live import start_server  # noqa: E402

FILE_MIB = int(os.environ.get("BENCH_FILE_MIB", "1024"))
MB = 1_000_000


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status memory field, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _make_file(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for i in range(mib):
            out.write(block[i % 251:] + block[: i % 251])  # no two MiB alike


def main(argv: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="cloudlet-bench-files-"))
    server = None
    try:
        source = work / "source.bin"
        _make_file(source, FILE_MIB)
        size = source.stat().st_size
        copy_seconds = _timed(lambda: subprocess.run(["cp", str(source), str(work / "cp.bin")],
                                                     check=True))
        (work / "cp.bin").unlink()
        server = start_server(data_dir=work / "server")
        pid = server.process.pid
        user = make_user(server)
        time.sleep(1)
        idle = _status(pid, "VmRSS")
        peak_known = _reset_peak(pid)
        rows: list[tuple[str, float]] = [("cp (reference)", copy_seconds)]
        with cloudlet.Client(server.url, user.token, profile=False, timeout=600) as client:
            rows.append(("upload, one request", _timed(lambda: client.files.upload(
                source, name="one.bin", resumable=False))))
            rows.append(("upload, resumable 8 MiB", _timed(lambda: client.files.upload(
                source, name="resumable.bin", resumable=True))))
            rows.append(("download", _timed(lambda: client.files.download(
                "/one.bin", work / "back.bin"))))
        peak = _status(pid, "VmHWM")
        same = (work / "back.bin").stat().st_size == size
        print(f"files: {FILE_MIB} MiB through the API, local disk, SQLite "
              "(figures from a shared 2-core machine)")
        print(f"{'transfer':<28}{'MB/s':>10}{'seconds':>10}")
        for name, seconds in rows:
            print(f"{name:<28}{size / MB / seconds:>10,.0f}{seconds:>10.2f}")
        label = "peak during transfers" if peak_known else "peak since start"
        print(f"server RSS: idle {idle / MB:,.0f} MB, {label} {peak / MB:,.0f} MB "
              f"(+{(peak - idle) / MB:,.0f} MB); download intact: {same}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
