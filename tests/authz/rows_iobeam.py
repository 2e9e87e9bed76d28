"""Authorization rows of the iobeam face (`/iobeam/v1/…`, errors in iobeam's JSON shape)."""

from __future__ import annotations

from typing import Any

from tests.authz.table import Row, expect, public, register
from tests.authz.world import World

FACE = "/iobeam/v1"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
WRITERS = dict(read_token=403, **HIDDEN)
# minting needs an unrestricted admin-scope credential (as every token does), then write
# access to the project
MINTERS = dict(outsider=404, superuser=404, read_token=403, write_token=403,
               project_token=403, other_project_token=403)


def _project(world: World) -> dict[str, Any]:
    return {"project_id": world.project["id"]}


def _project_token(world: World, caller: str) -> dict[str, str]:
    """A fresh project JWT of the owner's, to refresh."""
    with world.owner_client() as c:
        answer = c.post("/tokens", json={"kind": "jwt", "scope": "write",
                                         "project": world.project["id"]})
        answer.raise_for_status()
        return {"refresh_token": answer.json()["token"]}


def _table(world: World, caller: str) -> dict[str, Any]:
    return {"project_id": world.project["id"], "device_id": "iobeam-authz",
            "sources": {"fields": ["time", "temp"], "data": [[1_000_000, 1]]},
            "timefmt": "usec"}


register(
    Row("GET", f"{FACE}/tokens/project", expect(200, **MINTERS), query=_project, foreign=True),
    Row("POST", f"{FACE}/tokens/project", public(200), body=_project_token, foreign=True),
    Row("POST", f"{FACE}/devices", expect(201, **WRITERS), body=lambda w, c: _project(w),
        foreign=True),
    Row("GET", f"{FACE}/devices/timestamp", expect(200), foreign=True),
    Row("POST", f"{FACE}/imports", expect(200, **WRITERS), query=lambda w: {"fmt": "table"},
        body=_table, foreign=True),
    Row("GET", f"{FACE}/exports/{{project}}", expect(200, **HIDDEN), foreign=True),
    Row("GET", f"{FACE}/exports/{{project}}/{{device}}", expect(200, **HIDDEN),
        params=lambda w: {"device": "all"}, foreign=True),
    Row("GET", f"{FACE}/exports/{{project}}/{{device}}/{{series}}", expect(200, **HIDDEN),
        params=lambda w: {"device": "all", "series": "all"}, foreign=True),
)
