"""Files and folders: the rules. Faces (native routes, RinoCloud, AmigoCloud, IOTile) call
these with the caller's `Principal`; reads need read access to the project, changes write.

Bytes arrive first, as `Staged` (from `writer()` in one request, or from an upload session),
and become a file with `create_file`, or an attachment another domain holds with
`attach_staged` / `claim_upload` (no node in the visible tree). After commit, changes publish
`file.created`, `file.updated` and `file.deleted` on `project:<id>`.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, DomainError, Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.files.attachments import Attachments
from cloudlet.server.files.blobs import BlobRegistry, BlobWriter, Staged
from cloudlet.server.files.filters import compile_query
from cloudlet.server.files.metadata import check_metadata, check_tags
from cloudlet.server.files.names import (
    OVERWRITING,
    RENAMING,
    OnConflict,
    check_name,
    check_policy,
    split_path,
)
from cloudlet.server.files.tables import file_nodes
from cloudlet.server.files.tree import NodeRef, Tree, node_select, present
from cloudlet.server.files.uploads import ChunkCheck, UploadSessions
from cloudlet.server.projects.service import ProjectService

log = logging.getLogger(__name__)
ProjectRef = str | int
CHILDREN_SORT = "-type,name"
RACES = 3  # times a name made by someone else meanwhile is placed again (not with "fail")


@dataclass(frozen=True)
class Content:
    """What a download serves: one file (or version) and where its bytes are."""

    node_id: int
    name: str
    size: int
    content_type: str | None
    sha256: str
    key: str
    updated_on: datetime
    version: int


@dataclass(frozen=True)
class ZipEntry:
    path: str  # relative, `/`-separated, folders end in `/`
    key: str | None  # None for a folder
    size: int
    updated_on: datetime


class FileService:
    def __init__(self, db: Database, projects: ProjectService, events: EventService,
                 blobs: BlobRegistry, uploads: UploadSessions) -> None:
        self.db = db
        self.projects = projects
        self.events = events
        self.blobs = blobs
        self.uploads = uploads
        self.tree = Tree(blobs)
        self.attachments = Attachments(db, projects, blobs, uploads)
        self.postgres = not db.is_sqlite

    # --- access ---------------------------------------------------------------------------

    def authorize(self, conn: Connection, principal: Principal, project: ProjectRef,
                  need: Level) -> int:
        """The project's id if the caller has `need` on it (404 without any right).
        `home` names the caller's home project (a project token's own project), so
        clients that were given no project have a path to use."""
        if project == "home":
            project = principal.project_id or self.projects.home_project(
                conn, principal.user_id)["id"]
        return int(self.projects.authorize(conn, principal, project, need)["id"])

    def check_upload(self, principal: Principal, project: ProjectRef) -> int:
        """Call before reading an upload's body: a caller without write access is refused
        before a single byte is stored."""
        with self.db.read() as conn:
            return self.authorize(conn, principal, project, Level.WRITE)

    def writer(self, max_size: int | None = None) -> BlobWriter:
        """Stage bytes that arrive in one request (see `BlobWriter`)."""
        return self.blobs.writer(max_size)

    # --- reading --------------------------------------------------------------------------

    def get(self, principal: Principal, project: ProjectRef, ref: NodeRef) -> dict[str, Any]:
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            return present(self._node_or_root(conn, project_id, ref))

    def by_path(self, principal: Principal, project: ProjectRef, path: str) -> dict[str, Any]:
        parts = split_path(path)
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            if not parts:
                return present(self._node_or_root(conn, project_id, "root"))
            return present(self.tree.walk(conn, project_id, parts))

    def children(self, principal: Principal, project: ProjectRef, ref: NodeRef, *,
                 sort: str | None = None, limit: int, offset: int
                 ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            folder = self._node_or_root(conn, project_id, ref)
            if folder["kind"] != "folder":
                raise Invalid(f"{folder['name']!r} is a file; only folders have children.")
            order = compile_query({}, sort or CHILDREN_SORT, postgres=self.postgres).order_by
            if folder["id"] is None:  # the root of a project without files yet
                return 0, []
            total, rows = self.tree.children(conn, folder["id"], order, limit=limit,
                                             offset=offset)
            return total, [present(r) for r in rows]

    def ancestors(self, principal: Principal, project: ProjectRef, ref: NodeRef
                  ) -> list[dict[str, Any]]:
        """The folders from the project's root down to the node's parent."""
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            node = self._node_or_root(conn, project_id, ref)
            return [present(n) for n in self.tree.ancestors(conn, node)]

    def versions(self, principal: Principal, project: ProjectRef, ref: NodeRef
                 ) -> list[dict[str, Any]]:
        """Earlier contents of a file, newest first (the current one is the node itself)."""
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            node = self.tree.node(conn, project_id, ref)
            return [_present_version(v) for v in self.tree.versions(conn, node["id"])]

    def query(self, principal: Principal, project: ProjectRef, filter: Any = None, *,
              sort: str | None = None, limit: int, offset: int = 0
              ) -> tuple[int, list[dict[str, Any]]]:
        """Files and folders matching a Mongo-style filter (filters.py); (total, page)."""
        if limit < 0 or offset < 0:
            raise Invalid("limit and offset can't be negative.")
        compiled = compile_query(filter, sort, postgres=self.postgres)
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            where = (file_nodes.c.project_id == project_id, file_nodes.c.root_of.is_(None),
                     compiled.where)
            base = node_select().where(*where)
            total = conn.execute(select(func.count()).select_from(base.subquery())
                                 ).scalar_one()
            rows = conn.execute(base.order_by(*compiled.order_by).limit(limit).offset(offset))
            return total, [present(r) for r in rows]

    def count(self, principal: Principal, project: ProjectRef, filter: Any = None) -> int:
        return self.query(principal, project, filter, limit=0)[0]

    def content(self, principal: Principal, project: ProjectRef, ref: NodeRef,
                version: int | None = None) -> Content:
        """A file's bytes (or an earlier version's) to serve; read them with `read`."""
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            node = self.tree.node(conn, project_id, ref)
            if node["kind"] != "file":
                raise Invalid(f"{node['name']!r} is a folder; download it as a zip.")
            if version is None or version == node["version"]:
                return Content(node["id"], node["name"], node["size"], node["content_type"],
                               node["sha256"], node["key"], node["updated_on"],
                               node["version"])
            old = next((v for v in self.tree.versions(conn, node["id"])
                        if v["version"] == version), None)
            if old is None:
                raise NotFound(f"{node['name']!r} has no version {version}.")
            return Content(node["id"], old["name"], old["size"], old["content_type"],
                           old["sha256"], old["key"], old["created_on"], old["version"])

    def read(self, content: Content, start: int = 0, end: int | None = None
             ) -> Iterator[bytes]:
        return self.blobs.store.open_range(content.key, start, end)

    def zip_entries(self, principal: Principal, project: ProjectRef, ref: NodeRef
                    ) -> tuple[str, list[ZipEntry]]:
        """A folder's name and everything under it, as zip entries (paths made here, from
        names already checked, relative to the folder)."""
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.READ)
            folder = self._node_or_root(conn, project_id, ref)
            if folder["kind"] != "folder":
                raise Invalid(f"{folder['name']!r} is a file; download it directly.")
            nodes = self.tree.subtree(conn, folder["id"]) if folder["id"] else [folder]
        paths = {folder["id"]: ""}
        entries = []
        for n in nodes[1:]:
            path = paths[n["parent_id"]] + n["name"]
            if n["kind"] == "folder":
                paths[n["id"]] = path + "/"
                entries.append(ZipEntry(path + "/", None, 0, n["updated_on"]))
            else:
                entries.append(ZipEntry(path, n["key"], n["size"], n["updated_on"]))
        return folder["name"] or "files", entries

    # --- creating -------------------------------------------------------------------------

    def mkdir(self, principal: Principal, project: ProjectRef, *, name: str | None = None,
              parent: NodeRef | None = None, path: str | None = None,
              metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
              on_conflict: str | None = None) -> tuple[dict[str, Any], bool]:
        """A folder by `name` in `parent`, or by `path` (`/a/b/c`, creating what's missing,
        like `mkdir -p`; an existing folder there is returned). (folder, created)."""
        meta = check_metadata(metadata if metadata is not None else {})
        tag_list = check_tags(tags if tags is not None else [])
        policy = check_policy(on_conflict)
        if (path is None) == (name is None):
            raise Invalid("Give a folder either a name (and a parent) or a path.")
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            root = self.tree.ensure_root(tx, project_id)
            if path is not None:
                parts = split_path(path)
                if not parts:
                    return present(root), False
                where = root if parent is None else self.tree.folder(tx.conn, project_id,
                                                                     parent)
                created = False
                for depth, part in enumerate(parts):
                    last = depth == len(parts) - 1
                    found = self.tree.child(tx.conn, where["id"], part)
                    if found is not None and found["kind"] != "folder":
                        raise Conflict(f"{part!r} in that path is a file.", name=part)
                    if found is None:
                        found = self.tree.insert(
                            tx, project_id=project_id, parent_id=where["id"], name=part,
                            kind="folder", metadata=meta if last else {},
                            tags=tag_list if last else [], user_id=principal.user_id)
                        self._announce(tx, "file.created", found)
                        created = True
                    where = found
                return present(where), created
            folder = root if parent is None else self.tree.folder(tx.conn, project_id, parent)
            name = check_name(name or "")
            raced = 0
            while True:
                existing = self.tree.child(tx.conn, folder["id"], name, lock=True)
                place_as = name
                if existing is not None:
                    if policy in OVERWRITING and existing["kind"] == "folder":
                        return present(existing), False  # the folder is there: use it
                    if policy not in RENAMING:
                        raise _taken(name, existing)
                    place_as = self.tree.free_name(tx.conn, folder["id"], name)
                try:
                    node = self.tree.insert(tx, project_id=project_id, parent_id=folder["id"],
                                            name=place_as, kind="folder", metadata=meta,
                                            tags=tag_list, user_id=principal.user_id)
                except Conflict:  # made by someone else just now: place it against that
                    if raced == RACES or policy == "fail":
                        raise
                    raced += 1
                    continue
                self._announce(tx, "file.created", node)
                return present(node), True

    def create_file(self, principal: Principal, project: ProjectRef, staged: Staged, *,
                    name: str, parent: NodeRef | None = None, content_type: str | None = None,
                    metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
                    on_conflict: str | None = None) -> tuple[dict[str, Any], bool]:
        """Staged bytes become a file named `name` in `parent` (default: the root folder).
        With `overwrite`, an existing file keeps its old content and metadata as a
        version (metadata/tags left None are kept). (file, created). The staged bytes are
        discarded if this fails."""
        try:
            meta = None if metadata is None else check_metadata(metadata)
            tag_list = None if tags is None else check_tags(tags)
            policy = check_policy(on_conflict)
            name = check_name(name)
            with self.db.write() as tx:
                project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
                node, created = self._place(tx, project_id, principal.user_id, staged,
                                            name=name, parent=parent,
                                            content_type=guess_type(name, content_type),
                                            metadata=meta,
                                            tags=tag_list, policy=policy)
                return node, created
        except BaseException:
            self.blobs.discard(staged)
            raise

    def _place(self, tx: Tx, project_id: int, user_id: int, staged: Staged, *, name: str,
               parent: NodeRef | None, content_type: str | None,
               metadata: dict[str, Any] | None, tags: list[str] | None, policy: OnConflict
               ) -> tuple[dict[str, Any], bool]:
        root = self.tree.ensure_root(tx, project_id)
        folder = root if parent is None else self.tree.folder(tx.conn, project_id, parent)
        blob: dict[str, Any] | None = None
        raced = 0
        while True:
            existing = self.tree.child(tx.conn, folder["id"], name, lock=True)
            if existing is not None and policy in OVERWRITING and existing["kind"] == "file":
                blob = blob or self.blobs.register(tx, staged)
                node = self.tree.replace_content(tx, existing, blob=blob,
                                                 content_type=content_type, metadata=metadata,
                                                 tags=tags, user_id=user_id)
                self._announce(tx, "file.updated", node)
                return present(node), False
            place_as = name
            if existing is not None:
                if policy not in RENAMING:
                    raise _taken(name, existing)
                place_as = self.tree.free_name(tx.conn, folder["id"], name)
            blob = blob or self.blobs.register(tx, staged)
            try:
                node = self.tree.insert(tx, project_id=project_id, parent_id=folder["id"],
                                        name=place_as, kind="file", metadata=metadata or {},
                                        tags=tags or [], user_id=user_id, blob=blob,
                                        content_type=content_type)
            except Conflict:  # made by someone else just now: place it against that
                if raced == RACES or policy == "fail":
                    raise
                raced += 1
                continue
            self._announce(tx, "file.created", node)
            return present(node), True

    def store_file(self, principal: Principal, project: ProjectRef, chunks: Iterable[bytes],
                   *, name: str, **options: Any) -> tuple[dict[str, Any], bool]:
        """`create_file` from an iterable of bytes (for faces that hold small bodies)."""
        self.check_upload(principal, project)
        writer = self.writer()
        try:
            for chunk in chunks:
                writer.write(chunk)
            staged = writer.close()
        except BaseException:
            writer.abort()
            raise
        return self.create_file(principal, project, staged, name=name, **options)

    # --- upload sessions ------------------------------------------------------------------

    def open_upload(self, principal: Principal, project: ProjectRef, *,
                    total: int | None = None, name: str | None = None,
                    parent: NodeRef | None = None, content_type: str | None = None,
                    metadata: dict[str, Any] | None = None, tags: list[str] | None = None,
                    on_conflict: str | None = None) -> dict[str, Any]:
        """A resumable upload. With a `name` it completes into a file (`complete_upload`);
        without, into an attachment for another domain (`attachments.claim_upload`)."""
        if total is not None and total < 0:
            raise Invalid("total can't be negative.")
        target: dict[str, Any] = {"kind": "blob"}
        if name is not None:
            target = {
                "kind": "file", "name": check_name(name), "parent": parent,
                "content_type": guess_type(name, content_type),
                "metadata": None if metadata is None else check_metadata(metadata),
                "tags": None if tags is None else check_tags(tags),
                "on_conflict": check_policy(on_conflict),
            }
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            if name is not None:
                root = self.tree.ensure_root(tx, project_id)
                folder = root if parent is None else self.tree.folder(tx.conn, project_id,
                                                                      parent)
                existing = self.tree.child(tx.conn, folder["id"], target["name"])
                if existing is not None and target["on_conflict"] == "fail":
                    raise _taken(target["name"], existing)
            return _present_upload(self.uploads.open(
                tx, project_id=project_id, user_id=principal.user_id, total=total,
                target=target), self.uploads.max_chunk)

    def upload_status(self, principal: Principal, project: ProjectRef, upload_id: str
                      ) -> dict[str, Any]:
        with self.db.read() as conn:
            project_id = self.authorize(conn, principal, project, Level.WRITE)
            return _present_upload(self.uploads.row(conn, project_id, upload_id),
                                   self.uploads.max_chunk)

    def upload_chunk(self, principal: Principal, project: ProjectRef, upload_id: str, *,
                     start: int, data: bytes, total: int | None = None,
                     check: ChunkCheck | None = None) -> dict[str, Any]:
        """Append one chunk at `start` (which must be the session's offset: 409 with the
        right `offset` otherwise). A chunk failing its checksum is not kept."""
        project_id = self.check_upload(principal, project)
        return _present_upload(self.uploads.chunk(
            project_id=project_id, upload_id=upload_id, start=start, total=total, data=data,
            check=check or ChunkCheck()), self.uploads.max_chunk)

    def complete_upload(self, principal: Principal, project: ProjectRef, upload_id: str, *,
                        md5: str | None = None, sha256: str | None = None
                        ) -> tuple[dict[str, Any], bool]:
        """Verify the whole file and make it a file; repeating it answers the same file."""
        project_id = self.check_upload(principal, project)
        with self.db.read() as conn:
            if self.uploads.row(conn, project_id, upload_id)["target"]["kind"] != "file":
                raise Invalid("This upload has no file name: it completes as an attachment.")
        session, staged = self.uploads.finish(project_id=project_id, upload_id=upload_id,
                                              md5=md5, sha256=sha256)
        if staged is None:
            return self.get(principal, project, session["result"]["node"]), False
        target = session["target"]
        try:
            with self.db.write() as tx:
                node, created = self._place(
                    tx, project_id, principal.user_id, staged, name=target["name"],
                    parent=target["parent"], content_type=target["content_type"],
                    metadata=target["metadata"], tags=target["tags"],
                    policy=target["on_conflict"])
                self.uploads.done(tx, upload_id, {"node": node["id"]})
                return node, created
        except DomainError:
            self.blobs.discard(staged)
            self.uploads.abort(project_id=project_id, upload_id=upload_id)
            raise

    def abort_upload(self, principal: Principal, project: ProjectRef, upload_id: str) -> None:
        project_id = self.check_upload(principal, project)
        self.uploads.abort(project_id=project_id, upload_id=upload_id)

    # --- changing -------------------------------------------------------------------------

    def update(self, principal: Principal, project: ProjectRef, ref: NodeRef, *,
               name: str | None = None, parent: NodeRef | None = None,
               tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
               replace_metadata: bool = False, on_conflict: str | None = None
               ) -> dict[str, Any]:
        """Rename and/or move (into `parent`), and/or set the tags, and/or merge (or
        replace) the metadata as `set_metadata` does: all in one transaction, so a bad part
        changes nothing."""
        policy = check_policy(on_conflict)
        if policy in OVERWRITING:
            raise Invalid("Moves and renames take on_conflict fail or rename.")
        tag_list = None if tags is None else check_tags(tags)
        if metadata is not None and not isinstance(metadata, dict):
            raise Invalid("metadata is a JSON object.")
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            node = self.tree.node(tx.conn, project_id, ref, lock=True)
            if node["parent_id"] is None:
                raise Invalid("The root folder can't be renamed, moved or tagged.")
            values: dict[str, Any] = {}
            if metadata is not None:
                values["metadata"] = _merge_metadata(node, metadata, replace_metadata)
            target = node["parent_id"]
            if parent is not None:
                folder = self.tree.folder(tx.conn, project_id, parent)
                chain = [a["id"] for a in self.tree.ancestors(tx.conn, folder)]
                if folder["id"] == node["id"] or node["id"] in chain:
                    raise Invalid("A folder can't move into itself or its own subfolder.")
                target = folder["id"]
            new_name = node["name"] if name is None else check_name(name)
            if (target, new_name) != (node["parent_id"], node["name"]):
                existing = self.tree.child(tx.conn, target, new_name, lock=True)
                if existing is not None and existing["id"] != node["id"]:
                    if policy != "rename":
                        raise _taken(new_name, existing)
                    new_name = self.tree.free_name(tx.conn, target, new_name)
                values.update(parent_id=target, name=new_name)
            if tag_list is not None:
                values["tags"] = tag_list
            if values:
                tx.execute(update(file_nodes).where(file_nodes.c.id == node["id"])
                           .values(**values, updated_on=utcnow()))
                node = self.tree.node(tx.conn, project_id, node["id"])
                self._announce(tx, "file.updated", node)
            return present(node)

    def set_metadata(self, principal: Principal, project: ProjectRef, ref: NodeRef,
                     metadata: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
        """Merge `metadata` into the node's (a key set to null is removed), or replace it."""
        if not isinstance(metadata, dict):
            raise Invalid("metadata is a JSON object.")
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            node = self.tree.node(tx.conn, project_id, ref, lock=True)
            merged = _merge_metadata(node, metadata, replace)
            tx.execute(update(file_nodes).where(file_nodes.c.id == node["id"])
                       .values(metadata=merged, updated_on=utcnow()))
            node = self.tree.node(tx.conn, project_id, node["id"])
            self._announce(tx, "file.updated", node)
            return present(node)

    def copy(self, principal: Principal, project: ProjectRef, ref: NodeRef, *,
             parent: NodeRef | None = None, name: str | None = None,
             on_conflict: str | None = None) -> dict[str, Any]:
        """Copy a file, or a folder with everything in it, sharing the bytes (no versions
        are copied)."""
        policy = check_policy(on_conflict)
        if policy in OVERWRITING:
            raise Invalid("Copies take on_conflict fail or rename.")
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            node = self.tree.node(tx.conn, project_id, ref)
            if node["parent_id"] is None:
                raise Invalid("Copy the root folder's contents, not the root folder.")
            folder = self.tree.folder(tx.conn, project_id,
                                      node["parent_id"] if parent is None else parent)
            chain = [a["id"] for a in self.tree.ancestors(tx.conn, folder)]
            if folder["id"] == node["id"] or node["id"] in chain:
                raise Invalid("A folder can't be copied into itself.")
            new_name = node["name"] if name is None else check_name(name)
            if self.tree.child(tx.conn, folder["id"], new_name) is not None:
                if policy != "rename" and (name is not None or parent is not None):
                    raise _taken(new_name, self.tree.child(tx.conn, folder["id"], new_name))
                new_name = self.tree.free_name(tx.conn, folder["id"], new_name)
            nodes = self.tree.subtree(tx.conn, node["id"])
            made: dict[int, int] = {}
            for n in nodes:
                into = folder["id"] if n["id"] == node["id"] else made[n["parent_id"]]
                blob = None
                if n["blob_id"] is not None:
                    self.blobs.retain(tx, n["blob_id"])
                    blob = {"id": n["blob_id"], "size": n["size"]}
                copied = self.tree.insert(
                    tx, project_id=project_id, parent_id=into,
                    name=new_name if n["id"] == node["id"] else n["name"], kind=n["kind"],
                    metadata=n["metadata"], tags=n["tags"], user_id=principal.user_id,
                    blob=blob, content_type=n["content_type"])
                made[n["id"]] = copied["id"]
                self._announce(tx, "file.created", copied)
            return present(self.tree.node(tx.conn, project_id, made[node["id"]]))

    def delete(self, principal: Principal, project: ProjectRef, refs: list[NodeRef]) -> int:
        """Delete files and folders (folders with everything in them) in one transaction;
        returns how many nodes went. Any id that isn't there fails the whole call."""
        if not refs:
            raise Invalid("Name at least one file or folder to delete.")
        with self.db.write() as tx:
            project_id = self.authorize(tx.conn, principal, project, Level.WRITE)
            nodes = [self.tree.node(tx.conn, project_id, ref, lock=True) for ref in refs]
            if any(n["parent_id"] is None for n in nodes):
                raise Invalid("The root folder can't be deleted.")
            removed: set[int] = set()
            for node in nodes:
                if node["id"] in removed:
                    continue  # inside a folder deleted just before
                ids = self.tree.remove(tx, node)
                removed.update(ids)
                self._announce(tx, "file.deleted", node, deleted=ids)
            return len(removed)

    # --- helpers --------------------------------------------------------------------------

    def _node_or_root(self, conn: Connection, project_id: int, ref: NodeRef
                      ) -> dict[str, Any]:
        if ref == "root":
            try:
                return self.tree.root(conn, project_id)
            except NotFound:
                now = utcnow()  # no file yet: an empty root, as it will be
                return {"id": None, "project_id": project_id, "parent_id": None, "name": "",
                        "kind": "folder", "size": 0, "content_type": None, "md5": None,
                        "sha256": None, "multipart_etag": None, "key": None, "version": 1,
                        "metadata": {}, "tags": [], "created_by": None, "created_on": now,
                        "updated_on": now, "blob_id": None, "root_of": project_id}
        return self.tree.node(conn, project_id, ref)

    def _announce(self, tx: Tx, event: str, node: dict[str, Any], **extra: Any) -> None:
        data = {"id": node["id"], "project_id": node["project_id"],
                "parent": node["parent_id"], "name": node["name"], "type": node["kind"],
                "size": node["size"], "sha256": node.get("sha256"),
                "version": node["version"], **extra}
        self.events.publish_after(tx, f"project:{node['project_id']}", event, data)

    # --- housekeeping ---------------------------------------------------------------------

    def housekeeping(self, *, grace: float) -> dict[str, int]:
        """Expire upload sessions, sweep stray staging, collect unreferenced blobs."""
        expired = self.uploads.expire()
        swept = self.blobs.store.sweep_staging(self.uploads.expiry.total_seconds() + grace,
                                               self.uploads.live_stagings())
        collected = self.blobs.reconcile(grace)
        return {"uploads_expired": expired, "staging_swept": swept,
                "blobs_collected": collected}


