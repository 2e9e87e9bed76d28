"""The iobeam face against a live server, through the original `iobeam` 0.11.0 client in its
own venv: seed 003's examples with only the changes the issue allows (the backend URL, the
credentials, `send()` returning None, int values for `DataPoint`s), registration with chosen,
generated and duplicate ids, the table format the client splits at 1,000 values, token
refresh near and past expiry, and permissions. Points written here are the native API's and
the SDK's."""

from __future__ import annotations

import base64
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cloudlet import Client
from cloudlet.cli.main import app as cli_app
from tests.support.accounts import TestUser
from tests.support.legacy import IOBEAM
from tests.support.live import LiveServer

PRELUDE = """\
import json, os, time
from iobeam import iobeam

BACKEND = os.environ["BACKEND"]
PROJECT_ID = int(os.environ["PROJECT_ID"])
PROJECT_TOKEN = os.environ["PROJECT_TOKEN"]


def report(**values):
    print(json.dumps(values))
"""


def face(server: LiveServer) -> str:
    return server.url + "/iobeam/v1/"


def mint(server: LiveServer, user_token: str, project_id: int, **params: Any) -> str:
    """A project token from `GET /tokens/project`, as `iobeam.fetchDeviceToken` asks."""
    answer = httpx.get(face(server) + "tokens/project", params={"project_id": project_id,
                                                                **params},
                       headers={"Authorization": f"Bearer {user_token}"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def run(server: LiveServer, script: str, token: str, project_id: int, *,
        cwd: Path | None = None, **env: str) -> Any:
    """The script after the prelude, in the iobeam venv; returns what it `report`s."""
    return IOBEAM.run(PRELUDE + textwrap.dedent(script), cwd=cwd, env={
        "BACKEND": face(server), "PROJECT_ID": str(project_id), "PROJECT_TOKEN": token, **env})


def points(user: TestUser, device: str, series: str, token: str | None = None
           ) -> list[list[Any]]:
    """[µs, value] pairs of one series, read through the native API."""
    with user.client(token) as c:
        found = c.get(f"/projects/{user.home_project['id']}/streams",
                      params={"device": device, "series": series}).json()["results"]
        assert len(found) == 1, found
        body = c.get(f"/streams/{found[0]['gid']}/points", params={"limit": 10000}).json()
        return [[r["time"], r["value"]] for r in body["results"]]


@pytest.fixture
def project(user: TestUser) -> int:
    return int(user.home_project["id"])


@pytest.fixture
def token(server: LiveServer, user: TestUser, project: int) -> str:
    return mint(server, user.token, project)


# --- seed 003: the Full Example -------------------------------------------------------------

FULL_EXAMPLE = """
    # Constants initialization
    PATH = None  # saveToDisk() below keeps the device id in the working directory

    def getTemperature():
        return 21

    def getHumidity():
        return int(os.environ["HUMIDITY"])

    # Init iobeam
    builder = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
                  .saveToDisk().registerDevice()
    iobeamClient = builder.build()

    # Data gathering
    now = int(time.time() * 1000)
    dt = iobeam.DataPoint(getTemperature(), timestamp=now)
    dh = iobeam.DataPoint(getHumidity(), timestamp=now)

    iobeamClient.addDataPoint("temperature", dt)
    iobeamClient.addDataPoint("humidity", dh)

    # Data transmission
    sent = iobeamClient.send()
    report(device=iobeamClient.getDeviceId(), now=now, sent=sent)
"""


def test_full_example_twice_keeps_its_device_and_writes_native_points(
        server: LiveServer, user: TestUser, project: int, token: str, tmp_path: Path) -> None:
    first = run(server, FULL_EXAMPLE, token, project, cwd=tmp_path, HUMIDITY="40")
    assert first["sent"] is None  # 0.11.0 returns None (the seed says True) and raises on failure
    device = first["device"]
    assert (tmp_path / "iobeam_device_id").read_text() == device
    second = run(server, FULL_EXAMPLE, token, project, cwd=tmp_path, HUMIDITY="41")
    assert second["device"] == device  # read back from disk, not registered again

    with Client(server.url, token=user.token) as client:
        devices = list(client.devices.list(project))
        assert [d["key"] for d in devices] == [device]
        streams = client.get(f"/projects/{project}/streams", {"device": device})["results"]
        assert sorted(s["series"] for s in streams) == ["humidity", "temperature"]
    assert points(user, device, "temperature") == [[first["now"] * 1000, 21.0],
                                                   [second["now"] * 1000, 21.0]]
    assert points(user, device, "humidity", token) == [[first["now"] * 1000, 40.0],
                                                       [second["now"] * 1000, 41.0]]


# --- devices --------------------------------------------------------------------------------

def test_registration_chosen_duplicate_and_register_or_set_id(
        server: LiveServer, user: TestUser, project: int, token: str) -> None:
    ran = run(server, """
        from iobeam.endpoints import devices

        chosen = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerDevice(deviceId="my_desired_id", deviceName="Roof").build()
        try:
            iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
                .registerDevice(deviceId="my_desired_id").build()
            duplicate = None
        except devices.DuplicateIdError as error:
            duplicate = type(error).__name__
        fallback = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerOrSetId("my_desired_id").build()
        fallback.addDataPoint("level", iobeam.DataPoint(7, timestamp=5000))
        fallback.send()
        generated = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerDevice().build()
        service = devices.DeviceService(PROJECT_TOKEN,
                                        requester=iobeam.request.getRequester(url=BACKEND))
        report(chosen=chosen.getDeviceId(), duplicate=duplicate,
               fallback=fallback.getDeviceId(), generated=generated.getDeviceId(),
               server_ms=service.getTimestamp(), local_ms=int(time.time() * 1000))
    """, token, project)
    assert ran["chosen"] == ran["fallback"] == "my_desired_id"
    assert ran["duplicate"] == "DuplicateIdError"
    assert ran["generated"] not in (None, "my_desired_id")
    assert abs(ran["server_ms"] - ran["local_ms"]) < 86_400_000  # milliseconds, not seconds
    with user.client() as c:
        shown = c.get(f"/projects/{project}/devices/my_desired_id").json()
        keys = {d["key"] for d in c.get(f"/projects/{project}/devices").json()["results"]}
    assert shown["label"] == "Roof" and keys == {"my_desired_id", ran["generated"]}
    assert points(user, "my_desired_id", "level") == [[5_000_000, 7.0]]


def test_register_answers_exactly_what_the_client_reads(server: LiveServer, token: str,
                                                        project: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    made = httpx.post(face(server) + "devices", headers=headers,
                      json={"project_id": project, "device_id": "raw-1"})
    assert made.status_code == 201
    assert set(made.json()) == {"device_id", "device_name", "project_id", "created"}
    assert (made.json()["device_id"], made.json()["project_id"]) == ("raw-1", project)
    again = httpx.post(face(server) + "devices", headers=headers,
                       json={"project_id": project, "device_id": "raw-1"})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == 150
    bad = httpx.post(face(server) + "devices", headers=headers,
                     json={"project_id": project, "device_id": "no spaces"})
    assert bad.status_code == 400 and "Device key" in bad.json()["errors"][0]["message"]
    assert httpx.post(face(server) + "devices", headers=headers,
                      json={"project_id": "seven"}).status_code == 400


# --- imports --------------------------------------------------------------------------------

def test_datastore_over_1000_values_is_split_and_nulls_are_no_points(
        server: LiveServer, user: TestUser, project: int, token: str) -> None:
    ran = run(server, """
        client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerOrSetId("table-dev").build()
        store = client.createDataStore(["temp", "hum", "wind"])
        for i in range(700):  # 2,100 values: three requests of at most 333 rows
            row = {"temp": 20.5 + i, "hum": i}
            if i % 2 == 0:
                row["wind"] = i / 4
            store.add(iobeam.Timestamp(1_000_000 + i, unit=iobeam.TimeUnit.SECONDS), row)
        requests = len(client._importService._makeListOfBatchReqs(PROJECT_ID, "table-dev",
                                                                   store))
        client.send()
        report(requests=requests, left=len(store))
    """, token, project)
    assert ran == {"requests": 3, "left": 0}  # split by the client, each answered 200
    temp = points(user, "table-dev", "temp")
    wind = points(user, "table-dev", "wind")
    assert len(temp) == 700 and temp[0] == [1_000_000_000_000, 20.5]
    assert temp[-1] == [1_000_699_000_000, 719.5]
    assert len(points(user, "table-dev", "hum")) == 700
    assert len(wind) == 350 and wind[1] == [1_000_002_000_000, 0.5]


def test_the_plain_import_form(server: LiveServer, user: TestUser, project: int,
                               token: str) -> None:
    ran = run(server, """
        from iobeam.endpoints import imports

        service = imports.ImportService(PROJECT_TOKEN,
                                        requester=iobeam.request.getRequester(url=BACKEND))
        series = {"temp": {iobeam.DataPoint(v, timestamp=1000 + v) for v in range(3)},
                  "hum": {iobeam.DataPoint(50, timestamp=2000)}}
        report(result=list(service.importData(PROJECT_ID, "plain-dev", series)))
    """, token, project)
    assert ran["result"] == [True, None]
    assert points(user, "plain-dev", "temp") == [[1_000_000, 0.0], [1_001_000, 1.0],
                                                 [1_002_000, 2.0]]
    assert points(user, "plain-dev", "hum") == [[2_000_000, 50.0]]


def test_bad_imports_are_refused_clearly_and_write_nothing(
        server: LiveServer, user: TestUser, project: int, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = face(server) + "imports"
    base = {"project_id": project, "device_id": "bad-dev", "timefmt": "usec"}
    for name in ("time_offset", "ALL"):
        answer = httpx.post(url, params={"fmt": "table"}, headers=headers, json={
            **base, "sources": {"fields": ["time", "ok", name], "data": [[1, 1, 2]]}})
        assert answer.status_code == 400 and "reserved" in answer.json()["errors"][0]["message"]
    answer = httpx.post(url, headers=headers, json={
        **base, "sources": [{"name": "time", "data": [{"time": 1, "value": 1}]}]})
    assert answer.status_code == 400 and "reserved" in answer.json()["message"]
    answer = httpx.post(url, params={"fmt": "table"}, headers=headers, json={
        **base, "sources": {"fields": ["time", "ok"], "data": [[1, 1], [2, "warm"]]}})
    assert answer.status_code == 400 and "row 1" in answer.json()["message"]
    assert httpx.post(url, params={"fmt": "csv"}, headers=headers, json=base
                      ).status_code == 400
    assert httpx.post(url, headers=headers, json={**base, "device_id": None, "sources": []}
                      ).status_code == 400
    with user.client() as c:  # not even the device was registered
        assert c.get(f"/projects/{project}/devices/bad-dev").status_code == 404


# --- tokens ---------------------------------------------------------------------------------

def test_project_tokens_are_jwts_the_client_can_read(server: LiveServer, user: TestUser,
                                                     project: int, tmp_path: Path) -> None:
    token = mint(server, user.token, project, read="True", write="False")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header.get("kid") is None and header["alg"] == "HS256"
    found = claims(token)
    assert found["pid"] == project and found["scopes"] == ["read"]
    assert found["exp"] - time.time() >= 7 * 86400 - 60  # the default lifetime: 7 days
    assert claims(mint(server, user.token, project, duration="5w"))["exp"] - time.time() > \
        34 * 86400
    with server.client(token) as c:  # a Cloudlet project token everywhere
        assert c.get("/me").json()["token"]["project"]["id"] == project
        assert c.post(f"/projects/{project}/devices", json={}).status_code == 403

    runner = CliRunner()
    made = runner.invoke(cli_app, ["tokens", "create", "--project", str(project), "--format",
                                   "jwt"], env={"CLOUDLET_URL": server.url,
                                                "CLOUDLET_TOKEN": user.token,
                                                "CLOUDLET_CONFIG_DIR": str(tmp_path)})
    assert made.exit_code == 0, made.output
    cli_token = made.stdout.strip()
    assert claims(cli_token)["pid"] == project
    ran = run(server, """
        client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerDevice(deviceId="cli-dev").build()
        client.addDataPoint("n", iobeam.DataPoint(1, timestamp=1000))
        client.send()
        report(token_kept=client.projectToken == PROJECT_TOKEN)
    """, cli_token, project)
    assert ran == {"token_kept": True}  # fresh: no refresh
    assert points(user, "cli-dev", "n") == [[1_000_000, 1.0]]


def test_minting_refuses_bad_requests(server: LiveServer, user: TestUser, project: int,
                                      other_user: TestUser) -> None:
    url = face(server) + "tokens/project"
    mine = {"Authorization": f"Bearer {user.token}"}
    for params in ({"project_id": project, "duration": "5y"},
                   {"project_id": project, "write": "maybe"},
                   {"project_id": project, "read": "False", "write": "False"},
                   {"project_id": 0}):
        answer = httpx.get(url, params=params, headers=mine)
        assert answer.status_code == 400, params
        assert answer.json()["errors"][0]["message"]
    assert httpx.get(url, params={"project_id": project}).status_code == 401
    theirs = {"Authorization": f"Bearer {other_user.token}"}
    assert httpx.get(url, params={"project_id": project}, headers=theirs).status_code == 404
    project_token = mint(server, user.token, project)
    assert httpx.get(url, params={"project_id": project},
                     headers={"Authorization": f"Bearer {project_token}"}).status_code == 403
    assert httpx.get(url, params={"project_id": project, "device_id": "nope"},
                     headers=mine).status_code == 404


def test_an_expired_token_is_refreshed_by_the_client(server: LiveServer, user: TestUser,
                                                     project: int) -> None:
    old = mint(server, user.token, project, duration="1s")
    time.sleep(1.5)  # past its exp
    with server.client(old) as c:
        refused = c.get("/me")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    ran = run(server, """
        client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerDevice(deviceId="refresh-dev").build()
        client.addDataPoint("n", iobeam.DataPoint(3, timestamp=1000))
        client.send()
        report(token=client.projectToken)
    """, old, project)
    new = ran["token"]
    assert new != old and claims(new)["jti"] == claims(old)["jti"]
    assert claims(new)["exp"] > time.time() + 86400  # the client is satisfied with it
    assert points(user, "refresh-dev", "n", new) == [[1_000_000, 3.0]]
    with server.client(old) as c:  # the client sent its first JWT all along: one token
        assert c.get("/me").status_code == 200
    with user.client() as c:  # one token, refreshed: revoking it revokes every JWT of it
        mine = [t for t in c.get("/tokens").json()["results"] if t["prefix"] == "jwt"
                and (t["project"] or {}).get("id") == project]
        assert len(mine) == 1
        assert c.delete(f"/tokens/{mine[0]['id']}").status_code == 204
    with server.client(new) as c:
        assert c.get("/me").status_code == 401
    refused_refresh = httpx.post(face(server) + "tokens/project", json={"refresh_token": old})
    assert refused_refresh.status_code == 401
    assert "revoked" in refused_refresh.json()["errors"][0]["message"]


def test_a_token_near_expiry_is_refreshed_before_every_call(
        server: LiveServer, user: TestUser, project: int) -> None:
    near = mint(server, user.token, project, duration="12h")  # within the client's 24 h
    ran = run(server, """
        client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerOrSetId("near-dev").build()
        client.addDataPoint("n", iobeam.DataPoint(4, timestamp=1000))
        client.send()
        report(token=client.projectToken)
    """, near, project)
    assert ran["token"] != near and claims(ran["token"])["exp"] > claims(near)["exp"]
    assert points(user, "near-dev", "n") == [[1_000_000, 4.0]]


def test_refresh_refuses_what_is_not_a_refreshable_project_token(
        server: LiveServer, user: TestUser, project: int) -> None:
    url = face(server) + "tokens/project"
    pinned = mint(server, user.token, project, refreshable="False")
    answer = httpx.post(url, json={"refresh_token": pinned})
    assert answer.status_code == 403 and "not refreshable" in answer.json()["message"]
    answer = httpx.post(url, json={"refresh_token": user.token})  # a login session
    assert answer.status_code == 403 and "project tokens" in answer.json()["message"]
    forged = pinned.rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    assert httpx.post(url, json={"refresh_token": forged}).status_code == 401
    assert httpx.post(url, json={"refresh_token": user.api_token(scope="read")}
                      ).status_code == 401
    assert httpx.post(url, json={}).status_code == 400
    assert httpx.post(url, content=b"{not json").status_code == 400


# --- permissions ----------------------------------------------------------------------------

SEND = """
    client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
        .setDeviceId("perm-dev").build()
    client.addDataPoint("n", iobeam.DataPoint(5, timestamp=1000))
    try:
        client.send()
        failed = None
    except Exception as error:
        failed = str(error)
    try:
        client.registerDevice(deviceId="perm-dev-2")
        registered = None
    except Exception as error:
        registered = type(error).__name__ + ": " + str(error)
    report(failed=failed, registered=registered)
"""


def test_a_token_without_write_cannot_send_or_register(server: LiveServer, user: TestUser,
                                                       project: int) -> None:
    reader = mint(server, user.token, project, read="True", write="False")
    ran = run(server, SEND, reader, project)
    assert ran["failed"].startswith("send failed. server sent: ")
    assert "'code': 403" in ran["failed"]
    assert ran["registered"].startswith("UnauthorizedError")  # the client's 403 error
    with user.client() as c:
        assert c.get(f"/projects/{project}/devices").json()["count"] == 0


def test_another_projects_token_can_neither_write_nor_register(
        server: LiveServer, user: TestUser, project: int) -> None:
    with user.client() as c:
        other = c.post("/projects", json={"name": "elsewhere"}).json()
    theirs = mint(server, user.token, other["id"])
    ran = run(server, SEND, theirs, project)
    assert ran["failed"].startswith("send failed. server sent: ")
    assert ran["registered"] is not None
    with user.client() as c:
        assert c.get(f"/projects/{project}/devices").json()["count"] == 0


def test_a_device_token_writes_only_its_device(server: LiveServer, user: TestUser,
                                               project: int, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    httpx.post(face(server) + "devices", headers=headers,
               json={"project_id": project, "device_id": "own"}).raise_for_status()
    device_token = mint(server, user.token, project, device_id="own")
    assert isinstance(claims(device_token)["did"], int)
    url = face(server) + "imports"
    body = {"project_id": project, "timefmt": "msec",
            "sources": [{"name": "n", "data": [{"time": 1, "value": 1}]}]}
    mine = httpx.post(url, json={**body, "device_id": "own"},
                      headers={"Authorization": f"Bearer {device_token}"})
    assert mine.status_code == 200
    other = httpx.post(url, json={**body, "device_id": "someone-else"},
                       headers={"Authorization": f"Bearer {device_token}"})
    assert other.status_code == 403
    assert points(user, "own", "n") == [[1_000, 1.0]]


# --- seed 003: Retrieving Data --------------------------------------------------------------

RETRIEVING = """
    DEVICE_ID = os.environ["DEVICE_ID"]
    START = int(os.environ["START"])
    END = int(os.environ["END"])
    token = PROJECT_TOKEN  # a project token with read access
    seen = {}

    # all series from all devices in project PROJECT_ID
    q = iobeam.QueryReq(PROJECT_ID)
    seen["project"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # all series from device DEVICE_ID in project PROJECT_ID
    q = iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID)
    seen["device"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # series "temp" from device DEVICE_ID in project PROJECT_ID
    q = iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp")
    seen["series"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # Last 5 results after a given START:
    q = q.limit(5).fromTime(START)
    seen["limit"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # All results between two times, START and END
    q = iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp")
    q = q.fromTime(START).toTime(END)
    seen["range"] = iobeam.makeQuery(token, q, backend=BACKEND)
    # OR...
    q = iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp")
    q = q.inTimeRange(START, END)
    seen["in_range"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # All results where the value is greater than 0
    q = iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp")
    q = q.greaterThan(0)
    seen["positive"] = iobeam.makeQuery(token, q, backend=BACKEND)

    q = iobeam.QueryReq(PROJECT_ID, timeUnit=iobeam.TimeUnit.MICROSECONDS)
    seen["usec"] = iobeam.makeQuery(token, q, backend=BACKEND)

    # the rest of the chainable parameters
    def query():
        return iobeam.QueryReq(PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp")
    seen["less"] = iobeam.makeQuery(token, query().lessThan(0), backend=BACKEND)
    seen["value_range"] = iobeam.makeQuery(token, query().inValueRange(-1, 2), backend=BACKEND)
    seen["equals"] = iobeam.makeQuery(token, query().equals(4), backend=BACKEND)
    seen["to"] = iobeam.makeQuery(token, query().toTime(START), backend=BACKEND)
    seen["sec"] = iobeam.makeQuery(token, iobeam.QueryReq(
        PROJECT_ID, deviceId=DEVICE_ID, seriesName="temp", timeUnit=iobeam.TimeUnit.SECONDS
    ).fromTime(END // 1000), backend=BACKEND)
    seen["all_devices_temp"] = iobeam.makeQuery(token, iobeam.QueryReq(
        PROJECT_ID, seriesName="temp"), backend=BACKEND)
    report(**seen)
"""

T0 = 1_427_316_488_000  # ms, the seed's first time


def _write_weather(server: LiveServer, token: str, project: int) -> None:
    run(server, f"""
        client = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerOrSetId("weather").build()
        store = client.createDataStore(["temp", "hum"])
        for i in range(10):
            store.add({T0} + i * 1000, {{"temp": i - 3, "hum": 50 + i}})
        other = iobeam.ClientBuilder(PROJECT_ID, PROJECT_TOKEN).setBackend(BACKEND) \\
            .registerOrSetId("cellar").build()
        other.addDataPoint("temp", iobeam.DataPoint(12, timestamp={T0}))
        client.send()
        other.send()
        report(ok=True)
    """, token, project)


def _data(answer: dict[str, Any], device: str, name: str) -> list[list[Any]]:
    found = [r for r in answer["result"] if (r["device_id"], r["name"]) == (device, name)]
    assert len(found) == 1, answer
    return [[p["time"], p["value"]] for p in found[0]["data"]]


def test_retrieving_data_as_the_seed_shows(server: LiveServer, user: TestUser, project: int,
                                           token: str) -> None:
    _write_weather(server, token, project)
    reader = mint(server, user.token, project, read="True")
    start, end = T0 + 2000, T0 + 6000
    seen = run(server, RETRIEVING, reader, project, DEVICE_ID="weather", START=str(start),
               END=str(end))
    temp = [[T0 + i * 1000, float(i - 3)] for i in range(10)]
    everything = seen["project"]
    assert everything["timefmt"] == "msec"
    assert {(r["project_id"], r["device_id"], r["name"]) for r in everything["result"]} == {
        (project, "weather", "temp"), (project, "weather", "hum"), (project, "cellar", "temp")}
    assert _data(everything, "weather", "temp") == temp
    assert _data(everything, "cellar", "temp") == [[T0, 12.0]]
    assert {r["name"] for r in seen["device"]["result"]} == {"temp", "hum"}
    assert [r["name"] for r in seen["series"]["result"]] == ["temp"]
    assert _data(seen["series"], "weather", "temp") == temp
    assert _data(seen["limit"], "weather", "temp") == temp[-5:]  # the latest five after START
    assert _data(seen["range"], "weather", "temp") == temp[2:7]  # both ends inclusive
    assert _data(seen["in_range"], "weather", "temp") == temp[2:7]
    assert _data(seen["positive"], "weather", "temp") == temp[4:]  # strictly greater
    assert seen["usec"]["timefmt"] == "usec"
    assert _data(seen["usec"], "weather", "hum")[0] == [T0 * 1000, 50.0]
    assert _data(seen["less"], "weather", "temp") == temp[:3]
    assert _data(seen["value_range"], "weather", "temp") == temp[3:5]  # -1 < v < 2
    assert _data(seen["equals"], "weather", "temp") == [temp[7]]
    assert _data(seen["to"], "weather", "temp") == temp[:3]
    assert seen["sec"]["timefmt"] == "sec"
    assert _data(seen["sec"], "weather", "temp") == [[(T0 + i * 1000) // 1000, float(i - 3)]
                                                     for i in range(6, 10)]
    assert {r["device_id"] for r in seen["all_devices_temp"]["result"]} == {"weather", "cellar"}
    assert {r["name"] for r in seen["all_devices_temp"]["result"]} == {"temp"}


def test_exports_stream_every_point_without_limit(server: LiveServer, user: TestUser,
                                                  project: int, token: str) -> None:
    with Client(server.url, token=user.token) as client:  # written natively, read as iobeam
        client.write_points(project, device="bulk", series={
            "n": {"time": list(range(0, 30_000_000, 1000)), "value": list(range(30_000))}},
            precision="us")
    answer = httpx.get(face(server) + f"exports/{project}/bulk/n",
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200
    data = answer.json()["result"][0]["data"]
    assert len(data) == 30_000 and data[-1] == {"time": 29_999, "value": 29_999.0}


def test_an_export_of_a_project_groups_every_series_in_one_query(
        server: LiveServer, user: TestUser, project: int, token: str) -> None:
    """The export reads the project once, stream by stream: every series comes whole and
    oldest first, in stream order, and a series with nothing in range still appears."""
    written = {("a", "x"): [(t, t / 10) for t in range(0, 90_000)],  # several blocks
               ("a", "y"): [(t, -1.0) for t in range(500_000, 500_010)],  # out of range
               ("b", "x"): [(t, t * 2.0) for t in range(1, 600, 7)]}  # interleaved times
    with Client(server.url, token=user.token) as client:
        for (device, name), rows in written.items():
            client.write_points(project, device=device, series={name: {
                "time": [t for t, _ in rows], "value": [v for _, v in rows]}}, precision="ms")
        order = [(s["device_key"], s["series"]) for s in sorted(
            client.get(f"projects/{project}/streams")["results"], key=lambda s: s["id"])]
    headers = {"Authorization": f"Bearer {token}"}
    for params, keep in (({"to": 99_999}, lambda rows: rows),
                         ({"to": 99_999, "limit": 4}, lambda rows: rows[-4:])):
        answer = httpx.get(face(server) + f"exports/{project}", params=params,
                           headers=headers, timeout=60)
        assert answer.status_code == 200
        result = answer.json()["result"]
        assert [(r["device_id"], r["name"]) for r in result] == order
        for r in result:
            want = keep([[t, v] for t, v in written[r["device_id"], r["name"]] if t <= 99_999])
            assert [[d["time"], d["value"]] for d in r["data"]] == want, (params, r["name"])


def test_exports_refuse_other_projects_and_bad_parameters(
        server: LiveServer, user: TestUser, project: int, token: str) -> None:
    _write_weather(server, token, project)
    with user.client() as c:
        other = c.post("/projects", json={"name": "elsewhere"}).json()
    theirs = mint(server, user.token, other["id"])
    seen = run(server, """
        q = iobeam.QueryReq(PROJECT_ID, deviceId="weather")
        report(answer=iobeam.makeQuery(PROJECT_TOKEN, q, backend=BACKEND))
    """, theirs, project)
    assert seen["answer"]["errors"][0]["code"] == 404 and "result" not in seen["answer"]
    headers = {"Authorization": f"Bearer {token}"}
    url = face(server) + f"exports/{project}/weather/temp"
    for params in ({"limit": "0"}, {"from": "soon"}, {"timefmt": "nsec"},
                   {"greater_than": "x"}, {"from": "5", "to": "4"}):
        answer = httpx.get(url, params=params, headers=headers)
        assert answer.status_code == 400 and answer.json()["errors"][0]["message"], params
    assert httpx.get(url).status_code == 401
    assert httpx.get(face(server) + f"exports/{project}/nobody/temp",
                     headers=headers).status_code == 404
