"""The RinoCloud face against a live server, driven as its users drive it: every snippet of the
tutorial (seed 004) with only the named Python 3 corrections, run with `requests` under the
suite's Python and under the legacy venv's; and the original `rinocloud` 0.0.8 package, in its
own venv, end to end. Files made here are the native API's, the SDK's and the CLI's, and the
other way round."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cloudlet import Client
from cloudlet.cli.main import app as cli_app
from tests.faces.rinocloud_scripts import (
    PROOF,
    proof_content,
    run_python,
    snippets,
    tutorial_script,
)
from tests.support.accounts import TestUser
from tests.support.legacy import RINOCLOUD
from tests.support.live import LiveServer

MIB = 1024 * 1024


def s3_etag(data: bytes, part: int = 6 * MIB) -> str:
    digests = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def face_url(server: LiveServer) -> str:
    return server.url + "/rinocloud/api/1/"


def native(user: TestUser, *parts: object) -> str:
    return "/".join([f"/projects/{user.home_project['id']}", *(str(p) for p in parts)])


# --- the tutorial ---------------------------------------------------------------------------

def test_the_tutorial_has_the_snippets_the_issue_lists() -> None:
    titles = [t for t, _ in snippets()]
    assert titles == ["Accessing rinocloud", "Creating Folder", "Uploading File",
                      "Updating Metadata", "Getting Metadata", "Getting Childrens of object",
                      "Getting Ancestors of Object", "Downloading File",
                      "Downloading a large file", "Delete File"]


@pytest.mark.parametrize("python", ["suite", "legacy"])
def test_every_tutorial_snippet_works(server: LiveServer, user: TestUser, tmp_path: Path,
                                      python: str) -> None:
    token = user.api_token(name="tutorial")
    interpreter = sys.executable if python == "suite" else RINOCLOUD.ensure()
    ran = run_python(interpreter, tutorial_script(face_url(server), token), tmp_path)
    seen, folder_id, file_id = ran["seen"], ran["folder_id"], ran["file_id"]
    statuses = {title: step.get("status") for title, step in seen.items()}
    assert statuses == {"Creating Folder": 201, "Uploading File": 201,
                        "Updating Metadata": 200, "Getting Metadata": 200,
                        "Getting Childrens of object": 200,
                        "Getting Ancestors of Object": 200, "Downloading File": 200,
                        "Downloading a large file": None, "Delete File": 204}
    content = proof_content()
    folder = seen["Creating Folder"]["json"]
    assert (folder["name"], folder["type"], folder["parent"]) == ("my_test_folder", "folder",
                                                                  None)
    got = seen["Getting Metadata"]["json"]
    assert (got["id"], got["name"], got["type"], got["size"], got["parent"]) == (
        file_id, PROOF, "file", len(content), folder_id)
    assert got["etag"] == s3_etag(content) and got["etag"].endswith("-2")
    assert got["tags"] == ["math", "proof", "riemman"]
    # a form body carries text: the list's items arrive as strings, as sent
    assert got["metadata"] == {"field1": "Some descrition text",
                               "field2": ["100.5", "RinoCloud", "True"]}
    assert seen["Updating Metadata"]["json"]["metadata"] == got["metadata"]
    assert [c["id"] for c in seen["Getting Childrens of object"]["json"]["results"]] == [
        file_id]
    assert [a["id"] for a in seen["Getting Ancestors of Object"]["json"]] == [folder_id]
    digest = hashlib.sha256(content).hexdigest()
    assert seen["Downloading File"]["sha256"] == digest
    assert seen["Downloading a large file"]["sha256"] == digest
    assert seen["Delete File"]["body"] == ""
    with user.client() as c:
        for gone in (file_id, folder_id):
            assert c.get(native(user, "files", gone)).status_code == 404


def test_rerunning_the_tutorial_versions_the_file_and_reuses_the_folder(
        server: LiveServer, user: TestUser, tmp_path: Path) -> None:
    """The first half of the tutorial twice: no 409, the same folder, one file with two
    versions (the older content and metadata kept)."""
    token = user.api_token()
    script = tutorial_script(face_url(server), token).split("OBJECT_ID = file_id")[0]
    script += "print(json.dumps({'folder_id': folder_id, 'file_id': file_id}))\n"
    first = run_python(sys.executable, script, tmp_path)
    second = run_python(sys.executable, script, tmp_path)
    assert second == first
    with user.client() as c:
        node = c.get(native(user, "files", first["file_id"])).json()
        assert node["version"] == 2
        versions = c.get(native(user, "files", first["file_id"], "versions")).json()
        assert [v["metadata"] for v in versions] == [
            {"field1": "Some descrition text", "field2": ["100.5", "RinoCloud", "True"]}]
        children = c.get(native(user, "files", first["folder_id"], "children")).json()
        assert children["count"] == 1


# --- the rinocloud package ------------------------------------------------------------------

PACKAGE_PRELUDE = """
import json, os, requests, rinocloud
rinocloud.api_key = os.environ["RINO_TOKEN"]
rinocloud.set_domain(os.environ["RINO_URL"])
rinocloud.set_local_path("data", create_dir=True)

