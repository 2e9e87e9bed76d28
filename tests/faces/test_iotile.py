"""The IOTile Cloud face against a live server, driven by the original `iotile-cloud` 0.9.14
package in its own venv: seed 002's examples in order (with only the corrections issue 11
names), on data written through the native API and line protocol first; and the other way
round, events and reports uploaded here are the native API's and the SDK's."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudlet import Client
from tests.support.accounts import TestUser, make_user
from tests.support.legacy import IOTILE
from tests.support.live import LiveServer

PRELUDE = """
import json, os, sys, datetime, logging
from iotile_cloud.api.connection import Api
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError
URL = os.environ["IOTILE_URL"]
EMAIL = os.environ["IOTILE_EMAIL"]
PASSWORD = os.environ["IOTILE_PASSWORD"]
out = {}

def status_of(call):
    try:
        call()
    except HttpNotFoundError as error:
        return ["HttpNotFoundError", error.response.status_code]
    except HttpClientError as error:
        return ["HttpClientError", error.response.status_code]
    return None
"""


def face(server: LiveServer) -> str:
    return server.url + "/iotile"


def run(server: LiveServer, user: TestUser, script: str, cwd: Path | None = None,
        **env: str) -> Any:
    """`script` after the prelude, in the client's venv; its `out` dict, printed last."""
    body = PRELUDE + textwrap.dedent(script) + "\nprint(json.dumps(out, default=str))\n"
    return IOTILE.run(body, env={"IOTILE_URL": face(server), "IOTILE_EMAIL": user.email,
                                 "IOTILE_PASSWORD": user.password, **env},
                      timeout=180, cwd=cwd)


