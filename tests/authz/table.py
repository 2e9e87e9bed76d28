"""The authorization table: every native route × every kind of caller → expected status.

Each domain registers its rows in a `rows_<domain>.py` module beside this one (found by
name), so later domains add rows without editing a shared list. `test_matrix.py` fails when an
OpenAPI route has no row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CALLERS = (
    "anonymous",
    "owner",  # session of the user who owns the org and project
    "org_member",  # session of a plain member of that org
    "outsider",  # session of a user of another org
    "superuser",  # the installation's admin, no member of anything here
    "read_token",  # the owner's API tokens, by scope
    "write_token",
    "admin_token",
    "project_token",  # the owner's write token restricted to this project
    "other_project_token",  # … restricted to another project of the owner
    "expired_token",
    "revoked_token",
)
UNAUTHENTICATED = ("anonymous", "expired_token", "revoked_token")
# faces mounted as apps of their own, outside the native OpenAPI (their rows aren't in it)
MOUNTED_FACES = ("/iotile/",)


def expect(default: int, **overrides: int) -> dict[str, int]:
    """`default` for every valid caller, 401 for anonymous/expired/revoked, then overrides."""
    table = {caller: (401 if caller in UNAUTHENTICATED else default) for caller in CALLERS}
    unknown = set(overrides) - set(CALLERS)
    assert not unknown, f"unknown callers {unknown}"
    table.update(overrides)
    return table


def public(status: int) -> dict[str, int]:
    """An endpoint that needs no caller: credentials, even bad ones, don't matter."""
    return {caller: status for caller in CALLERS}


@dataclass
class Row:
    method: str
    route: str  # the OpenAPI path template, e.g. /api/v1/projects/{project}
    expect: dict[str, int]
    # path parameters for one call (called once per caller, so it can make fresh objects)
    params: Callable[[Any], dict[str, Any]] | None = None
    body: Callable[[Any, str], Any] | None = None  # (world, caller) -> JSON body
    fresh_caller: bool = False  # the call uses up the caller's credential (logout)
    disruptive: bool = False  # the call may revoke the world's sessions; re-login after
    query: Callable[[Any], dict[str, Any]] | None = None  # world -> query parameters
    stream: bool = False  # an endless response (SSE): check the status, then hang up
    content: Callable[[Any, str], bytes] | None = None  # a raw body instead of JSON
    foreign: bool = False  # a legacy face: errors in its own JSON shape, not problem+json
    headers: Callable[[Any], dict[str, str]] | None = None  # world -> extra request headers

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"


ROWS: list[Row] = []


def register(*rows: Row) -> None:
    ROWS.extend(rows)
