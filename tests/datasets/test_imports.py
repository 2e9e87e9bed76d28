"""Imports over HTTP: CSV and GeoJSON round trips, inference, lat/lon points, bad files that
leave nothing behind, zips and their limits, multipart and raw bodies, jobs and progress."""

from __future__ import annotations

import io
import json
import random
import time
import zipfile
from pathlib import Path

import pytest

from tests.datasets.helpers import export, imported, names, rows, upload
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

CITIES = (
    "Name,Latitude,Longitude,Population,Founded,Capital,Zip,Notes\n"
    "Paris,48.8566,2.3522,2148000,2024-01-01T10:00:00Z,true,75001,\"big, old\"\n"
    "Lyon,45.764,4.8357,513275,2024-01-02 11:30:00,false,69001,\n"
    "Boston,42.3601,-71.0589,675647,2024-02-03T00:00:00+05:00,false,02108,\"quote \"\"x\"\"\"\n"
)


def test_csv_types_points_and_round_trip(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = imported(c, p, CITIES.encode(), "cities.csv")
        assert ds["name"] == "cities" and ds["table_name"] == f"dataset_{ds['id']}"
        types = {col["name"]: col["type"] for col in ds["columns"]}
        assert types == {"amigo_id": "text", "name": "text", "latitude": "real",
                         "longitude": "real", "population": "integer",
                         "founded": "timestamp", "capital": "boolean", "zip": "text",
                         "notes": "text", "location": "geometry"}
        assert ds["geometry_column"] == "location" and ds["geometry_type"] == "point"
        assert ds["feature_count"] == 3
        assert ds["bbox"] == pytest.approx([-71.0589, 42.3601, 4.8357, 48.8566])
        got = rows(c, p, ds["id"])
        assert [r["name"] for r in got] == ["Paris", "Lyon", "Boston"]  # insertion order
        boston = got[2]
        assert boston["zip"] == "02108" and boston["notes"] == 'quote "x"'
        assert boston["founded"] == "2024-02-02T19:00:00Z"
        assert boston["location"] == {"type": "Point", "coordinates": [-71.0589, 42.3601]}
        assert got[1]["notes"] is None and got[0]["capital"] is True
        assert all(len(r["amigo_id"]) == 32 for r in got)

        # export → re-import: same columns, same ids, same values
        text = export(c, p, ds["id"], "csv")
        again = imported(c, p, text, "cities.csv", name="cities again")
        assert again["name"] == "cities again"
        assert [col for col in again["columns"]] == ds["columns"]
        assert rows(c, p, again["id"]) == got


def test_geojson_round_trip(user: TestUser) -> None:
    p = user.home_project["id"]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]]},
         "properties": {"name": "field", "area": 2, "crop": {"kind": "wheat"}, "ok": True}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[10, 10], [11, 10], [11, 12], [10, 10]]]},
         "properties": {"name": "pond", "area": 0.5, "crop": None, "seen": "2024-05-01T08:00:00Z"}},
        {"type": "Feature", "geometry": None, "properties": {"name": "nowhere"}},
    ]}
    with user.client() as c:
        ds = imported(c, p, json.dumps(collection).encode(), "fields.geojson")
        types = {col["name"]: col["type"] for col in ds["columns"]}
        assert types == {"amigo_id": "text", "name": "text", "area": "real", "crop": "json",
                         "ok": "boolean", "seen": "timestamp", "location": "geometry"}
        assert ds["geometry_type"] == "polygon" and ds["feature_count"] == 3
        assert ds["bbox"] == [0, 0, 11, 12]
        out = json.loads(export(c, p, ds["id"], "geojson"))
        assert out["type"] == "FeatureCollection" and len(out["features"]) == 3
        first = out["features"][0]
        assert first["geometry"]["type"] == "Polygon"
        assert first["properties"]["crop"] == {"kind": "wheat"}
        assert out["features"][2]["geometry"] is None
        again = imported(c, p, json.dumps(out).encode(), "fields.geojson")
        assert again["columns"] == ds["columns"]
        assert rows(c, p, again["id"]) == rows(c, p, ds["id"])


