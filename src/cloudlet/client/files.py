"""`client.files`: files and folders of the client's project (its `project`, else the
caller's home project), for the sync `Client`. `AsyncFiles` (async_files.py) is the twin.

Uploads stream from disk: one request below `resumable_threshold`, above it a resumable
session whose chunks (with their md5) are retried, and after a dropped connection resumed
from the offset the server kept. Downloads stream to a temp file beside the target, resume
with `Range` after a drop, check the sha256 against the ETag, then rename into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from cloudlet.client.cursor import Cursor
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

if TYPE_CHECKING:
    from cloudlet.client.sync_client import Client

__all__ = ["Files"]

JSON = dict[str, Any]
MAX_RESUMES = 20


class Files(FileCalls[JSON, None, Cursor]):
    def __init__(self, client: Client, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.client = client
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size

    def _base(self) -> str:
        from cloudlet.client.connection import segment

        return f"/projects/{segment(self.client.project or 'home')}"

    def resolve(self, ref: FileRef) -> int | str:
        """An id for any reference, looking a `/path` up (`/` is the root folder)."""
        if isinstance(ref, str) and ref.startswith("/"):
            found = self.by_path(ref)
            return "root" if found["parent"] is None else cast(int, found["id"])
        return node_id(ref)

    def _ref(self, ref: FileRef) -> int | str:
        return self.resolve(ref)

    def count(self, filter: Mapping[str, Any] | None = None, **filters: Any) -> int:  # type: ignore[override]
        return int(super().count(filter, **filters)["count"])

    # --- uploads --------------------------------------------------------------------------

    def upload(self, source: str | os.PathLike[str] | BinaryIO, *,
               parent: FileRef | None = None, name: str | None = None,
               metadata: Mapping[str, Any] | None = None, tags: list[str] | None = None,
               on_conflict: OnConflict = "fail", content_type: str | None = None,
               progress: Progress = None, resumable: bool | None = None) -> JSON:
        """Upload a local file (a path or a binary file object); returns the file.
        `resumable` None picks by size (`resumable_threshold`)."""
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            with path.open("rb") as handle:
                return self.upload(handle, parent=parent, name=name or path.name,
                                   metadata=metadata, tags=tags, on_conflict=on_conflict,
                                   content_type=content_type, progress=progress,
                                   resumable=resumable)
        name = name or Path(getattr(source, "name", "") or "upload").name
        parent = None if parent is None else self.resolve(parent)
        size = source_size(source)
        if resumable is None:
            resumable = size is not None and size >= self.resumable_threshold
        if resumable and size is not None:
            return self._resumable(source, size, parent=parent, name=name, metadata=metadata,
                                   tags=tags, on_conflict=on_conflict,
                                   content_type=content_type, progress=progress)
        params = upload_params(name=name, parent=parent, metadata=metadata, tags=tags,
                               on_conflict=on_conflict, content_type=content_type)
        return cast(JSON, self.client.request(
            "POST", self._path("files"), params=params, content=_read(source, size, progress),
            headers={"Content-Type": "application/octet-stream"}, idempotency_key=False))

    def _resumable(self, source: BinaryIO, size: int, *, parent: FileRef | None, name: str,
                   metadata: Mapping[str, Any] | None, tags: list[str] | None,
                   on_conflict: str, content_type: str | None, progress: Progress) -> JSON:
        body: JSON = {"name": name, "on_conflict": on_conflict}
        body.update({k: v for k, v in {"parent": parent, "content_type": content_type,
                                        "metadata": None if metadata is None else
                                        dict(metadata), "tags": tags}.items()
                     if v is not None})
        url, sha256 = send_resumable(self.client, self._base(), source, size, opening=body,
                                     chunk_size=self.chunk_size, progress=progress)
        return cast(JSON, self.client.post(url + "/complete", {"sha256": sha256}))

    def upload_tree(self, local_dir: str | os.PathLike[str], parent: FileRef = "root", *,
                    progress: Progress = None) -> JSON:
        """Upload a directory's contents into `parent`, making folders as needed; files
        whose remote copy has the same sha256 are skipped, changed ones get a new version.
        Returns {"uploaded": [...], "skipped": [...]} (remote files)."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(str(root))
        done: JSON = {"uploaded": [], "skipped": []}
        self._upload_dir(root, self.resolve(parent), done, progress)
        return done

    def _upload_dir(self, local: Path, remote: int | str, done: JSON, progress: Progress
                    ) -> None:
        present = {c["name"]: c for c in self.children(remote)}
        for entry in sorted(local.iterdir()):
            there = present.get(entry.name)
            if entry.is_dir():
                folder = there if there and there["type"] == "folder" else \
                    self.mkdir(name=entry.name, parent=remote, on_conflict="overwrite")
                self._upload_dir(entry, folder["id"], done, progress)
            elif entry.is_file():
                if there and there["type"] == "file" and there["etag"] == file_sha256(entry):
                    done["skipped"].append(there)
                    continue
                done["uploaded"].append(self.upload(entry, parent=remote,
                                                    on_conflict="overwrite",
                                                    progress=progress))

    # --- downloads ------------------------------------------------------------------------

    def download(self, file: FileRef, path: str | os.PathLike[str] | None = None, *,
                 version: int | None = None, progress: Progress = None) -> Path:
        """Save a file (or one `version` of it) to `path` (a file, or a directory to put it
        in; default: here, under its own name); returns where it went. A folder comes as
        a zip."""
        info = self.get(self.resolve(file))
        name = info["name"] + (".zip" if info["type"] == "folder" else "")
        target = Path(path) if path is not None else Path(name)
        if target.is_dir():
            target = target / name
        parts = ["files", info["id"]] + (["versions", version] if version else []) + \
            ["content"]
        url = self._path(*parts)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                fetch(self.client, url, out,
                      info["size"] if info["type"] == "file" else None, progress)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def download_tree(self, folder: FileRef, local_dir: str | os.PathLike[str], *,
                      progress: Progress = None) -> JSON:
        """Download a folder's contents into `local_dir` (made if missing); local files
        with the remote sha256 already are skipped. Returns {"downloaded": [paths],
        "skipped": [paths]}."""
        done: JSON = {"downloaded": [], "skipped": []}
        self._download_dir(self.resolve(folder), Path(local_dir), done, progress)
        return done

    def _download_dir(self, remote: int | str, local: Path, done: JSON, progress: Progress
                      ) -> None:
        local.mkdir(parents=True, exist_ok=True)
        for child in self.children(remote):
            target = local / child["name"]
            if child["type"] == "folder":
                self._download_dir(child["id"], target, done, progress)
            elif target.is_file() and file_sha256(target) == child["etag"]:
                done["skipped"].append(target)
            else:
                done["downloaded"].append(self.download(child, target, progress=progress))


