"""Blobs on local disk: content-addressed by sha256 (`sha256/ab/cd/<sha256>`).

A staging is a temp file under `tmp/` named by a random id; chunks are written at their
offset, `finish` syncs it to disk, and `promote` renames it into place atomically (a rename
onto an identical file is harmless, which is what deduplication needs). Every worker on the
host sees the same directory, so a session can move between workers.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from cloudlet.server.files.blobstore import READ_CHUNK, BlobNotFound, BlobStore, State


class LocalDiskStore(BlobStore):
    min_part_size = 1

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_url(cls, url: str) -> LocalDiskStore:
        return cls(Path(unquote(urlsplit(url).path)))

    def _staging(self, state: State) -> Path:
        name = str(state["staging"])
        if not name.isalnum():
            raise ValueError("bad staging name")
        return self.tmp / f"{name}.part"

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == "sha256" and all(p.isalnum() for p in parts):
            return self.root.joinpath(*parts)
        if len(parts) == 2 and parts[0] == "tmp":
            return self._staging({"staging": parts[1]})
        raise BlobNotFound(key)

    def start(self) -> State:
        state: State = {"staging": uuid.uuid4().hex}
        self._staging(state).touch(exist_ok=False)
        return state

    def chunk(self, state: State, offset: int, data: bytes) -> State:
        fd = os.open(self._staging(state), os.O_WRONLY)
        try:
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
        finally:
            os.close(fd)
        return state

    def finish(self, state: State) -> str:
        path = self._staging(state)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return f"tmp/{state['staging']}"

    def promote(self, staged: str, sha256: str) -> str:
        key = f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"
        target = self._path(key)
        source = self._path(staged)
        if not source.exists() and target.exists():
            return key  # promoted already
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(target.parent)
        return key

    def abort(self, state: State) -> None:
        self._staging(state).unlink(missing_ok=True)

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        return _read(handle, start, end)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except BlobNotFound:
            return False

    def staging_id(self, state: State) -> str:
        return str(state["staging"])

    def sweep_staging(self, older_than: float, keep: set[str]) -> int:
        cutoff = time.time() - older_than
        removed = 0
        for path in self.tmp.glob("*.part"):
            try:
                if path.stem not in keep and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


def _read(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle as fh:
        fh.seek(start)
        left = None if end is None else max(0, end - start)
        while left is None or left > 0:
            data = fh.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield data


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
