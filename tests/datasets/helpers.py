"""Small helpers the dataset tests share: uploads, and reading a dataset back."""

from __future__ import annotations

from typing import Any

import httpx


def upload(c: httpx.Client, project: int, data: bytes, filename: str, *, wait: float = 60,
           **params: Any) -> httpx.Response:
    """POST a raw-body import and wait for it."""
    return c.post(f"/projects/{project}/imports", content=data,
                  params={"filename": filename, "wait": wait, **params},
                  headers={"content-type": "application/octet-stream"}, timeout=120)


def imported(c: httpx.Client, project: int, data: bytes, filename: str, **params: Any
             ) -> dict[str, Any]:
    """The one dataset an import made (asserting it succeeded)."""
    answer = upload(c, project, data, filename, **params)
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert job["state"] == "succeeded" and len(job["datasets"]) == 1, job
    return dict(job["datasets"][0])


def rows(c: httpx.Client, project: int, dataset: int, **params: Any) -> list[dict[str, Any]]:
    answer = c.get(f"/projects/{project}/datasets/{dataset}/rows",
                   params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


def names(c: httpx.Client, project: int) -> list[str]:
    answer = c.get(f"/projects/{project}/datasets", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return [d["name"] for d in answer.json()["results"]]


def export(c: httpx.Client, project: int, dataset: int, format: str, **params: Any) -> bytes:
    answer = c.get(f"/projects/{project}/datasets/{dataset}/export",
                   params={"format": format, **params})
    assert answer.status_code == 200, answer.text
    return answer.content
