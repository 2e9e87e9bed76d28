"""The RinoCloud face over raw HTTP: who may call what (401, 403, another user's objects 404,
a project token's project), both dialects (form and JSON) on every endpoint, built-in fields
that never become metadata, names that never conflict, queries, and errors as `{detail}`."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user, unique
from tests.support.live import LiveServer

Call = Callable[..., httpx.Response]


def rino(server: LiveServer, token: str | None) -> httpx.Client:
    headers = {"X-Requested-With": "XMLHttpRequest"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    return httpx.Client(base_url=server.url + "/rinocloud/api/1/files/", headers=headers,
                        timeout=30)


@pytest.fixture
def face(server: LiveServer, user: TestUser) -> Iterator[httpx.Client]:
    with rino(server, user.api_token()) as client:
        yield client


def native(user: TestUser, *parts: object) -> str:
    return "/".join([f"/projects/{user.home_project['id']}", *(str(p) for p in parts)])


def upload(face: httpx.Client, content: bytes, path: str = "upload_multipart/",
           filename: str = "file", **meta: Any) -> httpx.Response:
    return face.post(path, files={"file": (filename, content)},
                     data={"json": json.dumps(meta)})


def made(answer: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def everything(user: TestUser) -> list[dict[str, Any]]:
    with user.client() as c:
        return list(c.get(native(user, "files"), params={"limit": 1000}).json()["results"])


def staging(server: LiveServer) -> set[str]:
    return {p.name for p in (server.data_dir / "blobs" / "tmp").glob("*")}


# --- who may call what ----------------------------------------------------------------------

def calls(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every endpoint, with a good request for the objects in `ids`."""
    multipart = {"files": {"file": ("f.txt", b"new")}, "data": {"json": json.dumps(
        {"name": "f.txt", "parent": ids["folder"]})}}
    return [
        ("POST", "create_folder/", {"json": {"name": "new", "parent": ids["folder"]}}),
        ("POST", "create_object/", {"json": {"name": "new.obj", "parent": ids["folder"]}}),
        ("POST", "create_object/", {"json": {"id": ids["file"], "x": 2}}),
        ("POST", "update/", {"data": {"id": ids["file"], "x": "2"}}),
        ("POST", "update_metadata/", {"json": {"id": ids["file"], "x": 2}}),
        ("POST", "upload/", multipart),
        ("POST", "upload_multipart/", multipart),
        ("POST", "get_metadata/", {"json": {"id": ids["file"]}}),
        ("POST", "children/", {"json": {"id": ids["folder"]}}),
        ("POST", "ancestors/", {"json": {"id": ids["file"]}}),
        ("GET", "download/", {"params": {"id": ids["file"]}}),
        ("GET", "delete/", {"data": {"id": [ids["file"]]}}),
        ("POST", "query/", {"json": {"query": {"x": 1}}}),
        ("POST", "query_count/", {"json": {"query": {"x": 1}}}),
    ]


WRITES = {"create_folder/", "create_object/", "update/", "update_metadata/", "upload/",
          "upload_multipart/", "delete/"}


def seeded(face: httpx.Client) -> dict[str, int]:
    folder = made(face.post("create_folder/", json={"name": "box"}))
    file = made(upload(face, b"old", name="f.txt", parent=folder["id"], x=1))
    return {"folder": folder["id"], "file": file["id"]}


def request(client: httpx.Client, method: str, path: str, options: dict[str, Any]
            ) -> httpx.Response:
    return client.request(method, path, **options)


def test_no_token_or_a_bad_one_is_401_everywhere(server: LiveServer, user: TestUser,
                                                 face: httpx.Client) -> None:
    ids = seeded(face)
    before = everything(user)
    for token, needle in ((None, "Authorization: Token"), ("None", "api_key"),
                          ("clt_not_a_real_token", "Invalid token")):
        with rino(server, token) as anonymous:
            for method, path, options in calls(ids):
                answer = request(anonymous, method, path, options)
                assert answer.status_code == 401, (token, path, answer.text)
                assert needle in answer.json()["detail"]
                assert answer.headers["www-authenticate"] == "Token"
    assert everything(user) == before


