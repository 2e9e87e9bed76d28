"""The tree: folders by path, children, ancestors, moves, copies, bulk deletes, names and
their conflicts, traversal-style names, metadata updates, zips, events, and another
project's files answering 404."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.files.conftest import upload, uploaded
from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.ws import Socket


def url(user: TestUser, *parts: object) -> str:
    return "/".join([f"/projects/{user.home_project['id']}", *(str(p) for p in parts)])


def mkdir(user: TestUser, **body: Any) -> dict[str, Any]:
    with user.client() as c:
        answer = c.post(url(user, "folders"), json=body)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())


def test_folders_by_path_like_mkdir_p(user: TestUser) -> None:
    c_folder = mkdir(user, path="/a/b/c", metadata={"deep": True})
    assert c_folder["name"] == "c" and c_folder["metadata"] == {"deep": True}
    with user.client() as c:
        again = c.post(url(user, "folders"), json={"path": "a/b/c"})
        assert again.status_code == 200 and again.json()["id"] == c_folder["id"]
        found = c.get(url(user, "files", "by-path"), params={"path": "/a/b/c"}).json()
        assert found["id"] == c_folder["id"]
        chain = c.get(url(user, "files", c_folder["id"], "ancestors")).json()
        assert [n["name"] for n in chain] == ["", "a", "b"]
        assert chain[0]["parent"] is None
        assert c.get(url(user, "files", "by-path"), params={"path": "/a/x"}).status_code == 404
        uploaded(user, "f.txt", b"x", parent=c_folder["id"])
        clash = c.post(url(user, "folders"), json={"path": "/a/b/c/f.txt/d"})
        assert clash.status_code == 409


def test_children_are_paged_and_sorted(user: TestUser) -> None:
    folder = mkdir(user, name="many")
    for i, size in enumerate([5, 1, 3, 4, 2]):
        uploaded(user, f"f{i}.txt", b"x" * size, parent=folder["id"])
    mkdir(user, name="sub", parent=folder["id"])
    with user.client() as c:
        page = c.get(url(user, "files", folder["id"], "children"), params={"limit": 4}).json()
        assert page["count"] == 6 and page["next"]
        assert [n["name"] for n in page["results"]] == ["sub", "f0.txt", "f1.txt", "f2.txt"]
        by_size = c.get(url(user, "files", folder["id"], "children"),
                        params={"sort": "-size", "limit": 3}).json()["results"]
        assert [n["size"] for n in by_size] == [5, 4, 3]
        file_id = page["results"][1]["id"]
        assert c.get(url(user, "files", file_id, "children")).status_code == 400


def test_name_conflicts(user: TestUser) -> None:
    uploaded(user, "data.csv", b"1")
    taken = upload(user, "data.csv", b"2")
    assert taken.status_code == 409 and "rename" in taken.json()["detail"]
    assert uploaded(user, "data.csv", b"3", on_conflict="rename")["name"] == "data (1).csv"
    assert uploaded(user, "data.csv", b"4", on_conflict="rename")["name"] == "data (2).csv"
    assert uploaded(user, "README", b"r")["name"] == "README"
    assert uploaded(user, "README", b"r", on_conflict="rename")["name"] == "README (1)"
    over = upload(user, "data.csv", b"5", on_conflict="overwrite")
    assert over.status_code == 200 and over.json()["version"] == 2
    mkdir(user, name="folder")
    assert upload(user, "folder", b"x", on_conflict="overwrite").status_code == 409
    with user.client() as c:
        assert c.post(url(user, "folders"), json={"name": "folder"}).status_code == 409
        reused = c.post(url(user, "folders"), json={"name": "folder", "on_conflict":
                                                    "overwrite"})
        assert reused.status_code == 200
        assert c.post(url(user, "folders"), json={"name": "folder", "on_conflict": "rename"}
                      ).json()["name"] == "folder (1)"
        assert upload(user, "x", b"", on_conflict="sometimes").status_code == 400


def test_overwrite_or_rename_never_conflicts(user: TestUser) -> None:
    policy = {"on_conflict": "overwrite_or_rename"}
    folder = mkdir(user, name="both")
    first = upload(user, "both", b"1", **policy)  # a file where a folder is: numbered
    assert first.status_code == 201 and first.json()["name"] == "both (1)"
    again = upload(user, "both (1)", b"2", **policy)  # a file where a file is: a version
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["version"] == 2
    uploaded(user, "f.txt", b"x")
    with user.client() as c:
        numbered = c.post(url(user, "folders"), json={"name": "f.txt", **policy})
        assert numbered.status_code == 201 and numbered.json()["name"] == "f (1).txt"
        reused = c.post(url(user, "folders"), json={"name": "both", **policy})
        assert reused.status_code == 200 and reused.json()["id"] == folder["id"]
        session = c.post(url(user, "uploads"), json={"name": "both", **policy})
        assert session.status_code == 201, session.text
        node = first.json()
        # moves and copies take fail or rename only
        assert c.patch(url(user, "files", node["id"]), json={"name": "x", **policy}
                       ).status_code == 422
        assert c.post(url(user, "files", node["id"], "copy"), json=policy).status_code == 422


def test_a_name_made_meanwhile_is_placed_again(user: TestUser) -> None:
    """Uploads racing for one new name in a project without files yet (so its root folder
    is made by one of them): with overwrite they become versions of one file, with rename
    numbered files; only fail answers 409."""
    def send(policy: str, i: int) -> Any:
        return upload(user, f"{policy}.txt", b"%d" % i, on_conflict=policy)

    with ThreadPoolExecutor(max_workers=6) as pool:
        over = list(pool.map(lambda i: send("overwrite", i), range(6)))
        renamed = list(pool.map(lambda i: send("rename", i), range(6)))
        failed = list(pool.map(lambda i: send("fail", i), range(6)))
    assert sorted(a.status_code for a in over) == [200] * 5 + [201], [a.text for a in over]
    assert len({a.json()["id"] for a in over}) == 1
    assert [a.status_code for a in renamed] == [201] * 6
    assert len({a.json()["name"] for a in renamed}) == 6
    assert sorted(a.status_code for a in failed) == [201] + [409] * 5


@pytest.mark.parametrize("name", ["../escape.txt", "a/b.txt", "..", ".", "nul\x00.txt",
                                  "line\r\nbreak.txt",
                                  "x" * 256, "", "  "])
def test_traversal_and_bad_names_are_refused(server: LiveServer, user: TestUser,
                                             name: str) -> None:
    answer = upload(user, name, b"evil")
    assert answer.status_code in (400, 422), answer.text
    with user.client() as c:
        assert c.post(url(user, "folders"), json={"name": name}).status_code in (400, 422)
        assert c.post(url(user, "uploads"), json={"name": name}).status_code in (400, 422)


def test_a_client_filename_never_reaches_the_filesystem(server: LiveServer, user: TestUser
                                                        ) -> None:
    with user.client() as c:
        answer = c.post(url(user, "files"), files={"file": ("../../../../tmp/pwned.txt",
                                                            b"evil")})
        assert answer.status_code == 201
        node = answer.json()
    assert node["name"] == "pwned.txt"
    on_disk = [p.name for p in server.data_dir.rglob("*")]
    assert "pwned.txt" not in on_disk and not Path("/tmp/pwned.txt").exists()
    assert any(p == node["sha256"] for p in on_disk)


def test_move_rename_and_tags(user: TestUser) -> None:
    src, dst = mkdir(user, path="/mv/src"), mkdir(user, path="/mv/dst")
    f = uploaded(user, "f.txt", b"x", parent=src["id"])
    with user.client() as c:
        moved = c.patch(url(user, "files", f["id"]), json={"parent": dst["id"],
                                                           "name": "g.txt", "tags": ["t"]})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["parent"], moved.json()["name"], moved.json()["tags"]) == (
            dst["id"], "g.txt", ["t"])
        uploaded(user, "g.txt", b"y", parent=src["id"])
        back = c.patch(url(user, "files", f["id"]), json={"parent": src["id"]})
        assert back.status_code == 409
        renamed = c.patch(url(user, "files", f["id"]), json={"parent": src["id"],
                                                             "on_conflict": "rename"})
        assert renamed.json()["name"] == "g (1).txt"
        mv = mkdir(user, path="/mv")
        into_self = c.patch(url(user, "files", mv["id"]), json={"parent": dst["id"]})
        assert into_self.status_code == 400
        assert c.patch(url(user, "files", "root"), json={"name": "x"}).status_code == 400
        assert c.patch(url(user, "files", f["id"]), json={"parent": f["id"]}
                       ).status_code == 400


def test_copy_shares_the_bytes_and_copies_folders(user: TestUser) -> None:
    tree = mkdir(user, path="/cp/tree/inner")
    f = uploaded(user, "leaf.bin", b"leafdata", parent=tree["id"], metadata={"k": 1})
    top = mkdir(user, path="/cp/tree")
    with user.client() as c:
        copy = c.post(url(user, "files", top["id"], "copy"), json={}).json()
        assert copy["name"] == "tree (1)"
        leaf = c.get(url(user, "files", "by-path"),
                     params={"path": "/cp/tree (1)/inner/leaf.bin"}).json()
        assert leaf["sha256"] == f["sha256"] and leaf["metadata"] == {"k": 1}
        assert leaf["id"] != f["id"]
        into_itself = c.post(url(user, "files", top["id"], "copy"),
                             json={"parent": tree["id"]})
        assert into_itself.status_code == 400
        c.delete(url(user, "files", f["id"]))
        assert c.get(url(user, "files", leaf["id"], "content")).content == b"leafdata"


def test_bulk_delete_is_one_transaction(user: TestUser) -> None:
    folder = mkdir(user, path="/del/deep/er")
    a = uploaded(user, "a", b"1", parent=folder["id"])
    b = uploaded(user, "b", b"2")
    top = mkdir(user, path="/del")
    with user.client() as c:
        failed = c.post(url(user, "files", "delete"), json={"ids": [b["id"], 999999]})
        assert failed.status_code == 404
        assert c.get(url(user, "files", b["id"])).status_code == 200
        assert c.post(url(user, "files", "delete"), json={"ids": ["root"]}).status_code == 400
        done = c.post(url(user, "files", "delete"), json={"ids": [top["id"], b["id"],
                                                                 a["id"]]})
        assert done.status_code == 200 and done.json()["deleted"] == 5
        for node in (a, b, folder, top):
            assert c.get(url(user, "files", node["id"])).status_code == 404


def test_metadata_merge_replace_and_builtin_names(user: TestUser) -> None:
    f = uploaded(user, "m.txt", b"x", metadata={"a": 1, "b": {"c": 2}})
    with user.client() as c:
        merged = c.patch(url(user, "files", f["id"], "metadata"),
                         json={"b": {"d": 3}, "e": "new", "a": None}).json()
        assert merged["metadata"] == {"b": {"d": 3}, "e": "new"}
        replaced = c.put(url(user, "files", f["id"], "metadata"), json={"only": True}).json()
        assert replaced["metadata"] == {"only": True}
        for forged in ({"etag": "x"}, {"id": 5}, {"created_on": "2020"}, {"versions": []},
                       {"size": 0}):
            answer = c.patch(url(user, "files", f["id"], "metadata"), json=forged)
            assert answer.status_code == 400, forged
            assert list(forged)[0] in answer.json()["detail"]
        assert upload(user, "n.txt", b"x", metadata={"sha256": "0"}).status_code == 400
        assert c.get(url(user, "files", f["id"])).json()["metadata"] == {"only": True}
        assert c.patch(url(user, "files", f["id"], "metadata"), content=b"[1]",
                       headers={"content-type": "application/json"}).status_code == 422


def test_a_nested_folder_downloads_as_a_zip(user: TestUser) -> None:
    top = mkdir(user, path="/z/top")
    deep = mkdir(user, path="/z/top/one/two")
    mkdir(user, path="/z/top/empty")
    files = {"top/a.txt": (top, b"A" * 1000), "top/one/two/b.bin": (deep, bytes(range(256))),
             "top/one/two/ünï.txt": (deep, "ü".encode())}
    for path, (folder, content) in files.items():
        uploaded(user, path.rsplit("/", 1)[1], content, parent=folder["id"])
    with user.client() as c:
        answer = c.get(url(user, "files", top["id"], "content"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="top.zip"' in answer.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert {"top/", "top/one/", "top/one/two/", "top/empty/"} <= names
    for path, (_, content) in files.items():
        assert archive.read(path) == content


def test_another_projects_file_is_404_on_every_route(user: TestUser) -> None:
    mine = uploaded(user, "mine.txt", b"secret")
    with user.client() as c:
        other = c.post("/projects", json={"name": "second"}).json()
        base = f"/projects/{other['id']}/files/{mine['id']}"
        calls = [("GET", base, None), ("PATCH", base, {"name": "x"}), ("DELETE", base, None),
                 ("GET", base + "/content", None), ("GET", base + "/children", None),
                 ("GET", base + "/ancestors", None), ("GET", base + "/versions", None),
                 ("POST", base + "/copy", {}), ("PATCH", base + "/metadata", {"a": 1}),
                 ("PUT", base + "/metadata", {"a": 1}),
                 ("GET", base + "/versions/1/content", None),
                 ("POST", f"/projects/{other['id']}/files/delete", {"ids": [mine["id"]]}),
                 ("POST", f"/projects/{other['id']}/folders",
                  {"name": "x", "parent": mine["id"]})]
        for method, path, body in calls:
            answer = c.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
        session = c.post(url(user, "uploads"), json={"name": "s"}).json()
        assert c.get(f"/projects/{other['id']}/uploads/{session['id']}").status_code == 404
        assert c.get(url(user, "files", mine["id"], "content")).content == b"secret"


def test_a_read_token_reads_but_cannot_write(user: TestUser) -> None:
    f = uploaded(user, "r.txt", b"read me")
    token = user.api_token(scope="read")
    with user.client(token) as c:
        assert c.get(url(user, "files", f["id"], "content")).content == b"read me"
        assert upload_with(c, user).status_code == 403
        assert c.delete(url(user, "files", f["id"])).status_code == 403
        assert c.post(url(user, "uploads"), json={"name": "x"}).status_code == 403
        assert c.patch(url(user, "files", f["id"], "metadata"), json={"a": 1}
                       ).status_code == 403


def upload_with(c: Any, user: TestUser) -> Any:
    return c.post(url(user, "files"), params={"name": "w"}, content=b"x",
                  headers={"content-type": "application/octet-stream"})


def test_changes_publish_file_events_after_commit(server: LiveServer, user: TestUser) -> None:
    async def scenario() -> list[dict[str, Any]]:
        sock = await Socket.open(server, user.token)
        try:
            ack = await sock.subscribe(f"project:{user.home_project['id']}")
            assert ack["op"] == "subscribed", ack
            f = await asyncio.to_thread(uploaded, user, "ev.txt", b"1")
            await asyncio.to_thread(uploaded, user, "ev.txt", b"2", on_conflict="overwrite")
            assert (await asyncio.to_thread(upload, user, "ev.txt", b"3")).status_code == 409

            def remove() -> None:
                with user.client() as c:
                    c.patch(url(user, "files", f["id"], "metadata"), json={"k": 1})
                    c.delete(url(user, "files", f["id"]))

            await asyncio.to_thread(remove)
            return await sock.events(4)
        finally:
            await sock.close()

    events = asyncio.run(scenario())
    assert [(e["event"], e["data"]["version"]) for e in events] == [
        ("file.created", 1), ("file.updated", 2), ("file.updated", 2), ("file.deleted", 2)]
    assert events[0]["data"]["name"] == "ev.txt" and events[3]["data"]["deleted"]
    assert json.dumps(events)  # plain JSON
