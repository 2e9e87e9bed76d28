"""Dataset imports from resumable uploads, over HTTP: chunks, a connection that drops mid-
chunk and resumes, the whole-file md5/sha256 (a wrong one makes nothing), repeated
completions, formats told from the content, the bytes released once the job ends, and who
may do it."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
import zipfile
from typing import Any

import httpx
import pytest

from tests.datasets.helpers import (
    blob_stored,
    chunked,
    names,
    open_session,
    rows,
    send_chunk,
)
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

CSV = "".join(f"site {i},{i % 90}.5,{i % 180}.25,{i}\n" for i in range(6000))
CSV = "name,lat,lon,n\n" + CSV


def _import(c: httpx.Client, project: int, upload_id: str, *, wait: float = 60,
            **body: Any) -> httpx.Response:
    return c.post(f"/projects/{project}/imports/from-upload", params={"wait": wait},
                  json={"upload_id": upload_id, **body}, timeout=120)


def _until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_chunked_import_makes_the_dataset_and_lets_the_bytes_go(
        server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    data = CSV.encode()
    sha = hashlib.sha256(data).hexdigest()
    with user.client() as c:
        upload_id = chunked(c, p, data)
        answer = _import(c, p, upload_id, filename="sites.csv", sha256=sha,
                         description="from chunks")
        assert answer.status_code == 201, answer.text
        job = answer.json()
        assert job["state"] == "succeeded" and job["upload_id"] == upload_id
        assert job["filename"] == "sites.csv" and job["bytes_total"] == len(data)
        (ds,) = job["datasets"]
        assert ds["name"] == "sites" and ds["description"] == "from chunks"
        assert ds["feature_count"] == 6000 and ds["geometry_column"] == "location"
        got = rows(c, p, ds["id"], limit=2)
        assert got[1]["name"] == "site 1" and got[1]["location"]["coordinates"] == [1.25, 1.5]
        _until(lambda: not blob_stored(server, sha))  # the job released the upload
        again = _import(c, p, upload_id, filename="sites.csv", sha256=sha)
        assert again.status_code == 201 and again.json()["id"] == job["id"]
        assert names(c, p).count("sites") == 1
        assert c.get(f"/projects/{p}/imports/{job['id']}").json()["upload_id"] == upload_id


def test_resume_after_a_dropped_connection_then_md5(server: LiveServer, user: TestUser
                                                    ) -> None:
    p = user.home_project["id"]
    data = CSV.encode()
    chunk = 40_000
    with user.client() as c:
        upload_id = open_session(c, p, len(data))
        for at in range(0, 2 * chunk, chunk):
            assert send_chunk(c, p, upload_id, data[at:at + chunk], at, len(data)
                              ).status_code == 200
        piece = data[2 * chunk:3 * chunk]
        host, port = server.url.removeprefix("http://").split(":")
        head = (f"PUT /api/v1/projects/{p}/uploads/{upload_id} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {user.token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Range: bytes {2 * chunk}-{3 * chunk - 1}/{len(data)}\r\n"
                f"Content-Length: {len(piece)}\r\n\r\n")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head.encode() + piece[: len(piece) // 2])  # then hang up
        time.sleep(0.3)
        status = c.get(f"/projects/{p}/uploads/{upload_id}").json()
        assert status["offset"] == 2 * chunk and status["state"] == "open"
        at = status["offset"]
        while at < len(data):
            answer = send_chunk(c, p, upload_id, data[at:at + chunk], at, len(data))
            assert answer.status_code == 200, answer.text
            at = answer.json()["offset"]
        done = _import(c, p, upload_id, filename="resumed.csv",
                       md5=hashlib.md5(data).hexdigest())
        assert done.status_code == 201, done.text
        assert done.json()["datasets"][0]["feature_count"] == 6000


def test_a_wrong_md5_is_refused_and_makes_nothing(server: LiveServer, user: TestUser
                                                  ) -> None:
    p = user.home_project["id"]
    data = b"a,b\n1,2\n3,4\n"
    with user.client() as c:
        before = c.get(f"/projects/{p}/imports").json()["count"]
        upload_id = chunked(c, p, data, chunk=5)
        answer = _import(c, p, upload_id, filename="wrong.csv",
                         md5=hashlib.md5(b"something else").hexdigest())
        assert answer.status_code == 400 and "md5" in answer.json()["detail"]
        assert "wrong" not in names(c, p)
        assert c.get(f"/projects/{p}/imports").json()["count"] == before
        assert c.get(f"/projects/{p}/uploads/{upload_id}").json()["state"] == "aborted"
        assert not blob_stored(server, hashlib.sha256(data).hexdigest())
        retry = _import(c, p, upload_id, filename="wrong.csv",
                        md5=hashlib.md5(data).hexdigest())
        assert retry.status_code == 409  # a discarded upload is sent again, from the start


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["csv", "geojson", "zip"])
def test_a_name_without_suffix_is_told_by_its_content(user: TestUser, kind: str) -> None:
    """AmigoCloud's chunked uploads carry no file name (every chunk is `datafile`)."""
    p = user.home_project["id"]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
         "properties": {"n": 1}}]}
    data = {"csv": b"\xef\xbb\xbfa,b\n1,2\n",
            "geojson": b"\n  " + json.dumps(collection).encode(),
            "zip": _zip({"inner.geojson": json.dumps(collection).encode()})}[kind]
    with user.client() as c:
        upload_id = chunked(c, p, data, chunk=7)
        answer = _import(c, p, upload_id, filename="datafile",
                         md5=hashlib.md5(data).hexdigest())
        assert answer.status_code == 201, answer.text
        job = answer.json()
        assert job["format"] == kind
        assert [d["name"] for d in job["datasets"]] == ["inner" if kind == "zip" else
                                                        "datafile"]
        unnamed = chunked(c, p, data, chunk=1000)
        default = _import(c, p, unnamed, sha256=hashlib.sha256(data).hexdigest())
        assert default.status_code == 201, default.text
        assert default.json()["filename"] == "upload"