def test_a_token_in_the_query_string_is_refused_with_the_fix(server: LiveServer,
                                                              user: TestUser) -> None:
    """What the tutorial's download helper sends before its correction."""
    answer = httpx.get(server.url + "/rinocloud/api/1/files/download/", params={
        "id": 1, "Authorization": f"Token {user.api_token()}",
        "X-Requested-With": "XMLHttpRequest"})
    assert answer.status_code == 401 and "headers=headers" in answer.json()["detail"]


def test_a_read_token_reads_and_cannot_write(server: LiveServer, user: TestUser,
                                             face: httpx.Client) -> None:
    ids = seeded(face)
    before, staged = everything(user), staging(server)
    with rino(server, user.api_token(scope="read")) as reader:
        for method, path, options in calls(ids):
            answer = request(reader, method, path, options)
            if path in WRITES:
                assert answer.status_code == 403, (path, answer.text)
                assert "read" in answer.json()["detail"]
            else:
                assert answer.status_code == 200, (path, answer.text)
    assert everything(user) == before
    with user.client() as c:
        assert c.get(native(user, "files", ids["file"], "content")).content == b"old"
    assert staging(server) <= staged  # uploads were refused before a byte was stored


def test_another_users_objects_are_404(server: LiveServer, user: TestUser,
                                       other_user: TestUser, face: httpx.Client) -> None:
    theirs = seeded(face)
    before = everything(user)
    with rino(server, other_user.api_token()) as intruder:
        for method, path, options in calls(theirs):
            answer = request(intruder, method, path, options)
            if path in ("query/", "query_count/"):
                assert answer.status_code == 200
                assert answer.json().get("result", []) == [] and answer.json().get(
                    "count", 0) == 0
            else:
                assert answer.status_code == 404, (path, answer.text)
                assert answer.json()["detail"]
    assert everything(user) == before
    assert everything(other_user) == []


def test_a_project_token_works_in_its_own_project(server: LiveServer, user: TestUser) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": unique("lab")}).json()
    token = user.api_token(project=project["id"])
    with rino(server, token) as scoped:
        file = made(upload(scoped, b"in the lab", name="lab.txt"))
        assert made(scoped.post("get_metadata/", json={"id": file["id"]}), 200)["project"] == (
            project["id"])
    with user.client() as c:
        listed = c.get(f"/projects/{project['id']}/files").json()["results"]
        assert [n["name"] for n in listed] == ["lab.txt"]
    assert everything(user) == []  # not in the home project
    with rino(server, user.api_token()) as home:
        assert home.post("get_metadata/", json={"id": file["id"]}).status_code == 404


# --- both dialects --------------------------------------------------------------------------

def test_forms_and_json_on_every_endpoint(face: httpx.Client) -> None:
    by_form = made(face.post("create_folder/", data={"name": "f1", "site": "roof"}))
    by_json = made(face.post("create_folder/", json={"name": "f2", "site": "roof",
                                                     "parent": by_form["id"]}))
    assert by_form["metadata"] == by_json["metadata"] == {"site": "roof"}
    assert by_json["parent"] == by_form["id"] and by_form["parent"] is None
    # a form's json field holds the metadata, as the tutorial's upload does
    by_json_field = made(face.post("create_object/", data={"json": json.dumps(
        {"name": "o", "n": 1, "parent": by_form["id"]})}))
    assert (by_json_field["metadata"], by_json_field["parent"]) == ({"n": 1}, by_form["id"])
    obj = made(face.post("create_object/", data={"name": "o2", "n": "1"}))
    assert obj["metadata"] == {"n": "1"} and obj["type"] == "file" and obj["size"] == 0
    for send in ({"data": {"id": str(obj["id"])}}, {"json": {"id": obj["id"]}},
                 {"params": {"id": obj["id"]}}):
        assert made(face.post("get_metadata/", **send), 200)["id"] == obj["id"]
    assert made(face.get("get_metadata/", params={"id": obj["id"]}), 200)["id"] == obj["id"]
    assert made(face.post("update/", data={"id": obj["id"], "a": ["1", "2"]}), 200)[
        "metadata"] == {"n": "1", "a": ["1", "2"]}
    assert made(face.post("update_metadata/", json={"id": obj["id"], "a": [1, 2]}), 200)[
        "metadata"] == {"n": "1", "a": [1, 2]}
    queried = made(face.post("query/", data={"query": json.dumps({"n": "1"}), "sort": "name",
                                             "limit": "10"}), 200)
    assert [o["id"] for o in queried["result"]] == [obj["id"]]
    assert made(face.post("query_count/", data={"query": '{"n": "1"}'}), 200) == {"count": 1}
    kids = made(face.post("children/", data={"id": str(by_form["id"])}), 200)
    assert [k["name"] for k in kids["results"]] == ["f2", "o"]  # folders first
    gone = face.post("delete/", json={"id": [obj["id"], by_form["id"]]})
    assert gone.status_code == 204 and gone.content == b""
    assert face.post("get_metadata/", json={"id": by_json["id"]}).status_code == 404


