"""`client.datasets.galleries`: files (photos, …) attached to a dataset's rows, in galleries
(AmigoCloud's related tables).

A gallery belongs to a dataset and is named by its int id; each record holds one file,
attached to a row by `source_amigo_id`, with JSON metadata. Uploads stream from disk: one
request below `resumable_threshold`, above it a resumable session (the code `client.files`
uses) completed with the whole file's sha256. Downloads check the sha256 against the ETag.
Progress callbacks get `(done_bytes, total_bytes)`, as in `client.files`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from cloudlet.client import async_files, files
from cloudlet.client.connection import segment
from cloudlet.client.file_calls import (
    DEFAULT_CHUNK,
    DEFAULT_THRESHOLD,
    READ,
    Progress,
    source_size,
)
from cloudlet.client.resources import C, J, N, ProjectRef, _given, _Resource

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.sync_client import Client

__all__ = ["AsyncGalleries", "Galleries"]

JSON = dict[str, Any]
Source = str | os.PathLike[str] | bytes | IO[bytes]


def _project(project: ProjectRef) -> str:
    return f"/projects/{segment(project)}"


def _gallery(project: ProjectRef, gallery: int) -> str:
    return f"{_project(project)}/galleries/{int(gallery)}"


def _record(project: ProjectRef, gallery: int, record: int) -> str:
    return f"{_gallery(project, gallery)}/records/{int(record)}"


def _source(source: Source, filename: str | None) -> tuple[IO[bytes], str, int, bool]:
    """(binary file, its name, its size, whether we opened it and must close it)."""
    if isinstance(source, bytes):
        if not filename:
            raise ValueError("Give filename= when uploading bytes.")
        return io.BytesIO(source), filename, len(source), True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return path.open("rb"), filename or path.name, path.stat().st_size, True
    name = filename or os.path.basename(str(getattr(source, "name", "")))
    if not name:
        raise ValueError("Give filename= for a file object without a name.")
    size = source_size(cast(BinaryIO, source))
    if size is None:
        raise ValueError("The file object must tell its size (a regular file or BytesIO).")
    return source, name, size, False


def _params(source_amigo_id: str, filename: str, content_type: str | None,
            metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    return _given(source_amigo_id=source_amigo_id, filename=filename,
                  content_type=content_type,
                  metadata=None if metadata is None else json.dumps(dict(metadata)))


def _completion(url: str, sha256: str, params: dict[str, Any],
                metadata: Mapping[str, Any] | None) -> JSON:
    body = {**params, "upload_id": url.rsplit("/", 1)[1], "sha256": sha256}
    body.pop("metadata", None)
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return body


def _target(path: str | os.PathLike[str] | None, filename: str) -> Path:
    target = Path(path) if path is not None else Path(filename)
    return target / filename if target.is_dir() else target


class _GalleryCalls(_Resource[J, N, C]):
    """The calls that are one request each, shared by both clients."""

    def list(self, project: ProjectRef, dataset: int) -> C:
        """A dataset's galleries."""
        return self._list(f"{_project(project)}/datasets/{int(dataset)}/galleries")

    def create(self, project: ProjectRef, dataset: int, name: str, *,
               description: str | None = None) -> J:
        """A gallery of the dataset (names are unique per dataset)."""
        return self._post(f"{_project(project)}/datasets/{int(dataset)}/galleries",
                          _given(name=name, description=description))

    def get(self, project: ProjectRef, gallery: int) -> J:
        return self._get(_gallery(project, gallery))

    def update(self, project: ProjectRef, gallery: int, *, name: str | None = None,
               description: str | None = None) -> J:
        return self._patch(_gallery(project, gallery),
                           _given(name=name, description=description))

    def delete(self, project: ProjectRef, gallery: int) -> N:
        """Delete a gallery and its records."""
        return self._delete(_gallery(project, gallery))

    def records(self, project: ProjectRef, gallery: int, *,
                source_amigo_id: str | None = None) -> C:
        """A cursor over a gallery's records (only one row's, with `source_amigo_id`)."""
        return self._list(f"{_gallery(project, gallery)}/records",
                          {"source_amigo_id": source_amigo_id})

    def row_records(self, project: ProjectRef, dataset: int, amigo_id: str) -> C:
        """A cursor over every gallery record of one row."""
        return self._list(f"{_project(project)}/datasets/{int(dataset)}/rows/"
                          f"{segment(amigo_id)}/gallery-records")

    def record(self, project: ProjectRef, gallery: int, record: int) -> J:
        return self._get(_record(project, gallery, record))

    def update_record(self, project: ProjectRef, gallery: int, record: int, *,
                      filename: str | None = None, metadata: Mapping[str, Any] | None = None,
                      replace_metadata: bool = False) -> J:
        """Rename a record; merge keys into its metadata (None removes a key), or with
        `replace_metadata` replace it."""
        body = _given(filename=filename,
                      metadata=None if metadata is None else dict(metadata))
        if replace_metadata:
            body["replace_metadata"] = True
        return self._patch(_record(project, gallery, record), body)

    def delete_record(self, project: ProjectRef, gallery: int, record: int) -> N:
        return self._delete(_record(project, gallery, record))


