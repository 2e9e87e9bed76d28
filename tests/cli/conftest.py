"""CLI tests run the real `cloudlet` app (in-process through typer's runner, or as a
subprocess) against the live server, with an empty config dir of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudlet.cli.main import app
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

ENV_NAMES = ("CLOUDLET_URL", "CLOUDLET_TOKEN", "CLOUDLET_PROJECT", "CLOUDLET_PROFILE")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., Ran]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "config"
    monkeypatch.setenv("CLOUDLET_CONFIG_DIR", str(directory))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables, unwrapped
    return directory


@pytest.fixture
def cli() -> Cli:
    """`cli("projects", "list", input=..., env=...)` runs the app in-process."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Ran:
        result = runner.invoke(app, list(args), input=input, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def as_user(cli: Cli, server: LiveServer, user: TestUser) -> Cli:
    """`cli` with CLOUDLET_URL and CLOUDLET_TOKEN set for a fresh user."""

    def run(*args: str, input: str | None = None) -> Ran:
        return cli(*args, input=input,
                   env={"CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token})

    return run


def run_module(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m cloudlet …` in a subprocess, as a person would run it."""
    return subprocess.run([sys.executable, "-m", "cloudlet", *args], env=env,
                          capture_output=True, text=True, timeout=60)
