"""The AmigoCloud face's Socket.IO endpoint through the real client (socketIO-client 0.7.2,
Engine.IO 3 long-polling) in its own venv: the constructor connects, `listen_*` redeem
one-time websocket sessions, and `add_callback` + `start_listening` get the bus's events."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import REDIS_ENV, Launch
from tests.faces.test_amigocloud import run
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

# listen in one-second turns until `want` callbacks arrived (or give up after `turns`)
LISTEN = """
    def listen(ac, got, want=1, turns=30):
        for _ in range(turns):
            if len(got) >= want:
                break
            ac.start_listening(1)
"""


USER_EVENTS = LISTEN + """
    ac = AmigoCloud(token=TOKEN, base_url=BASE)
    got = []
    ac.add_callback('project:creation_succeeded', got.append)
    ac.listen_user_events()
    made = [ac.post('me/projects', {'name': 'Socket %d' % n, 'description': ''})['id']
            for n in range(3)]
    listen(ac, got, want=3)
    print(json.dumps({"got": got, "made": made}))
"""


def test_user_events_project_creation_succeeded(server: LiveServer, user: TestUser) -> None:
    seen = run(server, user.api_token(name="amigo"), USER_EVENTS)
    assert seen["got"] == [{"user_id": user.id, "project_id": p} for p in seen["made"]]


def test_several_workers_share_socket_sessions(backend: str, launch: Launch) -> None:
    """Polls and posts of one socket land on any of four workers (Redis holds sessions)."""
    if backend != "postgres" or not os.environ.get(REDIS_ENV):
        pytest.skip("several workers need PostgreSQL and CLOUDLET_TEST_REDIS_URL")
    server = launch(CLOUDLET_WORKERS="4")
    user = make_user(server)
    seen = run(server, user.api_token(name="amigo"), USER_EVENTS)
    assert seen["got"] == [{"user_id": user.id, "project_id": p} for p in seen["made"]]


def test_dataset_realtime_events(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    with user.client() as c:
        made = c.post(f"/projects/{project}/datasets", json={
            "name": "fleet", "kind": "realtime", "columns": [{"name": "speed", "type": "real"}]})
        assert made.status_code == 201, made.text
        dataset = made.json()["id"]
    seen = run(server, token, LISTEN + f"""
    import requests
    ac = AmigoCloud(token=TOKEN, base_url=BASE)
    got = []
    ac.add_callback('realtime', got.append)
    ac.listen_dataset_events(ac._user_id, {project}, {dataset})
    moved = requests.post(os.environ['NATIVE'] + '/projects/{project}/datasets/{dataset}/positions',
                          headers={{'Authorization': 'Bearer ' + TOKEN}},
                          json={{'positions': [{{'object_id': 'o1', 'latitude': 1.5,
                                                 'longitude': 2.5, 'speed': 3}}]}})
    listen(ac, got)
    print(json.dumps({{"got": got, "status": moved.status_code}}))
    """, NATIVE=server.url + "/api/v1")
    assert seen["status"] == 200
    [event] = seen["got"]
    assert event["dataset_id"] == dataset
    [position] = event["data"]
    assert (position["object_id"], position["latitude"], position["longitude"],
            position["speed"]) == ("o1", 1.5, 2.5, 3)


def test_bad_used_or_foreign_sessions_get_nothing(server: LiveServer, user: TestUser,
                                                  other_user: TestUser) -> None:
    token = user.api_token(name="amigo")
    foreign = other_user.api_token(name="amigo")
    seen = run(server, token, LISTEN + """
    def socket(token):
        ac = AmigoCloud(token=token, base_url=BASE)
        got, errors = [], []
        ac.add_callback('project:creation_succeeded', got.append)
        ac.add_callback('error', errors.append)
        return ac, got, errors

    def authenticate(ac, session):
        ac.amigosocket.emit('authenticate', {'userid': ac._user_id,
                                             'websocket_session': session})

    good, good_got, good_errors = socket(TOKEN)
    session = good.get('/me/start_websocket_session')['websocket_session']
    authenticate(good, session)
    forged, forged_got, forged_errors = socket(TOKEN)
    authenticate(forged, 'not-a-session')
    reused, reused_got, reused_errors = socket(TOKEN)
    authenticate(reused, session)
    stolen, stolen_got, stolen_errors = socket(os.environ['FOREIGN'])
    theirs = good.get('/me/start_websocket_session')['websocket_session']
    authenticate(stolen, theirs)  # the session of another user
    good.post('me/projects', {'name': 'Once', 'description': ''})
    listen(good, good_got)
    for ac, errors in ((forged, forged_errors), (reused, reused_errors),
                       (stolen, stolen_errors)):
        listen(ac, errors)
    for ac in (forged, reused, stolen):
        ac.start_listening(2)  # anything published to them would have arrived by now
    print(json.dumps({"good": [good_got, good_errors], "forged": [forged_got, forged_errors],
                      "reused": [reused_got, reused_errors],
                      "stolen": [stolen_got, stolen_errors]}))
    """, FOREIGN=foreign)
    assert [e["project_id"] for e in seen["good"][0]] and seen["good"][1] == []
    for name, why in (("forged", "Unknown"), ("reused", "already used"),
                      ("stolen", "another user")):
        got, errors = seen[name]
        assert got == [], name
        assert len(errors) == 1 and why in errors[0], (name, errors)


def test_websocket_transport_is_refused_at_once(server: LiveServer) -> None:
    url = server.url + "/amigocloud/v2_socket.io/socket.io/"
    refused = httpx.get(url, params={"EIO": "3", "transport": "websocket"})
    assert refused.status_code == 400 and refused.json()["message"] == "Transport unknown"
    handshake = httpx.get(url, params={"EIO": "3", "transport": "polling", "b64": "1"})
    assert handshake.status_code == 200
    length, _, packet = handshake.text.partition(":")
    assert packet.startswith('0{"sid":') and int(length) == len(packet)
    assert '"upgrades":[]' in packet
    assert httpx.get(url, params={"EIO": "4", "transport": "polling"}).status_code == 400
    unknown = httpx.get(url, params={"EIO": "3", "transport": "polling", "sid": "nope"})
    assert unknown.status_code == 400 and unknown.json()["message"] == "Session ID unknown"


def test_start_websocket_session_both_path_families(server: LiveServer, user: TestUser
                                                    ) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    with user.client() as c:
        made = c.post(f"/projects/{project}/datasets", json={"name": "t", "columns": []})
        assert made.status_code == 201, made.text
        dataset = made.json()["id"]
    api = server.url + "/amigocloud/api/v1"
    for path in ("/me/start_websocket_session", "/me/start_websocket_session/",
                 f"/projects/{project}/datasets/{dataset}/start_websocket_session",
                 f"/users/{user.id}/projects/{project}/datasets/{dataset}/"
                 "start_websocket_session/"):
        answer = httpx.get(api + path, params={"token": token})
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["websocket_session"]
    missing = httpx.get(f"{api}/projects/{project}/datasets/999999/start_websocket_session",
                        params={"token": token})
    assert missing.status_code == 404 and missing.json()["detail"]


def test_text_framing_ping_connect_refusal_and_close(server: LiveServer) -> None:
    """The protocol as a browser-era client with `b64=1` speaks it, packet by packet."""
    url = server.url + "/amigocloud/v2_socket.io/socket.io/"
    base = {"EIO": "3", "transport": "polling", "b64": "1"}
    opened = httpx.get(url, params=base).text
    sid = opened[opened.index('"sid":"') + 7:].split('"', 1)[0]
    session = {**base, "sid": sid}

    def post(*packets: str) -> httpx.Response:
        return httpx.post(url, params=session,
                          content="".join(f"{len(p)}:{p}" for p in packets))

    def poll() -> list[str]:
        text, packets = httpx.get(url, params=session, timeout=30).text, []
        while text:
            length, _, rest = text.partition(":")
            packets.append(rest[:int(length)])
            text = rest[int(length):]
        return packets

    assert post("2probe", "40/amigosocket,", "40/elsewhere,").status_code == 200
    assert poll() == ["3probe", "40/amigosocket", '44/elsewhere,"Invalid namespace"']
    post('42/amigosocket,["authenticate",{"userid":1,"websocket_session":"x"}]')
    [refused] = poll()
    assert refused.startswith('44/amigosocket,"Unknown or expired websocket_session')
    garbled = httpx.post(url, params=session, content="not a payload")
    assert garbled.status_code == 400 and garbled.json()["message"] == "Bad request"
    assert post("1").status_code == 200  # the client closes
    assert httpx.get(url, params=session).status_code == 400


def test_seed_websocket_example(server: LiveServer, user: TestUser) -> None:
    """Seed 000's "Websocket connection" section, in order, on one client (print function
    for Python 3); the project and the position are made before listening starts."""
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    with user.client() as c:
        made = c.post(f"/projects/{project}/datasets", json={"name": "cars", "kind": "realtime"})
        assert made.status_code == 201, made.text
        dataset = made.json()["id"]
    seen = run(server, token, f"""
    import contextlib, io, requests
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        amigocloud = ac = AmigoCloud(token=TOKEN, base_url=BASE)
        owner_id, project_id, dataset_id = ac._user_id, {project}, {dataset}
        amigocloud.listen_user_events()

        def project_created(data):
            print('User id=%(user_id)s created project id=%(project_id)s' % data)
        amigocloud.add_callback('project:creation_succeeded', project_created)
        amigocloud.listen_dataset_events(owner_id, project_id, dataset_id)

        def realtime(data):
            print('Realtime dataset id=%(dataset_id)s' % data)
            for obj in data['data']:
                print("Object '%(object_id)s' is now at (%(latitude)s, %(longitude)s)" % obj)
        amigocloud.add_callback('realtime', realtime)
        new = ac.post('me/projects', {{'name': 'Seen', 'description': ''}})['id']
        requests.post(os.environ['NATIVE'] + '/projects/{project}/datasets/{dataset}/positions',
                      headers={{'Authorization': 'Bearer ' + TOKEN}},
                      json={{'positions': [{{'object_id': 'car', 'latitude': 1.5,
                                             'longitude': 2.5}}]}}).raise_for_status()
        for _ in range(30):
            if printed.getvalue().count('\\n') >= 3:
                break
            ac.start_listening(1)
    print(json.dumps({{"lines": sorted(printed.getvalue().splitlines()), "new": new}}))
    """, NATIVE=server.url + "/api/v1")
    assert seen["lines"] == sorted([
        f"User id={user.id} created project id={seen['new']}",
        f"Realtime dataset id={dataset}", "Object 'car' is now at (1.5, 2.5)"])
