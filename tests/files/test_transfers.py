"""Uploads and downloads through the native API: round trips of content and metadata,
download headers and ranges, versions, size limits, interrupted uploads, resumable
sessions (dropped connections, corrupted chunks, wrong offsets and hashes), and the S3
store behind the same API."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import cloudlet
from cloudlet.client import RetryPolicy
from tests.conftest import Launch
from tests.files.conftest import upload, uploaded
from tests.files.proxy import DroppingProxy
from tests.files.s3 import CREDENTIALS, S3Server
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

MIB = 1024 * 1024


def s3_etag(data: bytes, part: int = 6 * MIB) -> str:
    digests = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def files_url(user: TestUser, *parts: object) -> str:
    return "/".join([f"/projects/{user.home_project['id']}", *(str(p) for p in parts)])


def staging(server: LiveServer) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").glob("*"))


def stored_blobs(server: LiveServer) -> list[Path]:
    return [p for p in (server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()]


def raw_request(server: LiveServer, head: str, body: bytes = b"", *, read: bool = True
                ) -> bytes:
    """Send a request by hand (maybe not all of its body), then read or hang up."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        if not read:
            return b""
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        return answer


def until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_multipart_round_trip_of_content_and_metadata(user: TestUser) -> None:
    data = os.urandom(13 * MIB + 7)
    with user.client() as c:
        answer = c.post(files_url(user, "files"), files={"file": ("run 1.bin", data)},
                        data={"json": json.dumps({"run": 1, "site": {"name": "roof"}}),
                              "tags": "raw,2024"})
        assert answer.status_code == 201, answer.text
        node = answer.json()
        assert node["name"] == "run 1.bin" and node["size"] == len(data)
        assert node["metadata"] == {"run": 1, "site": {"name": "roof"}}
        assert node["tags"] == ["raw", "2024"]
        assert node["md5"] == hashlib.md5(data).hexdigest()
        assert node["sha256"] == node["etag"] == hashlib.sha256(data).hexdigest()
        assert node["multipart_etag"] == s3_etag(data) and node["multipart_etag"].endswith("-3")
        assert c.get(files_url(user, "files", node["id"], "content")).content == data
        assert c.get(files_url(user, "files", node["id"])).json() == node


def test_small_files_get_a_one_part_etag(user: TestUser) -> None:
    node = uploaded(user, "five.txt", b"1\n2\n3\n4\n5")
    assert node["multipart_etag"] == "fe743783afdf86af96aac1781ceff960-1"
    # no bytes, no parts: the etag the RinoCloud client computes for an empty file
    empty = uploaded(user, "empty.txt", b"")
    assert empty["multipart_etag"] == hashlib.md5(b"").hexdigest() + "-0" == s3_etag(b"")


def test_form_fields_instead_of_a_json_part(user: TestUser) -> None:
    with user.client() as c:
        folder = c.post(files_url(user, "folders"), json={"path": "/in"}).json()
        node = c.post(files_url(user, "files"), files={"file": ("ignored.csv", b"a,b\n")},
                      data={"name": "data.csv", "parent": str(folder["id"]),
                            "metadata": json.dumps({"kind": "table"}),
                            "tags": '["x"]'}).json()
    assert (node["name"], node["parent"], node["metadata"], node["tags"]) == (
        "data.csv", folder["id"], {"kind": "table"}, ["x"])
    assert node["content_type"] == "text/csv"


def test_download_headers_ranges_and_conditional_requests(user: TestUser) -> None:
    data = bytes(range(256)) * 40
    node = uploaded(user, "résumé \"1\".pdf", data)
    url = files_url(user, "files", node["id"], "content")
    with user.client() as c:
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        h = whole.headers
        assert h["etag"] == f'"{node["sha256"]}"'
        assert h["x-content-type-options"] == "nosniff"
        assert h["cache-control"] == "no-store"
        assert h["accept-ranges"] == "bytes"
        assert h["content-type"] == "application/pdf"
        assert h["content-length"] == str(len(data))
        assert h["content-disposition"].startswith("attachment; filename=")
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf" in h["content-disposition"]
        assert c.get(url, headers={"If-None-Match": h["etag"]}).status_code == 304
        assert c.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        for spec, part in [("bytes=0-9", data[:10]), ("bytes=100-", data[100:]),
                           ("bytes=-5", data[-5:]), ("bytes=10000-20000", data[10000:])]:
            got = c.get(url, headers={"Range": spec})
            assert got.status_code == 206 and got.content == part, spec
            assert got.headers["content-range"].endswith(f"/{len(data)}")
        assert c.get(url, headers={"Range": "bytes=999999-"}).status_code == 416
        assert c.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200
        head = c.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(data))


