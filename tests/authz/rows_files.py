"""Authorization rows of the files routes: the tree, metadata, queries, transfers and
upload sessions. Reading needs read access to the project, everything else write; another
tenant's project (and a token for another project) sees 404."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.authz.table import Row, expect, register
from tests.authz.world import World
from tests.support.accounts import unique

API = "/api/v1"
P = f"{API}/projects/{{project}}"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
READ = expect(200, **HIDDEN)
_made: dict[int, dict[str, Any]] = {}


def _upload(world: World, name: str, content: bytes = b"x") -> dict[str, Any]:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/files",
                        params={"name": name, "on_conflict": "overwrite"}, content=content,
                        headers={"content-type": "application/octet-stream"})
        answer.raise_for_status()
        return dict(answer.json())


def _target(world: World) -> dict[str, Any]:
    """A file with one earlier version, made once per world."""
    if id(world) not in _made:
        _upload(world, "target.txt", b"first")
        _made[id(world)] = _upload(world, "target.txt", b"second")
    return _made[id(world)]


def _node(world: World) -> dict[str, Any]:
    return {"node": _target(world)["id"]}


def _fresh_node(world: World) -> dict[str, Any]:
    return {"node": _upload(world, unique("doomed"))["id"]}


def _fresh_upload(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/uploads",
                        json={"name": unique("up"), "total": 0})
        answer.raise_for_status()
        return {"upload_id": answer.json()["id"]}


def _chunk_upload(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/uploads",
                        json={"name": unique("up"), "total": 2})
        answer.raise_for_status()
        return {"upload_id": answer.json()["id"]}


register(
    Row("GET", f"{P}/files", READ),
    Row("POST", f"{P}/files/query", READ, body=lambda w, c: {"filter": {"size": {"$gte": 0}}}),
    Row("GET", f"{P}/files/by-path", READ, query=lambda w: {"path": "/"}),
    Row("POST", f"{P}/files/delete", expect(200, read_token=403, **HIDDEN),
        body=lambda w, c: {"ids": [_upload(w, unique("doomed"))["id"]]}),
    Row("POST", f"{P}/folders", expect(201, read_token=403, **HIDDEN),
        body=lambda w, c: {"name": unique("folder")}),
    Row("GET", f"{P}/files/{{node}}", READ, params=_node),
    Row("PATCH", f"{P}/files/{{node}}", expect(200, read_token=403, **HIDDEN), params=_node,
        body=lambda w, c: {"tags": ["checked"]}),
    Row("DELETE", f"{P}/files/{{node}}", expect(204, read_token=403, **HIDDEN),
        params=_fresh_node),
    Row("PATCH", f"{P}/files/{{node}}/metadata", expect(200, read_token=403, **HIDDEN),
        params=_node, body=lambda w, c: {"checked_by": c}),
    Row("PUT", f"{P}/files/{{node}}/metadata", expect(200, read_token=403, **HIDDEN),
        params=_node, body=lambda w, c: {"checked_by": c}),
    Row("GET", f"{P}/files/{{node}}/children", READ, params=lambda w: {"node": "root"}),
    Row("GET", f"{P}/files/{{node}}/ancestors", READ, params=_node),
    Row("POST", f"{P}/files/{{node}}/copy", expect(201, read_token=403, **HIDDEN),
        params=_node, body=lambda w, c: {"on_conflict": "rename"}),
    Row("GET", f"{P}/files/{{node}}/versions", READ, params=_node),
    # a raw upload: the JSON body is the file's content
    Row("POST", f"{P}/files", expect(201, read_token=403, **HIDDEN),
        query=lambda w: {"name": "matrix.json", "on_conflict": "rename"},
        body=lambda w, c: {"uploaded_by": c}),
    Row("GET", f"{P}/files/{{node}}/content", READ, params=_node),
    Row("GET", f"{P}/files/{{node}}/versions/{{version}}/content", READ,
        params=lambda w: {**_node(w), "version": 1}),
    Row("POST", f"{P}/uploads", expect(201, read_token=403, **HIDDEN),
        body=lambda w, c: {"name": unique("up")}),
    Row("GET", f"{P}/uploads/{{upload_id}}", expect(200, read_token=403, **HIDDEN),
        params=_fresh_upload),
    Row("PUT", f"{P}/uploads/{{upload_id}}", expect(200, read_token=403, **HIDDEN),
        params=_chunk_upload, body=lambda w, c: 1,  # the JSON `1`: a one-byte chunk
        headers=lambda w: {"content-range": "bytes 0-0/2"}),
    Row("POST", f"{P}/uploads/{{upload_id}}/complete", expect(201, read_token=403, **HIDDEN),
        params=_fresh_upload, body=lambda w, c: {"md5": hashlib.md5(b"").hexdigest()}),
    Row("DELETE", f"{P}/uploads/{{upload_id}}", expect(204, read_token=403, **HIDDEN),
        params=_fresh_upload),
)
