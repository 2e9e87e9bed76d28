"""Native routes of the files tree: nodes, folders, metadata, children, ancestors, copies,
deletes, versions and queries. `{project}` is an id, gid or uuid; `{node}` a node id or
`root`. Transfers (uploads, downloads, sessions) are in transfer_routes.py."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response

from cloudlet.server.core.errors import Invalid
from cloudlet.server.files import schemas as s
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope

router = APIRouter(tags=["files"])
P = "/projects/{project}"
MetadataBody = Annotated[dict[str, Any], Body(description="Metadata keys (merge: null removes)")]


def _node_ref(node: str) -> int | str:
    return "root" if node == "root" else int(node) if node.isdigit() else node


def parse_filter(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Invalid("filter must be a JSON object, like {\"size\": {\"$gt\": 10}}.") from None


@router.get(P + "/files", response_model=Page[s.Node])
def query_files(
    project: str, request: Request, page: Paging, caller: Caller, services: Svc,
    filter: str | None = Query(None, description='Mongo-style JSON, e.g. {"run": {"$gte": 3}}'),
    sort: str | None = Query(None, description='Fields, "-" for descending: "-size,name"'),
) -> dict[str, Any]:
    """Files and folders matching a metadata filter (every node without one)."""
    total, found = services.files.query(caller, project, parse_filter(filter), sort=sort,
                                        limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found)


@router.post(P + "/files/query", response_model=Page[s.Node])
def query_files_post(project: str, body: s.QueryRequest, caller: Caller, services: Svc
                     ) -> dict[str, Any]:
    """The same query with the filter in a JSON body (for long filters); `limit` 0 counts."""
    limit = min(body.limit, 1000)
    total, found = services.files.query(caller, project, body.filter, sort=body.sort,
                                        limit=limit, offset=body.offset)
    return {"count": total, "next": None, "previous": None, "results": found}


@router.get(P + "/files/by-path", response_model=s.Node)
def get_by_path(project: str, caller: Caller, services: Svc,
                path: str = Query(max_length=4096, description="`/a/b/c`")) -> dict[str, Any]:
    return services.files.by_path(caller, project, path)


@router.post(P + "/files/delete", response_model=s.Deleted)
def delete_many(project: str, body: s.DeleteMany, caller: Caller, services: Svc
                ) -> dict[str, Any]:
    """Delete many files and folders (folders recursively) in one transaction."""
    return {"deleted": services.files.delete(caller, project, list(body.ids))}


@router.post(P + "/folders", response_model=s.Node, status_code=201)
def create_folder(project: str, body: s.FolderCreate, response: Response, caller: Caller,
                  services: Svc) -> dict[str, Any]:
    """A folder by name (in `parent`) or by `path` (missing folders are made, mkdir -p).
    201 when made, 200 when an existing folder is returned."""
    folder, created = services.files.mkdir(
        caller, project, name=body.name, parent=body.parent, path=body.path,
        metadata=body.metadata, tags=body.tags, on_conflict=body.on_conflict)
    if not created:
        response.status_code = 200
    return folder


@router.get(P + "/files/{node}", response_model=s.Node)
def get_node(project: str, node: str, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.files.get(caller, project, _node_ref(node))


@router.patch(P + "/files/{node}", response_model=s.Node)
def update_node(project: str, node: str, body: s.NodeUpdate, caller: Caller, services: Svc
                ) -> dict[str, Any]:
    """Rename, move (into `parent`) or re-tag."""
    return services.files.update(caller, project, _node_ref(node), name=body.name,
                                 parent=body.parent, tags=body.tags,
                                 on_conflict=body.on_conflict)


@router.delete(P + "/files/{node}", status_code=204)
def delete_node(project: str, node: str, caller: Caller, services: Svc) -> Response:
    """Delete a file, or a folder with everything in it."""
    services.files.delete(caller, project, [_node_ref(node)])
    return Response(status_code=204)


@router.patch(P + "/files/{node}/metadata", response_model=s.Node)
def merge_metadata(project: str, node: str, body: MetadataBody, caller: Caller,
                   services: Svc) -> dict[str, Any]:
    """Merge keys into the metadata."""
    return services.files.set_metadata(caller, project, _node_ref(node), body)


@router.put(P + "/files/{node}/metadata", response_model=s.Node)
def replace_metadata(project: str, node: str, body: MetadataBody, caller: Caller,
                     services: Svc) -> dict[str, Any]:
    """Replace the metadata."""
    return services.files.set_metadata(caller, project, _node_ref(node), body, replace=True)


@router.get(P + "/files/{node}/children", response_model=Page[s.Node])
def children(
    project: str, node: str, request: Request, page: Paging, caller: Caller, services: Svc,
    sort: str | None = Query(None, description='Default "-type,name" (folders first)'),
) -> dict[str, Any]:
    total, found = services.files.children(caller, project, _node_ref(node), sort=sort,
                                           limit=page.limit, offset=page.offset)
    return envelope(request, page, total, found)


@router.get(P + "/files/{node}/ancestors", response_model=list[s.Node])
def ancestors(project: str, node: str, caller: Caller, services: Svc) -> list[dict[str, Any]]:
    """The folders from the root down to the node's parent."""
    return services.files.ancestors(caller, project, _node_ref(node))


@router.post(P + "/files/{node}/copy", response_model=s.Node, status_code=201)
def copy_node(project: str, node: str, body: s.CopyRequest, caller: Caller, services: Svc
              ) -> dict[str, Any]:
    """Copy a file or a whole folder; the copies share the bytes."""
    return services.files.copy(caller, project, _node_ref(node), parent=body.parent,
                               name=body.name, on_conflict=body.on_conflict)


@router.get(P + "/files/{node}/versions", response_model=list[s.Version])
def versions(project: str, node: str, caller: Caller, services: Svc) -> list[dict[str, Any]]:
    """Earlier contents of a file, newest first."""
    return services.files.versions(caller, project, _node_ref(node))
