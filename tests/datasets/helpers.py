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


def open_session(c: httpx.Client, project: int, total: int | None) -> str:
    """A resumable upload opened without a name (it completes as an import or a photo)."""
    answer = c.post(f"/projects/{project}/uploads", json={"total": total})
    assert answer.status_code == 201, answer.text
    assert answer.json()["kind"] == "blob"
    return str(answer.json()["id"])


def send_chunk(c: httpx.Client, project: int, upload_id: str, data: bytes, start: int,
               total: int) -> httpx.Response:
    return c.put(f"/projects/{project}/uploads/{upload_id}", content=data, headers={
        "content-type": "application/octet-stream",
        "content-range": f"bytes {start}-{start + len(data) - 1}/{total}"})


def chunked(c: httpx.Client, project: int, data: bytes, chunk: int = 100_000) -> str:
    """Send `data` in chunks through a new session; returns the upload id."""
    upload_id = open_session(c, project, len(data))
    for at in range(0, len(data), chunk):
        answer = send_chunk(c, project, upload_id, data[at:at + chunk], at, len(data))
        assert answer.status_code == 200, answer.text
    return upload_id


def blob_stored(server: Any, sha256: str) -> bool:
    """Whether the local blob store holds bytes with this sha256."""
    return bool((server.data_dir / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256)
                .exists())
