"""Accumulation reports (seed 002's "User Reports"): the sum of every stream of some
projects, devices and streams over a time range, with units and per-unit totals.

`client.report_sum(sources, start, end)` returns the server's answer as is;
`AccumulationReport(client).compute_sum(...)` gives seed 002's shape on top of it, and
`AsyncAccumulationReport(async_client)` the same, awaited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cloudlet.client.points import Timestamp

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.query import TimeLike
    from cloudlet.client.sync_client import Client

__all__ = ["AccumulationReport", "AsyncAccumulationReport", "report_body", "report_shape"]


def _report_time(value: TimeLike) -> str | int:
    """A report bound as the body takes it: ISO-8601, or an int of epoch milliseconds."""
    if isinstance(value, Timestamp):
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value.micros())
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool):
        raise TypeError("A time is a datetime, an ISO-8601 string, a Timestamp or epoch ms.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return int(text) if text.lstrip("-").isdigit() else text
    raise TypeError(f"A time is a datetime, an ISO-8601 string, a Timestamp or epoch ms, "
                    f"not {value!r}.")


def report_body(sources: Iterable[str], start: TimeLike | None, end: TimeLike | None
                ) -> dict[str, Any]:
    """The request body; a bound left out (None) is open."""
    names = [str(s) for s in ([sources] if isinstance(sources, str) else sources)]
    if not names:
        raise ValueError("A report needs at least one source: a project, device or stream gid.")
    body: dict[str, Any] = {"sources": names}
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            body[name] = _report_time(value)
    return body


def report_shape(answer: dict[str, Any]) -> dict[str, Any]:
    """Seed 002's shape of the server's `/reports/sum` answer (see `compute_sum`)."""
    streams = {
        row["stream"]: {"sum": row["output_sum"], "units": row["unit"],
                        "count": row["count"], "raw_sum": row["sum"],
                        "device": row["device"], "variable": row["variable"],
                        "name": row["name"]}
        for row in answer["streams"]
    }
    totals = {row["unit"]: row["sum"] for row in answer["totals"]}
    return {"start": answer["start"], "end": answer["end"], "streams": streams,
            "totals": totals, "total": sum(row["output_sum"] for row in answer["streams"])}


class AccumulationReport:
    """Seed 002's `AccumulationReportGenerator`, on the native `POST /reports/sum`."""

    def __init__(self, api: Client) -> None:
        self.api = api

    def compute_sum(self, sources: Iterable[str], start: TimeLike | None = None,
                    end: TimeLike | None = None) -> dict[str, Any]:
        """`{"streams": {gid: {"sum", "units", "count", "raw_sum", "device", "variable",
        "name"}}, "totals": {unit: sum}, "total": sum, "start", "end"}`. Sums are in each
        stream's output unit (`raw_sum` is of the stored values); `total` adds them all, so
        it means something when the streams share one unit — `totals` has one per unit."""
        return report_shape(self.api.report_sum(sources, start, end))


class AsyncAccumulationReport:
    """`AccumulationReport` on an `AsyncClient`: `await report.compute_sum(...)`."""

    def __init__(self, api: AsyncClient) -> None:
        self.api = api

    async def compute_sum(self, sources: Iterable[str], start: TimeLike | None = None,
                          end: TimeLike | None = None) -> dict[str, Any]:
        """As `AccumulationReport.compute_sum`, awaited."""
        return report_shape(await self.api.report_sum(sources, start, end))
