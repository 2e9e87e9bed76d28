"""SDK tests talk to the live server; each runs with its own empty config dir and no
CLOUDLET_* variables from the outside, so a developer's real profiles never leak in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudlet import Client, RetryPolicy
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

# Tiny waits, so retry tests stay fast; the policy is otherwise the default one.
FAST = RetryPolicy(backoff=0.001, max_backoff=0.01)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CLOUDLET_URL", "CLOUDLET_TOKEN", "CLOUDLET_PROJECT", "CLOUDLET_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "config"
    monkeypatch.setenv("CLOUDLET_CONFIG_DIR", str(directory))
    return directory


@pytest.fixture
def client(server: LiveServer, user: TestUser) -> Iterator[Client]:
    """A client logged in as a fresh user."""
    with Client(server.url, user.token, retries=FAST) as c:
        yield c


@pytest.fixture
def admin(server: LiveServer) -> Iterator[Client]:
    with Client(server.url, server.admin_token, retries=FAST) as c:
        yield c


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "install: builds the wheel and installs it into a fresh venv (a few seconds)"
    )
