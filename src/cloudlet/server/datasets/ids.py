"""`amigo_id`: a row's stable id, a UUIDv7 as 32 hex digits (text, so SQL compares it with
string literals). Version 7 ids sort by creation time, so ordering rows by `amigo_id` is their
insertion order on both backends, without a hidden column."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last = [0, 0]  # (milliseconds, counter) of the previous id


def new_amigo_id() -> str:
    """Monotonic within this process: ids made in the same millisecond count up."""
    with _lock:
        now = time.time_ns() // 1_000_000
        ms, counter = _last
        if now > ms:
            ms, counter = now, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            counter += 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        _last[0], _last[1] = ms, counter
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | int.from_bytes(os.urandom(8), "big") >> 2
    return f"{value:032x}"


def new_amigo_ids(n: int) -> list[str]:
    """`n` ids at once (one clock read and one urandom call), still in order."""
    if n <= 0:
        return []
    with _lock:
        now = time.time_ns() // 1_000_000
        ms, counter = _last
        if now > ms:
            ms, counter = now, -1
        ids = []
        noise = os.urandom(8 * n)
        for k in range(n):
            counter += 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
            value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64
            value |= 0b10 << 62 | int.from_bytes(noise[8 * k: 8 * k + 8], "big") >> 2
            ids.append(f"{value:032x}")
        _last[0], _last[1] = ms, counter
    return ids