def test_refusals_before_the_upload_is_used(server: LiveServer, user: TestUser,
                                            other_user: TestUser) -> None:
    p = user.home_project["id"]
    data = b"a,b\n1,2\n"
    md5 = hashlib.md5(data).hexdigest()
    with user.client() as c:
        upload_id = chunked(c, p, data)
        unsupported = _import(c, p, upload_id, filename="data.xlsx", md5=md5)
        assert unsupported.status_code == 415, unsupported.text
        binary = chunked(c, p, b"\x00\x01\x02 not a dataset")
        unknown = _import(c, p, binary, filename="blob", md5=hashlib.md5(
            b"\x00\x01\x02 not a dataset").hexdigest())
        assert unknown.status_code == 415 and "suffix" in unknown.json()["detail"]
        assert _import(c, p, "0" * 32, filename="a.csv", md5=md5).status_code == 404
        named = c.post(f"/projects/{p}/uploads", json={"name": "x.csv", "total": 1}).json()
        assert send_chunk(c, p, named["id"], b"x", 0, 1).status_code == 200
        as_file = _import(c, p, named["id"], filename="x.csv", md5=hashlib.md5(b"x").hexdigest())
        assert as_file.status_code == 400 and "file name" in as_file.json()["detail"]
        partial = open_session(c, p, 10)
        assert send_chunk(c, p, partial, b"a,b\n", 0, 10).status_code == 200
        early = _import(c, p, partial, filename="a.csv", md5=md5)
        assert early.status_code == 409 and early.json()["offset"] == 4
        assert _import(c, p, upload_id, filename="a.csv").status_code == 400  # no hash
        # the session survived the refusals: the right name imports it
        fine = _import(c, p, upload_id, filename="fine.csv", md5=md5)
        assert fine.status_code == 201, fine.text
    other = other_user.home_project["id"]
    with other_user.client() as c:
        theirs = chunked(c, other, data)
    with user.client() as c:  # another tenant's upload, and another tenant's project
        assert _import(c, p, theirs, filename="a.csv", md5=md5).status_code == 404
        assert _import(c, other, theirs, filename="a.csv", md5=md5).status_code == 404
    read_only = user.api_token(scope="read")
    with user.client() as c:
        mine = chunked(c, p, data)
    with user.client(read_only) as c:
        refused = _import(c, p, mine, filename="a.csv", md5=md5)
        assert refused.status_code == 403
    with user.client() as c:
        assert c.get(f"/projects/{p}/uploads/{mine}").json()["state"] == "open"


def test_a_bad_file_fails_the_job_and_releases_the_upload(server: LiveServer,
                                                          user: TestUser) -> None:
    p = user.home_project["id"]
    data = b"a,b\n1,2\n3\n"
    sha = hashlib.sha256(data).hexdigest()
    with user.client() as c:
        upload_id = chunked(c, p, data)
        answer = _import(c, p, upload_id, filename="short.csv", sha256=sha)
        assert answer.status_code == 400, answer.text
        assert "line 3" in answer.json()["detail"] and answer.json()["import_id"]
        assert "short" not in names(c, p)
        _until(lambda: not blob_stored(server, sha))


def test_a_large_upload_past_the_dataset_limit_is_413(launch: Any) -> None:
    small = launch(CLOUDLET_DATASET_MAX_UPLOAD="2048")
    user = make_user(small)
    p = user.home_project["id"]
    data = b"a\n" + b"1\n" * 2000
    with user.client() as c:
        upload_id = chunked(c, p, data, chunk=1000)
        answer = _import(c, p, upload_id, filename="big.csv",
                         md5=hashlib.md5(data).hexdigest())
        assert answer.status_code == 413, answer.text
        assert c.get(f"/projects/{p}/uploads/{upload_id}").json()["state"] == "open"
