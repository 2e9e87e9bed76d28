"""Operator commands, run against the data dir of a live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.support.accounts import PASSWORD, login, unique
from tests.support.live import LiveServer, start_server


def test_create_user_and_token_while_the_server_runs(server: LiveServer) -> None:
    name = unique("op")
    made = server.cli("admin", "create-user", "--username", name, "--email", f"{name}@x.org",
                      "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    assert login(server, name, PASSWORD)
    again = server.cli("admin", "create-user", "--username", name, "--email", f"{name}@x.org",
                       "--password", PASSWORD)
    assert again.returncode == 1 and "already registered" in again.stderr

    token = server.cli("admin", "create-token", "--user", name, "--scope", "read",
                       "--expires", "30d")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert token.stdout == secret + "\n" and secret.startswith("clt_")
    with server.client(secret) as c:
        me = c.get("/me").json()
        assert me["username"] == name and me["token"]["scope"] == "read"
        expires = datetime.fromisoformat(me["token"]["expires_at"])
        assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
        home = me["home_project"]
    scoped = server.cli("admin", "create-token", "--user", name, "--project", home["gid"])
    with server.client(scoped.stdout.strip()) as c:
        assert [p["id"] for p in c.get("/projects").json()["results"]] == [home["id"]]


def test_operator_errors_are_clear(server: LiveServer) -> None:
    for args, words in (
        (("admin", "create-token", "--user", "nobody-at-all"), "No user"),
        (("admin", "create-token", "--user", server.admin_username, "--expires", "soon"),
         "not a duration"),
        (("admin", "create-token", "--user", server.admin_username, "--scope", "root"),
         "Unknown scope"),
        (("admin", "create-token", "--user", server.admin_username, "--project", "p--ffff"),
         "No project"),
    ):
        result = server.cli(*args)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)
        assert result.stdout == ""


def test_db_upgrade_is_idempotent(server: LiveServer) -> None:
    result = server.cli("db", "upgrade")
    assert result.returncode == 0 and "up to date" in result.stdout


def test_several_workers_need_postgresql_and_redis(server: LiveServer) -> None:
    result = server.cli("serve", "--workers", "2", "--port", "1", drop=("CLOUDLET_REDIS_URL",))
    assert result.returncode == 1 and "needs PostgreSQL" in result.stderr
    assert "Redis" in result.stderr


def test_first_start_prints_the_admin_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = start_server(data_dir=tmp_path)
    try:
        assert first.admin_token.startswith("clt_")
        with first.client(first.admin_token) as c:
            assert c.get("/me").json()["is_superuser"] is True
    finally:
        first.stop()
    second = start_server(data_dir=tmp_path)
    try:
        assert second.admin_token == ""  # nothing printed the second time
        assert "password" not in second.log()
        with second.client(first.admin_token) as c:
            assert c.get("/me").status_code == 200
    finally:
        second.stop()


def test_settings_from_a_toml_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "cloudlet.toml"
    config.write_text("page_size = 2\nregistration_open = true\n")
    server = start_server(data_dir=tmp_path / "data", extra_env={"CLOUDLET_CONFIG": str(config)})
    try:
        name = unique("t")
        answer = httpx.post(server.api + "/auth/register", json={
            "username": name, "email": f"{name}@x.org", "password": PASSWORD})
        assert answer.status_code == 201
        token = answer.json()["token"]
        with server.client(token) as c:
            for i in range(3):
                c.post("/projects", json={"name": f"p{i}"})
            assert len(c.get("/projects").json()["results"]) == 2
    finally:
        server.stop()
