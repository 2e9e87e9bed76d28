"""Authorization rows of the realtime routes (the websocket is tested in tests/events)."""

from __future__ import annotations

from tests.authz.table import Row, expect, register

API = "/api/v1"

register(
    # following a project's topic needs read access to the project
    Row("GET", f"{API}/events",
        expect(200, outsider=404, superuser=404, other_project_token=404),
        query=lambda w: {"topics": f"project:{w.project['id']}"}, stream=True),
)