def write(o, text):
    with open(o.filepath, "w") as out:
        out.write(text)

def failure(call):
    try:
        call()
    except AssertionError as error:
        return str(error)
    return None
"""


def package(server: LiveServer, token: str, script: str, cwd: Path) -> Any:
    env = {"RINO_TOKEN": token, "RINO_URL": server.url + "/rinocloud/"}
    return RINOCLOUD.run(PACKAGE_PRELUDE + textwrap.dedent(script), env=env, timeout=180,
                         cwd=cwd)


def test_package_objects_end_to_end(server: LiveServer, user: TestUser, tmp_path: Path
                                    ) -> None:
    ran = package(server, user.api_token(), """
        # a folder, with a file uploaded into it with metadata
        c = rinocloud.Collection()
        c.set_name("experiment", create_dir=True)
        c.sample_id = "A3303"
        o = rinocloud.Object()
        o.set_name("spectrum.txt")
        c.add(o)
        write(o, "1\\n2\\n3\\n4\\n5")
        o.slope = 2
        o.laser = {"power": 6, "unit": "nW"}
        c.upload()
        uploaded = {"folder": c.id, "file": o.id, "parent": o._parent, "etag": o.etag,
                    "local": o.calculate_etag(), "type": o._rino_type, "size": o._size}

        # an object with metadata only
        m = rinocloud.Object(name="notes", run=7)
        m.upload_meta()

        # get by id, then download: a local data/spectrum.txt is there, so the package
        # bumps the local name to spectrum1.txt (and sends that name on update)
        with open("data/spectrum.txt", "w") as local:
            local.write("a local file")
        g = rinocloud.Object()
        g.get(id=o.id)
        path = g.download()
        got = {"name": g.name, "slope": g.slope, "laser": g.laser, "path": path,
               "bytes": open(path).read(), "etag": g.etag, "calculated": g.calculate_etag()}

        # update: a new key, a changed one; Object.update posts to create_object/ with the id
        g.slope = 3
        g.comment = "checked"
        g.update()
        after = rinocloud.Object()
        after.get(id=o.id)

        # upload() again: the same name, a new version
        write(o, "6\\n7\\n8")
        o.upload()

        # delete: the package has none; the tutorial's call
        headers = {"Authorization": "Token %s" % rinocloud.api_key}
        gone = requests.get(rinocloud.api_base + "files/delete/",
                            data={"id": [m.id]}, headers=headers).status_code
        print(json.dumps({"uploaded": uploaded, "meta_only": {"id": m.id, "run": m.run,
                          "type": m._rino_type, "size": m._size, "name": m._cloud_name},
                          "got": got, "after": {"slope": after.slope,
                          "comment": after.comment, "name": after._cloud_name,
                          "id": after.id},
                          "reuploaded": {"id": o.id, "etag": o.etag,
                                         "versions": o.versions},
                          "missing": failure(lambda: rinocloud.Object().get(id=m.id)),
                          "deleted": gone}))
    """, tmp_path)
    up = ran["uploaded"]
    assert up["parent"] == up["folder"] and up["type"] == "file" and up["size"] == 9
    assert up["etag"] == up["local"] == "fe743783afdf86af96aac1781ceff960-1"
    got = ran["got"]
    assert got["name"] == "spectrum1.txt" and got["path"] == "data/spectrum1.txt"
    assert got["bytes"] == "1\n2\n3\n4\n5" and got["etag"] == got["calculated"]
    assert (got["slope"], got["laser"]) == (2, {"power": 6, "unit": "nW"})
    after = ran["after"]
    # the locally bumped name is not a rename: the file keeps its name
    assert after == {"slope": 3, "comment": "checked", "name": "spectrum.txt",
                     "id": up["file"]}
    again = ran["reuploaded"]
    assert again["id"] == up["file"] and again["etag"] == s3_etag(b"6\n7\n8")
    assert [v["version"] for v in again["versions"]] == [1]
    assert again["versions"][0]["etag"] == up["etag"]
    meta = ran["meta_only"]
    assert (meta["type"], meta["size"], meta["name"], meta["run"]) == ("file", 0, "notes", 7)
    assert ran["deleted"] == 204
    assert "404" in ran["missing"]
    with user.client() as c:
        folder = c.get(native(user, "files", up["folder"])).json()
        assert folder["metadata"] == {"sample_id": "A3303"}  # never its local filepath
        # the re-upload carried o's own attributes: they are the file's metadata now, and
        # what the update had made stays with the first version
        node = c.get(native(user, "files", up["file"])).json()
        assert node["metadata"] == {"slope": 2, "laser": {"power": 6, "unit": "nW"}}
        versions = c.get(native(user, "files", up["file"], "versions")).json()
        assert [v["metadata"] for v in versions] == [
            {"slope": 3, "laser": {"power": 6, "unit": "nW"}, "comment": "checked"}]
        assert c.get(native(user, "files", up["file"], "content")).content == b"6\n7\n8"


def test_package_batch_and_object_methods(server: LiveServer, user: TestUser, tmp_path: Path
                                          ) -> None:
    ran = package(server, user.api_token(), """
        folder = rinocloud.Collection()
        folder.set_name("batch")
        folder.upload()
        objs = []
        for i in range(3):
            o = rinocloud.Object(index=i)
            o.set_name("part%d.csv" % i)
            write(o, "%d,%d\\n" % (i, i * i))
            objs.append(o)
        rinocloud.Batch.upload(objs, to=folder.id)
        metas = [rinocloud.Object(name="meta%d" % i, index=i) for i in range(2)]
        rinocloud.Batch.upload_meta(metas, to=folder.id)
        for o in objs:
            o.checked = True
        rinocloud.Batch.update(objs)
        fresh = [rinocloud.Object(id=o.id) for o in objs]
        rinocloud.Batch.get(fresh)
        rinocloud.set_local_path("down", create_dir=True)
        for f in fresh:
            f.set_local_path("down")
            f.set_name(f._cloud_name)
        rinocloud.Batch.download(fresh)
        print(json.dumps({
            "folder": folder.id,
            "parents": [o._parent for o in objs + metas],
            "checked": [f.checked for f in fresh],
            "files": [open(f.filepath).read() for f in fresh],
            "etags": [f.etag == f.calculate_etag() for f in fresh],
            "count": rinocloud.Query().filter(index__gte=0).count(),
        }))
    """, tmp_path)
    assert ran["parents"] == [ran["folder"]] * 5
    assert ran["checked"] == [True, True, True]
    assert ran["files"] == ["0,0\n", "1,1\n", "2,4\n"]
    assert ran["etags"] == [True, True, True]
    assert ran["count"] == 5


QUERY_SETUP = """
    def put(name, **meta):
        o = rinocloud.Object(**meta)
        o.set_name(name)
        write(o, name)
        o.upload()
        return o

    put("a.txt", x=1, site="roof-north", run={"n": 1})
    b = put("b.txt", x=2, site="roof-south", run={"n": 2})
    put("c.txt", x=3, site="cellar", flag=True)
    put("d.txt", label="no x here")

    def names(q, sort=None):
        if sort:
            q = q.sort(sort)
        return [o._cloud_name for o in q.query()]

    Q = rinocloud.Query
