"""The one list envelope: `{count, next, previous, results}` with `limit`/`offset` and
absolute `next`/`previous` URLs; `count` is the total on every page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from cloudlet.server.core.errors import Invalid

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def absolute_url(request: Request, **replace: Any) -> str:
    """This request's URL, made absolute against `public_url`, with some params replaced."""
    url = request.url.include_query_params(**replace)
    public = request.app.state.settings.public_url
    if public:
        root = public.rstrip("/")
        return root + url.path + (f"?{url.query}" if url.query else "")
    return str(url)


def page_params(
    request: Request,
    limit: Annotated[int | None, Query(description="Items per page (capped)")] = None,
    offset: Annotated[int, Query(description="Items to skip")] = 0,
) -> PageParams:
    settings = request.app.state.settings
    if limit is None:
        limit = settings.page_size
    if limit < 1 or offset < 0:
        raise Invalid("limit must be at least 1 and offset at least 0.")
    return PageParams(limit=min(limit, settings.max_page_size), offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]


def envelope(
    request: Request,
    params: PageParams,
    total: int,
    results: list[Any],
    shape: Callable[[Any], Any] = lambda item: item,
) -> dict[str, Any]:
    end = params.offset + params.limit
    nxt = absolute_url(request, limit=params.limit, offset=end) if end < total else None
    prev = None
    if params.offset > 0:
        prev = absolute_url(
            request, limit=params.limit, offset=max(0, params.offset - params.limit)
        )
    return {"count": total, "next": nxt, "previous": prev, "results": [shape(r) for r in results]}
