"""`login`, `logout`, `whoami` and `profiles` store and use real sessions."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from cloudlet import Client, Unauthorized
from tests.cli.conftest import Cli, run_module
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def login(cli: Cli, server: LiveServer, user: TestUser, *extra: str) -> None:
    ran = cli("login", "--url", server.url, "--username", user.username, *extra,
              input=f"{user.password}\n")
    assert ran.code == 0, ran.stderr
    assert f"as {user.username}" in ran.stderr


def test_login_stores_a_private_profile(cli: Cli, server: LiveServer, user: TestUser,
                                        isolated_config: Path) -> None:
    login(cli, server, user)
    config = tomllib.loads((isolated_config / "config.toml").read_text())
    assert config == {"active": "default", "profiles": {
        "default": {"url": server.url, "username": user.username}}}
    credentials = isolated_config / "credentials.toml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    token = tomllib.loads(credentials.read_text())["default"]["token"]
    with Client(server.url, token, profile=False) as c:
        assert c.me()["username"] == user.username

    whoami = cli("whoami")
    assert whoami.code == 0
    assert user.username in whoami.stdout and "default" in whoami.stdout
    assert cli("whoami", "--json").json()["id"] == user.id


def test_the_password_prompt_and_a_wrong_password(cli: Cli, server: LiveServer,
                                                  user: TestUser) -> None:
    ran = cli("login", "--url", server.url, input=f"{user.username}\nnot it\n")
    assert ran.code == 1
    assert "Error: Wrong username, email or password." in ran.stderr
    assert "not it" not in ran.stdout + ran.stderr  # the prompt hides it
    assert cli("whoami").code == 1


def test_profiles_list_and_use(cli: Cli, server: LiveServer, user: TestUser,
                               other_user: TestUser) -> None:
    login(cli, server, user, "--profile", "mine")
    login(cli, server, other_user, "--profile", "theirs", "--project", "p--0000-0001")
    assert cli("whoami", "--json").json()["id"] == other_user.id
    rows = cli("profiles", "list", "--json").json()
    assert [(r["name"], r["active"], r["username"], r["logged_in"]) for r in rows] == [
        ("mine", False, user.username, True), ("theirs", True, other_user.username, True)]
    assert "token" not in str(rows)

    ran = cli("profiles", "use", "mine")
    assert ran.code == 0 and "'mine' is active" in ran.stderr
    assert cli("whoami", "--json").json()["id"] == user.id
    assert cli("--profile", "theirs", "whoami", "--json").json()["id"] == other_user.id
    assert cli("whoami", "--json", env={"CLOUDLET_PROFILE": "theirs"}).json()["id"] == (
        other_user.id)
    table = cli("profiles", "list").stdout
    assert "* " in table and "mine" in table and "p--0000-0001" in table

    missing = cli("profiles", "use", "nope")
    assert missing.code == 1 and "No profile named 'nope'" in missing.stderr


def test_logout_revokes_the_session_and_keeps_the_profile(
    cli: Cli, server: LiveServer, user: TestUser, isolated_config: Path
) -> None:
    login(cli, server, user)
    token = tomllib.loads((isolated_config / "credentials.toml").read_text())["default"]["token"]
    ran = cli("logout")
    assert ran.code == 0, ran.stderr
    with Client(server.url, token, profile=False) as c, pytest.raises(Unauthorized):
        c.me()
    assert tomllib.loads((isolated_config / "credentials.toml").read_text()) == {}
    assert cli("profiles", "list", "--json").json()[0]["logged_in"] is False
    again = cli("logout")
    assert again.code == 0 and "already logged out" in again.stderr
    # logging in again needs only the password: the URL and profile are remembered
    ran = cli("login", "--username", user.username, input=f"{user.password}\n")
    assert ran.code == 0, ran.stderr


def test_logout_without_a_profile_is_an_error(cli: Cli) -> None:
    ran = cli("logout")
    assert ran.code == 1 and "Not logged in" in ran.stderr


def test_no_server_configured_says_how_to_fix_it(cli: Cli) -> None:
    ran = cli("whoami")
    assert ran.code == 1 and "cloudlet login" in ran.stderr


def test_the_installed_command_end_to_end(server: LiveServer, user: TestUser,
                                          tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLOUDLET_URL": server.url,
           "CLOUDLET_CONFIG_DIR": str(tmp_path / "cfg")}
    ran = run_module("login", "--username", user.username, "--password", user.password,
                     env=env)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "cfg" / "credentials.toml").exists()
    whoami = run_module("whoami", env=env)
    assert whoami.returncode == 0 and user.username in whoami.stdout
