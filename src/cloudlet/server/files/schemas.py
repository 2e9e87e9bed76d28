"""Request and response models of the native files routes (OpenAPI documents them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

OnConflict = Literal["fail", "rename", "overwrite", "overwrite_or_rename"]


class Node(BaseModel):
    id: int | None = Field(description="None only for the root of a project without files")
    project_id: int
    parent: int | None = Field(description="The parent folder's id; None for the root")
    name: str
    type: Literal["file", "folder"]
    size: int
    content_type: str | None
    md5: str | None
    sha256: str | None
    etag: str | None = Field(description="The native etag: the sha256")
    multipart_etag: str | None = Field(description="S3 multipart style, 6 MiB parts")
    version: int
    metadata: dict[str, Any]
    tags: list[str]
    created_by: int | None
    created_on: datetime
    updated_on: datetime


class Version(BaseModel):
    version: int
    name: str
    size: int
    content_type: str | None
    md5: str
    sha256: str
    etag: str
    multipart_etag: str
    metadata: dict[str, Any]
    tags: list[str]
    created_by: int | None
    created_on: datetime
    replaced_on: datetime


class FolderCreate(BaseModel):
    name: str | None = Field(default=None, description="The folder's name, in `parent`")
    parent: int | Literal["root"] | None = Field(default=None, description="Default: root")
    path: str | None = Field(default=None, max_length=4096,
                             description="Instead of a name: `/a/b/c`, made like mkdir -p")
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    on_conflict: OnConflict = "fail"


class NodeUpdate(BaseModel):
    name: str | None = Field(default=None, description="Rename")
    parent: int | Literal["root"] | None = Field(default=None, description="Move here")
    tags: list[str] | None = Field(default=None, description="Replace the tags")
    on_conflict: Literal["fail", "rename"] = "fail"


class CopyRequest(BaseModel):
    parent: int | Literal["root"] | None = Field(default=None,
                                                 description="Default: the same folder")
    name: str | None = None
    on_conflict: Literal["fail", "rename"] = "fail"


class DeleteMany(BaseModel):
    ids: list[int | Literal["root"]] = Field(min_length=1, max_length=1000)


class Deleted(BaseModel):
    deleted: int = Field(description="Files and folders removed, counting folder contents")


class QueryRequest(BaseModel):
    filter: dict[str, Any] = Field(default_factory=dict, description="Mongo-style filter")
    sort: str | None = Field(default=None, description='e.g. "-size" or "run,-created_on"')
    limit: int = Field(default=50, ge=0)
    offset: int = Field(default=0, ge=0)


class UploadOpen(BaseModel):
    name: str | None = Field(default=None,
                             description="The file to make on completion; none: attachment")
    parent: int | Literal["root"] | None = None
    total: int | None = Field(default=None, ge=0, description="The file's size, if known")
    content_type: str | None = Field(default=None, max_length=255)
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    on_conflict: OnConflict = "fail"


class Upload(BaseModel):
    id: str
    project_id: int
    offset: int = Field(description="Bytes received and kept: send the next chunk from here")
    total: int | None
    state: Literal["open", "finishing", "done", "aborted"]
    name: str | None
    kind: Literal["file", "blob"]
    max_chunk: int
    expires_at: datetime
    created_at: datetime


class UploadComplete(BaseModel):
    md5: str | None = Field(default=None, description="The whole file's md5 (hex)")
    sha256: str | None = Field(default=None, description="The whole file's sha256 (hex)")
