"""Galleries over HTTP: CRUD, plain (multipart and raw) and chunked uploads attached to rows,
listings per gallery and per row, downloads, deletions that release the bytes (record,
gallery, row, dataset, project), events, and who may see or change what."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from typing import Any

import httpx

from tests.datasets.helpers import blob_stored, chunked
from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.ws import Socket

COLUMNS = [{"name": "name", "type": "text"},
           {"name": "where", "type": "geometry", "geometry_type": "point"}]


def _until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _dataset(c: httpx.Client, p: int, rows: int = 2) -> tuple[dict[str, Any], list[str]]:
    made = c.post(f"/projects/{p}/datasets", json={"name": "trees", "columns": COLUMNS})
    assert made.status_code == 201, made.text
    ds = made.json()
    added = c.post(f"/projects/{p}/datasets/{ds['id']}/rows", json={"rows": [
        {"name": f"tree {i}", "where": {"type": "Point", "coordinates": [i, i]}}
        for i in range(rows)]})
    assert added.status_code == 201, added.text
    return ds, [r["amigo_id"] for r in added.json()["rows"]]


def _gallery(c: httpx.Client, p: int, dataset: int, name: str = "photos") -> dict[str, Any]:
    answer = c.post(f"/projects/{p}/datasets/{dataset}/galleries", json={"name": name})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _photo(c: httpx.Client, p: int, gallery: int, row: str, data: bytes,
           filename: str = "leaf.jpg", **fields: str) -> httpx.Response:
    return c.post(f"/projects/{p}/galleries/{gallery}/records",
                  files={"file": (filename, data, "image/jpeg")},
                  data={"source_amigo_id": row, **fields})


def test_gallery_crud_and_names(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds, _ = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        assert (g["dataset"], g["project"], g["name"], g["record_count"]) == (
            ds["id"], p, "photos", 0)
        assert g["url"].endswith(f"/api/v1/projects/{p}/galleries/{g['id']}")
        assert c.get(g["records_url"]).json()["count"] == 0
        twin = c.post(f"/projects/{p}/datasets/{ds['id']}/galleries", json={"name": "photos"})
        assert twin.status_code == 409
        other = _gallery(c, p, ds["id"], "sketches")
        listed = c.get(f"/projects/{p}/datasets/{ds['id']}/galleries", params={"limit": 1})
        assert listed.json()["count"] == 2 and listed.json()["next"]
        assert [x["name"] for x in listed.json()["results"]] == ["photos"]
        renamed = c.patch(f"/projects/{p}/galleries/{other['id']}",
                          json={"name": "drawings", "description": "by hand"})
        assert renamed.status_code == 200 and renamed.json()["description"] == "by hand"
        clash = c.patch(f"/projects/{p}/galleries/{other['id']}", json={"name": "photos"})
        assert clash.status_code == 409
        assert c.delete(f"/projects/{p}/galleries/{other['id']}").status_code == 204
        assert c.get(f"/projects/{p}/galleries/{other['id']}").status_code == 404
        missing = c.post(f"/projects/{p}/datasets/999999/galleries", json={"name": "x"})
        assert missing.status_code == 404


def test_plain_uploads_listing_and_download(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    jpeg = b"\xff\xd8\xff" + os.urandom(50_000)
    with user.client() as c:
        ds, (first, second) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        answer = _photo(c, p, g["id"], first, jpeg, "C:\\phone\\leaf.jpg",
                        metadata=json.dumps({"taken": "2024-05-01", "by": {"name": "ada"}}))
        assert answer.status_code == 201, answer.text
        photo = answer.json()
        assert (photo["source_amigo_id"], photo["filename"], photo["content_type"],
                photo["size"]) == (first, "leaf.jpg", "image/jpeg", len(jpeg))
        assert photo["sha256"] == hashlib.sha256(jpeg).hexdigest()
        assert photo["md5"] == hashlib.md5(jpeg).hexdigest()
        assert photo["metadata"] == {"taken": "2024-05-01", "by": {"name": "ada"}}
        assert len(photo["amigo_id"]) == 32 and photo["gallery"] == g["id"]
        raw = c.post(f"/projects/{p}/galleries/{g['id']}/records", content=b"hello notes",
                     params={"source_amigo_id": second, "filename": "notes.txt",
                             "metadata": json.dumps({"kind": "note"})},
                     headers={"content-type": "application/octet-stream"})
        assert raw.status_code == 201, raw.text
        assert raw.json()["content_type"].startswith("text/plain")
        assert _photo(c, p, g["id"], first, b"second leaf", "leaf2.png").status_code == 201
        # per row, per gallery (paged)
        of_first = c.get(f"/projects/{p}/datasets/{ds['id']}/rows/{first}/gallery-records")
        assert [r["filename"] for r in of_first.json()["results"]] == ["leaf.jpg", "leaf2.png"]
        paged = c.get(f"/projects/{p}/galleries/{g['id']}/records", params={"limit": 2})
        assert paged.json()["count"] == 3 and paged.json()["next"]
        only = c.get(f"/projects/{p}/galleries/{g['id']}/records",
                     params={"source_amigo_id": second})
        assert [r["filename"] for r in only.json()["results"]] == ["notes.txt"]
        assert c.get(f"/projects/{p}/galleries/{g['id']}").json()["record_count"] == 3
        # download
        got = c.get(photo["content_url"])
        assert got.status_code == 200 and got.content == jpeg
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["cache-control"] == "no-store"
        assert got.headers["content-disposition"].startswith('attachment; filename="leaf.jpg"')
        part = c.get(photo["content_url"], headers={"Range": "bytes=0-2"})
        assert part.status_code == 206 and part.content == b"\xff\xd8\xff"
        etag = got.headers["etag"]
        assert c.get(photo["content_url"], headers={"If-None-Match": etag}).status_code == 304
        # change metadata and name
        changed = c.patch(photo["url"], json={"filename": "oak.jpg",
                                              "metadata": {"by": None, "tree": "oak"}})
        assert changed.status_code == 200, changed.text
        assert changed.json()["metadata"] == {"taken": "2024-05-01", "tree": "oak"}
        assert c.get(photo["content_url"]).headers["content-disposition"].startswith(
            'attachment; filename="oak.jpg"')
        # delete one: its bytes go
        assert c.delete(photo["url"]).status_code == 204
        assert c.get(photo["url"]).status_code == 404
        _until(lambda: not blob_stored(server, photo["sha256"]))


def test_bad_uploads_change_nothing(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    data = os.urandom(20_000)
    sha = hashlib.sha256(data).hexdigest()
    with user.client() as c:
        ds, (row, _) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        url = f"/projects/{p}/galleries/{g['id']}/records"
        nowhere = _photo(c, p, g["id"], "no-such-row", data)
        assert nowhere.status_code == 400 and "not a row" in nowhere.json()["detail"]
        early = c.post(url, content=data, params={"source_amigo_id": "no-such-row",
                                                  "filename": "x.bin"},
                       headers={"content-type": "application/octet-stream"})
        assert early.status_code == 400
        unnamed = c.post(url, content=data, params={"source_amigo_id": row},
                         headers={"content-type": "application/octet-stream"})
        assert unnamed.status_code == 400 and "filename" in unnamed.json()["detail"]
        no_row = c.post(url, files={"file": ("a.jpg", data)})
        assert no_row.status_code == 400 and "source_amigo_id" in no_row.json()["detail"]
        bad_meta = _photo(c, p, g["id"], row, data, metadata="[1, 2")
        assert bad_meta.status_code == 400
        not_object = _photo(c, p, g["id"], row, data, metadata="[1, 2]")
        assert not_object.status_code == 400
        no_file = c.post(url, data={"source_amigo_id": row},
                         files={"other": ("", b"", "text/plain")})
        assert no_file.status_code == 400
        assert c.get(url).json()["count"] == 0
        assert not blob_stored(server, sha)


def test_chunked_uploads_verify_the_whole_file(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    data = os.urandom(350_000)
    with user.client() as c:
        ds, (row, _) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        url = f"/projects/{p}/galleries/{g['id']}/records/from-upload"
        wrong = chunked(c, p, data)
        refused = c.post(url, json={"upload_id": wrong, "source_amigo_id": row,
                                    "filename": "big.tif", "md5": "0" * 32})
        assert refused.status_code == 400 and "md5" in refused.json()["detail"]
        assert c.get(f"/projects/{p}/galleries/{g['id']}/records").json()["count"] == 0
        upload_id = chunked(c, p, data)
        body = {"upload_id": upload_id, "source_amigo_id": row, "filename": "big.tif",
                "metadata": {"camera": "x100"}, "md5": hashlib.md5(data).hexdigest()}
        bad_row = c.post(url, json={**body, "source_amigo_id": "nope"})
        assert bad_row.status_code == 400
        done = c.post(url, json=body)
        assert done.status_code == 201, done.text
        record = done.json()
        assert (record["size"], record["content_type"], record["metadata"]) == (
            len(data), "image/tiff", {"camera": "x100"})
        again = c.post(url, json=body)
        assert again.status_code == 201 and again.json()["id"] == record["id"]
        assert c.get(f"/projects/{p}/galleries/{g['id']}/records").json()["count"] == 1
        assert c.get(record["content_url"]).content == data
        # an upload completed into one gallery is not taken by another
        other = _gallery(c, p, ds["id"], "other")
        taken = c.post(f"/projects/{p}/galleries/{other['id']}/records/from-upload",
                       json=body)
        assert taken.status_code == 409


def test_deletions_release_the_bytes(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        p = c.post("/projects", json={"name": "gallery doomed"}).json()["id"]
        ds, (first, second) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        doomed = _gallery(c, p, ds["id"], "gone with its gallery")
        data = {k: os.urandom(1000) for k in ("row", "other", "gallery", "project")}
        sha = {k: hashlib.sha256(v).hexdigest() for k, v in data.items()}
        assert _photo(c, p, g["id"], first, data["row"]).status_code == 201
        assert _photo(c, p, g["id"], second, data["other"]).status_code == 201
        assert _photo(c, p, doomed["id"], second, data["gallery"]).status_code == 201
        assert all(blob_stored(server, s) for k, s in sha.items() if k != "project")
        # a row deleted through the API takes its records
        assert c.delete(f"/projects/{p}/datasets/{ds['id']}/rows/{first}").status_code == 204
        _until(lambda: not blob_stored(server, sha["row"]))
        assert c.get(f"/projects/{p}/galleries/{g['id']}/records").json()["count"] == 1
        # a gallery takes its records
        assert c.delete(f"/projects/{p}/galleries/{doomed['id']}").status_code == 204
        _until(lambda: not blob_stored(server, sha["gallery"]))
        assert blob_stored(server, sha["other"])
        # a dataset takes its galleries
        assert c.delete(f"/projects/{p}/datasets/{ds['id']}").status_code == 204
        assert c.get(f"/projects/{p}/galleries/{g['id']}").status_code == 404
        _until(lambda: not blob_stored(server, sha["other"]))
        # a project takes everything
        ds2, (row2, _) = _dataset(c, p)
        g2 = _gallery(c, p, ds2["id"])
        assert _photo(c, p, g2["id"], row2, data["project"]).status_code == 201
        assert blob_stored(server, sha["project"])
        assert c.delete(f"/projects/{p}").status_code == 204
        _until(lambda: not blob_stored(server, sha["project"]))


def test_shared_bytes_stay_while_another_holds_them(server: LiveServer, user: TestUser
                                                    ) -> None:
    p = user.home_project["id"]
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    with user.client() as c:
        ds, (row, _) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        photo = _photo(c, p, g["id"], row, data).json()
        stored = c.post(f"/projects/{p}/files", params={"name": "same.bin"}, content=data,
                        headers={"content-type": "application/octet-stream"})
        assert stored.status_code == 201
        assert c.delete(photo["url"]).status_code == 204
        assert blob_stored(server, sha)  # the file still holds them
        assert c.get(f"/projects/{p}/files/{stored.json()['id']}/content").content == data


def test_other_tenants_see_404_and_read_tokens_cannot_write(
        user: TestUser, other_user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds, (row, _) = _dataset(c, p)
        g = _gallery(c, p, ds["id"])
        photo = _photo(c, p, g["id"], row, b"mine").json()
        second = c.post("/projects", json={"name": "second"}).json()
    gallery_path = f"/projects/{p}/galleries/{g['id']}"
    with other_user.client() as c:
        theirs = other_user.home_project["id"]
        for path in (gallery_path, f"{gallery_path}/records", photo["url"],
                     photo["content_url"],
                     f"/projects/{theirs}/galleries/{g['id']}",
                     f"/projects/{theirs}/galleries/{g['id']}/records/{photo['id']}"):
            assert c.get(path).status_code == 404, path
        assert c.delete(photo["url"]).status_code == 404
        assert _photo(c, theirs, g["id"], row, b"x").status_code == 404
    with user.client() as c:  # the right ids under the wrong project (or gallery)
        assert c.get(f"/projects/{second['id']}/galleries/{g['id']}").status_code == 404
        assert c.get(f"/projects/{second['id']}/galleries/{g['id']}/records/{photo['id']}"
                     ).status_code == 404
        other = _gallery(c, p, ds["id"], "another")
        assert c.get(f"/projects/{p}/galleries/{other['id']}/records/{photo['id']}"
                     ).status_code == 404
    read_only = user.api_token(scope="read")
    with user.client(read_only) as c:
        assert c.get(photo["content_url"]).content == b"mine"
        assert c.get(f"{gallery_path}/records").json()["count"] == 1
        assert _photo(c, p, g["id"], row, b"x").status_code == 403
        assert c.delete(photo["url"]).status_code == 403
        assert c.patch(photo["url"], json={"filename": "x"}).status_code == 403
        assert c.post(f"/projects/{p}/datasets/{ds['id']}/galleries",
                      json={"name": "x"}).status_code == 403
        assert c.delete(gallery_path).status_code == 403
    other_token = user.api_token(scope="write", project=second["id"])
    with user.client(other_token) as c:
        assert c.get(gallery_path).status_code == 404


def test_gallery_events_after_commit(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds, (row, _) = _dataset(c, p)

        async def scenario() -> list[dict[str, Any]]:
            sock = await Socket.open(server, user.token)
            try:
                assert (await sock.subscribe(f"dataset:{ds['id']}"))["op"] == "subscribed"

                def changes() -> None:
                    g = _gallery(c, p, ds["id"])
                    photo = _photo(c, p, g["id"], row, b"evented").json()
                    c.patch(photo["url"], json={"metadata": {"a": 1}}).raise_for_status()
                    c.post(f"/projects/{p}/datasets/{ds['id']}/galleries",
                           json={"name": "photos"})  # a refused change: no event
                    c.delete(photo["url"]).raise_for_status()
                    c.patch(f"/projects/{p}/galleries/{g['id']}",
                            json={"name": "renamed"}).raise_for_status()
                    c.delete(f"/projects/{p}/galleries/{g['id']}").raise_for_status()

                await asyncio.to_thread(changes)
                return await sock.events(6)
            finally:
                await sock.close()

        events = asyncio.run(scenario())
    assert [e["event"] for e in events] == [
        "gallery.created", "gallery.record_added", "gallery.record_changed",
        "gallery.record_deleted", "gallery.changed", "gallery.deleted"]
    added = events[1]["data"]
    assert (added["source_amigo_id"], added["filename"], added["size"], added["dataset_id"],
            added["project_id"]) == (row, "leaf.jpg", 7, ds["id"], p)
    assert events[5]["data"]["name"] == "renamed" and events[5]["data"]["record_count"] == 0