class Farm:
    """A project of a fresh user with two devices' data: `pump` (series `flow`, written as
    native JSON, with an output unit) and `tank` (series `level`, as line protocol)."""

    T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

    def __init__(self, user: TestUser) -> None:
        self.user = user
        with user.client() as c:
            made = c.post("/projects", json={"name": "Irrigation"})
            made.raise_for_status()
            self.project = made.json()
            pid = self.project["id"]
            flow = [[self.iso(i * 60), float(10 + i)] for i in range(5)]
            c.post(f"/projects/{pid}/points",
                   json={"device": "pump", "series": {"flow": flow}}).raise_for_status()
            lines = "".join(f"tank level={1.5 * i} {(self.T0 + i * 60) * 10**9}\n"
                            for i in range(4))
            c.post(f"/projects/{pid}/write", content=lines.encode()).raise_for_status()
            c.patch(f"/projects/{pid}/variables/flow", json={"output_unit": {
                "unit_short": "GPM", "unit_full": "Gallons per Min", "m": 3, "d": 2,
                "o": 0.5}}).raise_for_status()
            streams = c.get(f"/projects/{pid}/streams").json()["results"]
            self.streams = {s["series"]: s for s in streams}
            devices = c.get(f"/projects/{pid}/devices").json()["results"]
            self.devices = {d["key"]: d for d in devices}

    @classmethod
    def iso(cls, offset: int) -> str:
        from datetime import UTC, datetime
        return datetime.fromtimestamp(cls.T0 + offset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def flow(self) -> str:
        return str(self.streams["flow"]["gid"])

    @property
    def level(self) -> str:
        return str(self.streams["level"]["gid"])


@pytest.fixture
def farm(user: TestUser) -> Farm:
    return Farm(user)


# --- login and logout -------------------------------------------------------------------------

def test_login_logout_and_tokens_as_the_seed_shows(server: LiveServer, user: TestUser) -> None:
    """Seed: "Login and Logout", set_token, and the token from login; plus refresh, the
    wrong password, `jwt None` before login and the revoked jwt after logout."""
    ran = run(server, user, """
        c = Api(domain=URL)
        out["anonymous"] = status_of(lambda: c.account.get())
        out["wrong"] = c.login(email=EMAIL, password="not " + PASSWORD)
        ok = c.login(email=EMAIL, password=PASSWORD)
        out["ok"] = ok
        if ok:
            token = c.token
            out["token_type"] = c.token_type
            out["username"] = c.username
            out["accounts"] = c.account.get()
            out["refreshed"] = c.refresh_token()
            out["fresh_differs"] = c.token != token
            out["after_refresh"] = c.account.get()["count"]
            kept = c.token
            c.logout()
            out["token_after_logout"] = c.token
            d = Api(domain=URL)
            d.set_token(kept)
            out["revoked"] = status_of(lambda: d.account.get())
            e = Api(domain=URL)
            e.set_token(token)
            out["first_still_valid"] = e.account.get()["count"]
    """)
    assert ran["anonymous"] == ["HttpClientError", 401]
    assert ran["wrong"] is False and ran["ok"] is True
    assert ran["token_type"] == "jwt" and ran["username"] == user.username
    accounts = ran["accounts"]
    assert accounts["count"] == 1 and [a["username"] for a in accounts["results"]] == [
        user.username]
    assert accounts["results"][0]["email"] == user.email
    assert ran["refreshed"] is True and ran["fresh_differs"] is True
    assert ran["after_refresh"] == 1
    assert ran["token_after_logout"] is None
    assert ran["revoked"] == ["HttpClientError", 401]
    assert ran["first_still_valid"] == 1  # refresh leaves the first jwt to its expiry


def test_an_api_token_works_with_the_token_scheme(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="iotile", scope="read")
    ran = run(server, user, """
        c = Api(domain=URL)
        c.set_token(os.environ["TOKEN"], token_type="token")
        out["me"] = c.account.get()["results"][0]["username"]
        out["write"] = status_of(lambda: c.org.post({"name": "Nope"}))
        c.logout()
        out["after_logout"] = status_of(lambda: c.account.get())
        c.set_token(os.environ["TOKEN"], token_type="token")
        out["still"] = c.account.get()["count"]
    """, TOKEN=token)
    assert ran["me"] == user.username
    assert ran["write"] == ["HttpClientError", 403]  # a read token can't create orgs
    assert ran["after_logout"] == ["HttpClientError", 401]  # the client dropped its token
    assert ran["still"] == 1  # an API token outlives a logout


# --- the generic REST API ---------------------------------------------------------------------

def test_the_generic_rest_api_example(server: LiveServer, user: TestUser) -> None:
    """Seed: "Generic Rest API", keyword filters and nested resources, in order."""
    ran = run(server, user, """
        api = Api(domain=URL)
        ok = api.login(email=EMAIL, password=PASSWORD)
        out["orgs_before"] = [o["slug"] for o in api.org.get()["results"]]
        new = api.org.post({"name": "My new Org"})
        out["new"] = new
        out["put"] = api.org(new["slug"]).put({"about": "About Org"})
        out["patch"] = api.org(new["slug"]).patch({"about": "About new Org"})
        out["get"] = api.org(new["slug"]).get()
        out["filtered"] = {}
        for org in api.org.get()['results']:
            org_projects = api.project.get(org__slug='{0}'.format(org['slug']))
            out["filtered"][org["slug"]] = [p["name"] for p in org_projects["results"]]
        out["nested"] = {}
        for org in api.org.get()['results']:
            org_projects = api.org(org['slug']).projects.get()
            out["nested"][org["slug"]] = [p["name"] for p in org_projects["results"]]
        out["delete"] = api.org(new["slug"]).delete()
        out["gone"] = status_of(lambda: api.org(new["slug"]).get())
        out["delete_again"] = api.org(new["slug"]).delete()
        out["bad"] = status_of(lambda: api.org.post({"about": "no name"}))
        api.logout()
    """)
    new = ran["new"]
    assert new["name"] == "My new Org" and new["slug"] == "my-new-org" and new["about"] == ""
    assert ran["put"]["about"] == "About Org"
    assert ran["patch"]["about"] == "About new Org" and ran["get"]["about"] == "About new Org"
    personal = ran["orgs_before"]
    assert len(personal) == 1
    assert ran["filtered"] == {personal[0]: ["home"], "my-new-org": []}
    assert ran["nested"] == ran["filtered"]
    assert ran["delete"] is True and ran["delete_again"] is False
    assert ran["gone"] == ["HttpNotFoundError", 404]
    assert ran["bad"] == ["HttpClientError", 400]


def test_every_path_ends_in_a_slash_and_gets_carry_json(server: LiveServer,
                                                        user: TestUser) -> None:
    """The client's wire, sent by hand: `Content-Type: application/json` on a GET with
    no body, `jwt` in lowercase, DRF pages; unknown paths are 404 JSON."""
    base = face(server) + "/api/v1"
    login = httpx.post(base + "/auth/login/", json={"email": user.email,
                                                    "password": user.password})
    assert login.status_code == 200
    jwt = login.json()["jwt"]
    headers = {"Authorization": f"jwt {jwt}", "Content-Type": "application/json"}
    page = httpx.get(base + "/project/", headers=headers)
    assert page.status_code == 200
    assert set(page.json()) == {"count", "next", "previous", "results"}
    assert httpx.get(base + "/project/", headers={**headers, "Authorization": "jwt None"}
                     ).status_code == 401
    missing = httpx.get(base + "/nothing/here/", headers=headers)
    assert missing.status_code == 404 and "detail" in missing.json()
    assert httpx.post(base + "/auth/login/", json={"email": user.email}).status_code == 400


def test_pages_follow_page_and_page_size(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        for i in range(3):
            c.post("/orgs", json={"name": f"Paged {i}", "slug": f"{user.username}-p{i}"}
                   ).raise_for_status()
    ran = run(server, user, """
        api = Api(domain=URL)
        api.login(email=EMAIL, password=PASSWORD)
        out["all"] = api.org.get()
        out["first"] = api.org.get(page_size=2)
        out["second"] = api.org.get(page_size=2, page=2)
        out["bad"] = status_of(lambda: api.org.get(page=0))
    """)
    assert ran["all"]["count"] == 4 and len(ran["all"]["results"]) == 4
    assert ran["all"]["next"] is None
    first, second = ran["first"], ran["second"]
    assert first["count"] == 4 and len(first["results"]) == 2 and first["next"]
    assert "page=2" in first["next"] and first["previous"] is None
    assert len(second["results"]) == 2 and second["next"] is None and second["previous"]
    slugs = [o["slug"] for o in first["results"] + second["results"]]
    assert sorted(slugs) == sorted(o["slug"] for o in ran["all"]["results"])
    assert ran["bad"] == ["HttpClientError", 400]


# --- resources, their fields and filters --------------------------------------------------------

def test_projects_devices_variables_and_streams(server: LiveServer, farm: Farm) -> None:
    user, project = farm.user, farm.project
    ran = run(server, user, """
        api = Api(domain=URL)
        api.login(email=EMAIL, password=PASSWORD)
        p = api.project(os.environ["UUID"]).get()
        out["project"] = p
        out["by_slug"] = api.project(p["slug"]).get()["id"]
        out["devices"] = {f: [d["slug"] for d in api.device.get(project=v)["results"]]
                          for f, v in (("slug", p["slug"]), ("uuid", p["id"]),
                                       ("int", os.environ["INT_ID"]))}
        out["all_devices"] = api.device.get()["count"]
        pump = api.device(os.environ["PUMP"]).get()
        out["pump"] = pump
        out["extra"] = api.device(pump["slug"]).extra.get()["stream_counts"]
        out["patched"] = api.device(pump["slug"]).patch({"label": "Filtration Flow"})["label"]
        out["bad_patch"] = status_of(lambda: api.device(pump["slug"]).patch({"sg": "x"}))
        streams = api.stream.get(project=p["slug"])
        out["streams"] = streams
        out["by_uuid"] = api.stream.get(project=p["id"])["count"]
        out["by_device"] = [s["slug"] for s in api.stream.get(device=pump["slug"])["results"]]
        out["stream"] = api.stream(os.environ["FLOW"]).get()
        out["variable"] = api.variable(out["stream"]["variable"]).get()
        out["variables"] = [v["name"] for v in api.variable.get(project=p["slug"])["results"]]
        nowhere = "s--0000-0001--0000-0000-0000-0001--5001"
        out["missing"] = {
            "project": status_of(lambda: api.project("0b1f8c1e-5d3c-4f7a-9a6e-0").get()),
            "device": status_of(lambda: api.device("d--0000-0000-0fff-ffff").get()),
            "stream": status_of(lambda: api.stream(nowhere).get()),
            "variable": status_of(lambda: api.variable("v--0fff-0000--5001").get()),
            "garbage": status_of(lambda: api.stream("nonsense").get()),
        }
    """, UUID=project["uuid"], INT_ID=str(project["id"]), PUMP=farm.devices["pump"]["gid"],
        FLOW=farm.flow)
    p = ran["project"]
    assert p["id"] == project["uuid"] and p["name"] == "Irrigation"
    assert p["slug"] == project["gid"] and p["gid"] == project["gid"][3:]
    assert ran["by_slug"] == project["uuid"]
    gids = sorted(d["gid"] for d in farm.devices.values())
    assert {k: sorted(v) for k, v in ran["devices"].items()} == {
        "slug": gids, "uuid": gids, "int": gids}
    assert ran["all_devices"] == 2
    pump = ran["pump"]
    assert pump["slug"] == farm.devices["pump"]["gid"] and pump["project"] == project["uuid"]
    assert pump["external_id"] == "pump" and pump["gid"] == pump["slug"][3:]
    assert ran["extra"] == {"total": 1}
    assert ran["patched"] == "Filtration Flow"
    assert ran["bad_patch"] == ["HttpClientError", 400]
    streams = ran["streams"]
    assert streams["count"] == 2 and ran["by_uuid"] == 2
    assert sorted(s["slug"] for s in streams["results"]) == sorted([farm.flow, farm.level])
    assert ran["by_device"] == [farm.flow]
    s = ran["stream"]
    assert (s["slug"], s["project"], s["project_id"], s["device"]) == (
        farm.flow, project["gid"], project["uuid"], pump["slug"])
    assert s["var_name"] == "flow" and s["variable"] == farm.streams["flow"]["variable"]
    out = s["output_unit"]
    assert (out["unit_short"], out["unit_full"], out["m"], out["d"], out["o"]) == (
        "GPM", "Gallons per Min", 3, 2, 0.5)
    assert isinstance(out["m"], int) and isinstance(s["input_unit"]["d"], int)
    v = ran["variable"]
    assert v["slug"] == s["variable"] and v["name"] == "flow"
    assert v["output_unit"]["unit_short"] == "GPM"
    assert sorted(ran["variables"]) == ["flow", "level"]
    assert ran["missing"] == {k: ["HttpNotFoundError", 404] for k in ran["missing"]}


def test_another_users_objects_are_404(server: LiveServer, farm: Farm) -> None:
    stranger = make_user(server, "iotx")
    ran = run(server, stranger, """
        api = Api(domain=URL)
        api.login(email=EMAIL, password=PASSWORD)
        out["project"] = status_of(lambda: api.project(os.environ["UUID"]).get())
        out["device"] = status_of(lambda: api.device(os.environ["PUMP"]).get())
        out["stream"] = status_of(lambda: api.stream(os.environ["FLOW"]).get())
        out["streams"] = status_of(lambda: api.stream.get(project=os.environ["UUID"]))
        out["by_device"] = status_of(lambda: api.stream.get(device=os.environ["PUMP"]))
        out["all_streams"] = api.stream.get()["count"]
    """, UUID=farm.project["uuid"], PUMP=farm.devices["pump"]["gid"], FLOW=farm.flow)
    assert ran.pop("all_streams") == 0
    assert ran == {k: ["HttpNotFoundError", 404] for k in ran}


# --- stream data and reports ------------------------------------------------------------------

def test_getting_stream_data_as_the_seed_shows(server: LiveServer, farm: Farm) -> None:
    """Seed: "Getting Stream Data" (the `start`/`end` call with its comma), then the stats
    script deriving from StreamData, on points written natively and as line protocol."""
    ran = run(server, farm.user, """
        import io, contextlib
        from iotile_cloud.stream.data import StreamData
        c = Api(domain=URL)
        c.login(email=EMAIL, password=PASSWORD)
        out["printed"] = {}
        for name in ("FLOW", "LEVEL"):
            stream_id = os.environ[name]
            stream_data = StreamData(stream_id, c)
            # Get last 100 entries
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                stream_data.initialize_from_server(lastn=100)
                for item in stream_data.data:
                    print('{0}: {1}'.format(item['timestamp'], item['value']))
            out["printed"][name] = printed.getvalue().splitlines()
            out[name] = stream_data.data
        stream_data = StreamData(os.environ["FLOW"], c)
        stream_data.initialize_from_server(start=os.environ["START"], end=os.environ["END"])
        out["range"] = [r["value"] for r in stream_data.data]
        stream_data.initialize_from_server(lastn=2)
        out["lastn"] = [r["value"] for r in stream_data.data]
        stream_data.initialize_from_server(lastn=5, page_size=2)
        out["paged"] = [r["value"] for r in stream_data.data]

        import numpy as np
        stream_id = os.environ["FLOW"]
        lastn = 1000

        class MyStreamData(StreamData):
            def analyze(self):
                deltas = []
                for row in self.data:
                    deltas.append(row['value'])
                print('==================================')
                print('Count = {0}'.format(len(deltas)))
                print('Mean = {0}'.format(np.mean(deltas)))
                print('Max = {0}'.format(np.max(deltas)))
                print('Min = {0}'.format(np.min(deltas)))
                print('==================================')

        printed = io.StringIO()
        ok = c.login(email=EMAIL, password=PASSWORD)
        if ok:
            stream_data = MyStreamData(stream_id=stream_id, api=c)
            stream_data.initialize_from_server(lastn=lastn)
            with contextlib.redirect_stdout(printed):
                stream_data.analyze()
            c.logout()
        out["stats"] = printed.getvalue().splitlines()
    """, FLOW=farm.flow, LEVEL=farm.level, START=Farm.iso(60)[:-1] + ".000Z",
        END=Farm.iso(180)[:-1] + ".000Z")
    flow = ran["FLOW"]
    assert [r["value"] for r in flow] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert [r["timestamp"] for r in flow] == [
        Farm.iso(i * 60)[:-1] + ".000000Z" for i in range(5)]
    assert [r["output_value"] for r in flow] == [v * 3 / 2 + 0.5 for v in range(10, 15)]
    assert [r["int_value"] for r in flow] == list(range(10, 15))
    assert {r["stream"] for r in flow} == {farm.flow}
    assert ran["printed"]["FLOW"][0] == f"{Farm.iso(0)[:-1]}.000000Z: 10.0"
    level = ran["LEVEL"]  # written as line protocol, no unit: output is the value
    assert [(r["value"], r["output_value"]) for r in level] == [(1.5 * i, 1.5 * i)
                                                                 for i in range(4)]
    assert [r["int_value"] for r in level] == [0, None, 3, None]
    assert ran["range"] == [11.0, 12.0, 13.0]  # start and end are inclusive
    assert ran["lastn"] == [13.0, 14.0]
    assert ran["paged"] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert ran["stats"] == ["=" * 34, "Count = 5", "Mean = 12.0", "Max = 14.0", "Min = 10.0",
                            "=" * 34]


def test_raw_data_and_data_pages(server: LiveServer, farm: Farm) -> None:
    """`data/?filter=` for a stream, a device and a project, and page walking."""
    ran = run(server, farm.user, """
        from iotile_cloud.stream.data import RawData
        c = Api(domain=URL)
        c.login(email=EMAIL, password=PASSWORD)
        raw = RawData(c)
        raw.initialize_from_server(filter=os.environ["FLOW"])
        out["stream"] = raw.data
        raw.initialize_from_server(filter=os.environ["PUMP"], page_size=3)
        out["device"] = [r["value"] for r in raw.data]
        raw.initialize_from_server(filter=os.environ["PROJECT"], page_size=4)
        out["project"] = sorted([r["stream"], r["value"]] for r in raw.data)
        out["page2"] = c.data.get(filter=os.environ["PROJECT"], page_size=4, page=2)
        out["page9"] = c.data.get(filter=os.environ["PROJECT"], page_size=4, page=9)
        out["nofilter"] = status_of(lambda: c.data.get())
        out["badtime"] = status_of(lambda: c.stream(os.environ["FLOW"]).data.get(start="soon"))
        out["missing"] = status_of(
            lambda: c.stream("s--0000-0fff--0000-0000-0000-0001--5001").data.get())
    """, FLOW=farm.flow, PUMP=farm.devices["pump"]["gid"], PROJECT=farm.project["gid"])
    first = ran["stream"][0]
    assert (first["project"], first["device"], first["variable"], first["stream"]) == (
        farm.project["gid"], farm.devices["pump"]["gid"], farm.streams["flow"]["variable"],
        farm.flow)
    assert [r["value"] for r in ran["stream"]] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert ran["device"] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert ran["project"] == sorted([[farm.flow, 10.0 + i] for i in range(5)]
                                    + [[farm.level, 1.5 * i] for i in range(4)])
    page2 = ran["page2"]
    assert page2["count"] == 9 and len(page2["results"]) == 4
    assert page2["next"] and page2["previous"]
    assert ran["page9"] == {"count": 9, "next": None, "previous": ran["page9"]["previous"],
                            "results": []}
    assert ran["nofilter"] == ["HttpClientError", 400]
    assert ran["badtime"] == ["HttpClientError", 400]
    assert ran["missing"] == ["HttpNotFoundError", 404]


def test_the_accumulation_report(server: LiveServer, farm: Farm) -> None:
    """Seed: "User Reports": sums per stream in output units, and the total."""
    other = Farm(farm.user)  # a second project: its pump through its device, its tank alone
    ran = run(server, farm.user, """
        from iotile_cloud.stream.report import AccumulationReportGenerator
        t0 = datetime.datetime(2023, 11, 14, 22, 13, 20)
        t1 = datetime.datetime(2023, 11, 14, 22, 16, 20)
        sources = [os.environ["PROJECT"], os.environ["PUMP"], os.environ["FLOW"]]
        c = Api(domain=URL)
        ok = c.login(email=EMAIL, password=PASSWORD)
        if ok:
            gen = AccumulationReportGenerator(c)
            stats = gen.compute_sum(sources=sources, start=t0, end=t1)
            out["stats"] = stats
            c.logout()
    """, PROJECT=farm.project["gid"], PUMP=other.devices["pump"]["gid"], FLOW=other.level)
    flow = sum(v * 3 / 2 + 0.5 for v in range(10, 14))  # 22:13:20 to 22:16:20 inclusive
    level = sum(1.5 * i for i in range(4))
    assert ran["stats"] == {"streams": {
        farm.flow: {"sum": flow, "units": "GPM"},
        farm.level: {"sum": level, "units": ""},
        other.flow: {"sum": flow, "units": "GPM"},
        other.level: {"sum": level, "units": ""},
    }, "total": 2 * flow + 2 * level}


# --- uploads, and the other way round --------------------------------------------------------

def test_a_streamer_report_is_stored_listed_and_downloadable(
        server: LiveServer, user: TestUser, tmp_path: Path) -> None:
    """Seed: "Uploading a Streamer Report", in the form 0.9.14 runs (`c.streamer(action=
    'report')` raises TypeError there; `c.streamer.report.upload_file` is the call)."""
    payload = bytes(range(256)) * 4
    (tmp_path / "report.bin").write_bytes(payload)
    ran = run(server, user, """
        c = Api(domain=URL)
        ok = c.login(email=EMAIL, password=PASSWORD)
        if ok:
            ts = '{}'.format(datetime.datetime.utcnow().isoformat())
            try:
                c.streamer(action='report')
            except TypeError:
                out["seed_form"] = "TypeError"
            resp = c.streamer.report.upload_file(filename='report.bin', timestamp=ts)
            out["resp"] = resp
            out["ts"] = ts
            out["listed"] = c.streamer.report.get()
            out["no_ts"] = status_of(lambda: c.streamer.report.upload_file(filename='report.bin'))
    """, cwd=tmp_path)
    assert ran["seed_form"] == "TypeError"
    report = ran["resp"]
    assert report["timestamp"] == ran["ts"] and report["size"] == len(payload)
    assert report["count"] == 0
    assert [r["id"] for r in ran["listed"]["results"]] == [report["id"]]
    assert ran["no_ts"] == ["HttpClientError", 400]
    with Client(server.api, user.token, profile=False, env=False) as sdk:
        node = sdk.files.by_path("/iotile/streamer-reports/report.bin")
        assert node["id"] == report["file"]
        assert node["metadata"] == {"timestamp": ran["ts"], "kind": "iotile-streamer-report"}
        back = sdk.files.download(node["id"], tmp_path / "back.bin")
        assert back.read_bytes() == payload


def test_an_uploaded_event_is_a_stream_event_with_its_file(server: LiveServer, farm: Farm,
                                                           tmp_path: Path) -> None:
    """Seed: "Uploading a Stream Event with Data"."""
    (tmp_path / "shot.json").write_bytes(b'{"test": 1, "hello": 2}')
    ran = run(server, farm.user, """
        from iotile_cloud.utils.basic import datetime_to_str
        c = Api(domain=URL)
        ok = c.login(email=EMAIL, password=PASSWORD)
        if ok:
            data = {
                'stream': os.environ["FLOW"],
                'timestamp': datetime_to_str(datetime.datetime(2023, 11, 14, 22, 20, 0)),
                'encoded_extra_data': json.dumps({
                    'foo': 'bar'
                })
            }
            resp = c.event.upload.upload_file(filename='shot.json', data=data)
            out["resp"] = resp
            out["listed"] = c.event.get(filter=os.environ["FLOW"])
            out["one"] = c.event(resp["id"]).get()
            out["data"] = c.event(resp["id"]).data.get()
            out["no_event"] = status_of(lambda: c.event(resp["id"] + 1000).get())
            bad = dict(data, encoded_extra_data="{not json")
            out["bad"] = status_of(lambda: c.event.upload.upload_file(filename='shot.json',
                                                                      data=bad))
            elsewhere = dict(data, stream="s--0000-0fff--0000-0000-0000-0001--5001")
            out["nostream"] = status_of(lambda: c.event.upload.upload_file(
                filename='shot.json', data=elsewhere))
    """, cwd=tmp_path, FLOW=farm.flow)
    event = ran["resp"]
    assert event["stream"] == farm.flow and event["extra_data"] == {"foo": "bar"}
    assert event["timestamp"] == "2023-11-14T22:20:00.000000Z" and event["has_raw_data"]
    assert [e["id"] for e in ran["listed"]["results"]] == [event["id"]]
    assert ran["one"] == event
    assert ran["data"] == {"test": 1, "hello": 2}  # the fixture's raw event data, as sent
    assert ran["no_event"] == ["HttpNotFoundError", 404]
    assert ran["bad"] == ["HttpClientError", 400]
    assert ran["nostream"] == ["HttpNotFoundError", 404]
    pid = farm.project["id"]
    with Client(server.api, farm.user.token, project=pid, profile=False, env=False) as sdk:
        native = sdk.get(f"/streams/{farm.flow}/events")["results"]
        assert [(e["id"], e["extra_data"], e["file"]) for e in native] == [
            (event["id"], {"foo": "bar"}, event["file"])]
        assert native[0]["timestamp"] == (Farm.T0 + 400) * 10**6
        node = sdk.files.get(event["file"])
        assert node["name"] == "shot.json" and node["metadata"] == {"stream": farm.flow}
        saved = sdk.files.download(event["file"], tmp_path / "back.json")
        assert saved.read_bytes() == b'{"test": 1, "hello": 2}'
        folder = sdk.files.by_path("/iotile/events")
        assert sdk.get(f"/projects/{pid}/files/{folder['id']}/children")["count"] == 1


# --- ids, units and scripts ------------------------------------------------------------------

def test_gid_helpers_and_mdo_agree_with_the_server(server: LiveServer, farm: Farm) -> None:
    """Seed: "Globaly unique ID slugs" (the two syntax errors fixed as strings) on every
    gid the server returns, and MdoHelper on a stream's output unit."""
    ran = run(server, farm.user, """
        from iotile_cloud.utils.gid import (IOTileProjectSlug, IOTileDeviceSlug,
                                            IOTileVariableSlug, IOTileStreamSlug)
        from iotile_cloud.utils.mdo import MdoHelper
        project = IOTileProjectSlug(5)
        assert(str(project) == 'p--0000-0005')
        device = IOTileDeviceSlug(10)
        assert(str(device) == 'd--0000-0000-0000-000a')
        variable = IOTileVariableSlug('5001', project)
        assert(str(variable) == 'v--0000-0005--5001')
        id = IOTileStreamSlug()
        id.from_parts(project=project, device=device, variable=variable)
        assert(str(id) == 's--0000-0005--0000-0000-0000-000a--5001')
        parts = id.get_parts()
        assert str(parts['project']) == str(project)
        assert str(parts['device']) == str(device)
        assert str(parts['variable']) == str(variable)
        assert str(IOTileDeviceSlug('000a')) == 'd--0000-0000-0000-000a'
        assert str(IOTileDeviceSlug('d--000a')) == 'd--0000-0000-0000-000a'
        assert str(IOTileDeviceSlug(0xa)) == 'd--0000-0000-0000-000a'

        api = Api(domain=URL)
        api.login(email=EMAIL, password=PASSWORD)
        checked = []
        for s in api.stream.get()["results"]:
            p = api.project(s["project_id"]).get()
            d = api.device(s["device"]).get()
            v = api.variable(s["variable"]).get()
            assert str(IOTileProjectSlug(p["slug"])) == p["slug"]
            assert str(IOTileProjectSlug(p["gid"])) == p["slug"]
            assert str(IOTileDeviceSlug(d["slug"])) == d["slug"]
            assert str(IOTileDeviceSlug(d["gid"])) == d["slug"]
            assert str(IOTileVariableSlug(v["slug"])) == v["slug"]
            built = IOTileStreamSlug()
            built.from_parts(project=IOTileProjectSlug(p["slug"]),
                             device=IOTileDeviceSlug(d["slug"]),
                             variable=IOTileVariableSlug(v["lid"], IOTileProjectSlug(p["slug"])))
            assert str(built) == s["slug"], (str(built), s["slug"])
            parts = IOTileStreamSlug(s["slug"]).get_parts()
            assert (str(parts["project"]), str(parts["device"]), str(parts["variable"])) == (
                p["slug"], d["slug"], v["slug"])
            units = s["output_unit"]
            mdo = MdoHelper(m=units.get('m', 1), d=units.get('d', 1), o=units.get('o', 0.0))
            checked.append([s["slug"], mdo.compute(10.0)])
        out["checked"] = checked
    """)
    computed = dict(ran["checked"])
    assert computed == {farm.flow: 10.0 * 3 / 2 + 0.5, farm.level: 10.0}


def test_a_base_main_script_logs_in_works_and_logs_out(server: LiveServer, farm: Farm,
                                                       tmp_path: Path) -> None:
    """Seed: "BaseMain Utility Class": the example script, its password from getpass
    (fed on stdin by patching getpass, as a terminal would)."""
    ran = run(server, farm.user, """
        import getpass
        from iotile_cloud.utils.main import BaseMain
        getpass.getpass = lambda prompt='Password: ': PASSWORD
        logger = logging.getLogger(__name__)
        seen = []

        def do_some_real_work(api, args):
            seen.append([s["slug"] for s in api.stream.get(project=args.foo)["results"]])

        class MyScript(BaseMain):
            def add_extra_args(self):
                # Add extra positional argument (as example)
                self.parser.add_argument('foo', metavar='foo', type=str, help='RTFM')

            def get_domain(self):
                return URL

            def before_login(self):
                logger.info('-----------')

            def after_login(self):
                # Main function to OVERWITE and do real work
                do_some_real_work(self.api, self.args)
                out["token"] = self.api.token

            def login(self):
                # Add extra message welcoming user
                ok = super(MyScript, self).login()
                if ok:
                    logger.info('Welcome {0}'.format(self.args.email))
                return ok

            def logout(self):
                # Add extra message to say Goodbye
                super(MyScript, self).logout()
                logger.info('Goodbye!')

        sys.argv = ["script", "--user", EMAIL, os.environ["PROJECT"]]
        work = MyScript()
        work.main()
        out["seen"] = seen
        out["after"] = work.api.token
        again = Api(domain=URL)
        again.set_token(out["token"])
        out["revoked"] = status_of(lambda: again.account.get())
    """, cwd=tmp_path, PROJECT=farm.project["gid"])
    assert [sorted(s) for s in ran["seen"]] == [sorted([farm.flow, farm.level])]
    assert ran["after"] is None and ran["revoked"] == ["HttpClientError", 401]

def test_mdo_helper_on_stream_data(server: LiveServer, farm: Farm) -> None:
    """Seed: "MdoHelper": `StreamRawData` → `StreamData`, and `mdo.compute_value` →
    `mdo.compute` (0.9.14 has no `compute_value`)."""
    ran = run(server, farm.user, """
        from iotile_cloud.stream.data import StreamData
        from iotile_cloud.utils.mdo import MdoHelper
        api = Api(domain=URL)
        api.login(email=EMAIL, password=PASSWORD)
        stream = api.stream(os.environ["FLOW"]).get()
        units = stream['output_unit']
        mdo = MdoHelper(m=units.get('m', 1), d=units.get('d', 1), o=units.get('o', 0.0))
        stream_data = StreamData(stream['slug'], api)
        stream_data.initialize_from_server(lastn=100)
        out["pairs"] = []
        for item in stream_data.data:
            print('{0}: {1}'.format(item['timestamp'], mdo.compute(item['value'])))
            out["pairs"].append([mdo.compute(item['value']), item['output_value']])
    """, FLOW=farm.flow)
    assert len(ran["pairs"]) == 5
    assert all(abs(mine - theirs) < 1e-9 for mine, theirs in ran["pairs"])
