"""The native ingest routes: hot paths that read the body themselves (no FastAPI body
parsing), parse off the event loop and answer after the commit."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from cloudlet.server.core.errors import Invalid
from cloudlet.server.http.auth import credential
from cloudlet.server.timeseries import lineprotocol, parsing
from cloudlet.server.timeseries.batch import precision_factor
from cloudlet.server.timeseries.parse_helpers import ParseHelpers
from cloudlet.server.timeseries.wire import ingest

router = APIRouter(tags=["timeseries"])

_POINTS_BODY: dict[str, Any] = {
    "requestBody": {
        "description": "Series form `{device, series: {name: [[t, v], …] | {time: […], "
                       "value: […]}}}`, table form `{device, fields: [\"time\", …], "
                       "data: [[t, …], …]}`, a list of `{stream, timestamp, value}`, or CSV "
                       "(`Content-Type: text/csv`) with a `time,series…` header. "
                       "`Content-Encoding: gzip` is accepted.",
        "content": {"application/json": {"schema": {}}, "text/csv": {"schema": {}}},
    }
}


@router.post("/projects/{project}/points", openapi_extra=_POINTS_BODY)
async def write_points(project: str, request: Request, precision: str | None = None,
                       device: str | None = None) -> Response:
    """Write points (atomic and idempotent: the same stream and time again replaces the
    point). Integer times need `precision` (s, ms, us, ns); ISO-8601 strings need none.
    Unknown device keys are registered when the token may; new series create streams."""
    precision_factor(precision)  # a clear 400 before the body is read
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        def parse(body: bytes) -> Any:
            return parsing.parse_csv(body, precision, device)
    elif kind in ("", "application/json") or kind.endswith("+json"):
        parsers: ParseHelpers = request.app.state.services.ingest.parsers

        def parse(body: bytes) -> Any:
            return parsers.parse_json(body, precision)
    else:
        raise Invalid(f"Send JSON or CSV (text/csv), not {kind!r}.")
    result = await ingest(request, credential(request), project, parse, device=device)
    return Response(orjson.dumps(result), media_type="application/json")


@router.post("/projects/{project}/write", status_code=204, openapi_extra={
    "requestBody": {"description": "InfluxDB line protocol; gzip accepted.",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def write_lines(project: str, request: Request, precision: str = "ns",
                      device: str | None = None) -> Response:
    """Write InfluxDB line protocol: measurement → device key (unless `device` is given),
    field → series name, tags kept on the stream. 204 once committed."""
    factor = precision_factor(precision)
    assert factor is not None
    await ingest(request, credential(request), project,
                 line_parser(request.app.state.services.ingest.parsers, factor, device),
                 device=device)
    return Response(status_code=204)


def line_parser(parsers: ParseHelpers, factor: int, device: str | None) -> Any:
    def parse(body: bytes) -> Any:
        batch = parsers.parse_lines(body, factor)
        if device is None:
            for name in {b.device for b in batch.blocks}:
                assert name is not None
                lineprotocol.check_device(name)
        return batch

    return parse
