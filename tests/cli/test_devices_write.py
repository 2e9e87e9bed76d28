"""`cloudlet devices …` and `cloudlet write` against the live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


US = 1_000_000


def read_back(user: TestUser, project: str, device: str, series: str) -> list[list[Any]]:
    """[µs, value] pairs of one stream, through the API; [] when there is no such stream."""
    with user.client() as c:
        streams = c.get(f"/projects/{project}/streams", params={"device": device})
        if streams.status_code == 404:  # no such device
            return []
        found = [s for s in streams.json()["results"] if s["series"] == series]
        if not found:
            return []
        answer = c.get(f"/streams/{found[0]['gid']}/points", params={"format": "ndjson"})
        answer.raise_for_status()
        return [[r["time"], r["value"]] for r in map(json.loads, answer.text.splitlines())]


def test_write_json_series_form_in_batches(as_user: Cli, user: TestUser, tmp_path: Path
                                           ) -> None:
    project = str(user.home_project["id"])
    doc = {"device": "roof", "precision": "s",  # kept in every part, or the times go wrong
           "series": {"flow": [[t, t * 0.5] for t in range(1, 701)],
                      "temp": {"time": list(range(1, 501)), "values": [-t for t in
                                                                      range(1, 501)]}}}
    file = tmp_path / "series.json"
    file.write_text(json.dumps(doc))
    ran = as_user("write", project, str(file), "--batch-size", "500")
    assert ran.code == 0, ran.stderr
    assert "Wrote 1200 points in 3 request(s)." in ran.stderr
    assert read_back(user, project, "roof", "flow") == [[t * US, t * 0.5] for t in
                                                        range(1, 701)]
    assert read_back(user, project, "roof", "temp") == [[t * US, -t] for t in range(1, 501)]
    several = tmp_path / "devices.json"
    several.write_text(json.dumps({"precision": "ms", "devices": {
        "d1": {"x": [[t, t] for t in range(1, 8)]}, "d2": {"y": [[t, -t] for t in range(1, 5)]}}}))
    ran = as_user("write", project, str(several), "--batch-size", "5")
    assert ran.code == 0 and "Wrote 11 points in 3 request(s)." in ran.stderr, ran.stderr
    assert read_back(user, project, "d1", "x") == [[t * 1000, t] for t in range(1, 8)]
    assert read_back(user, project, "d2", "y") == [[t * 1000, -t] for t in range(1, 5)]
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"device": "roof", "series": {"flow": [[800, 1]]}}))
    ran = as_user("write", project, str(small), "--precision", "s", "--batch-size", "1")
    assert ran.code == 0 and "Wrote 1 points in 1 request(s)." in ran.stderr


def test_write_json_table_and_list_forms_in_batches(as_user: Cli, user: TestUser,
                                                    tmp_path: Path) -> None:
    project = str(user.home_project["id"])
    rows = [[t, t, None if t % 3 else t * 2] for t in range(1, 1101)]
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"device": "tank", "fields": ["time", "a", "b"],
                                 "data": rows}))
    ran = as_user("write", project, str(table), "--precision", "ms", "--batch-size", "400")
    assert ran.code == 0, ran.stderr
    assert "Wrote 1466 points in 3 request(s)." in ran.stderr  # 1100 a, 366 b (nulls skipped)
    assert read_back(user, project, "tank", "a") == [[t * 1000, t] for t in range(1, 1101)]
    assert read_back(user, project, "tank", "b") == [[t * 1000, t * 2] for t in
                                                     range(3, 1101, 3)]
    items = [{"series": "level", "timestamp": t, "value": t} for t in range(1, 251)]
    listed = tmp_path / "items.json"
    listed.write_text(json.dumps(items))
    ran = as_user("write", project, str(listed), "--device", "tank", "--precision", "s",
                  "--batch-size", "100")
    assert ran.code == 0, ran.stderr
    assert "Wrote 250 points in 3 request(s)." in ran.stderr
    assert read_back(user, project, "tank", "level") == [[t * US, t] for t in range(1, 251)]


def test_write_ndjson_from_a_file_and_stdin(as_user: Cli, user: TestUser, tmp_path: Path
                                            ) -> None:
    project = str(user.home_project["id"])
    lines = [json.dumps({"device": "pump", "series": {"flow": [[t, t]]}}) for t in
             range(1, 1001)]
    lines[500:500] = ["", json.dumps({"device": "pump", "fields": ["time", "rpm"],
                                      "data": [[t, t * 10] for t in range(1, 11)]})]
    file = tmp_path / "readings.ndjson"  # the format from the name
    file.write_text("\n".join(lines) + "\n")
    ran = as_user("write", project, str(file), "--precision", "s", "--batch-size", "300")
    assert ran.code == 0, ran.stderr
    # flow 1-300, 301-500, the table, 501-800, 801-1000: a new frame starts a request
    assert "Wrote 1010 points in 5 request(s)." in ran.stderr
    assert read_back(user, project, "pump", "flow") == [[t * US, t] for t in range(1, 1001)]
    assert read_back(user, project, "pump", "rpm") == [[t * US, t * 10] for t in range(1, 11)]
    piped = "".join(json.dumps([{"device": "pipe", "series": "p", "timestamp": t, "value": t}])
                    + "\n" for t in range(1, 8))
    ran = as_user("write", project, "-", "--format", "ndjson", "--precision", "s",
                  "--batch-size", "3", input=piped)
    assert ran.code == 0, ran.stderr
    assert "Wrote 7 points in 3 request(s)." in ran.stderr
    assert read_back(user, project, "pipe", "p") == [[t * US, t] for t in range(1, 8)]


def test_malformed_json_writes_nothing(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    project = str(user.home_project["id"])
    cut = tmp_path / "cut.json"
    cut.write_text('{"device": "bad", "series": {"a": [[1, 2], [2, 3]]')
    ran = as_user("write", project, str(cut), "--precision", "s")
    assert ran.code == 1
    assert "not valid JSON" in ran.stderr and "line 1, column" in ran.stderr
    good = json.dumps({"device": "bad", "series": {"a": [[1, 2]]}})
    lines = tmp_path / "lines.json"
    lines.write_text(f"{good}\n{good}\n")
    ran = as_user("write", project, str(lines), "--precision", "s")
    assert ran.code == 1 and "Extra data at line 2, column 1" in ran.stderr
    assert "--format ndjson" in ran.stderr
    broken = tmp_path / "broken.ndjson"
    broken.write_text(f"{good}\n{good}\n{{\"device\": \"bad\",\n{good}\n")
    ran = as_user("write", project, str(broken), "--precision", "s", "--batch-size", "1")
    assert ran.code == 1
    assert "Line 3 is not valid JSON" in ran.stderr
    assert "Wrote" not in ran.stderr
    assert read_back(user, project, "bad", "a") == []  # a file is checked before any request
    ran = as_user("write", project, "-", "--format", "ndjson", "--precision", "s",
                  "--batch-size", "1", input=broken.read_text())
    assert ran.code == 1 and "Line 3 is not valid JSON" in ran.stderr
    assert "(2 points in 2 request(s) were written before it)" in ran.stderr  # one, twice
    assert read_back(user, project, "bad", "a") == [[US, 2]]


def test_a_refused_batch_says_what_was_written(as_user: Cli, user: TestUser, tmp_path: Path
                                              ) -> None:
    project = str(user.home_project["id"])
    points: list[list[Any]] = [[t, t] for t in range(1, 31)]
    points[24][1] = "warm"
    file = tmp_path / "series.json"
    file.write_text(json.dumps({"device": "roof", "series": {"temp": points}}))
    ran = as_user("write", project, str(file), "--precision", "s", "--batch-size", "10")
    assert ran.code == 1
    assert "warm" in ran.stderr  # the server's message
    assert ("Request 3 (points 21–30 of the document) failed; the 20 points of the 2 "
            "request(s) before it are written") in ran.stderr
    assert read_back(user, project, "roof", "temp") == [[t * US, t] for t in range(1, 21)]
    lines = tmp_path / "points.lp"
    lines.write_text('# a comment\nroof temp=1 1\nroof temp="x" 2\n')
    ran = as_user("write", project, str(lines), "--precision", "s", "--batch-size", "2")
    assert ran.code == 1
    assert "Request 2 (line 3) failed; the 1 lines of the 1 request(s)" in ran.stderr