def send_resumable(client: Client, base: str, source: BinaryIO, size: int, *,
                   opening: Mapping[str, Any], chunk_size: int, progress: Progress
                   ) -> tuple[str, str]:
    """Open a resumable session at `{base}/uploads` (the project's path; `opening` holds
    what the session is for, without a name it completes as an import or a gallery photo)
    and send `size` bytes of `source` from where it stands, in chunks with their md5: a
    failed chunk is retried, and after a dropped connection the upload carries on from the
    offset the server kept. Returns (the session's URL, the sha256 of the bytes sent), to
    complete it with."""
    session = client.post(f"{base}/uploads", {**opening, "total": size})
    url = f"{base}/uploads/{session['id']}"
    start = source.tell()
    sha256, hashed = hashlib.sha256(), 0
    offset, failures = 0, 0
    while offset < size:
        source.seek(start + offset)
        data = source.read(min(chunk_size, size - offset))
        if offset + len(data) > hashed:  # hash each byte once, in order
            fresh = data[hashed - offset:]
            sha256.update(fresh)
            hashed += len(fresh)
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Range": f"bytes {offset}-{offset + len(data) - 1}/{size}",
                   "Content-MD5": content_md5(data)}
        try:
            answer = client.request("PUT", url, content=data, headers=headers)
            offset, failures = int(answer["offset"]), 0
        except (TransportError, Conflict) as error:
            failures += 1
            if failures > MAX_RESUMES:
                raise
            if isinstance(error, Conflict) and not _offset_of(error):
                raise
            offset = int(client.get(url)["offset"])  # resume where the server is
        if progress is not None:
            progress(offset, size)
    return url, sha256.hexdigest()


def fetch(client: Client, url: str, out: BinaryIO, size: int | None, progress: Progress
          ) -> None:
    """Stream a download into `out`, resuming with `Range` after a drop (when the size is
    known), and check the bytes against the sha256 ETag."""
    written, etag, failures = 0, None, 0
    digest = hashlib.sha256()
    while True:
        headers = {"Range": f"bytes={written}-"} if written else {}
        try:
            with client.request("GET", url, headers=headers, stream=True) as answer:
                etag = etag or answer.headers.get("etag", "").strip('"') or None
                if written and answer.status_code != 206:
                    raise TransportError("the server did not resume the download")
                for chunk in answer.iter_bytes(READ):
                    out.write(chunk)
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


def _read(source: BinaryIO, size: int | None, progress: Progress) -> Iterator[bytes]:
    sent = 0
    while chunk := source.read(READ):
        sent += len(chunk)
        yield chunk
        if progress is not None:
            progress(sent, size)


def _offset_of(error: Conflict) -> bool:
    """A 409 that says where to resume (the chunk did not start at the offset)."""
    body = error.response.json() if error.response is not None else {}
    return isinstance(body, dict) and "offset" in body
