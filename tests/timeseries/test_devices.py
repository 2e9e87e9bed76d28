"""Devices, device tokens, variables and units, and who may write where."""

from __future__ import annotations

import asyncio

from tests.support.accounts import TestUser
from tests.support.ws import Socket
from tests.timeseries.conftest import Project


def test_register_with_a_chosen_or_generated_key(project: Project) -> None:
    token = project.user.api_token(scope="write", project=project.id)
    with project.client(token) as c:
        chosen = c.post(f"/projects/{project.id}/devices", json={"key": "pump-7",
                                                                  "label": "Pump"})
        assert chosen.status_code == 201, chosen.text
        assert chosen.json()["gid"].startswith("d--") and chosen.json()["key"] == "pump-7"
        generated = c.post(f"/projects/{project.id}/devices", json={})
        assert generated.status_code == 201 and len(generated.json()["key"]) == 16
        duplicate = c.post(f"/projects/{project.id}/devices", json={"key": "pump-7"})
        assert duplicate.status_code == 409 and "pump-7" in duplicate.json()["detail"]
        bad = c.post(f"/projects/{project.id}/devices", json={"key": "no spaces"})
        assert bad.status_code == 400
        for ref in ("pump-7", chosen.json()["gid"], str(chosen.json()["id"])):
            assert c.get(f"/projects/{project.id}/devices/{ref}").json()["key"] == "pump-7"
    read = project.user.api_token(scope="read", project=project.id)
    with project.client(read) as c:
        assert c.post(f"/projects/{project.id}/devices", json={}).status_code == 403


def test_device_tokens_write_only_their_own_streams(project: Project) -> None:
    with project.client() as c:
        mine = c.post(f"/projects/{project.id}/devices", json={"key": "mine"}).json()
        c.post(f"/projects/{project.id}/devices", json={"key": "theirs"}).raise_for_status()
        made = c.post(f"/projects/{project.id}/devices/mine/tokens", json={"name": "t"})
        assert made.status_code == 201 and made.json()["device_id"] == mine["id"]
    token = made.json()["token"]
    # no device named: the token's own; its own key: fine
    assert project.post({"series": {"x": [[1, 1]]}}, token, precision="s").status_code == 200
    assert project.post({"device": "mine", "series": {"y": [[1, 1]]}}, token,
                        precision="s").status_code == 200
    assert project.lines("mine z=1 1\n", token, precision="s").status_code == 204
    for body in ({"device": "theirs", "series": {"x": [[1, 1]]}},
                 {"device": "newcomer", "series": {"x": [[1, 1]]}}):
        answer = project.post(body, token, precision="s")
        assert answer.status_code == 403, answer.text
    assert project.lines("theirs x=1 1\n", token, precision="s").status_code == 403
    theirs_stream = project.post({"device": "theirs", "series": {"x": [[1, 1]]}},
                                 precision="s").json()["streams"][0]
    assert project.post([{"stream": theirs_stream, "timestamp": 2, "value": 2}], token,
                        precision="s").status_code == 403
    assert {s["series"] for s in project.streams(device="mine")} == {"x", "y", "z"}
    with project.client(token) as c:  # it sees only its own device
        assert c.get(f"/projects/{project.id}/devices").json()["count"] == 1
        assert c.post(f"/projects/{project.id}/devices", json={}).status_code == 403


def test_read_tokens_and_other_projects_cannot_write(project: Project, other_user: TestUser
                                                     ) -> None:
    read = project.user.api_token(scope="read")
    assert project.post({"device": "d", "series": {"x": [[1, 1]]}}, read,
                        precision="s").status_code == 403
    assert project.lines("d x=1 1\n", read).status_code == 403
    with project.client() as c:
        other = c.post("/projects", json={"name": "other"}).json()["id"]
    elsewhere = project.user.api_token(scope="write", project=other)
    assert project.post({"device": "d", "series": {"x": [[1, 1]]}}, elsewhere,
                        precision="s").status_code == 404
    assert project.lines("d x=1 1\n", elsewhere).status_code == 404
    assert project.post({"device": "d", "series": {"x": [[1, 1]]}}, other_user.token,
                        precision="s").status_code == 404
    assert project.streams() == []