def test_children_pages_follow_next(face: httpx.Client) -> None:
    folder = made(face.post("create_folder/", json={"name": "many"}))
    for i in range(5):
        made(face.post("create_object/", json={"name": f"o{i}", "parent": folder["id"]}))
    first = made(face.post("children/", json={"id": folder["id"], "limit": 2}), 200)
    assert first["count"] == 5 and first["previous"] is None
    names = [c["name"] for c in first["results"]]
    link = first["next"]
    while link:
        page = made(face.get(link), 200)
        names += [c["name"] for c in page["results"]]
        link = page["next"]
    assert names == [f"o{i}" for i in range(5)]
    top = made(face.post("children/", json={}), 200)  # no id: the top level
    assert [c["name"] for c in top["results"]] == ["many"]


# --- bodies, built-in fields and names ----------------------------------------------------

def test_builtin_fields_are_never_metadata_nor_the_servers_values(face: httpx.Client) -> None:
    forged = {"id": None, "created_on": "1999-01-01T00:00:00Z", "updated_on": "x",
              "etag": "forged-1", "versions": [{"version": 9}], "name": "run.txt",
              "parent": None, "filepath": "/home/someone/secret/run.txt",
              "truncate_metadata": True, "temperature": 21.5}
    node = made(face.post("create_object/", json=forged))
    assert node["metadata"] == {"temperature": 21.5}
    assert node["etag"] == hashlib.md5(b"").hexdigest() + "-0" and node["versions"] == []
    assert node["created_on"].startswith(time.strftime("%Y"))
    # echoed back with the id, as Object.update() does: an update of that object
    again = made(face.post("create_object/", json={**node, "etag": "forged-2",
                                                   "created_on": "1999-01-01T00:00:00Z",
                                                   "temperature": 22, "metadata": None}))
    assert again["id"] == node["id"] and again["metadata"] == {"temperature": 22}
    assert again["etag"] == node["etag"] and again["created_on"] == node["created_on"]
    # RinoCloud's own object fields are never metadata; Cloudlet's other built-in names
    # are refused, named, and nothing is made
    sized = made(face.post("create_object/", json={"name": "sized", "size": 10,
                                                   "type": "folder", "project": 1}))
    assert (sized["metadata"], sized["size"], sized["type"]) == ({}, 0, "file")
    for key in ("version", "md5", "path", "content_type", "project_id"):
        refused = face.post("create_object/", json={"name": "bad", key: 1})
        assert refused.status_code == 400 and key in refused.json()["fields"], refused.text
    assert face.post("query_count/", json={"query": {"name": "bad"}}).json() == {"count": 0}


def test_create_object_with_an_unknown_id_is_404(face: httpx.Client) -> None:
    answer = face.post("create_object/", json={"id": 999999, "x": 1})
    assert answer.status_code == 404 and "999999" in answer.json()["detail"]


def test_names_never_conflict(face: httpx.Client) -> None:
    folder = made(face.post("create_folder/", json={"name": "data", "a": 1}))
    again = made(face.post("create_folder/", json={"name": "data", "b": 2}))
    assert again["id"] == folder["id"] and again["metadata"] == {"a": 1, "b": 2}
    over_folder = made(upload(face, b"1", name="data"))  # a file where a folder is
    assert over_folder["name"] == "data (1)" and over_folder["type"] == "file"
    file = made(upload(face, b"x", name="x.txt", k=1))
    folder_over_file = made(face.post("create_folder/", json={"name": "x.txt"}))
    assert folder_over_file["name"] == "x (1).txt" and folder_over_file["type"] == "folder"
    newer = made(upload(face, b"y", name="x.txt", k=2))
    assert newer["id"] == file["id"] and newer["metadata"] == {"k": 2}
    assert [v["etag"] for v in newer["versions"]] == [file["etag"]]
    unnamed = [made(face.post("create_object/", json={"v": i}))["name"] for i in range(2)]
    assert unnamed == ["untitled", "untitled (1)"]


