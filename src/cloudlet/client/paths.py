"""The attribute-style escape hatch for any path the typed resources do not cover yet:
`client.api.orgs("acme").projects.get(limit=5)` is `client.get("orgs/acme/projects",
{"limit": 5})`.

Attributes and call arguments become path segments (escaped); `get`, `post`, `put`, `patch`,
`delete` and `paginate` make the call. A segment that is one of those names, or is not a
Python identifier, goes in a call: `client.api("_debug", "status", 404).get()`. Paths are
relative, so on a project-scoped client they are under the project, like `client.get("x")`.
"""

from __future__ import annotations

from typing import Any

from cloudlet.client.connection import segment
from cloudlet.client.resources import Caller

__all__ = ["ApiPath"]


class ApiPath:
    """A path under the API, growing one segment per attribute or call argument."""

    def __init__(self, client: Caller, segments: tuple[str, ...] = ()) -> None:
        self._client = client
        self._segments = segments

    def __getattr__(self, name: str) -> ApiPath:
        if name.startswith("__"):
            raise AttributeError(name)
        return ApiPath(self._client, (*self._segments, name))

    def __call__(self, *segments: object) -> ApiPath:
        return ApiPath(self._client, (*self._segments, *(str(s) for s in segments)))

    @property
    def path(self) -> str:
        return "/".join(segment(s) for s in self._segments)

    def __repr__(self) -> str:
        return f"<ApiPath {self.path or '.'}>"

    def get(self, **params: Any) -> Any:
        return self._client.get(self.path, params or None)

    def paginate(self, **params: Any) -> Any:
        """A cursor over this list endpoint."""
        return self._client.paginate(self.path, params or None)

    def post(self, data: Any = None, **options: Any) -> Any:
        return self._client.post(self.path, data, **options)

    def put(self, data: Any = None, **options: Any) -> Any:
        return self._client.put(self.path, data, **options)

    def patch(self, data: Any = None, **options: Any) -> Any:
        return self._client.patch(self.path, data, **options)

    def delete(self, data: Any = None, **options: Any) -> Any:
        return self._client.delete(self.path, data, **options)
