"""Authorization rows of the IOTile Cloud face (`/iotile/api/v1/…`): errors in DRF's
`{"detail": …}`, not problem+json."""

from __future__ import annotations

import json
from typing import Any

from tests.authz.rows_timeseries import HIDDEN, WRITERS, _stream
from tests.authz.table import CALLERS, UNAUTHENTICATED, Row, expect, public, register
from tests.authz.world import World
from tests.support.accounts import unique

FACE = "/iotile/api/v1"
NO_TOKENS = {"project_token": 403, "other_project_token": 403}
BOUNDARY = "authzboundary"


def _gids(world: World) -> dict[str, Any]:
    """The world's stream `temp` of device `sensor`, by IOTile's slugs."""
    made = _stream(world)
    with world.owner_client() as c:
        stream = c.get(f"/streams/{made['stream']}").json()
    return {"stream": stream["gid"], "device": stream["device"],
            "variable": stream["variable"], "uuid": world.project["uuid"]}


def _form(fields: dict[str, str]) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 f'bytes\r\n--{BOUNDARY}--\r\n')
    return "".join(parts).encode()


def _event(world: World, caller: str) -> bytes:
    return _form({"stream": _gids(world)["stream"], "timestamp": "2023-01-01T00:00:00Z",
                  "encoded_extra_data": json.dumps({"by": caller})})


def _uploaded(world: World) -> dict[str, Any]:
    """An event with a file on the world's stream, uploaded by the owner (made once)."""
    made = getattr(world, "_iotile_event", None)
    if made is None:
        with world.owner_client() as c:
            answer = c.post(world.server.url + f"{FACE}/event/upload/",
                            content=_event(world, "owner"), headers=_multipart(world))
            answer.raise_for_status()
            made = {"event": answer.json()["id"]}
        world._iotile_event = made  # type: ignore[attr-defined]
    return dict(made)


def _multipart(world: World) -> dict[str, str]:
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def _refresh_expectations() -> dict[str, int]:
    """A session jwt refreshes; an API token is no jwt (400); a bad one is 401."""
    table = {c: 400 for c in CALLERS}
    table.update({c: 200 for c in ("owner", "org_member", "outsider", "superuser")})
    table.update({c: 401 for c in UNAUTHENTICATED if c != "anonymous"})
    return table


register(
    Row("POST", f"{FACE}/auth/login/", public(200), foreign=True,
        body=lambda w, c: {"email": w.owner.email, "password": w.owner.password}),
    Row("POST", f"{FACE}/auth/logout/", expect(204), foreign=True, fresh_caller=True),
    Row("POST", f"{FACE}/auth/api-jwt-refresh/", _refresh_expectations(), foreign=True,
        body=lambda w, c: {"token": w.tokens[c]} if w.tokens[c] else {}),
    Row("GET", f"{FACE}/account/", expect(200), foreign=True),
    Row("GET", f"{FACE}/org/", expect(200, **NO_TOKENS), foreign=True),
    Row("POST", f"{FACE}/org/", expect(201, read_token=403, **NO_TOKENS), foreign=True,
        body=lambda w, c: {"name": unique("iot")}),
    Row("GET", f"{FACE}/org/{{slug}}/", expect(200, outsider=404, superuser=404, **NO_TOKENS),
        foreign=True),
    Row("GET", f"{FACE}/project/{{uuid}}/", expect(200, **HIDDEN), foreign=True,
        params=_gids),
    Row("GET", f"{FACE}/device/", expect(200), foreign=True),
    Row("GET", f"{FACE}/device/{{device}}/", expect(200, **HIDDEN), foreign=True,
        params=_gids),
    Row("PATCH", f"{FACE}/device/{{device}}/", expect(200, **WRITERS), foreign=True,
        params=_gids, body=lambda w, c: {"label": c}),
    Row("GET", f"{FACE}/variable/{{variable}}/", expect(200, **HIDDEN), foreign=True,
        params=_gids),
    Row("GET", f"{FACE}/stream/", expect(200, **HIDDEN), foreign=True,
        query=lambda w: {"project": w.project["uuid"]}),
    Row("GET", f"{FACE}/stream/{{stream}}/", expect(200, **HIDDEN), foreign=True,
        params=_gids),
    Row("GET", f"{FACE}/stream/{{stream}}/data/", expect(200, **HIDDEN), foreign=True,
        params=_gids, query=lambda w: {"lastn": 10}),
    Row("GET", f"{FACE}/data/", expect(200, **HIDDEN), foreign=True,
        query=lambda w: {"filter": _gids(w)["stream"]}),
    Row("GET", f"{FACE}/data/", expect(200, **HIDDEN), foreign=True,
        query=lambda w: {"filter": _gids(w)["device"]}),
    Row("GET", f"{FACE}/event/", expect(200, **HIDDEN), foreign=True,
        query=lambda w: {"filter": _gids(w)["stream"]}),
    Row("GET", f"{FACE}/event/{{event}}/", expect(200, **HIDDEN), foreign=True,
        params=_uploaded),
    Row("GET", f"{FACE}/event/{{event}}/data/", expect(200, **HIDDEN), foreign=True,
        params=_uploaded),
    Row("POST", f"{FACE}/event/upload/", expect(201, **WRITERS), foreign=True,
        content=_event, headers=_multipart),
    Row("POST", f"{FACE}/streamer/report/", expect(201, read_token=403), foreign=True,
        query=lambda w: {"timestamp": "2023-01-01T00:00:00"},
        content=lambda w, c: _form({}), headers=_multipart),
    Row("GET", f"{FACE}/streamer/report/", expect(200), foreign=True),
)
