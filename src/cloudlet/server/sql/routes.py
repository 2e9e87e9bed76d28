"""`GET/POST /projects/{project}/sql`: thin over `SqlService`.

The answer is `{columns: [{name, type}], data: [row objects], count, next, previous}`; `count`
is the total on every page and `next`/`previous` are absolute URLs (GET links, which carry the
query). A write answers its RETURNING rows, with `count` the rows it changed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cloudlet.server.core.errors import Invalid
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Paging, absolute_url
from cloudlet.server.sql.engine import Answer

router = APIRouter(tags=["sql"])
GeometryFormat = Literal["geojson", "wkt"]


class Column(BaseModel):
    name: str
    type: str = Field(description="integer, number, string, boolean, date, datetime, json, "
                                  "bytes or geometry")


class SqlAnswer(BaseModel):
    columns: list[Column]
    data: list[dict[str, Any]]
    count: int = Field(description="Rows of the whole result (a write: rows changed)")
    next: str | None
    previous: str | None


class SqlBody(BaseModel):
    query: str = Field(description="One PostgreSQL/PostGIS statement")
    limit: int | None = Field(default=None, ge=1, description="Rows per page (capped)")
    offset: int | None = Field(default=None, ge=0, description="Rows to skip")
    geometry: GeometryFormat | None = Field(default=None,
                                            description="How geometries come back")


def _answer(request: Request, answer: Answer, query: str, limit: int, offset: int,
            geometry: str) -> dict[str, Any]:
    body: dict[str, Any] = {**answer.body(), "next": None, "previous": None}
    if answer.checked.writes:
        return body
    extra = {"geometry": geometry} if geometry != "geojson" else {}
    if offset + limit < answer.count:
        body["next"] = absolute_url(request, query=query, limit=limit, offset=offset + limit,
                                    **extra)
    if offset > 0:
        body["previous"] = absolute_url(request, query=query, limit=limit,
                                        offset=max(0, offset - limit), **extra)
    return body


@router.get("/projects/{project}/sql", response_model=SqlAnswer)
def sql_read(
    project: str,
    request: Request,
    page: Paging,
    caller: Caller,
    services: Svc,
    query: Annotated[str, Query(description="One read-only statement (SELECT or WITH)")],
    geometry: Annotated[GeometryFormat, Query(description="How geometries come back")
                        ] = "geojson",
) -> dict[str, Any]:
    """Run a read-only statement on the project's datasets (needs read access)."""
    answer = services.sql.run(caller, project, query, write=False, limit=page.limit,
                              offset=page.offset, geometry_format=geometry)
    return _answer(request, answer, query, page.limit, page.offset, geometry)


@router.post("/projects/{project}/sql", response_model=SqlAnswer)
def sql_write(
    project: str, body: SqlBody, request: Request, page: Paging, caller: Caller, services: Svc
) -> dict[str, Any]:
    """Run a statement that may also INSERT, UPDATE or DELETE rows of the project's dataset
    tables (needs write access)."""
    settings = request.app.state.settings
    limit = min(body.limit, settings.max_page_size) if body.limit else page.limit
    offset = body.offset if body.offset is not None else page.offset
    geometry = body.geometry or request.query_params.get("geometry", "geojson")
    if geometry not in ("geojson", "wkt"):
        raise Invalid("geometry must be geojson or wkt.")
    answer = services.sql.run(caller, project, body.query, write=True, limit=limit,
                              offset=offset, geometry_format=geometry)
    return _answer(request, answer, body.query, limit, offset, geometry)
