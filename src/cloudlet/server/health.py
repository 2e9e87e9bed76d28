"""Liveness: answers without credentials, for load balancers and start-up checks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cloudlet import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}