def test_overwrite_keeps_versions_that_download(user: TestUser) -> None:
    first = uploaded(user, "log.txt", b"one", metadata={"n": 1})
    uploaded(user, "log.txt", b"two", metadata={"n": 2}, on_conflict="overwrite")
    third = uploaded(user, "log.txt", b"three", on_conflict="overwrite")
    assert third["id"] == first["id"] and third["version"] == 3
    assert third["metadata"] == {"n": 2}  # no new metadata given: kept
    with user.client() as c:
        versions = c.get(files_url(user, "files", first["id"], "versions")).json()
        assert [(v["version"], v["metadata"], v["size"]) for v in versions] == [
            (2, {"n": 2}, 3), (1, {"n": 1}, 3)]
        for v, content in ((1, b"one"), (2, b"two")):
            old = c.get(files_url(user, "files", first["id"], "versions", v, "content"))
            assert old.content == content and old.headers["etag"] == f'"{versions[-v]["sha256"]}"'
        assert c.get(files_url(user, "files", first["id"], "versions", 9, "content")
                     ).status_code == 404
        assert c.get(files_url(user, "files", first["id"], "content")).content == b"three"


@pytest.fixture
def small_server(launch: Launch) -> LiveServer:
    return launch(CLOUDLET_MAX_FILE_SIZE="100000", CLOUDLET_UPLOAD_CHUNK_MAX="65536")


def test_too_large_is_413_before_the_body_is_read(small_server: LiveServer) -> None:
    user = make_user(small_server)
    head = (f"POST /api/v1{files_url(user, 'files')}?name=big HTTP/1.1\r\n"
            f"Host: x\r\nAuthorization: Bearer {user.token}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 5000000\r\n")
    answer = raw_request(small_server, head)  # no body sent at all
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert upload(user, "ok", b"x" * 100_000).status_code == 201


def test_too_large_streamed_is_413_as_soon_as_exceeded(small_server: LiveServer) -> None:
    user = make_user(small_server)
    sent = []

    def body() -> Any:
        for _ in range(100):
            sent.append(1)
            yield b"y" * 10_000

    with user.client() as c:
        answer = c.post(files_url(user, "files"), params={"name": "big"}, content=body(),
                        headers={"content-type": "application/octet-stream"})
        assert answer.status_code == 413
        assert "100000" in answer.json()["detail"]
        assert c.get(files_url(user, "files")).json()["count"] == 0
    until(lambda: staging(small_server) == [])
    assert stored_blobs(small_server) == []


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_an_interrupted_upload_leaves_no_half_file(server: LiveServer, user: TestUser,
                                                   kind: str) -> None:
    if kind == "raw":
        prefix, ctype = b"", "application/octet-stream"
    else:
        prefix = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
                  b"\r\n")
        ctype = "multipart/form-data; boundary=B"
    head = (f"POST /api/v1{files_url(user, 'files')}?name=cut-{kind} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {user.token}\r\nContent-Type: {ctype}\r\n"
            "Content-Length: 3000000\r\n")
    before, staged = set(stored_blobs(server)), set(staging(server))
    raw_request(server, head, prefix + os.urandom(2 * MIB + 12345), read=False)
    time.sleep(0.5)  # the server notices the drop
    until(lambda: set(staging(server)) <= staged)
    assert set(stored_blobs(server)) == before
    with user.client() as c:
        assert c.get(files_url(user, "files"), params={
            "filter": json.dumps({"name": f"cut-{kind}"})}).json()["count"] == 0


def _session(c: httpx.Client, user: TestUser, total: int, name: str = "big.bin"
             ) -> dict[str, Any]:
    answer = c.post(files_url(user, "uploads"), json={"name": name, "total": total})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _chunk(c: httpx.Client, user: TestUser, upload_id: str, data: bytes, start: int,
           total: int, md5: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/octet-stream",
               "content-range": f"bytes {start}-{start + len(data) - 1}/{total}",
               "content-md5": md5 or base64.b64encode(hashlib.md5(data).digest()).decode()}
    return c.put(files_url(user, "uploads", upload_id), content=data, headers=headers)


