"""One timestamp given as a parameter (a query's `start`/`end`, a stream event's
`timestamp`), as opposed to a row of a batch: a bad one is a plain 400 naming the
parameter, not the write path's "Nothing was written: 1 bad row(s)"."""

from __future__ import annotations

from typing import Any

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries.batch import Problems, one_micros


def one_time(raw: Any, factor: int | None, name: str) -> int:
    """`raw` (an epoch number in units of `factor` µs, or ISO-8601) in µs."""
    problems = Problems()
    value = one_micros(raw, factor, problems, name)
    if problems.errors:
        raise Invalid(f"{name}: {problems.errors[0]['message']}.", field=name)
    return value
