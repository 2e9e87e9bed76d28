"""AmigoCloud's JSON: absolute URLs under the face's prefix, and the `me`, project and
dataset objects with the field names the client and its samples read."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

API = "/amigocloud/api/v1"


def url(request: Request, path: str, **params: Any) -> str:
    """An absolute face URL (the client follows every URL it is given verbatim)."""
    public = request.app.state.settings.public_url
    root = (public or str(request.base_url)).rstrip("/")
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{root}{API}/{path.strip('/')}" + (f"?{query}" if query else "")


def timestamp(value: Any) -> str | None:
    """ISO 8601 in UTC with a `Z`, as AmigoCloud writes `created_on`."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def me(request: Request, profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": profile["id"],
        "username": profile["username"],
        "first_name": profile.get("first_name") or "",
        "last_name": profile.get("last_name") or "",
        "email": profile.get("email") or "",
        "projects": url(request, "me/projects"),
        "visible_projects": url(request, "me/projects"),
        "images": url(request, "me/images"),
        "start_websocket_session": url(request, "me/start_websocket_session"),
    }


def project(request: Request, p: dict[str, Any], owner_id: int) -> dict[str, Any]:
    base = f"users/{owner_id}/projects/{p['id']}"
    return {
        "id": p["id"],
        "url": url(request, base),
        "owner_id": owner_id,
        "name": p["name"],
        "description": p.get("description") or "",
        "organization": p.get("org"),
        "created_on": timestamp(p.get("created_at")),
        "last_updated": timestamp(p.get("updated_at")),
        "datasets": url(request, f"{base}/datasets"),
        "sql": url(request, f"{base}/sql"),
        "upload": url(request, f"{base}/datasets/upload"),
        "chunked_upload": url(request, f"{base}/datasets/chunked_upload"),
        "chunked_upload_complete": url(request, f"{base}/datasets/chunked_upload/complete"),
        "base_layers": url(request, f"{base}/base_layers"),
    }


def dataset(request: Request, d: dict[str, Any], project_id: int, owner_id: int
            ) -> dict[str, Any]:
    base = f"users/{owner_id}/projects/{project_id}/datasets/{d['id']}"
    return {
        "id": d["id"],
        "url": url(request, base),
        "project": project_id,
        "name": d["name"],
        "table_name": d.get("table_name"),
        "feature_count": d.get("feature_count", 0),
        "type": d.get("kind"),
        "boundingbox": d.get("bbox"),
        "start_websocket_session": url(request, f"{base}/start_websocket_session"),
    }


def thumbnail_png(size: int = 8) -> bytes:
    """A plain grey square: Cloudlet keeps no avatars, but the client expects PNG bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + b"\xb0" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