def test_empty_inputs(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        header_only = imported(c, p, b"a,b,c\n", "header.csv")
        assert header_only["feature_count"] == 0 and header_only["bbox"] is None
        assert [col["type"] for col in header_only["columns"]] == ["text"] * 4
        empty = imported(c, p, b'{"type": "FeatureCollection", "features": []}', "none.geojson")
        assert empty["feature_count"] == 0 and empty["geometry_type"] == "geometry"
        assert export(c, p, empty["id"], "geojson").strip() == \
            b'{"type":"FeatureCollection","features":[]}'
        nothing = upload(c, p, b"", "nothing.csv")
        assert nothing.status_code == 400 and "empty" in nothing.json()["detail"]


@pytest.mark.parametrize(("data", "filename", "expected", "where"), [
    (b"a,b\n1,2\n3\n", "short.csv", "line 3: 1 field, but the header has 2", {"line": 3}),
    (b"a,b\n1,2\n3,4,5\n", "long.csv", "line 3: 3 fields", {"line": 3}),
    (b"a,b\n1,2\n\xff\xfe,4\n", "latin.csv", "line 3: byte 0xff", {"line": 3}),
    (b"name,lat,lon\nx,1,2\ny,north,3\n", "coords.csv", "line 3: latitude (lat) 'north' is "
     "not a number", {"line": 3}),
    (b"name,lat,lon\nx,95,2\n", "range.csv", "outside", {"line": 2}),
    (b'{"type": "Feature", "geometry": null, "properties": {}}', "one.geojson",
     "must be a FeatureCollection, not a Feature", {}),
    (b'[1, 2]', "list.geojson", "not a GeoJSON object", {}),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null}, '
     b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [500000, 4000000]}}]}',
     "utm.geojson", "feature 2: coordinates", {"feature": 2}),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
     b'{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}]}', "broken.geojson",
     "feature 1", {"feature": 1}),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null}, ',
     "cut.geojson", "invalid JSON after feature 1", {}),
])
def test_bad_files_name_the_fault_and_leave_nothing(
        user: TestUser, data: bytes, filename: str, expected: str, where: dict[str, int]
) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        answer = upload(c, p, data, filename)
        assert answer.status_code == 400, answer.text
        problem = answer.json()
        assert expected in problem["detail"] and filename in problem["detail"]
        assert problem["file"] == filename
        for key, value in where.items():
            assert problem[key] == value
        job = c.get(f"/projects/{p}/imports/{problem['import_id']}").json()
        assert job["state"] == "failed" and job["error"]["detail"] == problem["detail"]
        assert job["datasets"] == []
        assert names(c, p) == []


