"""InfluxDB line protocol on the native route and the Influx face: edge cases, auth forms,
Telegraf's start-up calls, gzip, back-pressure."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg

from tests.timeseries.conftest import Project

US = 1_000_000


def test_escapes_tags_and_field_types(project: Project) -> None:
    body = (
        'weather,site=roof\\ top,kind=a\\,b temp=21.5,count=3i,big=7u,ok=true,off=F 1000000000\n'
        'weather,site=roof\\ top,kind=a\\,b temp=22 2000000000\n'
        "# a comment, then a blank line\n\n"
        "weather,site=roof\\ top,kind=a\\,b temp=-1.5e1 3000000000\r\n"
    )
    answer = project.lines(body)
    assert answer.status_code == 204, answer.text
    assert project.points("weather", "temp") == [[US, 21.5], [2 * US, 22.0], [3 * US, -15.0]]
    assert project.points("weather", "count") == [[US, 3.0]]
    assert project.points("weather", "big") == [[US, 7.0]]
    assert project.points("weather", "ok") == [[US, 1.0]]
    assert project.points("weather", "off") == [[US, 0.0]]
    assert project.stream("weather", "temp")["tags"] == {"site": "roof top", "kind": "a,b"}


def test_fast_path_and_precisions(project: Project) -> None:
    lines = "".join(f"dev{i % 3} f{i % 2}={i}.5 {1700000000 + i}\n" for i in range(300))
    assert project.lines(lines, precision="s").status_code == 204
    got = project.points("dev0", "f0")
    assert len(got) == 50 and got[0] == [1700000000 * US, 0.5]
    for unit, factor in (("ms", 1000), ("us", 1), ("ns", 0.001)):
        stamp = int(5 * US / factor)
        assert project.lines(f"p x_{unit}=1 {stamp}\n", precision=unit).status_code == 204
        assert project.points("p", f"x_{unit}") == [[5 * US, 1.0]]


def test_bad_lines_are_named_and_nothing_is_written(project: Project) -> None:
    body = 'ok v=1 1\nbad s="text" 2\nworse v= 3\nnan v=NaN 4\n'
    answer = project.lines(body, precision="s")
    assert answer.status_code == 400
    problem = answer.json()
    assert [e["where"] for e in problem["errors"]] == ["line 2", "line 3", "line 4"]
    assert "string" in problem["errors"][0]["message"]
    assert problem["errors"][0]["line"] == 'bad s="text" 2'
    assert project.streams() == []
    assert project.lines("bad.name v=1 1\n").status_code == 400  # not a device key
    huge = project.lines(f"ok v=1 1\nbig v=1{'0' * 400}i 2\n", precision="s")
    assert huge.status_code == 400, huge.text  # past 64 bits: refused, not a crash
    assert [e["where"] for e in huge.json()["errors"]] == ["line 2"]
    assert project.streams() == []


def test_missing_timestamps_take_the_server_time(project: Project) -> None:
    before = time.time() * US
    assert project.lines("clock v=1\n").status_code == 204
    (stamp, value), = project.points("clock", "v")
    assert before - US <= stamp <= time.time() * US + US and value == 1.0


def test_device_parameter_replaces_the_measurement(project: Project) -> None:
    assert project.lines("cpu usage=5 1\nmem used=7 1\n", precision="s",
                         device="host-1").status_code == 204
    assert {s["series"] for s in project.streams(device="host-1")} == {"usage", "used"}


def test_influx_paths_take_the_device_parameter_their_error_names(project: Project) -> None:
    url, token = project.server.url, project.user.api_token(scope="write")
    auth = {"Authorization": f"Token {token}"}
    refused = httpx.post(url + "/write", params={"db": project.id, "precision": "s"},
                         headers=auth, content=b"bad.name v=1 1\n")
    assert refused.status_code == 400 and "?device=KEY" in refused.json()["error"]
    for path, where in (("/write", "db"), ("/api/v2/write", "bucket")):
        answer = httpx.post(url + path, params={where: project.id, "precision": "s",
                                                "device": f"dev-{where}"},
                            headers=auth, content=b"bad.name v=1 1\n")
        assert answer.status_code == 204, (path, answer.text)
        assert [s["series"] for s in project.streams(device=f"dev-{where}")] == ["v"]


def test_influx_v1_and_v2_paths_with_every_auth_form(project: Project) -> None:
    url = project.server.url
    token = project.user.api_token(scope="write")
    basic = base64.b64encode(f"anyone:{token}".encode()).decode()
    calls = [
        ("/write", {"db": project.id, "precision": "s"}, {"Authorization": f"Token {token}"}),
        ("/write", {"db": project.id, "precision": "s"}, {"Authorization": f"Basic {basic}"}),
        ("/write", {"db": project.id, "precision": "s", "u": "x", "p": token}, {}),
        ("/api/v2/write", {"bucket": f"p--{project.id:08x}"[:3] + f"{project.id:08x}"[:4] + "-"
                           + f"{project.id:08x}"[4:], "org": "any", "precision": "s"},
         {"Authorization": f"Token {token}"}),
    ]
    for i, (path, params, headers) in enumerate(calls):
        body = gzip.compress(f"influx v{i}=1 {i + 1}\n".encode())
        answer = httpx.post(url + path, params=params, content=body,
                            headers={**headers, "Content-Encoding": "gzip"})
        assert answer.status_code == 204, (path, answer.text)
    assert len(project.streams(device="influx")) == 4
    no_auth = httpx.post(url + "/write", params={"db": project.id}, content=b"x v=1 1\n")
    assert no_auth.status_code == 401 and "error" in no_auth.json()
    bad = httpx.post(url + "/write", params={"db": project.id},
                     headers={"Authorization": f"Token {token}"}, content=b"x v=oops 1\n")
    assert bad.status_code == 400 and "line 1" in bad.json()["error"]
    v2_bad = httpx.post(url + "/api/v2/write", params={"bucket": project.id},
                        headers={"Authorization": f"Token {token}"}, content=b"x v=oops 1\n")
    assert v2_bad.status_code == 400 and v2_bad.json()["code"] == "invalid"
    missing = httpx.post(url + "/write", params={"db": "999999"},
                         headers={"Authorization": f"Token {token}"}, content=b"x v=1 1\n")
    assert missing.status_code == 404


def test_telegraf_start_up_calls(project: Project) -> None:
    url = project.server.url
    ping = httpx.get(url + "/ping")
    assert ping.status_code == 204 and ping.headers["X-Influxdb-Version"]
    assert httpx.head(url + "/ping").status_code == 204
    token = project.user.api_token(scope="write")
    headers = {"Authorization": f"Token {token}"}
    created = httpx.post(url + "/query", data={"q": f'CREATE DATABASE "{project.id}"'},
                         headers=headers)
    assert created.status_code == 200
    assert created.json() == {"results": [{"statement_id": 0}]}
    refused = httpx.post(url + "/query", data={"q": 'CREATE DATABASE "telegraf"'},
                         headers=headers)
    assert refused.status_code == 200 and "error" in refused.json()["results"][0]
    shown = httpx.get(url + "/query", params={"q": "SHOW DATABASES"}, headers=headers).json()
    names = [v[0] for v in shown["results"][0]["series"][0]["values"]]
    assert str(project.id) in names
    assert httpx.get(url + "/query", params={"q": "SHOW DATABASES"}).status_code == 401
    assert httpx.get(url + "/query", params={"q": "SELECT 1"}, headers=headers
                     ).status_code == 400


def test_an_overloaded_writer_answers_429_with_retry_after(launch) -> None:  # type: ignore[no-untyped-def]
    from tests.support.accounts import make_user

    server = launch(CLOUDLET_WRITE_QUEUE_POINTS="1")
    user = make_user(server)
    project = user.home_project["id"]
    with user.client() as c:
        c.post("/_debug/timeseries/pause", params={"seconds": 3}).raise_for_status()
    first: list[httpx.Response] = []
    writer = threading.Thread(target=lambda: first.append(httpx.post(
        server.url + "/write", params={"db": project, "precision": "s"},
        headers={"Authorization": f"Token {user.token}"}, content=b"a v=1 1\n", timeout=30)))
    writer.start()
    time.sleep(0.5)  # the first write waits in the writer's queue
    second = httpx.post(server.url + "/write", params={"db": project, "precision": "s"},
                        headers={"Authorization": f"Token {user.token}"}, content=b"a v=2 2\n")
    writer.join()
    assert second.status_code == 429, second.text
    assert int(second.headers["Retry-After"]) >= 1
    assert first[0].status_code == 204


@contextlib.contextmanager
def _database_locked(server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Another connection holds the server's database write lock (an operator's session,
    another program on the same file) for as long as the block runs."""
    url = server.env.get("CLOUDLET_DATABASE_URL")
    if url is None:
        conn = sqlite3.connect(server.data_dir / "cloudlet.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE point_chunks, point_head, projects IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_a_busy_database_answers_503_with_retry_after_and_writes_nothing(launch) -> None:  # type: ignore[no-untyped-def]
    from tests.support.accounts import make_user

    server = launch(CLOUDLET_DB_BUSY_TIMEOUT="0.5")
    user = make_user(server)
    project = user.home_project["id"]
    auth = {"Authorization": f"Token {user.token}"}
    native = f"{server.api}/projects/{project}/write"
    assert httpx.post(native, params={"precision": "s"}, headers=auth,
                      content=b"busy v=1 1\n").status_code == 204
    with _database_locked(server):
        refused = httpx.post(native, params={"precision": "s"}, headers=auth,
                             content=b"busy v=2 2\n", timeout=30)
        influx = httpx.post(f"{server.url}/write", params={"db": project, "precision": "s"},
                            headers=auth, content=b"busy v=3 3\n", timeout=30)
        other = httpx.post(f"{server.api}/projects", headers=auth, json={"name": "later"},
                           timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "busy" in refused.json()["detail"] and int(refused.headers["Retry-After"]) >= 1
    assert influx.status_code == 503 and influx.headers["X-Influxdb-Error"]
    assert int(influx.headers["Retry-After"]) >= 1
    assert other.status_code == 503 and int(other.headers["Retry-After"]) >= 1
    again = httpx.post(native, params={"precision": "s"}, headers=auth, content=b"busy v=4 4\n")
    assert again.status_code == 204, again.text
    with user.client() as c:
        gid = c.get(f"/projects/{project}/streams").json()["results"][0]["gid"]
        got = c.get(f"/streams/{gid}/points", params={"format": "ndjson"}).text.splitlines()
        names = [p["name"] for p in c.get("/projects", params={"limit": 1000}).json()["results"]]
    assert [json.loads(line)["value"] for line in got] == [1.0, 4.0]
    assert "later" not in names


def test_write_paths_answer_as_the_rest_of_the_api(project: Project) -> None:
    """The write paths run below the framework's stack; what a client sees is unchanged:
    the first of a repeated parameter wins, native errors are problem+json (401 with its
    challenge), other methods and slashes get the framework's answers, and the OpenAPI
    document still lists every write path."""
    url, token = project.server.url, project.user.api_token(scope="write")
    auth = {"Authorization": f"Bearer {token}"}
    first_wins = httpx.post(f"{url}/write?db={project.id}&db=999999&precision=s",
                            headers=auth, content=b"dup v=1 1\n")
    assert first_wins.status_code == 204
    assert first_wins.headers["X-Influxdb-Version"]
    native = f"{project.server.api}/projects/{project.id}"
    assert httpx.post(f"{native}/write?precision=s&precision=bogus", headers=auth,
                      content=b"dup w=1 1\n").status_code == 204
    assert {s["series"] for s in project.streams(device="dup")} == {"v", "w"}
    anonymous = httpx.post(f"{native}/write", content=b"dup v=1 1\n")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad = httpx.post(f"{native}/points?precision=fortnights", headers=auth, json={})
    assert bad.status_code == 400 and "precision" in bad.json()["detail"]
    assert httpx.get(f"{native}/write", headers=auth).status_code == 405
    assert httpx.post(f"{url}/write/", headers=auth, content=b"dup v=1 1\n").status_code in (
        307, 404)
    paths = httpx.get(f"{project.server.api}/openapi.json").json()["paths"]
    assert {"/write", "/api/v2/write", "/api/v1/projects/{project}/write",
            "/api/v1/projects/{project}/points"} <= set(paths)


def _writer_busy(project: Project) -> tuple[int, threading.Thread]:
    """Once a parse helper is up: hold the writer with a small write queued (so that big
    bodies go to a helper); (bodies handed to helpers so far, the queued write's thread)."""
    with project.client() as c:
        deadline = time.monotonic() + 30
        while c.get("/_debug/timeseries/parsers").json()["helpers"] < 1:
            assert time.monotonic() < deadline, "no parse helper came up"
            time.sleep(0.1)
        handed = c.get("/_debug/timeseries/parsers").json()["handed"]
        c.post("/_debug/timeseries/pause", params={"seconds": 2}).raise_for_status()
    queued = threading.Thread(target=project.lines, args=("early v=1 1\n",),
                              kwargs={"precision": "s"})
    queued.start()
    time.sleep(0.3)  # the early write waits in the writer's queue: the writer is busy
    return handed, queued


def test_big_bodies_are_parsed_by_a_helper_while_others_write(project: Project) -> None:
    """While the writer has points queued, a big body goes to a parse helper process: its
    points and its refusals are the same as the server's own parse."""
    handed, queued = _writer_busy(project)
    good = "".join(f"big,site=a\\ b v={i}.25,n={i}i {i + 1}\n" for i in range(2000))
    bad = good + 'big v="text" 9999\n'
    refused = project.lines(bad, precision="s")
    assert refused.status_code == 400, refused.text
    assert [e["where"] for e in refused.json()["errors"]] == ["line 2001"]
    assert project.lines(good, precision="s").status_code == 204
    queued.join()
    with project.client() as c:
        assert c.get("/_debug/timeseries/parsers").json()["handed"] == handed + 2
    got = project.points("big", "v")
    assert len(got) == 2000 and got[7] == [8 * US, 7.25]
    assert project.points("big", "n")[-1] == [2000 * US, 1999.0]
    assert project.stream("big", "v")["tags"] == {"site": "a b"}
    assert project.points("early", "v") == [[US, 1.0]]


def test_big_json_bodies_are_parsed_by_a_helper_too(project: Project) -> None:
    """Columnar and list-form JSON go to a helper as line protocol does: the same points,
    stream gids and refusals (naming their rows) as the server's own parse."""
    project.lines("jsonbig v=0 0\n", precision="s")
    gid = project.stream("jsonbig", "v")["gid"]
    handed, queued = _writer_busy(project)
    times = list(range(1, 3001))
    columnar = {"device": "jsonbig", "series": {"w": {"time": times,
                                                       "value": [t / 4 for t in times]}}}
    listed = [{"stream": gid, "timestamp": t, "value": t + 0.5} for t in times]
    refused = {"device": "jsonbig", "series": {"w": [[t, t / 4] for t in times] + [[9, "x"]]}}
    bad = project.post(refused, precision="s")
    assert bad.status_code == 400, bad.text
    assert [e["where"] for e in bad.json()["errors"]] == ["series 'w' row 3000"]
    answers: list[httpx.Response] = []
    writes = [threading.Thread(target=lambda body=body: answers.append(
        project.post(body, precision="s"))) for body in (columnar, listed)]
    for write in writes:  # both sent while the writer is still held
        write.start()
    for write in [*writes, queued]:
        write.join()
    for answer in answers:
        assert answer.status_code == 200 and answer.json()["points"] == 3000, answer.text
    with project.client() as c:
        assert c.get("/_debug/timeseries/parsers").json()["handed"] == handed + 3
    assert project.points("jsonbig", "w")[7] == [8 * US, 2.0]
    assert project.points("jsonbig", "v")[1:3] == [[US, 1.5], [2 * US, 2.5]]
