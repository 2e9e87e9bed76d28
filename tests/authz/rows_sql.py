"""Authorization rows of the SQL endpoint: GET needs read access, POST write access."""

from __future__ import annotations

from tests.authz.table import Row, expect, register

API = "/api/v1"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}

register(
    Row("GET", f"{API}/projects/{{project}}/sql", expect(200, **HIDDEN),
        query=lambda w: {"query": "SELECT 1 AS one"}),
    Row("POST", f"{API}/projects/{{project}}/sql", expect(200, read_token=403, **HIDDEN),
        body=lambda w, c: {"query": "SELECT 1 AS one"}),
)