def test_unsupported_and_unnamed_uploads(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        answer = upload(c, p, b"hello", "notes.docx")
        assert answer.status_code == 415
        assert "CSV" in answer.json()["detail"] and "GeoJSON" in answer.json()["detail"]
        answer = upload(c, p, b"x", "roads.shp")
        assert answer.status_code == 415 and "zip" in answer.json()["detail"]
        answer = c.post(f"/projects/{p}/imports", content=b"a\n1\n",
                        headers={"content-type": "application/octet-stream"})
        assert answer.status_code == 400 and "filename" in answer.json()["detail"]
        assert names(c, p) == []


def test_multipart_and_media_types(user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        answer = c.post(f"/projects/{p}/imports", params={"wait": 30},
                        files={"datafile": ("trees.csv", b"kind,lat,lng\noak,1,2\n")},
                        data={"name": "Trees", "description": "from a form"})
        assert answer.status_code == 201, answer.text
        ds = answer.json()["datasets"][0]
        assert ds["name"] == "Trees" and ds["description"] == "from a form"
        assert ds["geometry_type"] == "point" and ds["bbox"] == [2, 1, 2, 1]
        answer = c.post(f"/projects/{p}/imports", params={"wait": 30},
                        content=b"a;b\n1;2\n", headers={"content-type": "text/csv"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["datasets"][0]["name"] == "upload"
        assert [col["name"] for col in answer.json()["datasets"][0]["columns"]] == \
            ["amigo_id", "a", "b"]
        form = b'--XB\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--XB--\r\n'
        answer = c.post(f"/projects/{p}/imports", content=form,
                        headers={"content-type": "multipart/form-data; boundary=XB"})
        assert answer.status_code == 400 and "no file part" in answer.json()["detail"]
        answer = c.post(f"/projects/{p}/imports", files={"file": ("x.docx", b"zz")})
        assert answer.status_code == 415
        assert sorted(names(c, p)) == ["Trees", "upload"]


def _zip(files: dict[str, bytes], level: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", level) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def test_zip_of_several_files(user: TestUser) -> None:
    p = user.home_project["id"]
    collection = b'{"type": "FeatureCollection", "features": [{"type": "Feature", ' \
        b'"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "properties": {}}]}'
    data = _zip({"bundle/a.csv": b"x\n1\n2\n", "bundle/roads.geojson": collection,
                 "__MACOSX/._a.csv": b"junk", "readme.txt": b"hi"})
    with user.client() as c:
        answer = upload(c, p, data, "bundle.zip")
        assert answer.status_code == 201, answer.text
        made = {d["name"]: d for d in answer.json()["datasets"]}
        assert set(made) == {"a", "roads"}
        assert made["a"]["feature_count"] == 2 and made["roads"]["geometry_type"] == "linestring"
        # one bad member: nothing from the zip is kept
        answer = upload(c, p, _zip({"good.csv": b"x\n1\n", "bad.csv": b"x,y\n1\n"}), "mix.zip")
        assert answer.status_code == 400 and "bad.csv, line 2" in answer.json()["detail"]
        assert sorted(names(c, p)) == ["a", "roads"]


def test_zip_bomb_and_limits_are_refused(launch: object) -> None:
    server: LiveServer = launch(CLOUDLET_DATASET_ZIP_MAX_FILES="5",  # type: ignore[operator]
                                CLOUDLET_DATASET_MAX_UPLOAD="2000000",
                                CLOUDLET_DATASET_ZIP_MAX_BYTES="1500000")
    from tests.support.accounts import make_user

    user = make_user(server)
    p = user.home_project["id"]
    with user.client() as c:
        bomb = _zip({"bomb.csv": b"a\n" + b"0\n" * 40_000_000})  # 80 MB of rows, ~80 KB zipped
        answer = upload(c, p, bomb, "bomb.zip")
        assert answer.status_code == 413, answer.text
        assert "zip bomb" in answer.json()["detail"]
        many = _zip({f"f{i}.csv": b"a\n1\n" for i in range(6)})
        answer = upload(c, p, many, "many.zip")
        assert answer.status_code == 413 and "6 entries" in answer.json()["detail"]
        answer = upload(c, p, b"a\n" + b"1\n" * 1_100_000, "big.csv")
        assert answer.status_code == 413 and "limit" in answer.json()["detail"]
        noise = "".join(f"{random.random()}\n" for _ in range(90_000)).encode()  # ~2:1
        answer = upload(c, p, _zip({"noise.csv": b"a\n" + noise}), "noise.zip")
        assert answer.status_code == 413, answer.text
        assert "would unpack to" in answer.json()["detail"]
        assert names(c, p) == []


def test_huge_csv_reports_progress(user: TestUser) -> None:
    p = user.home_project["id"]
    n = 150_000
    lines = ["id,name,lat,lon,value"] + [
        f"{i},point {i},{(i % 1700) / 10 - 85:.4f},{(i % 3500) / 10 - 175:.4f},{i * 0.5}"
        for i in range(n)]
    data = ("\n".join(lines) + "\n").encode()
    with user.client() as c:
        answer = upload(c, p, data, "huge.csv", wait=0)
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert answer.headers["location"].endswith(job["id"])
        seen = []
        deadline = time.monotonic() + 240
        while job["state"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = c.get(f"/projects/{p}/imports/{job['id']}").json()
            seen.append(job["progress"])
        assert job["state"] == "succeeded", job
        assert seen == sorted(seen) and job["progress"] == 1.0
        assert job["rows_total"] == n == job["rows_done"]
        ds = job["datasets"][0]
        assert ds["feature_count"] == n
        listed = c.get(f"/projects/{p}/imports").json()
        assert listed["results"][0]["id"] == job["id"]
        page = c.get(f"/projects/{p}/datasets/{ds['id']}/rows",
                     params={"limit": 2, "offset": n - 1}).json()
        assert page["count"] == n and page["results"][0]["id"] == n - 1
        csv_text = export(c, p, ds["id"], "csv")
        assert csv_text.count(b"\n") == n + 1


def test_shapefile_and_geopackage_through_pyogrio(user: TestUser, tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    import numpy as np
    import shapely

    folder = tmp_path
    geometry = shapely.to_wkb(np.array([shapely.Point(1, 2), shapely.Point(3, 4)]))
    fields = [np.array(["a", "b"], dtype=object), np.array([1, 2])]
    kw = dict(geometry_type="Point", crs="EPSG:4326", fields=["label", "n"])
    pyogrio.raw.write(folder / "spots.gpkg", geometry, fields, driver="GPKG", **kw)
    (folder / "shp").mkdir()
    pyogrio.raw.write(folder / "shp" / "spots.shp", geometry, fields,
                      driver="ESRI Shapefile", **kw)
    shapefile = _zip({f.name: f.read_bytes() for f in (folder / "shp").iterdir()})
    p = user.home_project["id"]
    with user.client() as c:
        for data, filename in (((folder / "spots.gpkg").read_bytes(), "spots.gpkg"),
                               (shapefile, "spots.zip")):
            ds = imported(c, p, data, filename)
            assert ds["feature_count"] == 2 and ds["geometry_type"] == "point", ds
            got = rows(c, p, ds["id"])
            assert [(r["label"], r["n"]) for r in got] == [("a", 1), ("b", 2)]
            assert got[1]["location"]["coordinates"] == [3, 4]