def guess_type(name: str, given: str | None) -> str:
    """The given media type, else one guessed from the name, else octet-stream."""
    if given and given != "application/octet-stream":
        return given
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _merge_metadata(node: dict[str, Any], metadata: dict[str, Any], replace: bool
                    ) -> dict[str, Any]:
    """The node's metadata with `metadata` merged in (a key set to null is removed), or
    `metadata` alone; checked."""
    if replace:
        return check_metadata(dict(metadata))
    merged = {**node["metadata"], **metadata}
    return check_metadata({k: v for k, v in merged.items()
                           if not (k in metadata and metadata[k] is None)})


def _taken(name: str, existing: dict[str, Any]) -> Conflict:
    kind = "folder" if existing["kind"] == "folder" else "file"
    return Conflict(f"A {kind} named {name!r} is already there; pass on_conflict=rename or "
                    "overwrite.", name=name, existing=existing["id"])


def _present_version(v: dict[str, Any]) -> dict[str, Any]:
    return {"version": v["version"], "name": v["name"], "size": v["size"],
            "content_type": v["content_type"], "md5": v["md5"], "sha256": v["sha256"],
            "etag": v["sha256"], "multipart_etag": v["multipart_etag"],
            "metadata": v["metadata"], "tags": v["tags"], "created_by": v["created_by"],
            "created_on": v["created_on"], "replaced_on": v["replaced_on"]}


def _present_upload(row: dict[str, Any], max_chunk: int) -> dict[str, Any]:
    target = row["target"]
    return {"id": row["id"], "project_id": row["project_id"], "offset": row["offset"],
            "total": row["total"], "state": row["state"], "name": target.get("name"),
            "kind": target["kind"], "expires_at": row["expires_at"], "max_chunk": max_chunk,
            "created_at": row["created_at"]}
