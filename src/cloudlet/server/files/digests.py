"""The hashes every stored blob carries, computed in one pass over its bytes.

- `sha256`: the native etag and the content address on local disk;
- `md5`: what AmigoCloud clients send to complete a chunked upload;
- `multipart_etag`: S3 multipart style with 6 MiB parts (md5 of the concatenated part md5
  digests, then `-<parts>`; `-1` even for a small file, and `md5("")-0` for no bytes, as
  the RinoCloud client's `calculate_etag` computes it), which the RinoCloud face shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

ETAG_PART = 6 * 1024 * 1024
PARALLEL_FROM = 256 * 1024  # below this, a second thread costs more than it saves
# hashlib lets go of the GIL on big buffers: the whole-file md5 runs beside the other two
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cloudlet-hash")


@dataclass(frozen=True)
class Digests:
    size: int
    md5: str
    sha256: str
    multipart_etag: str


class Hasher:
    """Feed bytes in order with `update`; `digests()` at the end."""

    def __init__(self) -> None:
        self.size = 0
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256()
        self._part = hashlib.md5()
        self._part_left = ETAG_PART
        self._part_digests: list[bytes] = []

    def update(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if len(data) >= PARALLEL_FROM:
            whole = _POOL.submit(self._md5.update, data)
            self._sha256.update(data)
            self._parts(data)
            whole.result()
        else:
            self._md5.update(data)
            self._sha256.update(data)
            self._parts(data)

    def _parts(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view) >= self._part_left:
            self._part.update(view[: self._part_left])
            view = view[self._part_left:]
            self._part_digests.append(self._part.digest())
            self._part = hashlib.md5()
            self._part_left = ETAG_PART
        if view:
            self._part.update(view)
            self._part_left -= len(view)

    def digests(self) -> Digests:
        parts = list(self._part_digests)
        if self._part_left != ETAG_PART:  # the last, partial part
            parts.append(self._part.digest())
        etag = f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"
        return Digests(self.size, self._md5.hexdigest(), self._sha256.hexdigest(), etag)


def digest_all(chunks: Iterable[bytes]) -> Digests:
    hasher = Hasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digests()
