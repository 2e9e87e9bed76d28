"""`async_client.files`: the asyncio twin of `Files` (files.py), method for method. Local
file reads and writes run in a worker thread, so the event loop never waits on the disk."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from cloudlet.client.cursor import AsyncCursor
from cloudlet.client.errors import Conflict, TransportError
from cloudlet.client.file_calls import (
    DEFAULT_CHUNK,
    DEFAULT_THRESHOLD,
    READ,
    FileCalls,
    FileRef,
    OnConflict,
    Progress,
    content_md5,
    file_sha256,
    node_id,
    source_size,
    upload_params,
)
from cloudlet.client.files import MAX_RESUMES, _offset_of

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient

__all__ = ["AsyncFiles"]

JSON = dict[str, Any]


class AsyncFiles(FileCalls[Awaitable[JSON], Awaitable[None], AsyncCursor]):
    def __init__(self, client: AsyncClient, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.client = client
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size

    def _base(self) -> str:
        from cloudlet.client.connection import segment

        return f"/projects/{segment(self.client.project or 'home')}"

    async def resolve(self, ref: FileRef) -> int | str:
        if isinstance(ref, str) and ref.startswith("/"):
            found = await self.by_path(ref)
            return "root" if found["parent"] is None else cast(int, found["id"])
        return node_id(ref)

    async def count(self, filter: Mapping[str, Any] | None = None, **filters: Any  # type: ignore[override]
                    ) -> int:
        return int((await super().count(filter, **filters))["count"])

    async def upload(self, source: str | os.PathLike[str] | BinaryIO, *,
                     parent: FileRef | None = None, name: str | None = None,
                     metadata: Mapping[str, Any] | None = None, tags: list[str] | None = None,
                     on_conflict: OnConflict = "fail", content_type: str | None = None,
                     progress: Progress = None, resumable: bool | None = None) -> JSON:
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            handle = await asyncio.to_thread(path.open, "rb")
            try:
                return await self.upload(handle, parent=parent, name=name or path.name,
                                         metadata=metadata, tags=tags,
                                         on_conflict=on_conflict, content_type=content_type,
                                         progress=progress, resumable=resumable)
            finally:
                handle.close()
        name = name or Path(getattr(source, "name", "") or "upload").name
        parent = None if parent is None else await self.resolve(parent)
        size = source_size(source)
        if resumable is None:
            resumable = size is not None and size >= self.resumable_threshold
        if resumable and size is not None:
            return await self._resumable(source, size, parent=parent, name=name,
                                         metadata=metadata, tags=tags,
                                         on_conflict=on_conflict, content_type=content_type,
                                         progress=progress)
        params = upload_params(name=name, parent=parent, metadata=metadata, tags=tags,
                               on_conflict=on_conflict, content_type=content_type)
        return cast(JSON, await self.client.request(
            "POST", self._path("files"), params=params, content=_aread(source, size, progress),
            headers={"Content-Type": "application/octet-stream"}, idempotency_key=False))

    async def _resumable(self, source: BinaryIO, size: int, *, parent: FileRef | None,
                         name: str, metadata: Mapping[str, Any] | None,
                         tags: list[str] | None, on_conflict: str, content_type: str | None,
                         progress: Progress) -> JSON:
        body: JSON = {"name": name, "on_conflict": on_conflict}
        body.update({k: v for k, v in {"parent": parent, "content_type": content_type,
                                        "metadata": None if metadata is None else
                                        dict(metadata), "tags": tags}.items()
                     if v is not None})
        url, sha256 = await send_resumable(self.client, self._base(), source, size,
                                           opening=body, chunk_size=self.chunk_size,
                                           progress=progress)
        return cast(JSON, await self.client.post(url + "/complete", {"sha256": sha256}))

    async def upload_tree(self, local_dir: str | os.PathLike[str], parent: FileRef = "root",
                          *, progress: Progress = None) -> JSON:
        root = Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(str(root))
        done: JSON = {"uploaded": [], "skipped": []}
        await self._upload_dir(root, await self.resolve(parent), done, progress)
        return done

    async def _upload_dir(self, local: Path, remote: int | str, done: JSON,
                          progress: Progress) -> None:
        present = {c["name"]: c async for c in self.children(remote)}
        for entry in sorted(local.iterdir()):
            there = present.get(entry.name)
            if entry.is_dir():
                folder = there if there and there["type"] == "folder" else \
                    await self.mkdir(name=entry.name, parent=remote, on_conflict="overwrite")
                await self._upload_dir(entry, folder["id"], done, progress)
            elif entry.is_file():
                same = there and there["type"] == "file" and \
                    there["etag"] == await asyncio.to_thread(file_sha256, entry)
                if same:
                    done["skipped"].append(there)
                    continue
                done["uploaded"].append(await self.upload(
                    entry, parent=remote, on_conflict="overwrite", progress=progress))

    async def download(self, file: FileRef, path: str | os.PathLike[str] | None = None, *,
                       version: int | None = None, progress: Progress = None) -> Path:
        info = await self.get(await self.resolve(file))
        name = info["name"] + (".zip" if info["type"] == "folder" else "")
        target = Path(path) if path is not None else Path(name)
        if target.is_dir():
            target = target / name
        parts = ["files", info["id"]] + (["versions", version] if version else []) + \
            ["content"]
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                await fetch(self.client, self._path(*parts), out,
                            info["size"] if info["type"] == "file" else None, progress)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    async def download_tree(self, folder: FileRef, local_dir: str | os.PathLike[str], *,
                            progress: Progress = None) -> JSON:
        done: JSON = {"downloaded": [], "skipped": []}
        await self._download_dir(await self.resolve(folder), Path(local_dir), done, progress)
        return done

    async def _download_dir(self, remote: int | str, local: Path, done: JSON,
                            progress: Progress) -> None:
        local.mkdir(parents=True, exist_ok=True)
        async for child in self.children(remote):
            target = local / child["name"]
            if child["type"] == "folder":
                await self._download_dir(child["id"], target, done, progress)
            elif target.is_file() and \
                    await asyncio.to_thread(file_sha256, target) == child["etag"]:
                done["skipped"].append(target)
            else:
                done["downloaded"].append(await self.download(child, target,
                                                              progress=progress))


async def send_resumable(client: AsyncClient, base: str, source: BinaryIO, size: int, *,
                         opening: Mapping[str, Any], chunk_size: int, progress: Progress
                         ) -> tuple[str, str]:
    """The awaitable twin of `files.send_resumable` (file reads in a worker thread)."""
    session = await client.post(f"{base}/uploads", {**opening, "total": size})
    url = f"{base}/uploads/{session['id']}"
    start = source.tell()
    sha256, hashed = hashlib.sha256(), 0
    offset, failures = 0, 0

    def read_at(at: int) -> bytes:
        source.seek(start + at)
        return source.read(min(chunk_size, size - at))

    while offset < size:
        data = await asyncio.to_thread(read_at, offset)
        if offset + len(data) > hashed:
            fresh = data[hashed - offset:]
            sha256.update(fresh)
            hashed += len(fresh)
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Range": f"bytes {offset}-{offset + len(data) - 1}/{size}",
                   "Content-MD5": content_md5(data)}
        try:
            answer = await client.request("PUT", url, content=data, headers=headers)
            offset, failures = int(answer["offset"]), 0
        except (TransportError, Conflict) as error:
            failures += 1
            if failures > MAX_RESUMES:
                raise
            if isinstance(error, Conflict) and not _offset_of(error):
                raise
            offset = int((await client.get(url))["offset"])
        if progress is not None:
            progress(offset, size)
    return url, sha256.hexdigest()


async def fetch(client: AsyncClient, url: str, out: BinaryIO, size: int | None,
                progress: Progress) -> None:
    """The awaitable twin of `files.fetch`."""
    written, etag, failures = 0, None, 0
    digest = hashlib.sha256()
    while True:
        headers = {"Range": f"bytes={written}-"} if written else {}
        try:
            async with await client.request("GET", url, headers=headers,
                                            stream=True) as answer:
                etag = etag or answer.headers.get("etag", "").strip('"') or None
                if written and answer.status_code != 206:
                    raise TransportError("the server did not resume the download")
                async for chunk in answer.aiter_bytes(READ):
                    await asyncio.to_thread(out.write, chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(written, size)
            break
        except TransportError:
            failures += 1
            if failures > MAX_RESUMES or size is None:
                raise
    if etag and size is not None and digest.hexdigest() != etag:
        raise TransportError(f"The download does not match its ETag ({etag}).")


async def _aread(source: BinaryIO, size: int | None, progress: Progress
                 ) -> AsyncIterator[bytes]:
    sent = 0
    while chunk := await asyncio.to_thread(source.read, READ):
        sent += len(chunk)
        yield chunk
        if progress is not None:
            progress(sent, size)