def test_resume_after_a_dropped_connection_at_a_random_offset(server: LiveServer,
                                                              user: TestUser) -> None:
    rng = random.Random()
    data = os.urandom(3 * MIB + rng.randrange(MIB))
    chunk = 256 * 1024
    cut_at = rng.randrange(len(data))  # the byte where the connection drops
    with user.client() as c:
        session = _session(c, user, len(data))
        offset = 0
        while offset < cut_at - cut_at % chunk:
            assert _chunk(c, user, session["id"], data[offset:offset + chunk], offset,
                          len(data)).status_code == 200
            offset += chunk
        piece = data[offset:offset + chunk]
        head = (f"PUT /api/v1{files_url(user, 'uploads', session['id'])} HTTP/1.1\r\n"
                f"Host: x\r\nAuthorization: Bearer {user.token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Range: bytes {offset}-{offset + len(piece) - 1}/{len(data)}\r\n"
                f"Content-Length: {len(piece)}\r\n")
        raw_request(server, head, piece[: cut_at - offset], read=False)
        time.sleep(0.2)
        resume = c.get(files_url(user, "uploads", session["id"])).json()
        assert resume["offset"] == offset and resume["state"] == "open"
        while resume["offset"] < len(data):
            at = resume["offset"]
            resume = _chunk(c, user, session["id"], data[at:at + chunk], at, len(data)).json()
        done = c.post(files_url(user, "uploads", session["id"], "complete"),
                      json={"md5": hashlib.md5(data).hexdigest(),
                            "sha256": hashlib.sha256(data).hexdigest()})
        assert done.status_code == 201, done.text
        node = done.json()
        assert node["size"] == len(data) and node["multipart_etag"] == s3_etag(data)
        assert c.get(files_url(user, "files", node["id"], "content")).content == data
        again = c.post(files_url(user, "uploads", session["id"], "complete"),
                       json={"md5": hashlib.md5(data).hexdigest()})
        assert again.status_code == 200 and again.json()["id"] == node["id"]


def test_a_corrupted_chunk_is_rejected_and_not_kept(user: TestUser) -> None:
    data = os.urandom(200_000)
    with user.client() as c:
        session = _session(c, user, len(data))
        good = data[:100_000]
        bad = bytes([good[0] ^ 1]) + good[1:]
        wrong = base64.b64encode(hashlib.md5(good).digest()).decode()
        answer = _chunk(c, user, session["id"], bad, 0, len(data), md5=wrong)
        assert answer.status_code == 400 and "Content-MD5" in answer.json()["detail"]
        assert c.get(files_url(user, "uploads", session["id"])).json()["offset"] == 0
        sha = c.put(files_url(user, "uploads", session["id"]), content=bad, headers={
            "content-type": "application/octet-stream",
            "content-range": f"bytes 0-99999/{len(data)}",
            "x-content-sha256": hashlib.sha256(good).hexdigest()})
        assert sha.status_code == 400
        assert _chunk(c, user, session["id"], good, 0, len(data)).json()["offset"] == 100_000
        lying = c.put(files_url(user, "uploads", session["id"]), content=data[100_000:],
                      headers={"content-type": "application/octet-stream",
                               "content-range": f"bytes 100000-100009/{len(data)}"})
        assert lying.status_code == 400  # the range says 10 bytes, the body has more


def test_a_chunk_at_the_wrong_offset_is_409_with_the_offset(user: TestUser) -> None:
    with user.client() as c:
        session = _session(c, user, 300)
        assert _chunk(c, user, session["id"], b"a" * 100, 0, 300).status_code == 200
        answer = _chunk(c, user, session["id"], b"b" * 100, 200, 300)
        assert answer.status_code == 409 and answer.json()["offset"] == 100
        past = _chunk(c, user, session["id"], b"c" * 250, 100, 300)
        assert past.status_code == 400
        early = c.post(files_url(user, "uploads", session["id"], "complete"),
                       json={"md5": "0" * 32})
        assert early.status_code == 409 and early.json()["offset"] == 100


def test_a_wrong_whole_file_hash_discards_the_upload(server: LiveServer, user: TestUser
                                                     ) -> None:
    before = set(staging(server))
    with user.client() as c:
        session = _session(c, user, 5, name="never.txt")
        _chunk(c, user, session["id"], b"hello", 0, 5)
        answer = c.post(files_url(user, "uploads", session["id"], "complete"),
                        json={"md5": hashlib.md5(b"HELLO").hexdigest()})
        assert answer.status_code == 400 and "md5" in answer.json()["detail"]
        assert c.get(files_url(user, "uploads", session["id"])).json()["state"] == "aborted"
        assert c.get(files_url(user, "files", "by-path"), params={"path": "/never.txt"}
                     ).status_code == 404
    until(lambda: set(staging(server)) <= before)


