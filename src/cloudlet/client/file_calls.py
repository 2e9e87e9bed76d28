"""What the sync and async files resources share that does no I/O: the Django-style query
keywords, node references, hashing and chunk headers, and the calls that are one request
each (written once for both clients, like resources.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from cloudlet.client.connection import segment
from cloudlet.client.resources import C, J, N, _given, _Resource

__all__ = ["OPERATORS", "FileRef", "OnConflict", "Progress", "filter_from_keywords"]

FileRef = int | str | Mapping[str, Any]
"""A file or folder: its id, "root", a `/a/b` path, or the dict the server returned."""
OnConflict = Literal["fail", "rename", "overwrite", "overwrite_or_rename"]
Progress = Any
"""A callable `progress(done_bytes, total_bytes_or_None)`, or None."""

OPERATORS = {"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "exists", "string_contains",
             "contains"}
DEFAULT_THRESHOLD = 64 * 1024 * 1024
DEFAULT_CHUNK = 8 * 1024 * 1024
READ = 1 << 20


def filter_from_keywords(**filters: Any) -> dict[str, Any]:
    """Django-style keywords → the server's filter: `size__gt=10` → `{"size": {"$gt": 10}}`,
    `metadata__run__gte=3` → `{"metadata.run": {"$gte": 3}}`, `name="a.csv"` → equality;
    `contains` is `string_contains`."""
    doc: dict[str, Any] = {}
    for key, value in filters.items():
        parts = key.split("__")
        op = "eq"
        if len(parts) > 1 and parts[-1] in OPERATORS:
            op = parts.pop()
        op = "string_contains" if op == "contains" else op
        field = ".".join(parts)
        condition = doc.setdefault(field, {})
        if not isinstance(condition, dict):
            raise ValueError(f"{field!r} is filtered twice")
        condition[f"${op}"] = list(value) if op in ("in", "nin") else value
    return doc


def node_id(ref: FileRef) -> int | str:
    if isinstance(ref, Mapping):
        return cast(int, ref["id"])
    if isinstance(ref, int) or ref == "root":
        return ref
    if str(ref).isdigit():
        return int(ref)
    raise ValueError(f"{ref!r} is not a file id; look a path up with `await "
                     "files.resolve(path)` first")


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(READ):
            digest.update(chunk)
    return digest.hexdigest()


def source_size(handle: BinaryIO) -> int | None:
    """The bytes left in a file object, if it can tell (a pipe can't)."""
    try:
        here = handle.tell()
        end = os.fstat(handle.fileno()).st_size if hasattr(handle, "fileno") else None
    except (OSError, ValueError, AttributeError):
        end = None
        try:
            here = handle.tell()
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(here)
        except (OSError, ValueError, AttributeError):
            return None
    return None if end is None else end - here


def upload_params(*, name: str, parent: FileRef | None, metadata: Mapping[str, Any] | None,
                  tags: list[str] | None, on_conflict: str, content_type: str | None
                  ) -> dict[str, Any]:
    return _given(
        name=name, parent=None if parent is None else str(node_id(parent)),
        metadata=None if metadata is None else json.dumps(dict(metadata)),
        tags=None if tags is None else json.dumps(list(tags)), on_conflict=on_conflict,
        content_type=content_type,
    )


class FileCalls(_Resource[J, N, C]):
    """The single-request calls of `client.files`; `_path(...)` puts them under the
    project the client resolved (see `Files`)."""

    def _base(self) -> str:
        raise NotImplementedError

    def _path(self, *parts: object) -> str:
        return "/".join([self._base(), *(segment(p) for p in parts)])

    def _ref(self, ref: FileRef) -> int | str:
        """An id for a reference; the sync client also looks `/paths` up here."""
        return node_id(ref)

    def get(self, file: FileRef) -> J:
        """One file or folder (`"root"`: the project's root folder)."""
        return self._get(self._path("files", self._ref(file)))

    def by_path(self, path: str) -> J:
        """The file or folder at `/a/b/c`."""
        return cast(J, self._client.get(self._path("files", "by-path"), {"path": path}))

    def mkdir(self, path: str | None = None, *, name: str | None = None,
              parent: FileRef | None = None, metadata: Mapping[str, Any] | None = None,
              tags: list[str] | None = None, on_conflict: OnConflict = "fail") -> J:
        """A folder at `path` (missing parents are made, an existing folder is returned),
        or one named `name` in `parent`."""
        body = _given(path=path, name=name, metadata=None if metadata is None else
                      dict(metadata), tags=tags, on_conflict=on_conflict,
                      parent=None if parent is None else self._ref(parent))
        return self._post(self._path("folders"), body)

    def children(self, folder: FileRef = "root", *, sort: str | None = None) -> C:
        """What is in a folder (a cursor; default order: folders first, then by name)."""
        return self._list(self._path("files", self._ref(folder), "children"), {"sort": sort})

    def ancestors(self, file: FileRef) -> J:
        """The folders from the root down to the file's parent (a list)."""
        return self._get(self._path("files", self._ref(file), "ancestors"))

    def versions(self, file: FileRef) -> J:
        """A file's earlier contents, newest first (a list)."""
        return self._get(self._path("files", self._ref(file), "versions"))

    def update_metadata(self, file: FileRef, metadata: Mapping[str, Any], *,
                        replace: bool = False) -> J:
        """Merge keys into the metadata (None removes a key), or `replace` it whole."""
        path = self._path("files", self._ref(file), "metadata")
        if replace:
            return cast(J, self._client.put(path, dict(metadata)))
        return self._patch(path, dict(metadata))

    def move(self, file: FileRef, parent: FileRef | None = None, *, name: str | None = None,
             on_conflict: Literal["fail", "rename"] = "fail") -> J:
        """Move into `parent` and/or rename."""
        body = _given(name=name, parent=None if parent is None else self._ref(parent),
                      on_conflict=on_conflict)
        return self._patch(self._path("files", self._ref(file)), body)

    def set_tags(self, file: FileRef, tags: list[str]) -> J:
        return self._patch(self._path("files", self._ref(file)), {"tags": list(tags)})

    def copy(self, file: FileRef, parent: FileRef | None = None, *, name: str | None = None,
             on_conflict: Literal["fail", "rename"] = "fail") -> J:
        """Copy a file or a whole folder (the copies share the stored bytes)."""
        body = _given(name=name, parent=None if parent is None else self._ref(parent),
                      on_conflict=on_conflict)
        return self._post(self._path("files", self._ref(file), "copy"), body)

    def delete(self, *files: FileRef) -> J:
        """Delete files and folders (folders with their contents) in one go; the answer's
        `deleted` counts everything removed."""
        ids = [self._ref(f) for f in files]
        return self._post(self._path("files", "delete"), {"ids": ids})

    def query(self, filter: Mapping[str, Any] | None = None, *, sort: str | None = None,
              **filters: Any) -> C:
        """A lazy cursor over files and folders matching a Mongo-style `filter` and/or
        Django-style keywords (`size__gt=1000`, `tags__in=["raw"]`, `metadata__run=3`,
        `metadata__run__gte=3`, `name__contains="2024"`)."""
        doc = {**dict(filter or {}), **filter_from_keywords(**filters)}
        params = _given(filter=json.dumps(doc) if doc else None, sort=sort)
        return self._list(self._path("files"), params)

    def count(self, filter: Mapping[str, Any] | None = None, **filters: Any) -> J:
        """How many match (the answer's `count`)."""
        doc = {**dict(filter or {}), **filter_from_keywords(**filters)}
        return self._post(self._path("files", "query"), {"filter": doc, "limit": 0})
