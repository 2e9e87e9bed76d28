"""Profiles: where clients find a server and token when the code names neither."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from cloudlet import Client, ConfigError, Profile, ProfileStore
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_tokens_live_apart_in_a_private_file(isolated_config: Path) -> None:
    store = ProfileStore()
    store.save(Profile("work", "http://cloud.example", username="ada", project="p--0000-0002",
                       token="clt_secret"))
    config = tomllib.loads((isolated_config / "config.toml").read_text())
    assert config == {"active": "work", "profiles": {"work": {
        "url": "http://cloud.example", "username": "ada", "project": "p--0000-0002"}}}
    credentials = isolated_config / "credentials.toml"
    assert tomllib.loads(credentials.read_text()) == {"work": {"token": "clt_secret"}}
    assert mode(credentials) == 0o600
    assert mode(isolated_config) == 0o700
    assert ProfileStore().get("work") == Profile("work", "http://cloud.example", "ada",
                                                 "p--0000-0002", "clt_secret")


def test_use_switches_and_the_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ProfileStore()
    store.save(Profile("a", "http://a.example"))
    store.save(Profile("b", "http://b.example"), activate=False)
    assert ProfileStore().active_name == "a"
    store.use("b")
    assert ProfileStore().active() == Profile("b", "http://b.example")
    monkeypatch.setenv("CLOUDLET_PROFILE", "a")
    assert ProfileStore().active_name == "a"
    with pytest.raises(ConfigError, match="No profile named 'c'.*a, b"):
        store.use("c")


def test_a_broken_config_file_is_a_config_error(isolated_config: Path) -> None:
    isolated_config.mkdir()
    (isolated_config / "config.toml").write_text("active = ")
    with pytest.raises(ConfigError, match="config.toml"):
        ProfileStore()


def test_clients_use_the_active_profile(server: LiveServer, user: TestUser) -> None:
    ProfileStore().save(Profile("dev", server.url, user.username, user.home_project["gid"],
                                user.token))
    with Client() as c:
        assert (c.url, c.token, c.project) == (server.url, user.token, user.home_project["gid"])
        assert c.connection.profile == "dev"
        assert c.me()["id"] == user.id


def test_arguments_then_environment_then_profile(
    server: LiveServer, user: TestUser, other_user: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    ProfileStore().save(Profile("dev", server.url, token=user.token))
    monkeypatch.setenv("CLOUDLET_TOKEN", other_user.token)
    with Client() as c:
        assert c.me()["id"] == other_user.id
    with Client(token=user.token) as c:
        assert c.me()["id"] == user.id
    with Client.from_profile("dev") as c:  # the environment is ignored
        assert c.me()["id"] == user.id
    monkeypatch.delenv("CLOUDLET_TOKEN")
    monkeypatch.setenv("CLOUDLET_URL", server.url)
    with Client.from_env() as c:  # the profile is ignored
        assert c.token is None


def test_a_profile_token_is_never_sent_to_another_server(server: LiveServer, user: TestUser
                                                         ) -> None:
    ProfileStore().save(Profile("dev", server.url, token=user.token, project="p--0000-0001"))
    with Client("http://elsewhere.example") as c:
        assert c.token is None and c.project is None and c.connection.profile is None
    with Client(server.url + "/") as c:  # the same server, spelled differently
        assert c.token == user.token


def test_an_unknown_named_profile_is_an_error() -> None:
    with pytest.raises(ConfigError, match="cloudlet login"):
        Client.from_profile("nope")


def test_explicit_url_and_token_need_no_config(server: LiveServer, user: TestUser,
                                               isolated_config: Path) -> None:
    isolated_config.mkdir()
    (isolated_config / "config.toml").write_text("not toml at all = = =")
    with Client(server.url, user.token) as c:
        assert c.me()["id"] == user.id
    with pytest.raises(ConfigError, match="config.toml"):
        Client(server.url)
