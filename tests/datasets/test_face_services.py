"""The service calls the AmigoCloud face makes, in its wire order, in-process on a real
database and disk: a dataset uploaded in ~100 kB chunks (`Content-Range` parsed by the files
domain, the session opened by the first chunk, `{upload_id, md5}` to complete), and gallery
photos named by the gallery id alone (`/related_tables/<id>/…`), plain and chunked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudlet.server.app import prepare_installation
from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound, PermissionDenied
from cloudlet.server.core.principal import Principal
from cloudlet.server.files.uploads import parse_content_range
from cloudlet.server.services import Services
from cloudlet.server.settings import Settings
from tests.support import pg

CHUNK = 100_000


@pytest.fixture
def world(tmp_path: Path, backend: str, pg_databases: pg.PgDatabases | None
          ) -> Iterator[tuple[Services, Principal, int]]:
    url = pg_databases.clone() if backend == "postgres" and pg_databases else None
    settings = Settings(data_dir=tmp_path, database_url=url,
                        admin_password="long enough password",
                        password_hash_time_cost=1, password_hash_memory_kib=8192)
    created = prepare_installation(settings)
    assert created is not None
    db = Database(settings.db_url)
    services = Services.build(settings, db)
    principal = services.tokens.authenticate(created[2])
    with db.read() as conn:
        home = services.projects.home_project(conn, principal.user_id)["id"]
    yield services, principal, home
    services.imports.close()
    db.dispose()


def _chunks(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(Content-Range, chunk) as the AmigoCloud client sends them."""
    for start in range(0, len(data), CHUNK):
        piece = data[start:start + CHUNK]
        yield f"bytes {start}-{start + len(piece) - 1}/{len(data)}", piece


def test_a_chunked_dataset_upload_in_the_faces_order(
        world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    files, imports = services.files, services.imports
    data = ("name,lat,lon\n" + "".join(f"p{i},{i % 80}.5,{i % 170}.5\n"
                                       for i in range(20_000))).encode()
    upload_id: str | None = None
    for header, piece in _chunks(data):
        start, total = parse_content_range(header, len(piece))
        if upload_id is None:  # the first chunk comes without an upload_id
            upload_id = files.open_upload(principal, project, total=total)["id"]
        reply = files.upload_chunk(principal, project, upload_id, start=start, data=piece,
                                   total=total)
        assert reply["id"] == upload_id  # the face answers {"upload_id": …} every time
    assert upload_id is not None
    with pytest.raises(Invalid, match="empty"):
        imports.start_upload(principal, project, files.open_upload(
            principal, project, total=1)["id"], md5="0" * 32)  # nothing sent: refused
    job = imports.start_upload(principal, project, upload_id,
                               md5=hashlib.md5(data).hexdigest())
    again = imports.start_upload(principal, project, upload_id,
                                 md5=hashlib.md5(data).hexdigest())
    assert again["id"] == job["id"]
    done = imports.wait(principal, project, job["id"], 60)
    assert done["state"] == "succeeded", done["error"]
    (dataset,) = done["datasets"]
    assert dataset["name"] == "upload" and dataset["feature_count"] == 20_000


def test_a_wrong_md5_makes_no_dataset(world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    files = services.files
    data = b"a,b\n1,2\n"
    session = files.open_upload(principal, project, total=len(data))
    files.upload_chunk(principal, project, session["id"], start=0, data=data)
    with pytest.raises(Invalid, match="do not match"):
        services.imports.start_upload(principal, project, session["id"],
                                      md5=hashlib.md5(b"else").hexdigest())
    assert services.imports.list(principal, project, limit=10, offset=0)[0] == 0
    assert services.datasets.list(principal, project, limit=10, offset=0)[0] == 0


def _gallery(services: Services, principal: Principal, project: int
             ) -> tuple[dict[str, Any], str]:
    dataset = services.datasets.create(principal, project, name="trees", description="",
                                       kind="table", columns=[{"name": "n", "type": "integer"}])
    _, (row,) = services.datasets.add_rows(principal, project, dataset["id"], [{"n": 1}])
    gallery = services.galleries.create(principal, project, dataset["id"], name="photos")
    return gallery, row["amigo_id"]


def test_gallery_photos_by_gallery_id_alone(world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    galleries = services.galleries
    gallery, row = _gallery(services, principal, project)
    # plain: the face stages the multipart `datafile` part, then hands it over
    writer = services.files.writer()
    writer.write(b"\xff\xd8 a small photo")
    photo = galleries.add(principal, gallery["id"], writer.close(), source_amigo_id=row,
                          filename="leaf.jpg", metadata={"taken_by": "ada"})
    assert (photo["filename"], photo["content_type"], photo["metadata"]) == (
        "leaf.jpg", "image/jpeg", {"taken_by": "ada"})
    # chunked: chunks and completion name only the gallery
    data = bytes(range(256)) * 1200
    upload_id: str | None = None
    for header, piece in _chunks(data):
        start, total = parse_content_range(header, len(piece))
        if upload_id is None:
            upload_id = galleries.open_upload(principal, gallery["id"], total=total)["id"]
        galleries.upload_chunk(principal, gallery["id"], upload_id, start=start, data=piece,
                               total=total)
    assert upload_id is not None
    assert galleries.upload_status(principal, gallery["id"], upload_id)["offset"] == len(data)
    big = galleries.add_from_upload(principal, gallery["id"], upload_id, source_amigo_id=row,
                                    filename="big.png", metadata={"n": 2},
                                    md5=hashlib.md5(data).hexdigest())
    content = galleries.content(principal, big["id"])
    assert b"".join(galleries.read(content)) == data
    total, found = galleries.records(principal, gallery["id"], limit=10, offset=0)
    assert total == 2 and [r["id"] for r in found] == [photo["id"], big["id"]]
    assert galleries.project_of(principal, gallery["id"]) == project


def test_gallery_rights_without_a_project_in_the_path(
        world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    galleries = services.galleries
    gallery, row = _gallery(services, principal, project)
    elsewhere = services.projects.create(principal, name="elsewhere", description="", org=None)
    _, secret = services.tokens.create(principal, name="", scope="write",
                                       project=str(elsewhere["id"]), device_id=None,
                                       expires_in=None)
    other = services.tokens.authenticate(secret)
    with pytest.raises(NotFound):
        galleries.get(other, gallery["id"])
    with pytest.raises(NotFound):
        galleries.open_upload(other, gallery["id"], total=10)
    with pytest.raises(NotFound):
        galleries.get(principal, gallery["id"], project_ref=elsewhere["id"])
    _, read_secret = services.tokens.create(principal, name="", scope="read", project=None,
                                            device_id=None, expires_in=None)
    reader = services.tokens.authenticate(read_secret)
    assert galleries.get(reader, gallery["id"])["name"] == "photos"
    with pytest.raises(PermissionDenied):
        galleries.open_upload(reader, gallery["id"], total=10)
    with pytest.raises(Invalid, match="not a row"):
        galleries.check_upload(principal, gallery["id"], source_amigo_id="nope")
    assert galleries.check_upload(principal, gallery["id"], source_amigo_id=row)["id"] == \
        gallery["id"]
