"""Test-only endpoints (mounted with `CLOUDLET_DEBUG_ENDPOINTS=true`, never in OpenAPI)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cloudlet.server.http.problems import problem

router = APIRouter(include_in_schema=False)
_calls: Counter[str] = Counter()


@router.api_route("/_debug/flaky/{key}", methods=["GET", "POST", "PUT", "DELETE"])
def flaky(key: str, fail: int = 2, status: int = 503, retry_after: int | None = None
          ) -> JSONResponse:
    """Fails `fail` times per key with `status`, then answers 200 with the attempt count."""
    _calls[key] += 1
    if _calls[key] <= fail:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return problem(status, f"deliberate failure {_calls[key]} of {fail}", headers)
    return JSONResponse({"key": key, "attempts": _calls[key]})


@router.post("/_debug/publish")
def publish(request: Request, body: dict[str, Any]) -> JSONResponse:
    """Publish `count` events of `size` padding bytes on `topic`, `interval` seconds apart."""
    events = request.app.state.services.events
    count, size = int(body.get("count", 1)), int(body.get("size", 0))
    interval = float(body.get("interval", 0))
    for i in range(count):
        events.publish(body["topic"], body.get("event", "debug"), {"i": i, "pad": "x" * size})
        if interval:
            time.sleep(interval)
    return JSONResponse({"published": count})


@router.get("/_debug/status/{code}")
def status(code: int) -> JSONResponse:
    """Answers with any status, for exercising client error classes."""
    return problem(code, f"deliberate {code}")
