"""`cloudlet devices …` and `cloudlet write` against the live server."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.support.accounts import TestUser


def test_devices_register_list_show(as_user: Cli, user: TestUser) -> None:
    project = str(user.home_project["id"])
    made = as_user("devices", "register", project, "--key", "roof-01", "--label", "Roof",
                   "--tag", "site=north", "--json")
    assert made.code == 0, made.stderr
    assert made.json()["key"] == "roof-01" and made.json()["tags"] == {"site": "north"}
    again = as_user("devices", "register", project, "--key", "roof-01")
    assert again.code == 1 and "already registered" in again.stderr
    listed = as_user("devices", "list", project)
    assert listed.code == 0 and "roof-01" in listed.stdout
    shown = as_user("devices", "show", project, "roof-01")
    assert shown.code == 0 and "Roof" in shown.stdout


def test_write_streams_a_file_in_batches(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    project = str(user.home_project["id"])
    lines = tmp_path / "points.lp"
    lines.write_text("".join(f"pump flow={i} {i}\n" for i in range(1, 1201)))
    ran = as_user("write", project, str(lines), "--precision", "s", "--batch-size", "500")
    assert ran.code == 0, ran.stderr
    assert "1200 lines in 3 request(s)" in ran.stderr
    table = tmp_path / "readings.csv"
    table.write_text("time,temp\n2024-01-01T00:00:00Z,1.5\n2024-01-01T00:00:01Z,\n")
    ran = as_user("write", project, str(table), "--device", "pump")
    assert ran.code == 0 and "1 points" in ran.stderr
    bad = tmp_path / "bad.lp"
    bad.write_text('pump flow="x" 1\n')
    failed = as_user("write", project, str(bad))
    assert failed.code == 1 and "string" in failed.stderr
    with user.client() as c:
        streams = c.get(f"/projects/{project}/streams", params={"device": "pump"}).json()
        flow = next(s for s in streams["results"] if s["series"] == "flow")
        points = c.get(f"/streams/{flow['gid']}/points").json()
    assert points["count"] == 1200
