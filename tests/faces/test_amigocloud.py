"""The AmigoCloud face against a live server, through the original `amigocloud` 1.2.5 package
in its own venv (`use_websockets=False`: the socket is test_amigocloud_sockets.py's). Projects
made here are the native API's, and the other way round."""

from __future__ import annotations

import httpx

from tests.support.accounts import TestUser
from tests.support.legacy import AMIGOCLOUD
from tests.support.live import LiveServer

PRELUDE = """
    import json, os
    from amigocloud import AmigoCloud, AmigoCloudError
    BASE, TOKEN = os.environ["BASE"], os.environ["TOKEN"]
"""


def run(server: LiveServer, token: str, body: str, **env: str) -> dict:
    return AMIGOCLOUD.run(PRELUDE + body, env={"BASE": server.url + "/amigocloud",
                                               "TOKEN": token, **env}, timeout=120)


def test_seed_requests_me_projects_thumbnail(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="amigo")
    seen = run(server, token, """
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    me = ac.get('me')
    same = [ac.get('/me')['id'], ac.get(BASE + '/api/v1/me')['id'], ac.get('me/')['id']]
    made = ac.post('me/projects', {'name': 'New Project', 'description': 'Created from Python'})
    visible = ac.get(me['visible_projects'])
    images = ac.get(me['images'])
    png = ac.get(images['thumbnail'], raw=True)
    found = ac.get('/me/projects', {'search': 'new proj'})
    one = ac.get(made['url'])
    other_family = ac.get('/projects/%s' % made['id'])
    cursor = list(ac.get_cursor('me'))
    print(json.dumps({"me": me, "same": same, "made": made, "names": [p['name'] for p in
                      visible['results']], "png": png[:8].hex(), "found": found,
                      "one": one, "other": other_family, "cursor": cursor}))
    """)
    me = seen["me"]
    assert me["id"] == user.id and me["username"] == user.username
    assert seen["same"] == [user.id] * 3
    for key in ("projects", "visible_projects", "images"):
        assert me[key].startswith(server.url + "/amigocloud/api/v1/")
    assert "New Project" in seen["names"]
    assert seen["png"] == "89504e470d0a1a0a"
    assert [p["name"] for p in seen["found"]["results"]] == ["New Project"]
    assert seen["found"]["count"] == 1
    made = seen["made"]
    assert made["description"] == "Created from Python"
    assert made["datasets"].startswith(server.url + "/amigocloud/api/v1/users/")
    assert made["sql"].endswith(f"/projects/{made['id']}/sql")
    assert seen["one"]["id"] == seen["other"]["id"] == made["id"]
    assert [c["id"] for c in seen["cursor"]] == [user.id]
    with user.client() as c:  # the same project, natively
        native = c.get(f"/projects/{made['id']}")
        assert native.status_code == 200 and native.json()["name"] == "New Project"


def test_cursor_walks_pages_first_param_wins(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="amigo")
    with user.client() as c:
        for n in range(5):
            c.post("/projects", json={"name": f"walk+{n}", "description": ""}).raise_for_status()
    seen = run(server, token, """
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    cur = ac.get_cursor('/me/projects', {'limit': 2, 'search': 'walk+'})
    count = cur.get('count')
    first = cur.next()
    names = [first['name']] + [p['name'] for p in cur]
    try:
        cur.next()
        stopped = False
    except StopIteration:
        stopped = True
    print(json.dumps({"count": count, "names": names, "stopped": stopped,
                      "has_next": cur.has_next}))
    """)
    assert seen["count"] == 5
    assert seen["names"] == [f"walk+{n}" for n in range(5)]
    assert seen["stopped"] and seen["has_next"] is False


def test_errors_reach_the_client(server: LiveServer, user: TestUser) -> None:
    read = user.api_token(name="ro", scope="read")
    project = user.home_project["id"]
    scoped = user.api_token(name="p", project=project)
    seen = run(server, read, f"""
    out = {{}}
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    try:
        ac.post('me/projects', {{'name': 'nope'}})
    except AmigoCloudError as err:
        out['read'] = [err.response.status_code, err.text]
    try:
        ac.post('me/projects')
    except AmigoCloudError as err:
        out['empty'] = [err.response.status_code, err.text]
    try:
        AmigoCloud(token='bogus', base_url=BASE, use_websockets=False)
    except AmigoCloudError as err:
        out['bogus'] = err.response.status_code
    try:
        ac.get('me/geocoder/search', {{'text': 'x'}})
    except AmigoCloudError as err:
        out['geocoder'] = err.response.status_code
    pac = AmigoCloud(token=os.environ['SCOPED'], base_url=BASE,
                     project_url='users/%s/projects/{project}' % os.environ['UID'])
    out['project'] = pac.get('')['id']
    out['datasets'] = pac.get('datasets')['count']
    try:
        AmigoCloud(token=os.environ['SCOPED'], base_url=BASE,
                   project_url='users/1/projects/%s' % os.environ['OTHER'])
    except AmigoCloudError as err:
        out['other'] = err.response.status_code
    print(json.dumps(out))
    """, SCOPED=scoped, UID=str(user.id), OTHER=str(_other_project(user)))
    assert seen["read"][0] == 403 and "scope" in seen["read"][1]
    assert seen["empty"][0] == 400 and "name" in seen["empty"][1]
    assert seen["bogus"] == 401
    assert seen["geocoder"] == 501
    assert seen["project"] == project and seen["datasets"] == 0
    assert seen["other"] in (403, 404)


def _other_project(user: TestUser) -> int:
    with user.client() as c:
        made = c.post("/projects", json={"name": "elsewhere", "description": ""})
        made.raise_for_status()
        return int(made.json()["id"])


def test_sql_through_the_face(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    seen = run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    out = ac.get('/projects/{project}/sql', {{'query': 'SELECT 1 AS one', 'limit': 1000,
                                              'offset': 0}})
    cur = ac.get_cursor('/users/%s/projects/{project}/sql' % ac._user_id,
                        {{'query': 'SELECT 2 AS two'}})
    print(json.dumps({{"out": out, "rows": list(cur)}}))
    """)
    assert seen["out"]["data"] == [{"one": 1}] and seen["out"]["next"] is None
    assert seen["rows"] == [{"two": 2}]


def test_face_paths_need_a_token(server: LiveServer) -> None:
    answer = httpx.get(server.url + "/amigocloud/api/v1/me/")
    assert answer.status_code == 401 and "token" in answer.json()["detail"]


def test_upload_datafile_simple_makes_a_dataset(server: LiveServer, user: TestUser,
                                                tmp_path) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    csv = tmp_path / "places.csv"
    csv.write_text("name,n\nalpha,1\nbeta,2\ngamma,3\n")
    seen = _upload(server, token, project, csv)
    made = seen["done"]["datasets"][0]
    assert seen["done"]["state"] == "succeeded"
    assert made["name"] == "places" and made["feature_count"] == 3 and made["table_name"]
    assert seen["count"] == 1 and seen["listed"][0]["id"] == made["id"]
    with user.client() as c:  # the same dataset, natively
        native = c.get(f"/projects/{project}/datasets/{made['id']}")
        assert native.status_code == 200 and native.json()["name"] == "places"


def _upload(server: LiveServer, token: str, project: int, csv) -> dict:
    return run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    done = ac.upload_datafile(ac._user_id, {project}, os.environ['CSV'])
    listed = ac.get_cursor('/projects/{project}/datasets', {{'search': 'plac'}})
    count = listed.get('count')
    print(json.dumps({{"done": done, "listed": list(listed), "count": count}}))
    """, CSV=str(csv))
