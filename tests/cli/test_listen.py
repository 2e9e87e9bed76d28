"""`cloudlet listen` against the live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cloudlet import Client
from tests.cli.conftest import Cli
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_listen_json_in_a_subprocess(server: LiveServer, user: TestUser, tmp_path: Path
                                     ) -> None:
    env = {**os.environ, "CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token,
           "CLOUDLET_CONFIG_DIR": str(tmp_path / "config")}
    topic = f"user:{user.id}"
    with subprocess.Popen(
        [sys.executable, "-m", "cloudlet", "listen", topic, "--json", "--seconds", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        assert proc.stderr is not None
        assert f"Listening to {topic}" in proc.stderr.readline()  # subscribed: now trigger
        with Client(server.url, user.token, profile=False) as client:
            project = client.projects.create("cli-live")
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    created = [e for e in events if e["event"] == "project.created"]
    assert len(created) == 1 and created[0]["data"]["id"] == project["id"]
    assert created[0]["topic"] == topic


def test_listen_replays_readable_lines(as_user: Cli, server: LiveServer, user: TestUser
                                       ) -> None:
    with Client(server.url, user.token, profile=False) as client:
        project = client.projects.create("replayed")
        client.projects.update(project["id"], description="new")
    ran = as_user("listen", f"project:{project['gid']}", "--offset", "0", "--seconds", "1")
    assert ran.code == 0, ran.stderr
    (line,) = [x for x in ran.stdout.splitlines() if "project.updated" in x]
    assert f"project:{project['id']} #" in line and '"description":"new"' in line


def test_listen_refused_topic_fails(as_user: Cli) -> None:
    ran = as_user("listen", "project:999999999", "--seconds", "3")
    assert ran.code == 1 and "Error:" in ran.stderr
