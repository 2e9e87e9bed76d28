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
