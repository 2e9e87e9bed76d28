"""Chunked dataset uploads and gallery uploads through the real `amigocloud` 1.2.5 client:
`upload_datafile` past 8 MB and with `force_chunked`, the lower-level `upload_file` with the
URLs and fields `upload_gallery_photo` would send (it can't run on Python 3), and what the
server refuses. What the face writes is read back natively and through the SDK."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cloudlet import Client
from tests.faces.amigocloud_support import gallery_for, run
from tests.support.accounts import TestUser
from tests.support.live import LiveServer

GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-77.03, 38.9]},
     "properties": {"name": "dc"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.12, 51.5]},
     "properties": {"name": "london"}}]}


def _names(server: LiveServer, user: TestUser, project: int) -> list[str]:
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        return [d["name"] for d in sdk.datasets.list(project)]


def test_forced_chunked_uploads_make_datasets(server: LiveServer, user: TestUser,
                                              tmp_path: Path) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    csv = tmp_path / "places.csv"
    csv.write_text("name,n\nalpha,1\nbeta,2\ngamma,3\n")
    geo = tmp_path / "stations.geojson"
    geo.write_text(json.dumps(GEOJSON))
    seen = run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    base = 'users/%s/projects/{project}/datasets/' % ac._user_id
    plain = ac.upload_datafile(ac._user_id, {project}, os.environ['CSV'], chunk_size=8,
                               force_chunked=True)
    named = ac.upload_file(base + 'upload', base + 'chunked_upload/', os.environ['GEO'],
                           chunk_size=50, force_chunked=True,
                           extra_data={{'filename': 'stations.geojson'}})
    print(json.dumps({{"plain": plain, "named": named}}))
    """, CSV=str(csv), GEO=str(geo))
    plain, named = seen["plain"]["datasets"][0], seen["named"]["datasets"][0]
    assert seen["plain"]["state"] == seen["named"]["state"] == "succeeded"
    # the client names no file in chunked mode: the format is told from the content
    assert plain["name"] == "upload" and plain["feature_count"] == 3
    assert named["name"] == "stations" and named["feature_count"] == 2
    assert named["url"].startswith(server.url + "/amigocloud/api/v1/users/")
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        rows = sdk.sql(project, f"SELECT name FROM dataset_{named['id']} ORDER BY name")
        assert [r["name"] for r in rows] == ["dc", "london"]
        assert sdk.datasets.get(project, plain["id"])["feature_count"] == 3


def test_upload_datafile_past_8_mb_goes_chunked(server: LiveServer, user: TestUser,
                                                tmp_path: Path) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    big = tmp_path / "big.csv"
    lines = ["n,label"] + [f"{i},row number {i:08d} of the big upload" for i in range(200_000)]
    big.write_text("\n".join(lines) + "\n")
    assert big.stat().st_size > 8_000_000
    seen = run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    done = ac.upload_datafile(ac._user_id, {project}, os.environ['BIG'])
    print(json.dumps(done))
    """, timeout=300, BIG=str(big))
    made = seen["datasets"][0]
    assert seen["state"] == "succeeded" and made["feature_count"] == 200_000
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        count = sdk.sql(project, f"SELECT count(*) AS n FROM dataset_{made['id']}")
        assert list(count) == [{"n": 200_000}]


def test_chunked_upload_refusals_change_nothing(server: LiveServer, user: TestUser) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    before = _names(server, user, project)
    body = b"name,n\nalpha,1\nbeta,2\n"
    seen = run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    url = 'users/%s/projects/{project}/datasets/chunked_upload' % ac._user_id
    body = {body!r}
    out = {{}}
    def status(call):
        try:
            call()
        except AmigoCloudError as err:
            return [err.response.status_code, json.loads(err.text)['detail']]
    first = ac.post(url, files={{'datafile': body[:10]}},
                    headers={{'Content-Range': 'bytes 0-9/%d' % len(body)}})
    uid = first['upload_id']
    out['first'] = first
    out['gap'] = status(lambda: ac.post(url, data={{'upload_id': uid}},
                        files={{'datafile': body[12:]}},
                        headers={{'Content-Range': 'bytes 12-%d/%d' % (len(body) - 1,
                                                                       len(body))}}))
    out['range'] = status(lambda: ac.post(url, data={{'upload_id': uid}},
                          files={{'datafile': body[10:]}},
                          headers={{'Content-Range': 'bytes 10-11/%d' % len(body)}}))
    out['no_range'] = status(lambda: ac.post(url, files={{'datafile': body}}))
    out['no_id'] = status(lambda: ac.post(url, files={{'datafile': body[10:]}},
                          headers={{'Content-Range': 'bytes 10-%d/%d' % (len(body) - 1,
                                                                         len(body))}}))
    rest = ac.post(url, data={{'upload_id': uid}}, files={{'datafile': body[10:]}},
                   headers={{'Content-Range': 'bytes 10-%d/%d' % (len(body) - 1, len(body))}})
    out['rest'] = rest
    out['no_md5'] = status(lambda: ac.post(url + '/complete', {{'upload_id': uid}}))
    out['md5'] = status(lambda: ac.post(url + '/complete', {{'upload_id': uid,
                                                             'md5': '0' * 32}}))
    out['again'] = status(lambda: ac.post(url + '/complete', {{'upload_id': uid,
                          'md5': {hashlib.md5(body).hexdigest()!r}}}))
    out['unknown'] = status(lambda: ac.post(url + '/complete', {{'upload_id': 'nope',
                                                                 'md5': '0' * 32}}))
    print(json.dumps(out))
    """)
    assert seen["first"]["offset"] == 10 and seen["first"]["total"] == len(body)
    assert seen["gap"][0] == 409 and "resume" in seen["gap"][1]
    assert seen["range"][0] == 400 and "Content-Range" in seen["range"][1]
    assert seen["no_range"][0] == 400 and "Content-Range" in seen["no_range"][1]
    assert seen["no_id"][0] == 400 and "upload_id" in seen["no_id"][1]
    assert seen["rest"]["upload_id"] == seen["first"]["upload_id"]
    assert seen["rest"]["offset"] == len(body)
    assert seen["no_md5"][0] == 400 and "md5" in seen["no_md5"][1]
    assert seen["md5"][0] == 400 and "md5" in seen["md5"][1]
    assert seen["again"][0] in (404, 409)  # the mismatch discarded the upload
    assert seen["unknown"][0] == 404
    assert _names(server, user, project) == before


