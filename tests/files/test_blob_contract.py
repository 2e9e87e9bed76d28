"""One contract for every blob store: the local disk and S3 (a real moto server on
loopback) must behave the same behind the `BlobStore` interface."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudlet.server.files.blobstore import BlobNotFound, BlobStore, make_blob_store
from cloudlet.server.files.localdisk import LocalDiskStore
from tests.files.s3 import S3Server

MIB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield make_blob_store(None, tmp_path)
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield make_blob_store(server.url(server.bucket(), "pre/fix"), tmp_path)


def _put(store: BlobStore, data: bytes, part: int | None = None) -> str:
    """Stage `data` in chunks the store accepts, reloading the state from JSON between
    calls (as the next chunk may reach another worker), and promote it."""
    part = part or max(store.min_part_size, 64 * 1024)
    state = store.start()
    for offset in range(0, len(data), part):
        state = json.loads(json.dumps(store.chunk(state, offset, data[offset:offset + part])))
    staged = store.finish(state)
    return store.promote(staged, hashlib.sha256(data).hexdigest())


def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.open_range(key, start, end))


def test_round_trip_in_parts(store: BlobStore) -> None:
    data = os.urandom(2 * store.min_part_size + 12345 if store.min_part_size > 1 else 3 * MIB)
    key = _put(store, data)
    assert _read(store, key) == data
    assert store.exists(key)


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_small_and_empty_blobs(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    key = _put(store, data)
    assert _read(store, key) == data


def test_ranges(store: BlobStore) -> None:
    data = os.urandom(10_000)
    key = _put(store, data)
    for start, end in [(0, 1), (5, 100), (9_997, None), (0, 10_000), (1234, 1235),
                       (10_000, None), (20_000, None), (50, 50)]:
        assert _read(store, key, start, end) == data[start:end], (start, end)


def test_a_staged_blob_is_readable_before_promotion(store: BlobStore) -> None:
    state = store.start()
    state = store.chunk(state, 0, b"staged bytes")
    staged = store.finish(state)
    assert _read(store, staged) == b"staged bytes"
    key = store.promote(staged, hashlib.sha256(b"staged bytes").hexdigest())
    assert store.promote(staged, hashlib.sha256(b"staged bytes").hexdigest()) == key
    assert _read(store, key) == b"staged bytes"


def test_delete(store: BlobStore) -> None:
    key = _put(store, b"doomed")
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(BlobNotFound):
        _read(store, key)
    store.delete(key)  # again: no error


def test_abort_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    state = store.start()
    state = store.chunk(state, 0, os.urandom(max(store.min_part_size, 1000)))
    store.abort(state)
    if isinstance(store, LocalDiskStore):
        assert list(store.tmp.iterdir()) == []
    else:
        client = store.client  # type: ignore[attr-defined]
        uploads = client.list_multipart_uploads(Bucket=store.bucket)  # type: ignore[attr-defined]
        assert uploads.get("Uploads", []) == []
    store.abort(state)  # again: no error


def test_keys_are_made_by_the_store(store: BlobStore) -> None:
    key = _put(store, b"any content")
    assert ".." not in key and not key.startswith("/")
    with pytest.raises(BlobNotFound):
        _read(store, "../../etc/passwd")


def test_s3_refuses_small_middle_parts_so_the_store_says_its_minimum(
        s3_server: S3Server, tmp_path: Path) -> None:
    store = make_blob_store(s3_server.url(s3_server.bucket()), tmp_path)
    assert store.min_part_size == 5 * MIB
    state = store.start()
    state = store.chunk(state, 0, b"a" * 100_000)
    state = store.chunk(state, 100_000, b"b" * 100_000)
    with pytest.raises(Exception, match="EntityTooSmall|too small"):
        store.finish(state)
    store.abort(state)


def test_local_sweep_removes_only_old_unheld_stagings(tmp_path: Path) -> None:
    store = make_blob_store(None, tmp_path)
    assert isinstance(store, LocalDiskStore)
    old, held, fresh = store.start(), store.start(), store.start()
    for state in (old, held):
        path = store.tmp / f"{state['staging']}.part"
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    assert store.sweep_staging(3600, {store.staging_id(held)}) == 1
    assert not (store.tmp / f"{old['staging']}.part").exists()
    assert (store.tmp / f"{held['staging']}.part").exists()
    assert (store.tmp / f"{fresh['staging']}.part").exists()


def test_s3_sweep_aborts_only_unheld_uploads(s3_server: S3Server, tmp_path: Path) -> None:
    store = make_blob_store(s3_server.url(s3_server.bucket(), "p"), tmp_path)
    lost, held = store.start(), store.start()
    # (moto reports a fixed initiation time in 2010, so every upload counts as old here)
    assert store.sweep_staging(3600, {store.staging_id(held)}) == 1
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket)  # type: ignore[attr-defined]
    assert [u["UploadId"] for u in uploads["Uploads"]] == [held["upload_id"]]
    assert lost["upload_id"] != held["upload_id"]


def test_local_blobs_are_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = make_blob_store(None, tmp_path)
    first, second = _put(store, b"same bytes"), _put(store, b"same bytes")
    digest = hashlib.sha256(b"same bytes").hexdigest()
    assert first == second == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert list(Path(tmp_path, "blobs", "tmp").iterdir()) == []
