"""What a client starts with unless told otherwise: timeouts, retries, headers."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from cloudlet import __version__
from cloudlet.client.retries import RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "TimeoutTypes", "client_headers", "retry_policy"]

TimeoutTypes = float | httpx.Timeout | None
DEFAULT_TIMEOUT: httpx.Timeout = httpx.Timeout(30.0, connect=10.0)
"""Generous for slow queries, quick to notice a server that is not there at all."""

USER_AGENT = f"cloudlet-python/{__version__}"


def client_headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    return {"User-Agent": USER_AGENT, **(extra or {})}


def retry_policy(retries: int | RetryPolicy) -> RetryPolicy:
    """A client's `retries=` option: a count of retries, or a whole policy."""
    return retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries)
