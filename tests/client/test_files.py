"""`client.files` against the live server: transfers, trees, queries with Django-style
keywords, versions, and the async twin."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

import cloudlet
from cloudlet import Client
from cloudlet.client.file_calls import filter_from_keywords
from tests.client.conftest import FAST
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def test_keywords_become_a_filter() -> None:
    assert filter_from_keywords(size__gt=10, size__lte=20, tags__in=("a",), metadata__run=3,
                                metadata__run__gte=2, name__contains="x", kind="raw") == {
        "size": {"$gt": 10, "$lte": 20}, "tags": {"$in": ["a"]},
        "metadata.run": {"$eq": 3, "$gte": 2}, "name": {"$string_contains": "x"},
        "kind": {"$eq": "raw"}}


def test_upload_get_download_and_metadata(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello files")
    node = client.files.upload(source, metadata={"run": 3}, tags=["raw"])
    assert (node["name"], node["size"], node["metadata"], node["tags"]) == (
        "notes.txt", 11, {"run": 3}, ["raw"])
    assert client.files.get(node["id"])["sha256"] == node["sha256"]
    assert client.files.by_path("/notes.txt")["id"] == node["id"]
    target = client.files.download(node, tmp_path / "out")
    assert target.read_text() == "hello files"
    (tmp_path / "dir").mkdir()
    assert client.files.download("/notes.txt", tmp_path / "dir").name == "notes.txt"
    merged = client.files.update_metadata(node, {"site": "roof"})
    assert merged["metadata"] == {"run": 3, "site": "roof"}
    assert client.files.update_metadata(node, {"x": 1}, replace=True)["metadata"] == {"x": 1}
    stream = io.BytesIO(b"from memory")
    assert client.files.upload(stream, name="mem.bin")["size"] == 11


def test_query_with_django_style_keywords(client: Client) -> None:
    for i in range(6):
        client.files.upload(io.BytesIO(b"x" * i), name=f"r{i}.dat",
                            metadata={"run": i}, tags=["even" if i % 2 == 0 else "odd"])
    names = [n["name"] for n in client.files.query(metadata__run__gte=3, sort="-size")]
    assert names == ["r5.dat", "r4.dat", "r3.dat"]
    assert [n["name"] for n in client.files.query(metadata__run=2)] == ["r2.dat"]
    assert client.files.count(tags__in=["odd"]) == 3
    assert client.files.count(size__gt=2, tags="even") == 1
    assert client.files.count({"$or": [{"run": 0}, {"run": 5}]}) == 2
    assert client.files.count(name__contains="r1") == 1
    with pytest.raises(cloudlet.BadRequest, match="regex"):
        list(client.files.query({"run": {"$regex": "1"}}))


def test_tree_operations(client: Client, tmp_path: Path) -> None:
    folder = client.files.mkdir("/exp/2024")
    node = client.files.upload(io.BytesIO(b"v1"), name="a.csv", parent=folder)
    assert [a["name"] for a in client.files.ancestors(node)] == ["", "exp", "2024"]
    assert [c["name"] for c in client.files.children("/exp/2024")] == ["a.csv"]
    moved = client.files.move(node, "/exp", name="b.csv")
    assert moved["parent"] == client.files.by_path("/exp")["id"]
    copy = client.files.copy(moved, folder)
    assert copy["name"] == "b.csv" and copy["parent"] == folder["id"]
    client.files.upload(io.BytesIO(b"v2"), name="b.csv", parent="/exp",
                        on_conflict="overwrite")
    assert [v["version"] for v in client.files.versions(moved)] == [1]
    assert client.files.download(moved, tmp_path, version=1).read_bytes() == b"v1"
    assert client.files.delete("/exp")["deleted"] == 4
    with pytest.raises(cloudlet.NotFound):
        client.files.get(moved)
    client.files.mkdir(name="x")
    with pytest.raises(cloudlet.Conflict):
        client.files.mkdir(name="x")


def test_trees_round_trip_and_skip_unchanged(client: Client, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.bin").write_bytes(os.urandom(5000))
    (src / "sub" / "deeper" / "c.txt").write_text("c")
    first = client.files.upload_tree(src)
    assert len(first["uploaded"]) == 3 and first["skipped"] == []
    (src / "a.txt").write_text("changed")
    second = client.files.upload_tree(src)
    assert [n["name"] for n in second["uploaded"]] == ["a.txt"]
    assert len(second["skipped"]) == 2
    assert client.files.by_path("/a.txt")["version"] == 2
    down = client.files.download_tree("root", tmp_path / "dst")
    assert len(down["downloaded"]) == 3
    for path in src.rglob("*"):
        if path.is_file():
            assert (tmp_path / "dst" / path.relative_to(src)).read_bytes() == path.read_bytes()
    again = client.files.download_tree("/", tmp_path / "dst")
    assert again["downloaded"] == [] and len(again["skipped"]) == 3


def test_resumable_uploads_report_progress(client: Client, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    (tmp_path / "big.bin").write_bytes(data)
    client.files.resumable_threshold = 1_000_000
    client.files.chunk_size = 700_000
    seen: list[tuple[int, int | None]] = []
    node = client.files.upload(tmp_path / "big.bin", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(data), len(data)) and len(seen) == 4
    got: list[int] = []
    back = client.files.download(node, tmp_path / "back.bin",
                                 progress=lambda d, t: got.append(d))
    assert back.read_bytes() == data and got[-1] == len(data)


def test_a_project_scoped_client_and_a_project_token(server: LiveServer, user: TestUser
                                                     ) -> None:
    with Client(server.url, user.token, profile=False, retries=FAST) as c:
        project = c.projects.create("scoped")
    with Client(server.url, user.token, project["gid"], profile=False, retries=FAST) as c:
        node = c.files.upload(io.BytesIO(b"p"), name="in-project.txt")
        assert node["project_id"] == project["id"]
    token = user.api_token(scope="write", project=project["id"])
    with Client(server.url, token, profile=False, retries=FAST) as c:
        assert c.files.by_path("/in-project.txt")["id"] == node["id"]
    with Client(server.url, user.token, profile=False, retries=FAST) as c:
        with pytest.raises(cloudlet.NotFound):
            c.files.by_path("/in-project.txt")  # the home project


def test_the_async_client_has_the_same_files(server: LiveServer, user: TestUser,
                                             tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(1_500_000))

    async def scenario() -> None:
        async with cloudlet.AsyncClient(server.url, user.token, profile=False,
                                        retries=FAST) as c:
            c.files.resumable_threshold = 1_000_000
            c.files.chunk_size = 400_000
            node = await c.files.upload(tmp_path / "a.bin", metadata={"run": 1})
            assert await c.files.count(metadata__run=1) == 1
            assert [n["id"] async for n in c.files.query(metadata__run=1)] == [node["id"]]
            path = await c.files.download(node, tmp_path / "b.bin")
            assert path.read_bytes() == (tmp_path / "a.bin").read_bytes()
            done = await c.files.upload_tree(tmp_path, await c.files.mkdir("/tree"))
            assert len(done["uploaded"]) == 2
            down = await c.files.download_tree("/tree", tmp_path / "down")
            assert len(down["downloaded"]) == 2
            assert (await c.files.delete(node))["deleted"] == 1

    asyncio.run(scenario())
