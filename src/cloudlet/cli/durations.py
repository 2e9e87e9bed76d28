"""Human durations for the command line: `90s`, `15m`, `12h`, `30d`, `2w`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> int:
    """Seconds in `text`; a bare number is seconds. Raises ValueError with a clear message."""
    match = _RE.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 12h, 30d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]
