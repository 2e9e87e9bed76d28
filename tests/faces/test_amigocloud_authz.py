"""The AmigoCloud face's authorization rows: every endpoint × every kind of caller, with the
token where the client sends it (`?token=`). The face is mounted outside the native OpenAPI,
so its rows live here, beside the face's tests, in the matrix's table format."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.authz.table import CALLERS, Row, expect, public
from tests.authz.world import World
from tests.faces.amigocloud_support import gallery_for
from tests.support.live import LiveServer

API = "/amigocloud/api/v1"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
UNRESTRICTED = {"project_token": 403, "other_project_token": 403}  # no projects from these
SQL = {"query": "SELECT 1 AS one"}
SOCKET = "/amigocloud/v2_socket.io/socket.io/"
BOUNDARY = "amigo-authz-boundary"
FORM = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
CSV = b"name,n\nalpha,1\n"
PHOTO = b"\xff\xd8\xff photo bytes"
DATASETS = f"{API}/users/{{owner}}/projects/{{project}}/datasets"
GALLERY = f"{API}/related_tables/{{gallery}}"
WRITE = {"read_token": 403, **HIDDEN}


def _dataset(w: World) -> dict[str, Any]:
    """One dataset of the world's project, made once."""
    if not hasattr(w, "amigo_dataset"):
        with w.owner_client() as c:
            made = c.post(f"/projects/{w.project['id']}/datasets", json={"name": "ws"})
            made.raise_for_status()
            w.amigo_dataset = made.json()["id"]  # type: ignore[attr-defined]
    return {"dataset": w.amigo_dataset}  # type: ignore[attr-defined]



def _form(data: bytes, **fields: str) -> bytes:
    """A multipart body as the client's requests builds it: fields, then `datafile`."""
    request = httpx.Request("POST", "http://form", data=fields, headers=FORM,
                            files={"datafile": ("datafile", data)})
    return request.read()


def _chunk_headers(world: World) -> dict[str, str]:
    return {**FORM, "content-range": f"bytes 0-{len(CSV) - 1}/{len(CSV)}"}


def _session(world: World, data: bytes) -> dict[str, str]:
    """An upload session of the owner's in the project, all its bytes sent (natively)."""
    with world.owner_client() as c:
        opened = c.post(f"/projects/{world.project['id']}/uploads", json={"total": len(data)})
        opened.raise_for_status()
        upload_id = opened.json()["id"]
        c.put(f"/projects/{world.project['id']}/uploads/{upload_id}", content=data, headers={
            "content-type": "application/octet-stream",
            "content-range": f"bytes 0-{len(data) - 1}/{len(data)}"}).raise_for_status()
    return {"upload_id": upload_id, "md5": hashlib.md5(data).hexdigest()}


def _gallery(world: World) -> dict[str, Any]:
    return {"gallery": world.amigo_gallery["id"]}  # type: ignore[attr-defined]


def _photo_fields(world: World) -> dict[str, str]:
    return {"source_amigo_id": world.amigo_rows[0], "filename": "leaf.jpg"}  # type: ignore[attr-defined]


