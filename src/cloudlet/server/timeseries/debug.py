"""Test-only endpoints of the point store (mounted with `CLOUDLET_DEBUG_ENDPOINTS=true`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(include_in_schema=False)


@router.post("/_debug/timeseries/pause")
def pause_writer(request: Request, seconds: float = 1.0) -> dict[str, Any]:
    """Hold the point writer, so that tests can fill its queue."""
    request.app.state.services.ingest.writer.pause(seconds)
    return {"paused": seconds}


@router.post("/_debug/timeseries/compact")
def compact(request: Request) -> dict[str, Any]:
    """Compact every stream that needs it, now."""
    return {"compacted": request.app.state.services.ingest.writer.compact_all()}


@router.get("/_debug/timeseries/stats/{stream_id}")
def stats(request: Request, stream_id: int) -> dict[str, Any]:
    services = request.app.state.services
    with services.db.read() as conn:
        chunks, head = services.ingest.store.chunk_stats(conn, stream_id)
    return {"chunks": chunks, "head": head}


@router.get("/_debug/timeseries/parsers")
def parsers(request: Request) -> dict[str, int]:
    """How many parse helpers are up, and how many bodies they have parsed."""
    return dict(request.app.state.services.ingest.parsers.stats())