def test_an_aborted_session_keeps_nothing(server: LiveServer, user: TestUser) -> None:
    before = set(staging(server))
    with user.client() as c:
        session = _session(c, user, 10)
        _chunk(c, user, session["id"], b"12345", 0, 10)
        assert c.delete(files_url(user, "uploads", session["id"])).status_code == 204
        assert c.get(files_url(user, "uploads", session["id"])).status_code == 404
    until(lambda: set(staging(server)) <= before)


def test_the_sdk_resumes_through_a_connection_that_drops(server: LiveServer, user: TestUser,
                                                         tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 1000)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    port = int(server.url.rsplit(":", 1)[1])
    proxy = DroppingProxy(port, cut_after=random.randrange(MIB, 2 * MIB))
    try:
        with cloudlet.Client(proxy.url, user.token, profile=False,
                             retries=RetryPolicy(retries=0)) as client:
            client.files.resumable_threshold = MIB
            client.files.chunk_size = 512 * 1024
            seen: list[int] = []
            node = client.files.upload(source, progress=lambda done, total: seen.append(done))
            assert proxy.cuts == 1
            assert node["sha256"] == hashlib.sha256(data).hexdigest()
            assert seen[-1] == len(data)
            target = client.files.download(node, tmp_path / "back.bin")
            assert target.read_bytes() == data
    finally:
        proxy.close()


def test_identical_files_share_bytes_until_the_last_goes(server: LiveServer, user: TestUser
                                                         ) -> None:
    data = os.urandom(50_000)
    a, b = uploaded(user, "a.bin", data), uploaded(user, "b.bin", data)
    digest = hashlib.sha256(data).hexdigest()
    blob = server.data_dir / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest
    assert blob.is_file()
    with user.client() as c:
        assert c.delete(files_url(user, "files", a["id"])).status_code == 204
        assert blob.is_file()
        assert c.get(files_url(user, "files", b["id"], "content")).content == data
        assert c.delete(files_url(user, "files", b["id"])).status_code == 204
    until(lambda: not blob.exists())


def test_the_s3_store_behind_the_api(launch: Launch, s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    server = launch(CLOUDLET_BLOB_URL=s3_server.url(bucket, "cloudlet"), **CREDENTIALS)
    user = make_user(server)
    s3: Any = s3_server.client()
    data = os.urandom(11 * MIB + 4321)
    with user.client() as c:
        session = _session(c, user, len(data), name="chunked.bin")
        for at in range(0, len(data), 100_000):  # AmigoCloud's chunk size
            answer = _chunk(c, user, session["id"], data[at:at + 100_000], at, len(data))
            assert answer.status_code == 200, answer.text
        node = c.post(files_url(user, "uploads", session["id"], "complete"),
                      json={"md5": hashlib.md5(data).hexdigest()}).json()
        assert node["sha256"] == hashlib.sha256(data).hexdigest()
        url = files_url(user, "files", node["id"], "content")
        assert c.get(url).content == data
        assert c.get(url, headers={"Range": "bytes=5242870-5242889"}).content == \
            data[5242870:5242890]
        single = c.post(files_url(user, "files"), files={"file": ("one.bin", data)}).json()
        assert single["sha256"] == node["sha256"]  # the same bytes: one object
        objects = s3.list_objects_v2(Bucket=bucket, Prefix="cloudlet/blobs/")
        until(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="cloudlet/blobs/")
              .get("KeyCount") == 1)
        assert objects.get("KeyCount", 0) >= 1
        c.post(files_url(user, "files", "delete"), json={"ids": [node["id"], single["id"]]})
    until(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="cloudlet/").get("KeyCount") == 0)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_bad_options_are_refused_and_leave_nothing(server: LiveServer, user: TestUser
                                                   ) -> None:
    forged = quote(json.dumps({"etag": "mine"}))
    head = (f"POST /api/v1{files_url(user, 'files')}?name=x&metadata={forged} HTTP/1.1\r\n"
            f"Host: x\r\nAuthorization: Bearer {user.token}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 5000000\r\n")
    answer = raw_request(server, head)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]  # before any body was sent
    staged = set(staging(server))
    with user.client() as c:
        late = c.post(files_url(user, "files"), files={"file": ("f.bin", os.urandom(MIB))},
                      data={"json": json.dumps({"versions": [1]})})
        assert late.status_code == 400 and "versions" in late.json()["detail"]
        bad_policy = c.post(files_url(user, "files"), files={"file": ("f.bin", b"x")},
                            data={"on_conflict": "maybe"})
        assert bad_policy.status_code == 400
    until(lambda: set(staging(server)) <= staged)