def test_updates_merge_replace_rename_move_and_tag(face: httpx.Client) -> None:
    box = made(face.post("create_folder/", json={"name": "box"}))
    obj = made(face.post("create_object/", json={"name": "o", "a": 1, "b": 2}))
    merged = made(face.post("update/", json={"id": obj["id"], "b": 3, "c": 4}), 200)
    assert merged["metadata"] == {"a": 1, "b": 3, "c": 4}
    replaced = made(face.post("update_metadata/", json={"id": obj["id"],
                                                       "metadata": {"z": 0}}), 200)
    assert replaced["metadata"] == {"z": 0}
    moved = made(face.post("update/", json={"id": obj["id"], "name": "renamed",
                                            "parent": box["id"], "tags": ["t"]}), 200)
    assert (moved["name"], moved["parent"], moved["tags"]) == ("renamed", box["id"], ["t"])
    # Object.update() posts its (maybe locally numbered) name: never a rename there
    kept = made(face.post("create_object/", json={"id": obj["id"], "name": "renamed1",
                                                  "parent": None, "y": 1}))
    assert (kept["name"], kept["parent"], kept["metadata"]) == ("renamed", box["id"],
                                                                {"z": 0, "y": 1})
    # a bad part changes nothing
    bad = face.post("update/", json={"id": obj["id"], "parent": 999999, "q": 1})
    assert bad.status_code == 404
    assert "q" not in made(face.post("get_metadata/", json={"id": obj["id"]}), 200)["metadata"]
    assert face.post("update/", json={"x": 1}).status_code == 400


# --- uploads and downloads ------------------------------------------------------------------

def test_upload_names_tags_and_limits(server: LiveServer, face: httpx.Client) -> None:
    tutorial = made(upload(face, b"abc", path="upload/", filename="C:\\data\\run.csv",
                           tags=["a", "b"]))
    assert (tutorial["name"], tutorial["tags"]) == ("run.csv", ["a", "b"])
    package = made(upload(face, b"abc", name="named.csv"))  # the part's filename is "file"
    assert package["name"] == "named.csv" and package["etag"] == tutorial["etag"]
    before = staging(server)
    no_file = face.post("upload_multipart/", files={"json": (None, "{}")})
    assert no_file.status_code == 400 and "file" in no_file.json()["detail"]
    bad_meta = upload(face, b"zzz", name="b", version=3)
    assert bad_meta.status_code == 400 and "version" in bad_meta.json()["detail"]
    assert face.post("upload/", json={"name": "x"}).status_code == 400
    assert staging(server) <= before
    assert face.post("query_count/", json={"query": {"name": "b"}}).json()["count"] == 0


def test_an_upload_over_the_limit_is_413(launch: Launch) -> None:
    small = launch(CLOUDLET_MAX_FILE_SIZE="100000")
    user = make_user(small)
    with rino(small, user.api_token()) as face:
        answer = upload(face, b"x" * 1_300_000, name="big")
        assert answer.status_code == 413 and "100000" in answer.json()["detail"]
        assert made(upload(face, b"x" * 1000, name="fine"))["size"] == 1000


def test_downloads_stream_ranges_versions_and_folders(face: httpx.Client) -> None:
    folder = made(face.post("create_folder/", json={"name": "zipme"}))
    first = made(upload(face, b"0123456789", name="digits.txt", parent=folder["id"]))
    made(upload(face, b"abcdef", name="digits.txt", parent=folder["id"]))
    whole = face.get("download/", params={"id": first["id"]})
    assert whole.status_code == 200 and whole.content == b"abcdef"
    assert "digits.txt" in whole.headers["content-disposition"]
    part = face.get("download/", params={"id": first["id"]}, headers={"Range": "bytes=1-2"})
    assert part.status_code == 206 and part.content == b"bc"
    old = face.get("download/", params={"id": first["id"], "version": 1})
    assert old.content == b"0123456789"
    zipped = face.get("download/", params={"id": folder["id"]})
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).read("zipme/digits.txt") == b"abcdef"
    assert face.get("download/", params={"id": 999999}).status_code == 404
    assert face.get("download/").status_code == 400


# --- queries and errors ---------------------------------------------------------------------

