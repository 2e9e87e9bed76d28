"""Reading what a child process draws on a pseudo-terminal (progress bars appear only there)."""

from __future__ import annotations

import os
import time


def drain(leader: int, seconds: float = 60) -> bytes:
    """Everything written to the terminal whose leader end is `leader`, until the child
    closes it or `seconds` pass."""
    screen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        screen += chunk
    return screen
