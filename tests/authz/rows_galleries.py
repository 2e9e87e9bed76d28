"""Authorization rows of galleries and their records, and of imports from resumable uploads.
Reading needs read access to the dataset's project, everything else write; another tenant
(and a token for another project) sees 404."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.authz.rows_datasets import _made, _row
from tests.authz.table import Row, expect, register
from tests.authz.world import World
from tests.support.accounts import unique

API = "/api/v1"
P = f"{API}/projects/{{project}}"
G = f"{P}/galleries/{{gallery}}"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
READ = expect(200, **HIDDEN)
PHOTO = b"\xff\xd8\xff a photo"


def write(status: int) -> dict[str, int]:
    return expect(status, read_token=403, **HIDDEN)


def _cache(world: World) -> dict[str, Any]:
    return world.__dict__.setdefault("_galleries", {})


def _new_gallery(world: World) -> int:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/datasets/{_made(world, 'main')}"
                        "/galleries", json={"name": unique("gallery")})
        answer.raise_for_status()
        return int(answer.json()["id"])


def _gallery_id(world: World) -> int:
    cache = _cache(world)
    if "gallery" not in cache:
        cache["gallery"] = _new_gallery(world)
        cache["row"] = _row(world)
    return int(cache["gallery"])


def _source(world: World) -> str:
    _gallery_id(world)
    return str(_cache(world)["row"])


def _new_record(world: World) -> int:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/galleries/{_gallery_id(world)}"
                        "/records", content=PHOTO,
                        params={"source_amigo_id": _source(world), "filename": "a.jpg"},
                        headers={"content-type": "application/octet-stream"})
        answer.raise_for_status()
        return int(answer.json()["id"])


def _gallery(world: World) -> dict[str, Any]:
    return {"gallery": _gallery_id(world)}


def _record(world: World) -> dict[str, Any]:
    cache = _cache(world)
    if "record" not in cache:
        cache["record"] = _new_record(world)
    return {"gallery": _gallery_id(world), "record": cache["record"]}


def _finished_upload(world: World, data: bytes) -> str:
    """A resumable upload opened without a name, all its bytes sent."""
    with world.owner_client() as c:
        project = world.project["id"]
        session = c.post(f"/projects/{project}/uploads", json={"total": len(data)})
        session.raise_for_status()
        c.put(f"/projects/{project}/uploads/{session.json()['id']}", content=data, headers={
            "content-type": "application/octet-stream",
            "content-range": f"bytes 0-{len(data) - 1}/{len(data)}"}).raise_for_status()
        return str(session.json()["id"])


def _import_body(world: World, caller: str) -> dict[str, Any]:
    data = f"a,b\n{caller},2\n".encode()
    return {"upload_id": _finished_upload(world, data), "filename": "chunked.csv",
            "md5": hashlib.md5(data).hexdigest()}


def _record_body(world: World, caller: str) -> dict[str, Any]:
    data = PHOTO + caller.encode()
    return {"upload_id": _finished_upload(world, data), "source_amigo_id": _source(world),
            "filename": "chunked.jpg", "md5": hashlib.md5(data).hexdigest()}


register(
    Row("POST", f"{P}/imports/from-upload", write(202), body=_import_body),
    Row("GET", f"{P}/datasets/{{dataset}}/galleries", READ,
        params=lambda w: {"dataset": _made(w, "main")}),
    Row("POST", f"{P}/datasets/{{dataset}}/galleries", write(201),
        params=lambda w: {"dataset": _made(w, "main")},
        body=lambda w, c: {"name": unique("gallery")}),
    Row("GET", G, READ, params=_gallery),
    Row("PATCH", G, write(200), params=_gallery, body=lambda w, c: {"description": c}),
    Row("DELETE", G, write(204), params=lambda w: {"gallery": _new_gallery(w)}),
    Row("GET", f"{G}/records", READ, params=_gallery),
    Row("POST", f"{G}/records", write(201), params=_gallery,
        query=lambda w: {"source_amigo_id": _source(w), "filename": "matrix.jpg"},
        content=lambda w, c: PHOTO + c.encode(),
        headers=lambda w: {"content-type": "application/octet-stream"}),
    Row("POST", f"{G}/records/from-upload", write(201), params=_gallery, body=_record_body),
    Row("GET", f"{G}/records/{{record}}", READ, params=_record),
    Row("PATCH", f"{G}/records/{{record}}", write(200), params=_record,
        body=lambda w, c: {"metadata": {"checked_by": c}}),
    Row("DELETE", f"{G}/records/{{record}}", write(204),
        params=lambda w: {"gallery": _gallery_id(w), "record": _new_record(w)}),
    Row("GET", f"{G}/records/{{record}}/content", READ, params=_record),
    Row("GET", f"{P}/datasets/{{dataset}}/rows/{{amigo_id}}/gallery-records", READ,
        params=lambda w: {"dataset": _made(w, "main"), "amigo_id": _source(w)}),
)
