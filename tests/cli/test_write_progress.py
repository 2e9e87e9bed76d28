"""`cloudlet write > log`: the progress bar goes to stderr (a terminal here), stdout keeps
only the command's own output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.terminal import drain


def write_on_a_terminal(server: LiveServer, user: TestUser, tmp_path: Path, *args: str
                        ) -> tuple[int, str]:
    """`cloudlet write PROJECT ARGS > stdout` with stderr on a pseudo-terminal: the exit code
    and what the terminal showed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDLET_")}
    env.update(CLOUDLET_URL=server.url, CLOUDLET_TOKEN=user.token,
               CLOUDLET_CONFIG_DIR=str(tmp_path / "config"), TERM="xterm-256color",
               COLUMNS="120")
    leader, follower = pty.openpty()
    with (tmp_path / "stdout").open("wb") as out:  # `> log`: stdout is a file
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudlet", "write", str(user.home_project["id"]), *args],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=follower)
        os.close(follower)
        screen = drain(leader)
        process.wait(timeout=60)
    os.close(leader)
    return process.returncode, screen.decode(errors="replace")


def test_the_bar_is_drawn_on_stderr_and_stdout_stays_clean(server: LiveServer, user: TestUser,
                                                            tmp_path: Path) -> None:
    lines = tmp_path / "points.lp"
    lines.write_text("".join(f"pump flow={i} {i}\n" for i in range(1, 3001)))
    code, terminal = write_on_a_terminal(server, user, tmp_path, str(lines), "--precision",
                                         "s", "--batch-size", "500")
    assert code == 0, terminal
    assert "writing" in terminal and "━" in terminal  # the bar, on the terminal
    assert "Wrote 3000 lines in 6 request(s)." in terminal
    assert (tmp_path / "stdout").read_bytes() == b""  # nothing but the result (on stderr)


def test_a_json_document_goes_in_batches_under_the_bar(server: LiveServer, user: TestUser,
                                                      tmp_path: Path) -> None:
    doc = tmp_path / "points.json"
    doc.write_text(json.dumps({"device": "pump", "series": {
        "flow": [[t, t] for t in range(1, 3001)]}}))
    code, terminal = write_on_a_terminal(server, user, tmp_path, str(doc), "--precision", "s",
                                         "--batch-size", "500")
    assert code == 0, terminal
    assert "Wrote 3000 points in 6 request(s)." in terminal
    size = f"{doc.stat().st_size / 1000:.1f}"
    assert f"{size}/{size} kB" in terminal  # the whole document, when the last batch is in