def test_query_translation(face: httpx.Client) -> None:
    box = made(face.post("create_folder/", json={"name": "box"}))
    top = made(face.post("create_object/", json={"name": "top", "x": 1}))
    inner = made(face.post("create_object/", json={"name": "inner", "x": 2,
                                                   "parent": box["id"]}))

    def ids(query: Any, **more: Any) -> list[int]:
        found = made(face.post("query/", json={"query": query, **more}), 200)
        assert found["count"] == len(found["result"]) or "limit" in more
        return [o["id"] for o in found["result"]]

    assert ids({"parent": None}, sort="name") == [box["id"], top["id"]]
    assert ids({"parent": {"$in": [None, box["id"]]}, "type": "file"}, sort="-x") == [
        inner["id"], top["id"]]
    assert ids({"$or": [{"x": 1}, {"name": "inner"}]}, sort="x") == [top["id"], inner["id"]]
    assert ids({}, sort="name", limit=1, offset=1) == [inner["id"]]
    assert ids({}, limit=0) == []
    assert ids({"metadata.x": {"$gte": 2}}) == [inner["id"]]


@pytest.mark.parametrize(("body", "needle"), [
    ({"query": {"x": {"$regex": "a"}}}, "$regex"),
    ({"query": {"$where": "1"}}, "$where"),
    ({"query": "not a document"}, "JSON"),
    ({"query": ["a"]}, "JSON object"),
    ({"query": {}, "limit": -1}, "limit"),
    ({"query": {}, "sort": 3}, "sort"),
])
def test_bad_queries_are_400_naming_the_problem(face: httpx.Client, body: dict[str, Any],
                                                needle: str) -> None:
    for path in ("query/", "query_count/"):
        answer = face.post(path, json=body)
        if path == "query_count/" and needle in ("limit", "sort"):
            continue
        assert answer.status_code == 400, answer.text
        assert needle in answer.json()["detail"]


def test_errors_are_json_with_a_detail(face: httpx.Client) -> None:
    cases = [
        (face.post("get_metadata/", content=b"{not json",
                   headers={"content-type": "application/json"}), 400, "JSON"),
        (face.post("get_metadata/", json=[1, 2]), 400, "JSON object"),
        (face.post("get_metadata/", json={"id": "abc"}), 400, "id"),
        (face.post("get_metadata/", json={}), 400, "id"),
        (face.post("get_metadata/", json={"id": 999999}), 404, "999999"),
        (face.post("create_folder/", json={"parent": None}), 400, "name"),
        (face.post("create_folder/", json={"name": "a/b"}), 400, "'/'"),
        (face.post("nope/"), 404, "No such RinoCloud endpoint"),
        (face.put("query/"), 405, "PUT"),
        (face.post("get_metadata/", content=b"x", headers={"content-type": "text/csv"}),
         400, "text/csv"),
        (face.get("delete/"), 400, "id"),
    ]
    for answer, status, needle in cases:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert needle in answer.json()["detail"], answer.text
    file = made(upload(face, b"x", name="leaf"))
    assert face.post("children/", json={"id": file["id"]}).status_code == 400


def test_delete_is_all_or_nothing(face: httpx.Client) -> None:
    keep = made(face.post("create_object/", json={"name": "keep"}))
    answer = face.request("GET", "delete/", data={"id": [str(keep["id"]), "999999"]})
    assert answer.status_code == 404
    assert face.post("get_metadata/", json={"id": keep["id"]}).status_code == 200
    assert face.post("delete/", data={"id": str(keep["id"])}).status_code == 204


def test_the_same_new_name_at_once_never_conflicts(server: LiveServer, user: TestUser) -> None:
    """Scripts running side by side: each upload of one new name is a 201, and they end up
    as versions of one file; folders of one new name are one folder."""
    token = user.api_token()

    def send(i: int) -> httpx.Response:
        with rino(server, token) as client:
            if i % 2:
                return client.post("create_folder/", json={"name": "together"})
            return upload(client, b"run %d" % i, name="together.txt", i=i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(16)))
    assert [a.status_code for a in answers] == [201] * 16, [a.text for a in answers]
    folders = {a.json()["id"] for a in answers[1::2]}
    files = {a.json()["id"] for a in answers[::2]}
    assert len(folders) == 1 and len(files) == 1
    with user.client() as c:
        node = c.get(native(user, "files", files.pop())).json()
        assert node["version"] == 8 and node["name"] == "together.txt"
