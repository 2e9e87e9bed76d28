"""`client.sql(project, query)`: PostgreSQL/PostGIS over a project's datasets, as a cursor.

Reads go out as GET; a statement that starts with INSERT, UPDATE or DELETE (or `write=True`) is
POSTed. The cursor pages through `data` by following the server's `next` links; `.get("columns")`
and `.get("count")` read the answer's other fields, `to_pandas()` collects every row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cloudlet.client.calls import Params
from cloudlet.client.cursor import AsyncCursor, Cursor

__all__ = ["AsyncSqlCursor", "SqlCursor", "is_write"]

_WRITE = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(insert|update|delete)\b", re.I | re.S)


def is_write(query: str) -> bool:
    """Whether the statement changes rows (so goes out as POST)."""
    return _WRITE.match(query) is not None


def _frame(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Any:
    try:
        import pandas
    except ImportError:  # pandas is an optional extra
        raise ImportError("to_pandas() needs pandas: pip install 'cloudlet[pandas]'") from None
    names = [c["name"] for c in columns]
    return pandas.DataFrame([[row.get(n) for n in names] for row in rows], columns=names)


class SqlCursor(Cursor):
    """Rows of a SQL answer across pages: `for row in cursor`, `cursor.get("columns")`,
    `cursor.get("count")`, `cursor.to_pandas()`."""

    items_key = "data"

    def to_pandas(self) -> Any:
        """The remaining rows as a `pandas.DataFrame` (geometries as GeoJSON dicts, or WKT)."""
        rows = list(self)
        return _frame(self._field("columns", []), rows)


class AsyncSqlCursor(AsyncCursor):
    items_key = "data"

    async def to_pandas(self) -> Any:
        rows = [row async for row in self]
        return _frame(self._field("columns", []), rows)


def first_post(post: Callable[[str, Any, Params | None], Any], get: Callable[..., Any],
               body: dict[str, Any]) -> Callable[[str, Params | None], Any]:
    """A fetch that POSTs the statement for the first page, then follows `next` with GET."""
    state = {"first": True}

    def fetch(url: str, params: Params | None) -> Any:
        if state["first"]:
            state["first"] = False
            return post(url, body, params)
        return get(url, params)

    return fetch


def sql_request(project: Any, query: str, params: Params | None, write: bool | None,
                segment: Callable[[object], str]) -> tuple[str, dict[str, Any] | None,
                                                           dict[str, Any]]:
    """(path, params for a GET or None for a POST, the POST body)."""
    path = f"/projects/{segment(project)}/sql"
    extra = {k: v for k, v in (params or {}).items() if v is not None}
    if write if write is not None else is_write(query):
        return path, None, {"query": query, **extra}
    return path, {"query": query, **extra}, {}

