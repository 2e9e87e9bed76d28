"""The node tree of one project, in the database: lookups, placement under the naming
rules, versions, subtree walks and removal. No rights are checked here; the service does
that before it calls in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.server.core.db import Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound
from cloudlet.server.core.schema import utcnow
from cloudlet.server.files.blobs import BlobRegistry
from cloudlet.server.files.names import numbered
from cloudlet.server.files.tables import file_blobs, file_nodes, file_versions

NodeRef = int | str
"""A node: its int id, or "root" for the project's root folder."""

NODE_COLUMNS = (file_nodes, file_blobs.c.md5, file_blobs.c.sha256,
                file_blobs.c.multipart_etag, file_blobs.c.key)


def node_select() -> Select[Any]:
    return select(*NODE_COLUMNS).select_from(
        file_nodes.outerjoin(file_blobs, file_blobs.c.id == file_nodes.c.blob_id))


def present(row: Any) -> dict[str, Any]:
    """A node as every face starts from (faces pick and rename fields)."""
    n = row._mapping if hasattr(row, "_mapping") else row
    return {
        "id": n["id"], "project_id": n["project_id"], "parent": n["parent_id"],
        "name": n["name"], "type": n["kind"], "size": n["size"],
        "content_type": n["content_type"], "md5": n["md5"], "sha256": n["sha256"],
        "etag": n["sha256"], "multipart_etag": n["multipart_etag"], "version": n["version"],
        "metadata": n["metadata"], "tags": n["tags"], "created_by": n["created_by"],
        "created_on": n["created_on"], "updated_on": n["updated_on"],
    }


