"""A real Cloudlet server in a subprocess, on a free loopback port, with its own data dir."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    admin_username: str = ""
    admin_password: str = ""
    admin_token: str = ""
    log_path: Path = field(default_factory=Path)

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def client(self, token: str | None = None, headers: dict[str, str] | None = None
               ) -> httpx.Client:
        merged = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return httpx.Client(base_url=self.api, headers=merged, timeout=30)

    def cli(self, *args: str, input: str | None = None, drop: tuple[str, ...] = ()
            ) -> subprocess.CompletedProcess[str]:
        """Run the `cloudlet` command against this server's data dir (operator commands),
        without the environment variables named in `drop`."""
        env = {k: v for k, v in self.env.items() if k not in drop}
        return subprocess.run(
            [sys.executable, "-m", "cloudlet", *args],
            env=env, capture_output=True, text=True, input=input, timeout=120,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def base_env(data_dir: Path, database_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDLET_")}
    env.update(
        {
            "CLOUDLET_DATA_DIR": str(data_dir),
            "CLOUDLET_DEBUG_ENDPOINTS": "true",
            "CLOUDLET_LOG_LEVEL": "warning",
            "CLOUDLET_ADMIN_PASSWORD": "admin-password-1",
            "HOME": str(data_dir / "home"),
            # still argon2id, at a cost that keeps hundreds of test logins quick
            "CLOUDLET_PASSWORD_HASH_TIME_COST": "1",
            "CLOUDLET_PASSWORD_HASH_MEMORY_KIB": "8192",
        }
    )
    if database_url:
        env["CLOUDLET_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def start_server(
    database_url: str | None = None, extra_env: dict[str, str] | None = None,
    data_dir: Path | None = None, port: int | None = None,
) -> LiveServer:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="cloudlet-test-"))
    (data_dir / "home").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = base_env(data_dir, database_url, extra_env or {})
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudlet", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    server = LiveServer(
        url=f"http://127.0.0.1:{port}", data_dir=data_dir, env=env, process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.api + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server did not start in time:\n{server.log()}")
        time.sleep(0.1)
    banner = server.log()
    found = {k: re.search(rf"^\s+{k}:\s+(\S+)", banner, re.M) for k in ("username", "password",
                                                                         "token")}
    if all(found.values()):  # printed on the first start only
        server.admin_username = found["username"].group(1)  # type: ignore[union-attr]
        server.admin_password = found["password"].group(1)  # type: ignore[union-attr]
        server.admin_token = found["token"].group(1)  # type: ignore[union-attr]
    return server


def restart_server(server: LiveServer) -> LiveServer:
    """The same server again (same port, data dir, database and settings) after `stop()`;
    the admin credentials carry over from the first start."""
    server.stop()
    port = int(server.url.rsplit(":", 1)[1])
    again = start_server(server.env.get("CLOUDLET_DATABASE_URL"), server.env, server.data_dir,
                         port)
    again.admin_username, again.admin_password = server.admin_username, server.admin_password
    again.admin_token = server.admin_token
    return again