ROWS = (
    Row("GET", f"{API}/me", expect(200)),
    Row("GET", f"{API}/me/images", expect(200)),
    Row("GET", f"{API}/me/images/thumbnail", expect(200)),
    Row("GET", f"{API}/me/geocoder/search", expect(501), query=lambda w: {"text": "x"}),
    Row("GET", f"{API}/me/projects", expect(200)),
    Row("POST", f"{API}/me/projects", expect(201, read_token=403, **UNRESTRICTED),
        body=lambda w, c: {"name": "amigo", "description": ""}),
    Row("GET", f"{API}/projects/{{project}}", expect(200, **HIDDEN)),
    Row("GET", f"{API}/users/{{owner}}/projects/{{project}}", expect(200, **HIDDEN)),
    Row("GET", f"{API}/projects/{{project}}/datasets", expect(200, **HIDDEN)),
    Row("GET", f"{API}/users/{{owner}}/projects/{{project}}/datasets", expect(200, **HIDDEN)),
    Row("GET", f"{API}/projects/{{project}}/base_layers", expect(200, **HIDDEN)),
    Row("GET", f"{API}/projects/{{project}}/sql", expect(200, **HIDDEN), query=lambda w: SQL),
    Row("GET", f"{API}/users/{{owner}}/projects/{{project}}/sql", expect(200, **HIDDEN),
        query=lambda w: SQL),
    Row("POST", f"{API}/projects/{{project}}/sql", expect(200, read_token=403, **HIDDEN),
        body=lambda w, c: SQL),
    Row("GET", f"{API}/me/start_websocket_session", expect(200, **UNRESTRICTED)),
    Row("GET", f"{API}/projects/{{project}}/datasets/{{dataset}}/start_websocket_session",
        expect(200, **HIDDEN), params=_dataset),
    Row("GET", f"{API}/users/{{owner}}/projects/{{project}}/datasets/{{dataset}}/"
        "start_websocket_session", expect(200, **HIDDEN), params=_dataset),
    # the Engine.IO handshake is open to all: the `authenticate` emit carries the credential
    Row("GET", SOCKET, public(200), query=lambda w: {"EIO": "3", "transport": "polling"}),
    Row("POST", f"{DATASETS}/upload", expect(201, **WRITE), headers=lambda w: FORM,
        content=lambda w, c: _form(CSV)),
    Row("POST", f"{DATASETS}/chunked_upload", expect(200, **WRITE), headers=_chunk_headers,
        content=lambda w, c: _form(CSV)),
    Row("POST", f"{API}/projects/{{project}}/datasets/chunked_upload", expect(200, **WRITE),
        headers=_chunk_headers, content=lambda w, c: _form(CSV)),
    Row("POST", f"{DATASETS}/chunked_upload/complete", expect(201, **WRITE),
        body=lambda w, c: {**_session(w, CSV), "filename": "authz.csv"}),
    Row("POST", f"{API}/projects/{{project}}/datasets/chunked_upload/complete",
        expect(201, **WRITE), body=lambda w, c: _session(w, CSV)),
    Row("POST", f"{GALLERY}/upload", expect(201, **WRITE), params=_gallery,
        headers=lambda w: FORM, content=lambda w, c: _form(PHOTO, **_photo_fields(w))),
    Row("POST", f"{GALLERY}/chunked_upload", expect(200, **WRITE), params=_gallery,
        headers=_chunk_headers, content=lambda w, c: _form(CSV)),
    Row("POST", f"{GALLERY}/chunked_upload/complete", expect(201, **WRITE), params=_gallery,
        body=lambda w, c: {**_session(w, PHOTO), **_photo_fields(w), "by": "authz"}),
)


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    made = World(server)
    gallery, rows = gallery_for(server, made.owner, made.project["id"])
    made.amigo_gallery, made.amigo_rows = gallery, rows  # type: ignore[attr-defined]
    yield made


def _call(world: World, row: Row, caller: str) -> httpx.Response:
    params: dict[str, Any] = {**world.defaults(), "owner": world.owner.id,
                              **(row.params(world) if row.params else {})}
    token = world.tokens[caller]
    query = {**(row.query(world) if row.query else {}), **({"token": token} if token else {})}
    body = row.body(world, caller) if row.body else None
    content = row.content(world, caller) if row.content else None
    return httpx.request(row.method, world.server.url + row.route.format(**params),
                         params=query, json=body, content=content,
                         headers=row.headers(world) if row.headers else None, timeout=60)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_face_route_as_caller(world: World, row: Row, caller: str) -> None:
    answer = _call(world, row, caller)
    assert answer.status_code == row.expect[caller], (
        f"{row.id} as {caller}: {answer.status_code} {answer.text[:300]}")
    if answer.status_code >= 400:
        assert answer.json()["detail"]
