"""Authorization rows of devices, variables, streams, point writes and reads, stream events,
and the InfluxDB face."""

from __future__ import annotations

import uuid
from typing import Any

from tests.authz.table import Row, expect, public, register
from tests.authz.world import World

API = "/api/v1"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
WRITERS = dict(read_token=403, **HIDDEN)


def _stream(world: World) -> dict[str, Any]:
    """A device `sensor` with a stream `temp` in the world's project (made once)."""
    made = getattr(world, "_ts_stream", None)
    if made is None:
        with world.owner_client() as c:
            answer = c.post(f"/projects/{world.project['id']}/points", params={"precision": "s"},
                            json={"device": "sensor", "series": {"temp": [[1, 1.0]]}})
            answer.raise_for_status()
            made = {"stream": answer.json()["streams"][0], "device": "sensor",
                    "variable": "temp"}
        world._ts_stream = made  # type: ignore[attr-defined]
    return dict(made)


def _event_file(world: World) -> dict[str, Any]:
    """An event with a file on the world's stream (uploaded once, through the IOTile face)."""
    made = getattr(world, "_ts_event", None)
    if made is None:
        stream = _stream(world)["stream"]
        with world.owner_client() as c:
            answer = c.post(f"{world.server.url}/iotile/api/v1/event/upload/",
                            files={"file": ("e.txt", b"event", "text/plain")},
                            data={"stream": stream, "timestamp": "2026-01-01T00:00:00Z"})
            answer.raise_for_status()
            made = {"stream": stream, "event_id": answer.json()["id"]}
        world._ts_event = made  # type: ignore[attr-defined]
    return dict(made)


def _file_body(world: World, caller: str) -> dict[str, Any]:
    """A stream event attaching an existing file of the world's project (uploaded once)."""
    made = getattr(world, "_ts_file", None)
    if made is None:
        with world.owner_client() as c:
            answer = c.post(f"/projects/{world.project['id']}/files", content=b"attached",
                            params={"name": "attached.txt"})
            answer.raise_for_status()
            made = answer.json()["id"]
        world._ts_file = made  # type: ignore[attr-defined]
    return {"file": made, "extra_data": {"by": caller}}


BOUNDARY = "cloudlet-authz-boundary"


def _event_form(world: World, caller: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"extra_data\"\r\n\r\n"
            f'{{"by": "{caller}"}}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; '
            f'name="file"; filename="e.txt"\r\nContent-Type: text/plain\r\n\r\nevent\r\n'
            f"--{BOUNDARY}--\r\n").encode()


def _sum_body(world: World, caller: str) -> dict[str, Any]:
    return {"sources": [_stream(world)["stream"], world.project["gid"]]}


def _lines(world: World, caller: str) -> bytes:
    return b"sensor temp=2 2\n"


register(
    Row("GET", f"{API}/projects/{{project}}/devices", expect(200, **HIDDEN)),
    Row("POST", f"{API}/projects/{{project}}/devices", expect(201, **WRITERS),
        body=lambda w, c: {}),
    Row("GET", f"{API}/projects/{{project}}/devices/{{device}}", expect(200, **HIDDEN),
        params=_stream),
    Row("PATCH", f"{API}/projects/{{project}}/devices/{{device}}", expect(200, **WRITERS),
        params=_stream, body=lambda w, c: {"label": "changed"}),
    Row("POST", f"{API}/projects/{{project}}/devices/{{device}}/tokens",
        expect(201, **WRITERS), params=_stream, body=lambda w, c: {"name": "dev"}),
    Row("GET", f"{API}/projects/{{project}}/variables", expect(200, **HIDDEN)),
    Row("POST", f"{API}/projects/{{project}}/variables", expect(201, **WRITERS),
        body=lambda w, c: {"name": f"v{uuid.uuid4().hex[:8]}"}),
    Row("GET", f"{API}/projects/{{project}}/variables/{{variable}}", expect(200, **HIDDEN),
        params=_stream),
    Row("PATCH", f"{API}/projects/{{project}}/variables/{{variable}}", expect(200, **WRITERS),
        params=_stream, body=lambda w, c: {"output_unit": {"unit_short": "C"}}),
    Row("GET", f"{API}/projects/{{project}}/streams", expect(200, **HIDDEN)),
    Row("GET", f"{API}/streams/{{stream}}", expect(200, **HIDDEN), params=_stream),
    Row("PATCH", f"{API}/streams/{{stream}}", expect(200, **WRITERS), params=_stream,
        body=lambda w, c: {"label": "changed"}),
    Row("GET", f"{API}/streams/{{stream}}/points", expect(200, **HIDDEN), params=_stream),
    Row("GET", f"{API}/projects/{{project}}/points", expect(200, **HIDDEN),
        query=lambda w: {"series": "temp", "format": "ndjson"}),
    Row("POST", f"{API}/reports/sum", expect(200, **HIDDEN), body=_sum_body),
    Row("GET", f"{API}/streams/{{stream}}/events/{{event_id}}/file", expect(200, **HIDDEN),
        params=_event_file),
    Row("GET", f"{API}/streams/{{stream}}/events", expect(200, **HIDDEN), params=_stream),
    Row("POST", f"{API}/streams/{{stream}}/events", expect(201, **WRITERS), params=_stream,
        body=lambda w, c: {"extra_data": {"by": c}}),
    Row("POST", f"{API}/streams/{{stream}}/events", expect(201, **WRITERS), params=_stream,
        body=_file_body),
    Row("POST", f"{API}/streams/{{stream}}/events", expect(201, **WRITERS), params=_stream,
        content=_event_form,
        headers=lambda w: {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}),
    Row("POST", f"{API}/projects/{{project}}/points", expect(200, **WRITERS),
        query=lambda w: {"precision": "s"},
        body=lambda w, c: {"device": "sensor", "series": {"temp": [[3, 3.0]]}}),
    Row("POST", f"{API}/projects/{{project}}/write", expect(204, **WRITERS),
        query=lambda w: {"precision": "s"}, content=_lines),
    # the InfluxDB face (errors in Influx's shapes)
    Row("POST", "/write", expect(204, **WRITERS), content=_lines, foreign=True,
        query=lambda w: {"db": w.project["id"], "precision": "s"}),
    Row("POST", "/api/v2/write", expect(204, **WRITERS), content=_lines, foreign=True,
        query=lambda w: {"bucket": w.project["id"], "precision": "s"}),
    Row("GET", "/ping", public(204), foreign=True),
    Row("GET", "/query", expect(200), foreign=True, query=lambda w: {"q": "SHOW DATABASES"}),
    Row("POST", "/query", expect(200), foreign=True, query=lambda w: {"q": "SHOW DATABASES"}),
)
