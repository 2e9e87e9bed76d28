"""Stream events with files over the native API (an existing file by id, or one uploaded
with the event), refused bodies, and time parameters that answer a plain 400."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.accounts import TestUser
from tests.timeseries.conftest import Project

US = 1_000_000


@pytest.fixture
def gid(project: Project) -> str:
    project.post({"device": "ev", "series": {"x": [[1, 1.0]]}}, precision="s").raise_for_status()
    return project.stream("ev", "x")["gid"]


def _upload(project: Project, name: str, content: bytes, project_id: int | None = None,
            token: str | None = None) -> dict[str, Any]:
    with project.client(token) as c:
        answer = c.post(f"/projects/{project_id or project.id}/files", content=content,
                        params={"name": name}, headers={"content-type": "text/plain"})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _events(project: Project, gid: str) -> list[dict[str, Any]]:
    with project.client() as c:
        return list(c.get(f"/streams/{gid}/events").json()["results"])


def test_an_event_attaches_an_existing_file_of_its_project(project: Project, gid: str) -> None:
    node = _upload(project, "notes.txt", b"field notes")
    with project.client() as c:
        made = c.post(f"/streams/{gid}/events", json={"timestamp": 3, "precision": "s",
                                                      "extra_data": {"k": 1},
                                                      "file": node["id"]})
        assert made.status_code == 201, made.text
        event = made.json()
        download = c.get(f"/streams/{gid}/events/{event['id']}/file")
        as_text = c.post(f"/streams/{gid}/events", json={"file": str(node["id"])})
    assert event["file"] == node["id"] and event["timestamp"] == 3 * US
    assert download.status_code == 200 and download.content == b"field notes"
    assert as_text.status_code == 201 and as_text.json()["file"] == node["id"]


def test_a_file_that_is_not_the_callers_or_not_a_file_writes_nothing(
        project: Project, gid: str, other_user: TestUser) -> None:
    with project.client() as c:
        folder = c.post(f"/projects/{project.id}/folders", json={"name": "f"}).json()
        elsewhere = c.post("/projects", json={"name": "elsewhere"}).json()["id"]
    mine_elsewhere = _upload(project, "a.txt", b"a", project_id=elsewhere)
    with other_user.client() as c:
        theirs = c.post("/projects", json={"name": "theirs"}).json()["id"]
    foreign = _upload(project, "b.txt", b"b", project_id=theirs, token=other_user.token)
    answers = {}
    with project.client() as c:
        for label, file in (("folder", folder["id"]), ("other project", mine_elsewhere["id"]),
                            ("other user", foreign["id"]), ("missing", 10**9),
                            ("not an id", "notes.txt"), ("bool", True)):
            answers[label] = c.post(f"/streams/{gid}/events", json={"file": file})
    assert {k: a.status_code for k, a in answers.items()} == {
        "folder": 400, "other project": 404, "other user": 404, "missing": 404,
        "not an id": 400, "bool": 422}
    assert "folder" in answers["folder"].json()["detail"]
    assert _events(project, gid) == []


def test_unknown_fields_are_refused_not_dropped(project: Project, gid: str) -> None:
    with project.client() as c:
        typo = c.post(f"/streams/{gid}/events", json={"timestamp": 1, "precision": "s",
                                                      "extra": {"k": 1}})
        form = c.post(f"/streams/{gid}/events", files={"file": ("a.txt", b"a")},
                      data={"colour": "red"})
        folder = c.get(f"/projects/{project.id}/files/by-path",
                       params={"path": "/stream-events"})
    assert typo.status_code == 400 and "'extra'" in typo.json()["detail"]
    assert form.status_code == 400 and "'colour'" in form.json()["detail"]
    assert _events(project, gid) == []
    assert folder.status_code == 404  # nothing was stored for the refused form


def test_a_multipart_event_stores_its_file_in_the_projects_files(project: Project, gid: str
                                                                  ) -> None:
    with project.client() as c:
        made = c.post(f"/streams/{gid}/events",
                      files={"file": ("C:\\logs\\run.log", b"line 1\nline 2\n", "text/plain")},
                      data={"timestamp": "7", "precision": "s", "extra_data": '{"run": 2}'})
        assert made.status_code == 201, made.text
        event = made.json()
        again = c.post(f"/streams/{gid}/events", files={"file": ("run.log", b"second")},
                       data={"timestamp": "2026-01-01T00:00:00Z"})
        stored = c.get(f"/projects/{project.id}/files/by-path",
                       params={"path": "/stream-events/run.log"}).json()
        download = c.get(f"/streams/{gid}/events/{event['id']}/file")
        no_file = c.post(f"/streams/{gid}/events", files={"timestamp": (None, "1")})
        bad_extra = c.post(f"/streams/{gid}/events", files={"file": ("x", b"x")},
                           data={"extra_data": "[1]"})
    assert event["timestamp"] == 7 * US and event["extra_data"] == {"run": 2}
    assert event["file"] == stored["id"] and stored["metadata"] == {"stream": gid}
    assert download.content == b"line 1\nline 2\n"
    assert again.status_code == 201 and again.json()["file"] not in (None, event["file"])
    assert no_file.status_code == 400 and bad_extra.status_code == 400
    with project.client() as c:
        names = [f["name"] for f in c.get(f"/projects/{project.id}/files/{stored['parent']}"
                                          "/children").json()["results"]]
    assert sorted(names) == ["run (1).log", "run.log"]


def test_a_read_token_stores_no_file(project: Project, gid: str) -> None:
    token = project.user.api_token(scope="read")
    with project.client(token) as c:
        refused = c.post(f"/streams/{gid}/events", files={"file": ("a.txt", b"a")})
    with project.client() as c:
        folder = c.get(f"/projects/{project.id}/files/by-path",
                       params={"path": "/stream-events"})
    assert refused.status_code == 403
    assert folder.status_code == 404 and _events(project, gid) == []


@pytest.mark.parametrize("params, name", [
    ({"start": "1e20"}, "start"), ({"end": str(10**20)}, "end"),
    ({"start": "soon"}, "start"), ({"end": "2026-13-01"}, "end"),
])
def test_a_bad_time_parameter_is_a_plain_400_naming_it(project: Project, gid: str,
                                                       params: dict[str, str], name: str
                                                       ) -> None:
    with project.client() as c:
        answers = [c.get(f"/streams/{gid}/points", params=params),
                   c.get(f"/projects/{project.id}/points", params=params),
                   c.get(f"/streams/{gid}/events", params=params)]
        iotile = c.get(f"{project.server.url}/iotile/api/v1/stream/{gid}/data/",
                       params=params)
    for answer in answers:
        assert answer.status_code == 400, answer.text
        detail = answer.json()["detail"]
        assert detail.startswith(f"{name}: timestamp ") and "row" not in detail, detail
    assert iotile.status_code == 400  # the IOTile face reads its times the same way
    assert f"{name}: timestamp " in iotile.text and "row" not in iotile.text, iotile.text


def test_a_bad_event_timestamp_names_the_field(project: Project, gid: str) -> None:
    with project.client() as c:
        answer = c.post(f"/streams/{gid}/events", json={"timestamp": 10**20, "precision": "s"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("timestamp: timestamp ")
    assert "row" not in answer.json()["detail"]


def test_a_device_token_attaches_an_existing_file_but_uploads_none(project: Project, gid: str
                                                                   ) -> None:
    node = _upload(project, "calibration.txt", b"c")
    with project.client() as c:
        token = c.post(f"/projects/{project.id}/devices/ev/tokens", json={}).json()["token"]
    with project.client(token) as c:
        attached = c.post(f"/streams/{gid}/events", json={"file": node["id"]})
        uploaded = c.post(f"/streams/{gid}/events", files={"file": ("a.txt", b"a")})
    assert attached.status_code == 201 and attached.json()["file"] == node["id"]
    assert uploaded.status_code == 403
    assert [e["file"] for e in _events(project, gid)] == [node["id"]]
