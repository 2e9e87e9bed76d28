"""`cloudlet files …` against the live server, and its progress bar: drawn on a terminal,
absent when piped."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Cli, run_module
from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.terminal import drain


def test_upload_ls_find_meta_mv_download_rm(as_user: Cli, tmp_path: Path) -> None:
    (tmp_path / "run.csv").write_text("a,b\n1,2\n")
    up = as_user("files", "upload", str(tmp_path / "run.csv"), "--to", "/runs/2024",
                 "--meta", "run=3", "--meta", "site=roof", "--tag", "raw", "--json")
    assert up.code == 0, up.stderr
    node = up.json()[0]
    assert node["metadata"] == {"run": 3, "site": "roof"} and node["tags"] == ["raw"]
    listed = as_user("files", "ls", "/runs/2024", "--json")
    assert [n["name"] for n in listed.json()] == ["run.csv"]
    table = as_user("files", "ls", "runs")
    assert "2024" in table.stdout and "folder" in table.stdout
    found = as_user("files", "find", "run__gte=3", "tags__in=[\"raw\"]", "--json")
    assert [n["id"] for n in found.json()] == [node["id"]]
    assert as_user("files", "find", "--filter", '{"run": {"$lt": 3}}', "--count"
                   ).stdout.strip() == "0"
    assert as_user("files", "meta", "/runs/2024/run.csv", "note=checked", "--unset", "site"
                   ).code == 0
    shown = json.loads(as_user("files", "meta", str(node["id"])).stdout)
    assert shown == {"run": 3, "note": "checked"}
    assert as_user("files", "mkdir", "/archive").code == 0
    assert as_user("files", "mv", "/runs/2024/run.csv", "/archive").code == 0
    assert as_user("files", "mv", "/archive/run.csv", "/archive/old.csv").code == 0
    tree = as_user("files", "tree", "/")
    assert "old.csv" in tree.stdout and "runs/" in tree.stdout
    got = as_user("files", "download", "/archive/old.csv", str(tmp_path))
    assert got.code == 0 and (tmp_path / "old.csv").read_text() == "a,b\n1,2\n"
    refused = as_user("files", "rm", "/archive")
    assert refused.code == 1 and "-r" in refused.stderr
    assert as_user("files", "rm", "-r", "/archive", "/runs").code == 0
    assert as_user("files", "ls", "--json").json() == []
    missing = as_user("files", "download", "/nope", str(tmp_path))
    assert missing.code == 1 and "Error:" in missing.stderr


def test_directories_go_up_and_come_down(as_user: Cli, tmp_path: Path) -> None:
    src = tmp_path / "results"
    (src / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "deep" / "b.txt").write_text("b")
    first = as_user("files", "upload", str(src), "--to", "/data")
    assert first.code == 0 and "2 uploaded, 0 unchanged" in first.stderr
    second = as_user("files", "upload", str(src), "--to", "/data")
    assert "0 uploaded, 2 unchanged" in second.stderr
    out = tmp_path / "out"
    out.mkdir()
    assert as_user("files", "download", "/data/results", str(out)).code == 0
    assert (out / "results" / "deep" / "b.txt").read_text() == "b"
    zipped = as_user("files", "download", "/data", str(tmp_path / "data.zip"), "--zip")
    assert zipped.code == 0 and (tmp_path / "data.zip").stat().st_size > 0


def _env(server: LiveServer, user: TestUser, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDLET_")}
    env.update(CLOUDLET_URL=server.url, CLOUDLET_TOKEN=user.token,
               CLOUDLET_CONFIG_DIR=str(home), TERM="xterm-256color", COLUMNS="120")
    return env


def test_a_progress_bar_on_a_terminal_only(server: LiveServer, user: TestUser,
                                           tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3_000_000))
    env = _env(server, user, tmp_path / "config")
    piped = run_module("files", "upload", str(big), "--name", "piped.bin", env=env)
    assert piped.returncode == 0, piped.stderr
    assert "━" not in piped.stderr and "MB" not in piped.stderr

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudlet", "files", "upload", str(big), "--name", "tty.bin"],
        env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = drain(leader)
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, screen.decode(errors="replace")
    text = screen.decode(errors="replace")
    assert "big.bin" in text and "━" in text and "MB" in text
