"""Authorization rows of datasets, rows, features, exports, imports and positions."""

from __future__ import annotations

from typing import Any

from tests.authz.table import Row, expect, register
from tests.authz.world import World

API = "/api/v1"
BASE = f"{API}/projects/{{project}}/datasets"
HIDDEN = {"outsider": 404, "superuser": 404, "other_project_token": 404}
READ = expect(200, **HIDDEN)
COLUMNS = [{"name": "name", "type": "text"},
           {"name": "where", "type": "geometry", "geometry_type": "point"}]


def write(status: int) -> dict[str, int]:
    return expect(status, read_token=403, **HIDDEN)


def _made(world: World, key: str, kind: str = "table") -> int:
    """A dataset of the world's project, made once per world."""
    cache = world.__dict__.setdefault("_datasets", {})
    if key not in cache:
        with world.owner_client() as c:
            answer = c.post(f"/projects/{world.project['id']}/datasets",
                            json={"name": key, "kind": kind, "columns": [] if kind ==
                                  "realtime" else COLUMNS})
            answer.raise_for_status()
            cache[key] = answer.json()["id"]
    return int(cache[key])


def _row(world: World) -> str:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/datasets/{_made(world, 'main')}/rows",
                        json={"name": "a", "where": {"type": "Point", "coordinates": [1, 2]}})
        answer.raise_for_status()
        return str(answer.json()["amigo_id"])


def _dataset(world: World) -> dict[str, Any]:
    return {"dataset": _made(world, "main")}


def _with_row(world: World) -> dict[str, Any]:
    return {"dataset": _made(world, "main"), "amigo_id": _row(world)}


def _fresh_dataset(world: World) -> dict[str, Any]:
    with world.owner_client() as c:
        answer = c.post(f"/projects/{world.project['id']}/datasets", json={"name": "doomed"})
        answer.raise_for_status()
        return {"dataset": answer.json()["id"]}


def _import(world: World) -> dict[str, Any]:
    cache = world.__dict__.setdefault("_datasets", {})
    if "import" not in cache:
        with world.owner_client() as c:
            answer = c.post(f"/projects/{world.project['id']}/imports",
                            params={"filename": "a.csv", "wait": 30},
                            content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
            answer.raise_for_status()
            cache["import"] = answer.json()["id"]
    return {"import_id": cache["import"]}


POINT = {"type": "Point", "coordinates": [3, 4]}
COLLECTION = {"type": "FeatureCollection",
              "features": [{"type": "Feature", "geometry": POINT, "properties": {"n": 1}}]}

register(
    Row("GET", BASE, READ),
    Row("POST", BASE, write(201), body=lambda w, c: {"name": "new", "columns": COLUMNS}),
    Row("GET", f"{BASE}/{{dataset}}", READ, params=_dataset),
    Row("PATCH", f"{BASE}/{{dataset}}", write(200), params=_dataset,
        body=lambda w, c: {"description": "changed"}),
    Row("DELETE", f"{BASE}/{{dataset}}", write(204), params=_fresh_dataset),
    Row("GET", f"{BASE}/{{dataset}}/rows", READ, params=_dataset),
    Row("POST", f"{BASE}/{{dataset}}/rows", write(201), params=_dataset,
        body=lambda w, c: {"name": c}),
    Row("GET", f"{BASE}/{{dataset}}/rows/{{amigo_id}}", READ, params=_with_row),
    Row("PATCH", f"{BASE}/{{dataset}}/rows/{{amigo_id}}", write(200), params=_with_row,
        body=lambda w, c: {"name": "changed"}),
    Row("DELETE", f"{BASE}/{{dataset}}/rows/{{amigo_id}}", write(204), params=_with_row),
    Row("GET", f"{BASE}/{{dataset}}/features", READ, params=_dataset),
    Row("POST", f"{BASE}/{{dataset}}/features", write(201), params=_dataset,
        body=lambda w, c: {"type": "Feature", "geometry": POINT, "properties": {"name": c}}),
    Row("GET", f"{BASE}/{{dataset}}/features/{{amigo_id}}", READ, params=_with_row),
    Row("PATCH", f"{BASE}/{{dataset}}/features/{{amigo_id}}", write(200), params=_with_row,
        body=lambda w, c: {"type": "Feature", "properties": {"name": "moved"},
                           "geometry": POINT}),
    Row("DELETE", f"{BASE}/{{dataset}}/features/{{amigo_id}}", write(204), params=_with_row),
    Row("GET", f"{BASE}/{{dataset}}/export", READ, params=_dataset,
        query=lambda w: {"format": "geojson"}),
    Row("POST", f"{BASE}/{{dataset}}/positions", write(200),
        params=lambda w: {"dataset": _made(w, "moving", "realtime")},
        body=lambda w, c: {"positions": [{"object_id": c, "latitude": 1.5,
                                          "longitude": 2.5}]}),
    Row("POST", f"{API}/projects/{{project}}/imports", write(202),
        body=lambda w, c: COLLECTION),
    Row("GET", f"{API}/projects/{{project}}/imports", READ),
    Row("GET", f"{API}/projects/{{project}}/imports/{{import_id}}", READ, params=_import),
)
