"""The SDK's resumable dataset imports (through a connection that drops) and
`client.datasets.galleries`, sync and async, against the live server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from pathlib import Path
from typing import Any

import pytest

from cloudlet import AsyncClient, BadRequest, Client, NotFound, RetryPolicy
from tests.files.proxy import DroppingProxy
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

KIB = 1024


def _csv(rows: int) -> bytes:
    return ("name,lat,lon\n" + "".join(f"p{i},{i % 80}.5,{i % 170}.5\n"
                                       for i in range(rows))).encode()


def test_a_large_import_goes_resumable_through_a_dropped_connection(
        server: LiveServer, user: TestUser, tmp_path: Path) -> None:
    data = _csv(40_000)
    path = tmp_path / "points.csv"
    path.write_bytes(data)
    port = int(server.url.rsplit(":", 1)[1])
    proxy = DroppingProxy(port, cut_after=random.randrange(200 * KIB, 400 * KIB))
    try:
        with Client(proxy.url, user.token, profile=False,
                    retries=RetryPolicy(retries=0)) as client:
            client.datasets.resumable_threshold = 100 * KIB
            client.datasets.chunk_size = 64 * KIB
            stages: list[tuple[str, int, int | None]] = []
            (ds,) = client.datasets.import_file(user.home_project["id"], path,
                                                progress=lambda *a: stages.append(a))
            assert proxy.cuts == 1
            assert ds["name"] == "points" and ds["feature_count"] == 40_000
            uploads = [done for stage, done, _ in stages if stage == "upload"]
            assert uploads[-1] == len(data) and uploads == sorted(uploads)
            assert stages[-1] == ("loading", 40_000, 40_000)
            job = next(iter(client.datasets.imports(user.home_project["id"])))
            assert job["upload_id"] and job["bytes_total"] == len(data)
    finally:
        proxy.close()


def test_resumable_imports_can_be_forced_and_fail_clearly(client: Client,
                                                          user: TestUser) -> None:
    p = user.home_project["id"]
    (ds,) = client.datasets.import_file(p, b"a,b\n1,2\n", filename="tiny.csv",
                                        resumable=True)
    assert ds["name"] == "tiny" and ds["feature_count"] == 1
    with pytest.raises(BadRequest, match="line 3"):
        client.datasets.import_file(p, b"a,b\n1,2\n3\n", filename="short.csv",
                                    resumable=True)


def _row(client: Client | Any, p: int) -> tuple[int, str]:
    ds = client.datasets.create(p, "trees", columns=[{"name": "n", "type": "integer"}])
    row = client.datasets.add_row(p, ds["id"], {"n": 1})
    return int(ds["id"]), str(row["amigo_id"])


def test_galleries_upload_list_download_delete(client: Client, user: TestUser,
                                               tmp_path: Path) -> None:
    p = user.home_project["id"]
    dataset, row = _row(client, p)
    gallery = client.datasets.galleries.create(p, dataset, "photos", description="field")
    assert [g["name"] for g in client.datasets.galleries.list(p, dataset)] == ["photos"]
    photo = tmp_path / "leaf.jpg"
    photo.write_bytes(b"\xff\xd8" + os.urandom(30_000))
    seen: list[tuple[int, int | None]] = []
    small = client.datasets.galleries.upload(p, gallery["id"], photo, source_amigo_id=row,
                                             metadata={"by": "ada"},
                                             progress=lambda d, t: seen.append((d, t)))
    assert (small["filename"], small["content_type"], small["metadata"]) == (
        "leaf.jpg", "image/jpeg", {"by": "ada"})
    assert seen[-1] == (photo.stat().st_size, photo.stat().st_size)
    big_data = os.urandom(300 * KIB)
    client.datasets.galleries.resumable_threshold = 100 * KIB
    client.datasets.galleries.chunk_size = 64 * KIB
    big = client.datasets.galleries.upload(p, gallery["id"], big_data, filename="scan.tif",
                                           source_amigo_id=row, metadata={"dpi": 600})
    assert big["sha256"] == hashlib.sha256(big_data).hexdigest()
    assert big["metadata"] == {"dpi": 600} and big["content_type"] == "image/tiff"
    records = list(client.datasets.galleries.records(p, gallery["id"]))
    assert [r["filename"] for r in records] == ["leaf.jpg", "scan.tif"]
    assert [r["id"] for r in client.datasets.galleries.row_records(p, dataset, row)] == \
        [small["id"], big["id"]]
    assert client.datasets.galleries.content(p, gallery["id"], small["id"]) == \
        photo.read_bytes()
    saved = client.datasets.galleries.download(p, gallery["id"], big["id"], tmp_path)
    assert saved == tmp_path / "scan.tif" and saved.read_bytes() == big_data
    changed = client.datasets.galleries.update_record(p, gallery["id"], small["id"],
                                                      metadata={"tree": "oak"},
                                                      replace_metadata=True)
    assert changed["metadata"] == {"tree": "oak"}
    with pytest.raises(BadRequest, match="not a row"):
        client.datasets.galleries.upload(p, gallery["id"], b"x", filename="x.bin",
                                         source_amigo_id="nope")
    client.datasets.galleries.delete_record(p, gallery["id"], small["id"])
    assert client.datasets.galleries.get(p, gallery["id"])["record_count"] == 1
    client.datasets.galleries.update(p, gallery["id"], name="renamed")
    client.datasets.galleries.delete(p, gallery["id"])
    with pytest.raises(NotFound):
        client.datasets.galleries.get(p, gallery["id"])


def test_async_galleries_and_resumable_import(server: LiveServer, user: TestUser,
                                              tmp_path: Path) -> None:
    p = user.home_project["id"]

    async def scenario() -> None:
        async with AsyncClient(server.url, user.token, profile=False) as client:
            client.datasets.resumable_threshold = 10 * KIB
            client.datasets.chunk_size = 8 * KIB
            (ds,) = await client.datasets.import_file(p, _csv(2000), filename="a.csv")
            assert ds["feature_count"] == 2000
            job = [j async for j in client.datasets.imports(p)][0]
            assert job["upload_id"]
            row = await client.datasets.add_row(p, ds["id"], {"name": "x"})
            gallery = await client.datasets.galleries.create(p, ds["id"], "async")
            galleries = client.datasets.galleries
            galleries.resumable_threshold = 10 * KIB
            galleries.chunk_size = 8 * KIB
            data = os.urandom(30 * KIB)
            big = await galleries.upload(p, gallery["id"], data, filename="b.bin",
                                         source_amigo_id=row["amigo_id"])
            small = await galleries.upload(p, gallery["id"], b"small", filename="s.txt",
                                           source_amigo_id=row["amigo_id"])
            found = [r["id"] async for r in galleries.records(
                p, gallery["id"], source_amigo_id=row["amigo_id"])]
            assert found == [big["id"], small["id"]]
            assert await galleries.content(p, gallery["id"], small["id"]) == b"small"
            saved = await galleries.download(p, gallery["id"], big["id"], tmp_path / "c.bin")
            assert saved.read_bytes() == data
            await galleries.delete(p, gallery["id"])

    asyncio.run(scenario())