class Galleries(_GalleryCalls[JSON, None, Any]):
    """`Client.datasets.galleries`."""

    _client: Client

    def __init__(self, client: Client, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size

    def upload(self, project: ProjectRef, gallery: int, source: Source, *,
               source_amigo_id: str, filename: str | None = None,
               content_type: str | None = None, metadata: Mapping[str, Any] | None = None,
               progress: Progress = None, resumable: bool | None = None) -> JSON:
        """Attach a file (a path, bytes or a binary file) to the row `source_amigo_id`;
        returns the record. `resumable` None picks by size (`resumable_threshold`)."""
        fh, name, size, close = _source(source, filename)
        params = _params(source_amigo_id, name, content_type, metadata)
        try:
            if resumable if resumable is not None else size >= self.resumable_threshold:
                url, sha256 = files.send_resumable(
                    self._client, _project(project), cast(BinaryIO, fh), size, opening={},
                    chunk_size=self.chunk_size, progress=progress)
                return cast(JSON, self._client.post(
                    f"{_gallery(project, gallery)}/records/from-upload",
                    _completion(url, sha256, params, metadata)))
            return cast(JSON, self._client.request(
                "POST", f"{_gallery(project, gallery)}/records", params=params,
                content=_read(fh, size, progress),
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)}, idempotency_key=False))
        finally:
            if close:
                fh.close()

    def content(self, project: ProjectRef, gallery: int, record: int) -> bytes:
        """A record's bytes, in memory (see `download` for large files)."""
        return cast(bytes, self._client.get(f"{_record(project, gallery, record)}/content",
                                            raw=True))

    def download(self, project: ProjectRef, gallery: int, record: int,
                 path: str | os.PathLike[str] | None = None, *, progress: Progress = None
                 ) -> Path:
        """Save a record's file to `path` (a file, or a directory to put it in; default:
        here, under its filename), streamed to a temp file and checked; returns where."""
        info = self.record(project, gallery, record)
        target = _target(path, info["filename"])
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                files.fetch(self._client, f"{_record(project, gallery, record)}/content",
                            out, info["size"], progress)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


class AsyncGalleries(_GalleryCalls[Any, Any, Any]):
    """`AsyncClient.datasets.galleries`: the same calls, awaited."""

    _client: AsyncClient

    def __init__(self, client: AsyncClient, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size

    async def upload(self, project: ProjectRef, gallery: int, source: Source, *,
                     source_amigo_id: str, filename: str | None = None,
                     content_type: str | None = None,
                     metadata: Mapping[str, Any] | None = None, progress: Progress = None,
                     resumable: bool | None = None) -> JSON:
        fh, name, size, close = _source(source, filename)
        params = _params(source_amigo_id, name, content_type, metadata)
        try:
            if resumable if resumable is not None else size >= self.resumable_threshold:
                url, sha256 = await async_files.send_resumable(
                    self._client, _project(project), cast(BinaryIO, fh), size, opening={},
                    chunk_size=self.chunk_size, progress=progress)
                return cast(JSON, await self._client.post(
                    f"{_gallery(project, gallery)}/records/from-upload",
                    _completion(url, sha256, params, metadata)))
            return cast(JSON, await self._client.request(
                "POST", f"{_gallery(project, gallery)}/records", params=params,
                content=_aread(fh, size, progress),  # type: ignore[arg-type]
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)}, idempotency_key=False))
        finally:
            if close:
                fh.close()

    async def content(self, project: ProjectRef, gallery: int, record: int) -> bytes:
        return cast(bytes, await self._client.get(
            f"{_record(project, gallery, record)}/content", raw=True))

    async def download(self, project: ProjectRef, gallery: int, record: int,
                       path: str | os.PathLike[str] | None = None, *,
                       progress: Progress = None) -> Path:
        info = await self.record(project, gallery, record)
        target = _target(path, info["filename"])
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                await async_files.fetch(self._client,
                                        f"{_record(project, gallery, record)}/content", out,
                                        info["size"], progress)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


def _read(fh: IO[bytes], size: int, progress: Progress) -> Iterator[bytes]:
    sent = 0
    while chunk := fh.read(READ):
        sent += len(chunk)
        yield chunk
        if progress is not None:
            progress(sent, size)


async def _aread(fh: IO[bytes], size: int, progress: Progress) -> AsyncIterator[bytes]:
    sent = 0
    while chunk := await asyncio.to_thread(fh.read, READ):
        sent += len(chunk)
        yield chunk
        if progress is not None:
            progress(sent, size)