"""


def test_package_query_with_every_operator(server: LiveServer, user: TestUser,
                                           tmp_path: Path) -> None:
    ran = package(server, user.api_token(), QUERY_SETUP + """
    print(json.dumps({
        "plain": names(Q().filter(x=2)),
        "eq": names(Q().filter(x__eq=1)),
        "lt": names(Q().filter(x__lt=2)),
        "lte": names(Q().filter(x__lte=2), "x"),
        "gt": names(Q().filter(x__gt=1), "-x"),
        "gte": names(Q().filter(x__gte=2), "x"),
        "ne": names(Q().filter(x__ne=2), "name"),
        "in": names(Q().filter(x__in=[1, 3]), "x"),
        "nin": names(Q().filter(x__nin=[1, 3]), "name"),
        "exists": names(Q().filter(flag__exists=True)),
        "not_exists": names(Q().filter(x__exists=False)),
        "or": names(Q().filter(x__or=1, flag__or=True), "x"),
        "string_contains": names(Q().filter(site__string_contains="roof"), "-site"),
        "range": names(Q().filter(x__gt=1, x__lte=3), "-x"),
        "nested": names(Q().filter(run__n__eq=2)),
        "neq": names(Q().filter(x__neq=1), "name"),
        "by_etag": names(Q().filter(etag=b.calculate_etag())),  # "is it there already?"
        "sort_drops_missing": names(Q(), "x"),
        "page": [o._cloud_name for o in Q().sort("x").query(limit=1, offset=1)],
        "count": Q().filter(x__gte=2).count(),
        "count_ne": Q().filter(x__ne=2).count(),
        "unknown": failure(lambda: Q({"x": {"$regex": "1"}}).query()),
        "unknown_count": failure(lambda: Q({"x": {"$near": 1}}).count()),
    }))
    """, tmp_path)
    assert ran["plain"] == ["b.txt"] and ran["eq"] == ["a.txt"] and ran["lt"] == ["a.txt"]
    assert ran["lte"] == ["a.txt", "b.txt"] and ran["gt"] == ["c.txt", "b.txt"]
    assert ran["gte"] == ["b.txt", "c.txt"]
    # Mongo semantics: ne and nin also match objects without the field
    assert ran["ne"] == ["a.txt", "c.txt", "d.txt"] and ran["nin"] == ["b.txt", "d.txt"]
    assert ran["in"] == ["a.txt", "c.txt"]
    assert ran["exists"] == ["c.txt"] and ran["not_exists"] == ["d.txt"]
    assert ran["or"] == ["a.txt", "c.txt"]
    assert ran["string_contains"] == ["b.txt", "a.txt"]
    assert ran["range"] == ["c.txt", "b.txt"]
    assert ran["nested"] == ["b.txt"]  # the README's x__y__eq reaches into nested metadata
    assert ran["neq"] == ["b.txt", "c.txt", "d.txt"]  # documented in its README, now works
    assert ran["by_etag"] == ["b.txt"]
    assert ran["sort_drops_missing"] == ["a.txt", "b.txt", "c.txt"]  # RinoCloud's rule
    assert ran["page"] == ["b.txt"]
    assert (ran["count"], ran["count_ne"]) == (2, 3)
    assert "$regex" in ran["unknown"] and "$near" in ran["unknown_count"]


def test_package_errors_reach_the_caller(server: LiveServer, user: TestUser, tmp_path: Path
                                         ) -> None:
    ran = package(server, "not-a-token", """
        o = rinocloud.Object(name="x", a=1)
        print(json.dumps({"upload": failure(o.upload_meta),
                          "query": failure(lambda: rinocloud.Query().filter(a=1).query())}))
    """, tmp_path)
    assert "Invalid token" in ran["upload"] and "Invalid token" in ran["query"]


def test_package_empty_file_etag_matches(server: LiveServer, user: TestUser, tmp_path: Path
                                         ) -> None:
    ran = package(server, user.api_token(), """
        o = rinocloud.Object()
        o.set_name("empty.dat")
        write(o, "")
        o.upload()
        g = rinocloud.Object()
        g.get(id=o.id)
        g.download()
        print(json.dumps({"etag": o.etag, "calculated": g.calculate_etag()}))
    """, tmp_path)
    assert ran["etag"] == ran["calculated"] == hashlib.md5(b"").hexdigest() + "-0"


# --- one store: the native API, the SDK and the CLI see the same files ---------------------

def test_files_from_the_face_are_the_native_apis(server: LiveServer, user: TestUser,
                                                 tmp_path: Path) -> None:
    ran = package(server, user.api_token(), """
        o = rinocloud.Object(run=5)
        o.set_name("from-rino.txt")
        write(o, "rino bytes")
        o.upload()
        print(json.dumps({"id": o.id, "etag": o.etag}))
    """, tmp_path)
    with user.client() as c:
        node = c.get(native(user, "files", ran["id"])).json()
    assert (node["name"], node["metadata"], node["multipart_etag"]) == (
        "from-rino.txt", {"run": 5}, ran["etag"])
    with Client(server.url, user.token) as sdk:
        assert sdk.files.by_path("/from-rino.txt")["id"] == ran["id"]
        assert sdk.files.download(ran["id"], tmp_path / "sdk.txt").read_text() == "rino bytes"
        assert [n["id"] for n in sdk.files.query(metadata__run=5)] == [ran["id"]]
    listed = CliRunner().invoke(cli_app, ["files", "ls", "/", "--json"], env={
        "CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token,
        "CLOUDLET_CONFIG_DIR": str(tmp_path / "config")})
    assert listed.exit_code == 0, listed.output
    assert [n["name"] for n in json.loads(listed.stdout)] == ["from-rino.txt"]


def test_files_from_the_sdk_and_cli_are_the_faces(server: LiveServer, user: TestUser,
                                                  tmp_path: Path) -> None:
    source = tmp_path / "native.csv"
    source.write_bytes(b"t,v\n1,2\n")
    with Client(server.url, user.token) as sdk:
        folder = sdk.files.mkdir(path="/from-sdk")
        node = sdk.files.upload(source, parent=folder["id"], metadata={"sensor": "t1"},
                                tags=["raw"])
    made = CliRunner().invoke(cli_app, ["files", "mkdir", "/from-sdk/by-cli"], env={
        "CLOUDLET_URL": server.url, "CLOUDLET_TOKEN": user.token,
        "CLOUDLET_CONFIG_DIR": str(tmp_path / "config")})
    assert made.exit_code == 0, made.output
    ran = package(server, user.api_token(), """
        found = rinocloud.Query().filter(sensor="t1").query()
        o = found[0]
        path = o.download()
        children = requests.post(rinocloud.api_base + "files/children/",
                                 json={"id": o._parent},
                                 headers={"Authorization": "Token " + rinocloud.api_key})
        print(json.dumps({"ids": [f.id for f in found], "parent": o._parent,
                          "bytes": open(path).read(), "etag": o.etag,
                          "calculated": o.calculate_etag(),
                          "children": [(c["name"], c["type"])
                                       for c in children.json()["results"]]}))
    """, tmp_path)
    assert ran["ids"] == [node["id"]] and ran["parent"] == folder["id"]
    assert ran["bytes"] == "t,v\n1,2\n" and ran["etag"] == ran["calculated"]
    assert ran["children"] == [["by-cli", "folder"], ["native.csv", "file"]]


def test_the_face_is_not_in_the_native_openapi(server: LiveServer) -> None:
    spec = httpx.get(server.api + "/openapi.json").json()
    assert not [p for p in spec["paths"] if "rinocloud" in p or "/api/1/" in p]