def test_gallery_uploads_through_upload_file(server: LiveServer, user: TestUser,
                                             tmp_path: Path) -> None:
    token = user.api_token(name="amigo")
    project = user.home_project["id"]
    gallery, (oak, elm) = gallery_for(server, user, project)
    photo = tmp_path / "leaf.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    seen = run(server, token, f"""
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    g = {gallery['id']}
    simple, chunked = 'related_tables/%s/upload' % g, 'related_tables/%s/chunked_upload' % g
    path = os.environ['PHOTO']
    # what upload_gallery_photo(g, source, path, metadata={{'by': 'ada'}}) would send
    fields = {{'source_amigo_id': {oak!r}, 'filename': os.path.basename(path), 'by': 'ada'}}
    one = ac.upload_file(simple, chunked, path, extra_data=dict(fields))
    fields['source_amigo_id'] = {elm!r}
    many = ac.upload_file(simple, chunked, path, chunk_size=1000, force_chunked=True,
                          extra_data=dict(fields))
    out = {{"one": one, "many": many}}
    try:
        ac.upload_gallery_photo(g, {oak!r}, path)
    except NameError as err:
        out['py3'] = str(err)
    try:
        ac.upload_file(simple, chunked, path, extra_data={{'source_amigo_id': 'no-row',
                                                           'filename': 'x.jpg'}})
    except AmigoCloudError as err:
        out['no_row'] = [err.response.status_code, err.text]
    try:
        ac.upload_file(simple, chunked, path, force_chunked=True,
                       extra_data={{'filename': 'x.jpg'}})
    except AmigoCloudError as err:
        out['no_source'] = [err.response.status_code, err.text]
    print(json.dumps(out))
    """, PHOTO=str(photo))
    data = photo.read_bytes()
    one, many = seen["one"], seen["many"]
    assert "basestring" in seen["py3"]
    assert (one["source_amigo_id"], many["source_amigo_id"]) == (oak, elm)
    for record in (one, many):
        assert record["filename"] == "leaf.jpg" and record["content_type"] == "image/jpeg"
        assert record["metadata"] == {"by": "ada"} and record["size"] == len(data)
        assert record["md5"] == hashlib.md5(data).hexdigest()
    assert seen["no_row"][0] == 400 and "source_amigo_id" in seen["no_row"][1]
    assert seen["no_source"][0] == 400 and "source_amigo_id" in seen["no_source"][1]
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        galleries = sdk.datasets.galleries
        records = list(galleries.records(project, gallery["id"]))
        assert [r["id"] for r in records] == [one["id"], many["id"]]
        assert galleries.content(project, gallery["id"], many["id"]) == data