class Tree:
    def __init__(self, blobs: BlobRegistry) -> None:
        self.blobs = blobs

    # --- lookups --------------------------------------------------------------------------

    def root(self, conn: Connection, project_id: int) -> dict[str, Any]:
        found = conn.execute(node_select().where(file_nodes.c.root_of == project_id)).first()
        if found is None:
            raise NotFound("This project has no files yet.")
        return dict(found._mapping)

    def ensure_root(self, tx: Tx, project_id: int) -> dict[str, Any]:
        try:
            return self.root(tx.conn, project_id)
        except NotFound:
            pass
        now = utcnow()
        try:
            with tx.conn.begin_nested():
                tx.execute(insert(file_nodes).values(
                    project_id=project_id, parent_id=None, root_of=project_id,
                    kind="folder", name="", metadata={}, tags=[], size=0, version=1,
                    created_on=now, updated_on=now,
                ))
        except IntegrityError:
            pass  # another request's first file made it just now
        return self.root(tx.conn, project_id)

    def node(self, conn: Connection, project_id: int, ref: NodeRef, *, lock: bool = False
             ) -> dict[str, Any]:
        if ref == "root":
            return self.root(conn, project_id)
        node_id = _node_id(ref)
        query = node_select().where(file_nodes.c.id == node_id,
                                    file_nodes.c.project_id == project_id)
        if lock:
            query = query.with_for_update(of=file_nodes)
        found = conn.execute(query).first()
        if found is None:
            raise NotFound(f"No file or folder {ref!r} in this project.")
        return dict(found._mapping)

    def folder(self, conn: Connection, project_id: int, ref: NodeRef | None) -> dict[str, Any]:
        node = self.root(conn, project_id) if ref is None else self.node(conn, project_id, ref)
        if node["kind"] != "folder":
            raise Invalid(f"{node['name']!r} is a file, not a folder.")
        return node

    def child(self, conn: Connection, parent_id: int, name: str, *, lock: bool = False
              ) -> dict[str, Any] | None:
        query = node_select().where(file_nodes.c.parent_id == parent_id,
                                    file_nodes.c.name == name)
        if lock:
            query = query.with_for_update(of=file_nodes)
        found = conn.execute(query).first()
        return dict(found._mapping) if found else None

    def walk(self, conn: Connection, project_id: int, parts: list[str]) -> dict[str, Any]:
        node = self.root(conn, project_id)
        for depth, name in enumerate(parts):
            found = self.child(conn, node["id"], name)
            if found is None:
                raise NotFound(f"No {'/' + '/'.join(parts[: depth + 1])!r} in this project.")
            node = found
        return node

    def ancestors(self, conn: Connection, node: dict[str, Any]) -> list[dict[str, Any]]:
        """From the root folder down to the node's parent."""
        chain: list[dict[str, Any]] = []
        parent = node["parent_id"]
        while parent is not None:
            row = conn.execute(node_select().where(file_nodes.c.id == parent)).one()
            chain.append(dict(row._mapping))
            parent = row.parent_id
        return chain[::-1]

    def subtree(self, conn: Connection, node_id: int) -> list[dict[str, Any]]:
        """The node and everything under it, parents before children."""
        tree = select(file_nodes.c.id).where(file_nodes.c.id == node_id).cte(recursive=True)
        tree = tree.union_all(
            select(file_nodes.c.id).where(file_nodes.c.parent_id == tree.c.id))
        rows = conn.execute(node_select().where(file_nodes.c.id.in_(select(tree.c.id))))
        found = {r.id: dict(r._mapping) for r in rows}
        ordered, frontier = [], [node_id]
        children: dict[int, list[int]] = {}
        for n in found.values():
            if n["id"] != node_id:
                children.setdefault(n["parent_id"], []).append(n["id"])
        while frontier:
            ordered.extend(found[i] for i in frontier)
            frontier = [c for i in frontier for c in sorted(children.get(i, []))]
        return ordered

    def children(self, conn: Connection, folder_id: int, order_by: list[Any], *,
                 limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        total = conn.execute(select(func.count()).select_from(file_nodes)
                             .where(file_nodes.c.parent_id == folder_id)).scalar_one()
        rows = conn.execute(node_select().where(file_nodes.c.parent_id == folder_id)
                            .order_by(*order_by).limit(limit).offset(offset))
        return total, [dict(r._mapping) for r in rows]

    # --- placing --------------------------------------------------------------------------

    def free_name(self, conn: Connection, parent_id: int, name: str) -> str:
        """`name`, or the first `name (n)` not taken in the folder."""
        taken = set(conn.execute(select(file_nodes.c.name).where(
            file_nodes.c.parent_id == parent_id)).scalars())
        n, candidate = 1, name
        while candidate in taken:
            candidate = numbered(name, n)
            n += 1
        return candidate

    def insert(self, tx: Tx, *, project_id: int, parent_id: int, name: str, kind: str,
               metadata: dict[str, Any], tags: list[str], user_id: int | None,
               blob: dict[str, Any] | None = None, content_type: str | None = None,
               created_on: datetime | None = None) -> dict[str, Any]:
        now = utcnow()
        try:
            with tx.conn.begin_nested():
                node_id = tx.execute(insert(file_nodes).values(
                    project_id=project_id, parent_id=parent_id, kind=kind, name=name,
                    metadata=metadata, tags=tags, blob_id=blob["id"] if blob else None,
                    size=blob["size"] if blob else 0, content_type=content_type, version=1,
                    created_by=user_id, created_on=created_on or now, updated_on=now,
                )).inserted_primary_key[0]
        except IntegrityError:
            raise Conflict(f"{name!r} was just created in this folder by someone else.",
                           name=name) from None
        return self.node(tx.conn, project_id, node_id)

    def replace_content(self, tx: Tx, node: dict[str, Any], *, blob: dict[str, Any],
                        content_type: str | None, metadata: dict[str, Any] | None,
                        tags: list[str] | None, user_id: int | None) -> dict[str, Any]:
        """Overwrite a file: its current content and metadata become a version (the blob
        reference moves to the version, so no count changes for it)."""
        now = utcnow()
        tx.execute(insert(file_versions).values(
            node_id=node["id"], version=node["version"], name=node["name"],
            metadata=node["metadata"], tags=node["tags"], blob_id=node["blob_id"],
            size=node["size"], content_type=node["content_type"],
            created_by=node["created_by"], created_on=node["updated_on"], replaced_on=now,
        ))
        tx.execute(update(file_nodes).where(file_nodes.c.id == node["id"]).values(
            blob_id=blob["id"], size=blob["size"], content_type=content_type,
            metadata=node["metadata"] if metadata is None else metadata,
            tags=node["tags"] if tags is None else tags,
            version=node["version"] + 1, created_by=user_id, updated_on=now,
        ))
        return self.node(tx.conn, node["project_id"], node["id"])

    def versions(self, conn: Connection, node_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(file_versions, file_blobs.c.md5, file_blobs.c.sha256,
                   file_blobs.c.multipart_etag, file_blobs.c.key)
            .select_from(file_versions.join(file_blobs,
                                            file_blobs.c.id == file_versions.c.blob_id))
            .where(file_versions.c.node_id == node_id)
            .order_by(file_versions.c.version.desc()))
        return [dict(r._mapping) for r in rows]

    # --- removing ----------------------------------------------------------------------------

    def remove(self, tx: Tx, node: dict[str, Any]) -> list[int]:
        """Delete a node and its subtree, releasing every blob they held; returns the ids."""
        nodes = self.subtree(tx.conn, node["id"])
        ids = [n["id"] for n in nodes]
        held: dict[int, int] = {}
        for n in nodes:
            if n["blob_id"] is not None:
                held[n["blob_id"]] = held.get(n["blob_id"], 0) + 1
        versions = tx.execute(select(file_versions.c.blob_id)
                              .where(file_versions.c.node_id.in_(ids)))
        for row in versions:
            held[row.blob_id] = held.get(row.blob_id, 0) + 1
        tx.execute(delete(file_versions).where(file_versions.c.node_id.in_(ids)))
        for n in reversed(nodes):  # children first: no cascade needed, same on both
            tx.execute(delete(file_nodes).where(file_nodes.c.id == n["id"]))
        for blob_id, count in held.items():
            self.blobs.release(tx, blob_id, count)
        return ids


def _node_id(ref: NodeRef) -> int:
    text = str(ref).strip()
    if not text.isdigit():
        raise NotFound(f"No file or folder {ref!r}: ids are numbers, or 'root'.")
    return int(text)
