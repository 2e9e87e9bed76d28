"""Helpers of the files tests: raw uploads and downloads through the native API."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.files.s3 import s3_server
from tests.support.accounts import TestUser

__all__ = ["s3_server", "upload", "uploaded"]


def upload(user: TestUser, name: str, content: bytes, *, project: Any = None,
           metadata: dict[str, Any] | None = None, **params: Any) -> httpx.Response:
    project = project or user.home_project["id"]
    query = {"name": name, **params}
    if metadata is not None:
        query["metadata"] = json.dumps(metadata)
    with user.client() as c:
        return c.post(f"/projects/{project}/files", params=query, content=content,
                      headers={"content-type": "application/octet-stream"})


def uploaded(user: TestUser, name: str, content: bytes = b"x", **options: Any
             ) -> dict[str, Any]:
    answer = upload(user, name, content, **options)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())
