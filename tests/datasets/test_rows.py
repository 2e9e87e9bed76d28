"""Rows and features over HTTP: schemas, CRUD, bad values that change nothing, bbox and
column filters, pagination, and the catalogue's feature_count and bbox kept current."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.datasets.helpers import rows
from tests.support.accounts import TestUser

SCHEMA = [
    {"name": "name", "type": "text"}, {"name": "count", "type": "integer"},
    {"name": "score", "type": "real"}, {"name": "ok", "type": "boolean"},
    {"name": "seen", "type": "timestamp"}, {"name": "extra", "type": "json"},
    {"name": "spot", "type": "geometry", "geometry_type": "point"},
]


def _dataset(c: httpx.Client, p: int, columns: list[dict[str, Any]] = SCHEMA) -> dict[str, Any]:
    answer = c.post(f"/projects/{p}/datasets", json={"name": "sites", "columns": columns})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _meta(c: httpx.Client, p: int, d: int) -> dict[str, Any]:
    return dict(c.get(f"/projects/{p}/datasets/{d}").json())


def test_empty_dataset_with_a_schema(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p)
        assert ds["columns"][0] == {"name": "amigo_id", "type": "text", "geometry_type": None}
        assert ds["columns"][-1] == {"name": "spot", "type": "geometry",
                                     "geometry_type": "point"}
        assert ds["geometry_column"] == "spot" and ds["feature_count"] == 0
        assert ds["table_name"] == f"dataset_{ds['id']}" and ds["bbox"] is None
        for bad, words in (
            ([{"name": "Bad Name", "type": "text"}], "lowercase"),
            ([{"name": "amigo_id", "type": "text"}], "reserved"),
            ([{"name": "a", "type": "text"}, {"name": "a", "type": "real"}], "twice"),
            ([{"name": "g", "type": "geometry", "geometry_type": "blob"}], "geometry_type"),
        ):
            answer = c.post(f"/projects/{p}/datasets", json={"name": "x", "columns": bad})
            assert answer.status_code == 400 and words in answer.json()["detail"], answer.text
        answer = c.post(f"/projects/{p}/datasets", json={"name": "x", "columns": [
            {"name": "a", "type": "float"}]})
        assert answer.status_code == 422
        listed = c.get(f"/projects/{p}/datasets").json()
        assert [d["name"] for d in listed["results"]] == ["sites"]
        changed = c.patch(f"/projects/{p}/datasets/{ds['id']}", json={"name": "places"}).json()
        assert changed["name"] == "places"


def test_adding_columns(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p, [{"name": "name", "type": "text"}])
        base = f"/projects/{p}/datasets/{ds['id']}"
        c.post(f"{base}/rows", json={"name": "old"}).raise_for_status()
        changed = c.patch(base, json={"add_columns": [
            {"name": "depth", "type": "real"},
            {"name": "spot", "type": "geometry", "geometry_type": "point"}]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["geometry_column"] == "spot"
        assert [col["name"] for col in changed.json()["columns"]] == [
            "amigo_id", "name", "depth", "spot"]
        assert c.get(f"{base}/rows").json()["results"][0]["depth"] is None
        c.post(f"{base}/rows", json={"name": "new", "depth": 2.5, "spot": "POINT (1 2)"}
               ).raise_for_status()
        assert [r["name"] for r in c.get(f"{base}/rows", params={"bbox": "0,0,3,3"}).json()[
            "results"]] == ["new"]
        assert c.get(base).json()["bbox"] == [1, 2, 1, 2]
        again = c.patch(base, json={"add_columns": [{"name": "depth", "type": "text"}]})
        assert again.status_code == 400 and "already has" in again.json()["detail"]


def test_row_crud_and_summary(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p)
        base = f"/projects/{p}/datasets/{ds['id']}/rows"
        one = c.post(base, json={"name": "a", "count": 3, "score": 1.5, "ok": True,
                                 "seen": "2024-03-01T12:00:00+01:00", "extra": {"k": [1, 2]},
                                 "spot": {"type": "Point", "coordinates": [10, 20]}})
        assert one.status_code == 201, one.text
        row = one.json()
        assert row["seen"] == "2024-03-01T11:00:00Z" and row["extra"] == {"k": [1, 2]}
        assert row["spot"] == {"type": "Point", "coordinates": [10.0, 20.0]}
        many = c.post(base, json={"rows": [
            {"name": "b", "spot": "POINT (-5 -6)"}, {"name": "c", "amigo_id": "my-own-id"}]})
        assert many.status_code == 201 and len(many.json()["rows"]) == 2
        meta = _meta(c, p, ds["id"])
        assert meta["feature_count"] == 3 and meta["bbox"] == [-5, -6, 10, 20]
        assert c.get(f"{base}/my-own-id").json()["name"] == "c"
        dup = c.post(base, json={"name": "again", "amigo_id": "my-own-id"})
        assert dup.status_code == 409

        patched = c.patch(f"{base}/{row['amigo_id']}", json={"count": 4, "spot": None})
        assert patched.status_code == 200 and patched.json()["count"] == 4
        assert patched.json()["spot"] is None and patched.json()["name"] == "a"
        meta = _meta(c, p, ds["id"])
        assert meta["bbox"] == [-5, -6, -5, -6]  # the corner point left the box
        assert c.delete(f"{base}/{many.json()['rows'][0]['amigo_id']}").status_code == 204
        meta = _meta(c, p, ds["id"])
        assert meta["feature_count"] == 2 and meta["bbox"] is None
        assert c.get(f"{base}/nope").status_code == 404
        assert c.delete(f"{base}/nope").status_code == 404
        assert c.patch(f"{base}/nope", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(("body", "words"), [
    ({"name": "x", "count": "many"}, "column 'count' (integer)"),
    ({"name": "x", "count": 1.5}, "integer"),
    ({"name": "x", "ok": "maybe"}, "true or false"),
    ({"name": "x", "seen": "yesterday"}, "timestamp"),
    ({"name": "x", "spot": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
     "does not fit a point column"),
    ({"name": "x", "spot": {"type": "Point", "coordinates": [200, 0]}}, "outside"),
    ({"name": "x", "colour": "red"}, "unknown column 'colour'"),
    ({"rows": [{"name": "fine"}, {"count": "bad"}]}, "rows[1]"),
])
def test_bad_values_change_nothing(user: TestUser, body: dict[str, Any], words: str) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p)
        answer = c.post(f"/projects/{p}/datasets/{ds['id']}/rows", json=body)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["detail"]
        assert rows(c, p, ds["id"]) == [] and _meta(c, p, ds["id"])["feature_count"] == 0


def test_features_crud(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p)
        base = f"/projects/{p}/datasets/{ds['id']}/features"
        made = c.post(base, json={"type": "Feature", "properties": {"name": "f", "count": 1},
                                  "geometry": {"type": "Point", "coordinates": [1, 1]}})
        assert made.status_code == 201 and made.headers["content-type"] == \
            "application/geo+json"
        feature = made.json()
        assert feature["id"] == feature["properties"]["amigo_id"]
        assert feature["geometry"]["coordinates"] == [1, 1]
        many = c.post(base, json={"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": None, "properties": {"name": "g"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2, 2]},
             "properties": {"name": "h"}}]})
        assert many.status_code == 201 and len(many.json()["features"]) == 2
        moved = c.patch(f"{base}/{feature['id']}", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [3, 3]},
            "properties": {"count": 9}})
        assert moved.json()["geometry"]["coordinates"] == [3, 3]
        assert moved.json()["properties"]["count"] == 9
        page = c.get(base, params={"limit": 2}).json()
        assert page["type"] == "FeatureCollection" and page["count"] == 3
        assert len(page["features"]) == 2 and page["next"]
        assert c.get(f"{base}/{feature['id']}").json()["properties"]["name"] == "f"
        assert c.delete(f"{base}/{feature['id']}").status_code == 204
        assert c.get(base).json()["count"] == 2
        bad = c.post(base, json={"type": "Point", "coordinates": [0, 0]})
        assert bad.status_code == 400 and "Feature" in bad.json()["detail"]


def test_bbox_and_column_filters(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p, [{"name": "name", "type": "text"},
                             {"name": "n", "type": "integer"},
                             {"name": "area", "type": "geometry"}])
        base = f"/projects/{p}/datasets/{ds['id']}/rows"
        grid = [{"name": f"p{x}_{y}", "n": x * 10 + y,
                 "area": {"type": "Point", "coordinates": [x, y]}}
                for x in range(10) for y in range(10)]
        grid.append({"name": "Big Square", "n": -1, "area": {"type": "Polygon", "coordinates": [
            [[20, 20], [30, 20], [30, 30], [20, 30], [20, 20]]]}})
        grid.append({"name": "nowhere", "n": None, "area": None})
        assert c.post(base, json={"rows": grid}).status_code == 201

        def got(**params: Any) -> set[str]:
            return {r["name"] for r in rows(c, p, ds["id"], **params)}

        assert got(bbox="2,2,3,3") == {"p2_2", "p2_3", "p3_2", "p3_3"}
        assert got(bbox="2.5,2.5,2.6,2.6") == set()
        assert got(bbox="25,25,26,26") == {"Big Square"}  # boxes that meet the query box
        assert got(bbox="2,2,3,3", n__gt="22") == {"p2_3", "p3_2", "p3_3"}
        assert got(n="5") == {"p0_5"}
        assert got(n__in="1,2,99") == {"p0_1", "p0_2", "p9_9"}
        assert got(name__contains="big") == {"Big Square"}
        assert got(n__isnull="true") == {"nowhere"}
        assert got(area__isnull="true") == {"nowhere"}
        assert len(got(n__ne="5")) == 101  # NULLs differ from 5 too
        page = c.get(base, params={"bbox": "0,0,9,9", "limit": 30, "offset": 90}).json()
        assert page["count"] == 100 and len(page["results"]) == 10 and page["next"] is None
        for params, words in (({"bbox": "1,2,3"}, "four numbers"),
                              ({"bbox": "5,5,1,1"}, "minimum"),
                              ({"colour": "red"}, "no column 'colour'"),
                              ({"n__near": "1"}, "operator"),
                              ({"n": "x"}, "n:"),
                              ({"area": "x"}, "isnull")):
            answer = c.get(base, params=params)
            assert answer.status_code == 400 and words in answer.json()["detail"], answer.text
        exported = c.get(f"/projects/{p}/datasets/{ds['id']}/export",
                         params={"format": "csv", "bbox": "0,0,1,1"})
        assert exported.text.count("\n") == 5 and "p1_1" in exported.text
        assert exported.headers["content-disposition"] == 'attachment; filename="sites.csv"'
        assert c.get(f"/projects/{p}/datasets/{ds['id']}/export",
                     params={"format": "xml"}).status_code == 422


def test_another_projects_dataset_is_not_found(user: TestUser, other_user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _dataset(c, p)
    with other_user.client() as o:
        q = other_user.home_project["id"]
        assert o.get(f"/projects/{q}/datasets/{ds['id']}").status_code == 404
        assert o.get(f"/projects/{q}/datasets/{ds['id']}/rows").status_code == 404
        assert o.get(f"/projects/{p}/datasets/{ds['id']}").status_code == 404
