"""The service API other domains call (datasets importing a CSV, gallery photos, stream
event files): attachments held by an owner string, without a node in the visible tree,
sharing reference-counted blobs with files. In-process, on a real database and disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from cloudlet.server.app import prepare_installation
from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Principal
from cloudlet.server.files.tables import file_blobs
from cloudlet.server.projects.tables import projects
from cloudlet.server.services import Services
from cloudlet.server.settings import Settings
from tests.support import pg


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
    db.dispose()


def _blob_count(services: Services) -> int:
    with services.db.read() as conn:
        return len(conn.execute(select(file_blobs.c.id)).all())


def _bytes(services: Services, claim: dict[str, Any]) -> bytes:
    return b"".join(services.files.attachments.open(claim))


def test_an_attachment_shares_bytes_with_a_file_and_outlives_it(
        world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    files = services.files
    claim = files.attachments.store(principal, project, [b"a,b\n", b"1,2\n"],
                                    owner="dataset:12", filename="import.csv",
                                    content_type="text/csv")
    assert (claim["size"], claim["owner"], claim["filename"]) == (8, "dataset:12",
                                                                  "import.csv")
    assert claim["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert _bytes(services, claim) == b"a,b\n1,2\n"
    node, _ = files.store_file(principal, project, [b"a,b\n1,2\n"], name="same.csv")
    assert node["sha256"] == claim["sha256"] and _blob_count(services) == 1
    assert files.query(principal, project, {"name": "import.csv"}, limit=10)[0] == 0
    files.delete(principal, project, [node["id"]])
    assert _bytes(services, claim) == b"a,b\n1,2\n"
    with services.db.write() as tx:
        assert files.attachments.release_owner(tx, "dataset:12") == 1
    assert _blob_count(services) == 0
    assert not files.blobs.store.exists(claim["key"])


def test_an_upload_session_completes_as_an_attachment(
        world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    files = services.files
    data = b"x" * 250_000
    session = files.open_upload(principal, project, total=len(data))
    assert session["kind"] == "blob"
    for at in range(0, len(data), 100_000):
        files.upload_chunk(principal, project, session["id"], start=at,
                           data=data[at:at + 100_000])
    with pytest.raises(Invalid, match="attachment"):
        files.complete_upload(principal, project, session["id"], md5="0" * 32)
    claim = files.attachments.claim_upload(principal, project, session["id"],
                                           owner="gallery:3", filename="photo.jpg",
                                           md5=hashlib.md5(data).hexdigest())
    again = files.attachments.claim_upload(principal, project, session["id"],
                                           owner="gallery:3", md5=hashlib.md5(data).hexdigest())
    assert again["id"] == claim["id"] and _bytes(services, claim) == data
    with services.db.read() as conn:
        assert [c["id"] for c in files.attachments.of_owner(conn, "gallery:3")] == [claim["id"]]
    with services.db.write() as tx:
        files.attachments.release(tx, claim["id"])
    with services.db.read() as conn, pytest.raises(NotFound):
        files.attachments.get(conn, claim["id"])
    named = files.open_upload(principal, project, total=1, name="meant-as-a-file.txt")
    files.upload_chunk(principal, project, named["id"], start=0, data=b"x")
    with pytest.raises(Invalid, match="file name"):
        files.attachments.claim_upload(principal, project, named["id"], owner="gallery:3",
                                       md5=hashlib.md5(b"x").hexdigest())
    assert files.upload_status(principal, project, named["id"])["state"] == "open"


def test_claiming_a_files_blob_and_a_deleted_projects_bytes(
        world: tuple[Services, Principal, int]) -> None:
    services, principal, project = world
    files = services.files
    node, _ = files.store_file(principal, project, [b"event payload"], name="ev.bin")
    with services.db.write() as tx:
        blob_id = files.tree.node(tx.conn, project, node["id"])["blob_id"]
        claim = files.attachments.claim_blob(tx, blob_id, project_id=project,
                                             owner="stream_event:7", filename="ev.bin")
    files.delete(principal, project, [node["id"]])
    assert _bytes(services, claim) == b"event payload"
    other = services.projects.create(principal, name="doomed", description="", org=None)
    files.store_file(principal, other["id"], [b"goes with the project"], name="x")
    with services.db.write() as tx:  # a project's deletion cascades past the files service
        tx.execute(delete(projects).where(projects.c.id == other["id"]))
    assert _blob_count(services) == 2
    swept = files.housekeeping(grace=0)
    assert swept["blobs_collected"] == 1 and _blob_count(services) == 1
    assert _bytes(services, claim) == b"event payload"