def test_variables_units_and_stream_overrides(project: Project) -> None:
    with project.client() as c:
        var = c.post(f"/projects/{project.id}/variables", json={
            "name": "flow", "lid": "100b",
            "output_unit": {"unit_short": "GPM", "unit_full": "Gallons per Min", "m": 100000,
                            "d": 378541}})
        assert var.status_code == 201, var.text
        assert var.json()["gid"] == f"v--{project.id >> 16:04x}-{project.id & 0xffff:04x}--100b"
        assert c.post(f"/projects/{project.id}/variables", json={"name": "flow"}
                      ).status_code == 409
        assert c.post(f"/projects/{project.id}/variables", json={"name": "all"}
                      ).status_code == 400
        assert c.post(f"/projects/{project.id}/variables", json={
            "name": "z", "output_unit": {"d": 0}}).status_code == 400
        project.post({"device": "meter", "series": {"flow": [[1, 5]], "temp": [[1, 1]]}},
                     precision="s")
        stream = project.stream("meter", "flow")
        assert stream["gid"].endswith("--100b") and stream["lid"] == "100b"
        assert stream["output_unit"]["unit_short"] == "GPM" and stream["output_unit"]["m"] == \
            100000
        assert project.stream("meter", "temp")["lid"] == "5001"  # first free local id
        changed = c.patch(f"/streams/{stream['gid']}", json={"output_unit": {"o": 2.5},
                                                             "label": "Main"})
        assert changed.status_code == 200, changed.text
        unit = changed.json()["output_unit"]
        assert unit["o"] == 2.5 and unit["m"] == 100000 and unit["unit_short"] == "GPM"
        cleared = c.patch(f"/streams/{stream['gid']}", json={"clear_units": True}).json()
        assert cleared["output_unit"]["o"] == 0.0 and cleared["label"] == "Main"
        c.patch(f"/projects/{project.id}/variables/flow", json={"input_unit": {"m": 3}}
                ).raise_for_status()
        assert c.get(f"/projects/{project.id}/variables/100b").json()["input_unit"]["m"] == 3


def test_events_after_commit(project: Project) -> None:
    async def scenario() -> list[dict]:  # type: ignore[type-arg]
        sock = await Socket.open(project.server, project.user.token)
        try:
            assert (await sock.subscribe(f"project:{project.id}"))["op"] == "subscribed"
            await asyncio.to_thread(project.post, {"device": "ev", "series": {
                "x": [[1, 1.5], [2, 2.5]]}}, None, precision="s")
            return await sock.events(2)
        finally:
            await sock.close()

    registered, data = asyncio.run(scenario())
    assert registered["event"] == "device.registered" and registered["data"]["key"] == "ev"
    assert data["event"] == "stream.data"
    (summary,) = data["data"]["streams"]
    assert summary["count"] == 2 and summary["first"] == 1_000_000
    assert summary["last"] == 2_000_000 and summary["points"] == [[1_000_000, 1.5],
                                                                  [2_000_000, 2.5]]
    gid = summary["stream"]

    async def follow() -> dict:  # type: ignore[type-arg]
        sock = await Socket.open(project.server, project.user.token)
        try:
            assert (await sock.subscribe(f"stream:{gid}"))["op"] == "subscribed"
            await asyncio.to_thread(project.post, {"device": "ev", "series": {
                "x": [[3, 3.5]]}}, None, precision="s")
            return (await sock.events(1))[0]
        finally:
            await sock.close()

    event = asyncio.run(follow())
    assert event["event"] == "stream.data" and event["data"]["points"] == [[3_000_000, 3.5]]


def test_stream_events(project: Project) -> None:
    project.post({"device": "e", "series": {"x": [[1, 1]]}}, precision="s")
    gid = project.stream("e", "x")["gid"]
    with project.client() as c:
        made = c.post(f"/streams/{gid}/events", json={"timestamp": "2016-06-23T10:58:31Z",
                                                      "extra_data": {"meta": "hello"}})
        assert made.status_code == 201, made.text
        assert made.json()["extra_data"] == {"meta": "hello"} and made.json()["file"] is None
        listed = c.get(f"/streams/{gid}/events").json()
        assert listed["count"] == 1 and listed["results"][0]["timestamp"] == 1466679511000000
        assert c.post(f"/streams/{gid}/events", json={"extra_data": [1]}).status_code == 422


