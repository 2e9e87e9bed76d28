"""Where file bytes live: a small interface in girder's asset-store shape, picked by URL.

An upload is staged, then promoted:

    state = store.start()                       # JSON-able; kept in the database
    state = store.chunk(state, offset, data)    # in order; every chunk but the last holds
                                                # at least `min_part_size` bytes
    staged = store.finish(state)                # the bytes are complete and readable
    key = store.promote(staged, sha256)         # their permanent key
    store.open_range(key, start, end)           # an iterator of bytes
    store.delete(key)                           # (and `abort(state)` for a staging)

Everything a store needs between calls is in `state`, so any worker can take the next chunk.
Keys are made by the store, never from a user's file name. Implementations: `localdisk`
(content-addressed files under the data dir) and `s3` (any S3-compatible service).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

State = dict[str, Any]
READ_CHUNK = 1 << 20

BACKENDS = {
    "file": "cloudlet.server.files.localdisk:LocalDiskStore",
    "s3": "cloudlet.server.files.s3store:S3Store",
}


class BlobStore(ABC):
    min_part_size: int = 1
    """Bytes every chunk but the last must hold (S3 multipart parts: 5 MiB)."""

    @abstractmethod
    def start(self) -> State:
        """Begin staging one blob."""

    @abstractmethod
    def chunk(self, state: State, offset: int, data: bytes) -> State:
        """Store `data` at `offset` (the bytes staged so far); returns the new state."""

    @abstractmethod
    def finish(self, state: State) -> str:
        """Complete the staging; returns a key the bytes can be read from."""

    @abstractmethod
    def promote(self, staged: str, sha256: str) -> str:
        """The permanent key of finished bytes (may move them); idempotent."""

    @abstractmethod
    def abort(self, state: State) -> None:
        """Drop an unfinished staging and whatever it holds."""

    @abstractmethod
    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of `key` from `start` up to `end` (exclusive; None: to the end)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the bytes of `key`; deleting what is not there is no error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether `key` holds bytes."""

    @abstractmethod
    def staging_id(self, state: State) -> str:
        """What names a staging in `sweep_staging`'s `keep`."""

    @abstractmethod
    def sweep_staging(self, older_than: float, keep: set[str]) -> int:
        """Drop stagings older than `older_than` seconds that aren't in `keep` (those of
        upload sessions still open): what a worker killed mid-upload left. Returns how
        many."""


class BlobNotFound(FileNotFoundError):
    """The store has no bytes under that key."""


def make_blob_store(url: str | None, data_dir: Path) -> BlobStore:
    """The store for `CLOUDLET_BLOB_URL` (default: `blobs/` under the data dir)."""
    if not url:
        url = (data_dir / "blobs").as_uri()
    scheme = url.split("://", 1)[0].lower()
    if scheme not in BACKENDS:
        raise ValueError(f"Unsupported blob store URL {url!r}: use file:// or s3://")
    module, _, name = BACKENDS[scheme].partition(":")
    cls = getattr(importlib.import_module(module), name)
    store: BlobStore = cls.from_url(url)
    return store
