"""`cloudlet datasets …` against the live server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.support.accounts import TestUser


def test_import_list_show_export_rm(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    p = str(user.home_project["id"])
    path = tmp_path / "wells.csv"
    path.write_text("name,latitude,longitude,depth\nw1,1,2,10\nw2,3,4,20\n")
    ran = as_user("datasets", "import", p, str(path), "--json")
    assert ran.code == 0, ran.stderr
    (made,) = ran.json()
    assert made["name"] == "wells" and made["feature_count"] == 2
    ran = as_user("datasets", "import", p, str(path), "--name", "Wells again")
    assert ran.code == 0 and "Imported 2 rows" in ran.stderr and "Wells again" in ran.stdout

    listed = as_user("datasets", "list", p, "--json")
    assert [d["name"] for d in listed.json()] == ["wells", "Wells again"]
    table = as_user("datasets", "list", p)
    assert "wells" in table.stdout and "point" in table.stdout
    shown = as_user("datasets", "show", p, str(made["id"]))
    assert "location (point)" in shown.stdout and "2, 1, 4, 3" in shown.stdout

    out = tmp_path / "wells.geojson"
    ran = as_user("datasets", "export", p, str(made["id"]), "--format", "geojson", "-o",
                  str(out))
    assert ran.code == 0 and "Wrote" in ran.stderr
    assert len(json.loads(out.read_text())["features"]) == 2
    ran = as_user("datasets", "export", p, str(made["id"]), "--bbox", "0,0,2,2")
    assert ran.code == 0 and ran.stdout.count("\n") == 2 and "w1" in ran.stdout

    ran = as_user("datasets", "rm", p, str(made["id"]), "--yes")
    assert ran.code == 0 and "Deleted" in ran.stderr
    assert [d["name"] for d in as_user("datasets", "list", p, "--json").json()] == \
        ["Wells again"]


def test_bad_file_is_an_error(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b"a,b\n1,2\n\xff,3\n")
    ran = as_user("datasets", "import", str(user.home_project["id"]), str(path),
                  "--no-progress")
    assert ran.code == 1
    assert "Error: broken.csv, line 3" in ran.stderr and ran.stdout == ""


def test_gallery_commands(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    p = str(user.home_project["id"])
    path = tmp_path / "trees.csv"
    path.write_text("name,latitude,longitude\noak,1,2\n")
    (made,) = as_user("datasets", "import", p, str(path), "--json", "--no-progress").json()
    ds = str(made["id"])
    gallery = as_user("datasets", "gallery", "create", p, ds, "photos", "--description",
                      "leaves", "--json")
    assert gallery.code == 0, gallery.stderr
    g = str(gallery.json()["id"])
    listed = as_user("datasets", "gallery", "list", p, ds)
    assert "photos" in listed.stdout and "leaves" in listed.stdout
    with user.client() as c:
        row = c.get(f"/projects/{p}/datasets/{ds}/rows").json()["results"][0]["amigo_id"]
    photo = tmp_path / "leaf.jpg"
    photo.write_bytes(b"\xff\xd8 leaf")
    up = as_user("datasets", "gallery", "upload", p, g, str(photo), "--row", row,
                 "--metadata", '{"by": "ada"}', "--json")
    assert up.code == 0, up.stderr
    record = up.json()
    assert record["metadata"] == {"by": "ada"} and record["source_amigo_id"] == row
    bad = as_user("datasets", "gallery", "upload", p, g, str(photo), "--row", row,
                  "--metadata", "{nope")
    assert bad.code == 1 and "JSON" in bad.stderr
    nowhere = as_user("datasets", "gallery", "upload", p, g, str(photo), "--row", "nope")
    assert nowhere.code == 1 and "not a row" in nowhere.stderr
    records = as_user("datasets", "gallery", "records", p, g, "--row", row, "--json")
    assert [r["filename"] for r in records.json()] == ["leaf.jpg"]
    out = tmp_path / "back.jpg"
    got = as_user("datasets", "gallery", "download", p, g, str(record["id"]), "-o", str(out))
    assert got.code == 0 and out.read_bytes() == photo.read_bytes()
    assert as_user("datasets", "gallery", "rm-record", p, g, str(record["id"])).code == 0
    assert as_user("datasets", "gallery", "records", p, g, "--json").json() == []
    gone = as_user("datasets", "gallery", "rm", p, g, "--yes")
    assert gone.code == 0 and "Deleted gallery" in gone.stderr
    assert as_user("datasets", "gallery", "list", p, ds, "--json").json() == []
