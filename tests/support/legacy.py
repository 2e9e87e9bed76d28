"""The original legacy client packages from PyPI, each in a venv of its own, run in a subprocess.

Their pins and warnings never touch the suite's environment: a face test writes a small
script, runs it with the legacy venv's Python under a timeout, and reads one JSON object the
script prints as its last line of stdout. Venvs are cached under `.venv-legacy/` in the
repository (keyed by what they install), built once; a crash mid-build is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / ".venv-legacy"
PIP_TIMEOUT = 900


class LegacyScriptFailed(AssertionError):
    """The script exited non-zero, timed out, or printed no JSON result."""


@dataclass(frozen=True)
class LegacyClient:
    name: str
    packages: tuple[str, ...]  # installed with their dependencies
    no_deps: tuple[str, ...] = ()  # installed first, without theirs (for impossible pins)

    @property
    def home(self) -> Path:
        key = hashlib.sha256(json.dumps([self.packages, self.no_deps]).encode()).hexdigest()
        return ROOT / f"{self.name}-{key[:12]}"

    @property
    def python(self) -> Path:
        return self.home / "bin" / "python"

    def ensure(self) -> Path:
        """The venv's Python, building the venv the first time (one builder at a time)."""
        done = self.home / ".complete"
        if done.exists():
            return self.python
        ROOT.mkdir(parents=True, exist_ok=True)
        with (ROOT / f".{self.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if done.exists():
                return self.python
            shutil.rmtree(self.home, ignore_errors=True)  # a half-built venv from a crash
            try:
                subprocess.run([sys.executable, "-m", "venv", str(self.home)], check=True,
                               timeout=PIP_TIMEOUT)
                pip = [str(self.python), "-m", "pip", "install", "-q",
                       "--disable-pip-version-check"]
                if self.no_deps:
                    _pip(pip + ["--no-deps", *self.no_deps])
                _pip(pip + list(self.packages))
            except BaseException:
                shutil.rmtree(self.home, ignore_errors=True)
                raise
            done.touch()
        return self.python

    def run(self, script: str, *, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> Any:
        """Run `script` (dedented) with the legacy Python; returns its last stdout line as JSON.

        The environment is minimal (no CLOUDLET_* of the suite's) plus `env`.
        """
        python = self.ensure()
        base = {k: v for k, v in os.environ.items()
                if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")}
        with tempfile.TemporaryDirectory(prefix=f"legacy-{self.name}-") as tmp:
            path = Path(tmp) / "script.py"
            path.write_text(textwrap.dedent(script))
            try:
                done = subprocess.run(
                    [str(python), str(path)], env={**base, "PYTHONUNBUFFERED": "1",
                                                   **(env or {})},
                    capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp,
                )
            except subprocess.TimeoutExpired as timed_out:
                raise LegacyScriptFailed(
                    f"{self.name} script timed out after {timeout}s\n"
                    f"stdout:\n{timed_out.stdout}\nstderr:\n{timed_out.stderr}"
                ) from None
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise LegacyScriptFailed(
                f"{self.name} script exited {done.returncode}\nstdout:\n{done.stdout}\n"
                f"stderr:\n{done.stderr}"
            )
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise LegacyScriptFailed(
                f"{self.name} script printed no JSON result\nstdout:\n{done.stdout}\n"
                f"stderr:\n{done.stderr}"
            ) from None


def _pip(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"pip failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")


# The four clients, as the issues say to install them. amigocloud pins gevent==1.4.0, which
# does not build on Python 3.11: it goes in without its pins, beside current versions.
AMIGOCLOUD = LegacyClient(
    "amigocloud", packages=("gevent", "socketIO-client==0.7.2", "six", "requests"),
    no_deps=("amigocloud==1.2.5",),
)
# The IOTile seed's statistics example imports numpy beside the client.
IOTILE = LegacyClient("iotile", packages=("iotile-cloud==0.9.14", "numpy"))
IOBEAM = LegacyClient("iobeam", packages=("iobeam==0.11.0",))
RINOCLOUD = LegacyClient("rinocloud", packages=("rinocloud==0.0.8",))