def test_requests_committed_together_are_announced_together(project: Project) -> None:
    """Writes that share a commit give one stream.data per stream (and one project summary)
    that sums them up."""
    project.post({"device": "grp", "series": {"x": [[1, 1.0]]}}, precision="s")
    gid = project.stream("grp", "x")["gid"]

    async def scenario() -> list[dict]:  # type: ignore[type-arg]
        sock = await Socket.open(project.server, project.user.token)
        try:
            assert (await sock.subscribe(f"project:{project.id}"))["op"] == "subscribed"
            with project.client() as c:
                c.post("/_debug/timeseries/pause", params={"seconds": 2}).raise_for_status()
            await asyncio.gather(*(asyncio.to_thread(
                project.post, {"device": "grp", "series": {"x": [[t, t / 2]]}}, None,
                precision="s") for t in (10, 20, 30)))
            got = await sock.events(1)
            while sum(e["data"]["count"] for e in got) < 3:
                got += await sock.events(1)
            return got
        finally:
            await sock.close()

    events = asyncio.run(scenario())
    assert len(events) < 3  # at least two of the three shared the commit after the pause
    summaries = [s for e in events for s in e["data"]["streams"]]
    assert all(s["stream"] == gid for s in summaries)
    assert sum(s["count"] for s in summaries) == 3
    assert min(s["first"] for s in summaries) == 10_000_000
    assert max(s["last"] for s in summaries) == 30_000_000
    assert sorted(p for s in summaries for p in s["points"]) == [
        [10_000_000, 5.0], [20_000_000, 10.0], [30_000_000, 15.0]]


def test_rights_changes_apply_to_the_very_next_write(project: Project, other_user: TestUser
                                                     ) -> None:
    """Writers' rights are remembered between batches, and forgotten by every change of
    membership or role: of the project, and of the org that owns it."""
    token = other_user.api_token(scope="write")
    me = project.user.client()
    members = f"/projects/{project.id}/members"
    assert me.post(members, json={"username": other_user.username, "role": "write"}
                   ).status_code == 201
    assert project.lines("d x=1 1\n", token, precision="s").status_code == 204
    assert project.lines("d x=2 2\n", token, precision="s").status_code == 204  # from the cache
    assert me.patch(f"{members}/{other_user.username}", json={"role": "read"}
                    ).status_code == 200
    assert project.lines("d x=3 3\n", token, precision="s").status_code == 403
    assert me.delete(f"{members}/{other_user.username}").status_code == 204
    assert project.lines("d x=4 4\n", token, precision="s").status_code == 404

    org = me.post("/orgs", json={"name": f"org {project.id}"}).json()["slug"]
    in_org = me.post("/projects", json={"name": "in org", "org": org}).json()["id"]
    org_members = f"/orgs/{org}/members"
    assert me.post(org_members, json={"username": other_user.username, "role": "admin"}
                   ).status_code == 201
    with other_user.client(token) as c:
        write = f"/projects/{in_org}/write?precision=s"
        assert c.post(write, content=b"d x=1 1\n").status_code == 204
        assert me.delete(f"{org_members}/{other_user.username}").status_code == 204
        assert c.post(write, content=b"d x=2 2\n").status_code == 404
    me.close()
    assert project.points("d", "x") == [[1_000_000, 1.0], [2_000_000, 2.0]]


def test_a_deleted_project_leaves_no_remembered_devices(project: Project) -> None:
    """On SQLite a new project and a new device can get a deleted one's ids again: no cache
    of device ids may carry a write to another project's device."""
    user, server = project.user, project.server
    for line in ("pump v=1 1\n", "pump v=1 2\n"):  # the second finds pump: remembered
        assert project.lines(line, precision="s").status_code == 204
    home = user.home_project["id"]
    with user.client() as c:
        assert c.delete(f"/projects/{project.id}").status_code == 204
        other = c.post(f"/projects/{home}/devices", json={"key": "other"})  # pump's id, maybe
        assert other.status_code == 201
        again = Project(c.post("/projects", json={"name": "ts2"}).json()["id"], user, server)
    assert again.lines("pump v=2 2\n", precision="s").status_code == 204
    assert again.points("pump", "v") == [[2_000_000, 2.0]]
    assert Project(home, user, server).streams(device="other") == []
    with user.client() as c:
        devices = c.get(f"/projects/{again.id}/devices").json()["results"]
    assert [d["key"] for d in devices] == ["pump"]
