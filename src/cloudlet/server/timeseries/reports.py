"""Reports over stream data: the accumulation report (IOTile's "User Reports").

`accumulation` sums the points of every stream its sources name (project, device and stream
gids, each checked for read access) over [start, end], in each stream's output unit, and
adds the sums into one total per unit. The sum in output units is `sum(v) * m / d + count * o`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from cloudlet.gid import DeviceSlug, GidError
from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.timeseries.devices import DeviceService
from cloudlet.server.timeseries.queries import QueryService
from cloudlet.server.timeseries.streams import StreamService

MAX_SOURCES = 1000


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.isoformat().replace("+00:00", "Z")


class ReportService:
    def __init__(self, db: Database, streams: StreamService, devices: DeviceService,
                 queries: QueryService) -> None:
        self.db = db
        self.streams = streams
        self.devices = devices
        self.queries = queries

    def accumulation(self, principal: Principal, sources: list[str], start: int | None = None,
                     end: int | None = None) -> dict[str, Any]:
        """Per stream: count, raw sum and the sum in its output unit; and a total of the
        output sums per unit (sums in different units don't add up)."""
        if not sources:
            raise Invalid("Name at least one source: a project, device or stream gid.")
        if len(sources) > MAX_SOURCES:
            raise Invalid(f"A report takes at most {MAX_SOURCES} sources.")
        if start is not None and end is not None and start > end:
            raise Invalid("start is after end.")
        store = self.queries.store
        rows: list[dict[str, Any]] = []
        totals: dict[str | None, dict[str, Any]] = {}
        with self.db.read() as conn:
            found: dict[int, dict[str, Any]] = {}
            for source in sources:
                for stream in self._streams_of(conn, principal, str(source).strip()):
                    found[stream["id"]] = stream
            for sid in sorted(found):
                stream = found[sid]
                raw, count = 0.0, 0
                for _, values in store.iter_points(conn, sid, start, end):
                    raw += float(np.sum(values))
                    count += len(values)
                unit = stream["output_unit"]
                output = raw * unit["m"] / unit["d"] + count * unit["o"]
                name = unit["unit_short"] or None
                rows.append({"stream": stream["gid"], "device": stream["device"],
                             "variable": stream["lid"], "name": stream["series"],
                             "count": count, "sum": raw, "output_sum": output, "unit": name})
                total = totals.setdefault(name, {"unit": name, "sum": 0.0, "count": 0})
                total["sum"] += output
                total["count"] += count
        return {"start": _iso(start), "end": _iso(end), "streams": rows,
                "totals": list(totals.values())}

    def _streams_of(self, conn: Any, principal: Principal, source: str
                    ) -> list[dict[str, Any]]:
        kind = source[:3].lower()
        if kind == "s--":
            return [self.streams.locate(conn, principal, source, Level.READ)]
        if kind == "p--":
            return self.streams.in_scope(conn, principal, source)
        if kind == "d--":
            try:
                device_id = DeviceSlug(source).id
            except GidError:
                raise NotFound(f"No device {source!r}.") from None
            device = self.devices.by_id(conn, device_id)
            if device is None:
                raise NotFound(f"No device {source!r}.")
            return self.streams.in_scope(conn, principal, str(device["project_id"]),
                                         devices=(source,))
        raise Invalid(f"A source is a project (p--…), device (d--…) or stream (s--…) gid, "
                      f"not {source!r}.")
