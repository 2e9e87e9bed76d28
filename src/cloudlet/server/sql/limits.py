"""What one SQL request may spend, and the errors for running past it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cloudlet.server.core.errors import Invalid, Throttled


@dataclass(frozen=True)
class Limits:
    timeout: float  # seconds for the whole request (both statements of a page)
    max_rows: int  # rows a result may have in all (counting stops just past it)
    max_bytes: int  # bytes of values one answer may carry
    max_length: int  # characters of SQL

    def deadline(self) -> float:
        return time.monotonic() + self.timeout


def timed_out(limits: Limits) -> Throttled:
    return Throttled(
        f"The query ran longer than the {limits.timeout:g} s statement timeout and was "
        f"stopped; narrow it (WHERE, LIMIT) or ask the operator to raise CLOUDLET_SQL_TIMEOUT.",
        retry_after=int(limits.timeout) or 1,
    )


def too_many_rows(limits: Limits) -> Invalid:
    return Invalid(f"The result has more than {limits.max_rows} rows (CLOUDLET_SQL_MAX_ROWS); "
                   f"add a WHERE or LIMIT.")


def too_many_bytes(limits: Limits) -> Invalid:
    return Invalid(f"The answer would carry more than {limits.max_bytes} bytes "
                   f"(CLOUDLET_SQL_MAX_BYTES); ask for fewer rows (limit) or columns.")


def size_of(value: object) -> int:
    if isinstance(value, str | bytes | bytearray | memoryview):
        return len(value) + 2
    return 8
