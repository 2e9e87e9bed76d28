"""`GET /iobeam/v1/exports/<project>[/<device>[/<series>]]`: the client's queries
(`iobeam.makeQuery`), translated onto the query service and streamed as iobeam's
`{"result": [{project_id, device_id, name, data: [{time, value}]}], "timefmt": …}`.

`all` (or nothing) for the device or the series means every one. `from`/`to` arrive in
milliseconds whatever `timefmt` says (the client converts them) and are inclusive: a point
at any microsecond of the `to` millisecond is in. `greater_than`/`less_than` are strict,
`equals` exact; `limit` keeps the latest points of each series (the seed's "last 5 results
after START"), oldest first like every answer; without it every matching point comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.datastructures import QueryParams

from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.principal import Principal
from cloudlet.server.services import Services
from cloudlet.server.timeseries.queries import Query

ALL = "all"
UNITS = {"sec": 1_000_000, "msec": 1_000, "usec": 1}


@dataclass(frozen=True)
class Export:
    """One export request, in Cloudlet's terms (µs, inclusive bounds)."""

    project: int
    device: str | None
    series: str | None
    timefmt: str
    start: int | None
    end: int | None
    lastn: int | None
    gt: float | None
    lt: float | None
    eq: float | None

    @property
    def divisor(self) -> int:
        return UNITS[self.timefmt]


def _int(params: QueryParams, name: str, *, positive: bool = False) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise Invalid(f"{name} must be an integer, not {text!r}.", field=name) from None
    if positive and value <= 0:
        raise Invalid(f"{name} must be a positive integer, not {text!r}.", field=name)
    return value


def _number(params: QueryParams, name: str) -> float | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise Invalid(f"{name} must be a number, not {text!r}.", field=name) from None


def read_export(project: str, device: str | None, series: str | None, params: QueryParams
                ) -> Export:
    if not project.isdigit() or int(project) <= 0:
        raise Invalid(f"The project is its id (a positive integer), not {project!r}.",
                      field="project_id")
    timefmt = params.get("timefmt") or "msec"
    if timefmt not in UNITS:
        raise Invalid(f"timefmt must be sec, msec or usec, not {timefmt!r}.", field="timefmt")
    start, end = _int(params, "from"), _int(params, "to")
    if start is not None and end is not None and end < start:
        raise Invalid("to must not be before from.", field="to")
    return Export(
        project=int(project),
        device=None if device in (None, "", ALL) else device,
        series=None if series in (None, "", ALL) else series,
        timefmt=timefmt,
        start=None if start is None else start * 1000,
        end=None if end is None else end * 1000 + 999,
        lastn=_int(params, "limit", positive=True),
        gt=_number(params, "greater_than"),
        lt=_number(params, "less_than"),
        eq=_number(params, "equals"),
    )


def _query(export: Export, **scope: Any) -> Query:
    return Query(**scope, start=export.start, end=export.end, lastn=export.lastn,
                 gt=export.gt, lt=export.lt, eq=export.eq)


def _some(ref: str | None) -> tuple[str, ...]:
    return () if ref is None else (ref,)


def answer(services: Services, caller: Principal, export: Export) -> Iterator[bytes]:
    """The export's body: one query, stream by stream and one block at a time (bounded
    memory). Scope and rights are checked before the first byte, so refusals are proper
    errors; a series without matching points answers an empty `data`."""
    result = services.queries.blocks(caller, _query(
        export, project=str(export.project), devices=_some(export.device),
        series=_some(export.series), by_stream=True))
    found = result.streams

    def opening(index: int) -> bytes:
        stream = found[index]
        head = orjson.dumps({"project_id": export.project, "device_id": stream["device_key"],
                             "name": stream["series"]})
        return (b"]}," if index else b"") + head[:-1] + b',"data":['

    def body() -> Iterator[bytes]:
        yield b'{"result":['
        opened, first = -1, True  # the series written so far; no row yet in the last one
        for block in result.blocks:
            index = int(block.stream[0])  # by_stream: a block holds one stream's rows
            while opened < index:
                opened += 1
                yield opening(opened)
                first = True
            times = (block.ts // export.divisor).tolist()
            values = block.value.astype(np.float64).tolist()
            rows = orjson.dumps([{"time": t, "value": v}
                                 for t, v in zip(times, values, strict=True)])
            yield (b"" if first else b",") + rows[1:-1]
            first = False
        while opened < len(found) - 1:
            opened += 1
            yield opening(opened)
        yield (b"]}" if found else b"") + b'],"timefmt":' + orjson.dumps(export.timefmt) + b"}"

    return body()
