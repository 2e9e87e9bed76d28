"""`projects`, `orgs`, `tokens` and `api`: tables for people, JSON for scripts, and the
server's own words on failure."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from cloudlet import Client
from tests.cli.conftest import Cli, run_module
from tests.support.accounts import TestUser
from tests.support.live import LiveServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_projects(as_user: Cli, user: TestUser) -> None:
    name = unique("proj")
    created = as_user("projects", "create", name, "--description", "from the cli", "--json")
    assert created.code == 0, created.stderr
    project = created.json()
    assert project["name"] == name and project["description"] == "from the cli"

    table = as_user("projects", "list")
    assert table.code == 0
    assert name in table.stdout and user.home_project["gid"] in table.stdout
    assert "gid" in table.stdout.splitlines()[0]
    listed = as_user("projects", "list", "--search", name, "--json").json()
    assert [p["id"] for p in listed] == [project["id"]]
    assert len(as_user("projects", "list", "--limit", "1", "--json").json()) == 1

    shown = as_user("projects", "show", project["gid"])
    assert shown.code == 0 and project["uuid"] in shown.stdout and "from the cli" in shown.stdout
    assert as_user("projects", "show", project["uuid"], "--json").json() == project

    refused = as_user("projects", "delete", project["gid"], input="n\n")
    assert refused.code == 1
    assert as_user("projects", "show", project["gid"]).code == 0
    deleted = as_user("projects", "delete", project["gid"], input="y\n")
    assert deleted.code == 0 and f"Deleted project '{name}'" in deleted.stderr
    gone = as_user("projects", "show", project["gid"])
    assert gone.code == 1 and gone.stderr.startswith("Error: ")


def test_projects_delete_yes(as_user: Cli) -> None:
    project = as_user("projects", "create", unique("bye"), "--json").json()
    assert as_user("projects", "delete", str(project["id"]), "--yes").code == 0


def test_orgs(as_user: Cli, user: TestUser) -> None:
    slug = unique("org")
    created = as_user("orgs", "create", "Acme", "--slug", slug, "--about", "widgets")
    assert created.code == 0 and slug in created.stdout and "widgets" in created.stdout
    table = as_user("orgs", "list").stdout
    assert slug in table and user.username in table  # the personal org too
    assert as_user("orgs", "show", slug, "--json").json()["role"] == "owner"
    in_org = as_user("projects", "create", "inside", "--org", slug, "--json").json()
    assert [p["id"] for p in as_user("projects", "list", "--org", slug, "--json").json()] == [
        in_org["id"]]
    taken = as_user("orgs", "create", "Acme", "--slug", slug)
    assert taken.code == 1 and taken.stderr.startswith("Error: ")


def test_tokens(as_user: Cli, server: LiveServer, user: TestUser) -> None:
    made = as_user("tokens", "create", "--name", "ci", "--scope", "read", "--expires", "1h",
                   "--project", user.home_project["gid"])
    assert made.code == 0, made.stderr
    secret = made.stdout.strip()
    assert made.stdout == secret + "\n" and secret.startswith("clt_")
    assert "shown" in made.stderr
    with Client(server.url, secret, profile=False) as c:
        token = c.me()["token"]
    assert token["scope"] == "read" and token["expires_at"]

    listed = as_user("tokens", "list", "--json").json()
    assert token["id"] in [t["id"] for t in listed]
    assert secret not in as_user("tokens", "list").stdout
    assert as_user("tokens", "revoke", str(token["id"])).code == 0
    assert token["id"] not in [t["id"] for t in as_user("tokens", "list", "--json").json()]
    assert token["id"] in [t["id"] for t in as_user("tokens", "list", "--all", "--json").json()]

    jwt = as_user("tokens", "create", "--kind", "jwt", "--json").json()
    assert jwt["kind"] == "jwt" and jwt["token"].count(".") == 2
    bad = as_user("tokens", "create", "--expires", "soon")
    assert bad.code == 1 and "not a duration" in bad.stderr


def test_api_calls(as_user: Cli, user: TestUser, tmp_path: Path) -> None:
    me = as_user("api", "GET", "me")
    assert me.code == 0 and json.loads(me.stdout)["id"] == user.id
    page = as_user("api", "get", "/projects", "-p", "limit=1", "--param", "offset=0").json()
    assert page["count"] >= 1 and len(page["results"]) == 1

    body = tmp_path / "org.json"
    slug = unique("raw")
    body.write_text(json.dumps({"name": "Raw", "slug": slug}))
    assert as_user("api", "POST", "orgs", "--data", f"@{body}").json()["slug"] == slug
    assert as_user("api", "PATCH", f"orgs/{slug}", "--data", '{"about": "x"}').json()[
        "about"] == "x"
    assert as_user("api", "POST", "projects", "--data", "-",
                   input='{"name": "piped"}').json()["name"] == "piped"
    deleted = as_user("api", "DELETE", f"/orgs/{slug}")
    assert deleted.code == 0 and deleted.stdout == ""
    raw = as_user("api", "GET", "health", "--raw")
    assert json.loads(raw.stdout)["status"]


def test_api_with_a_project(as_user: Cli, user: TestUser) -> None:
    ran = as_user("--project", user.home_project["gid"], "api", "GET", "members")
    assert ran.code == 0, ran.stderr
    assert ran.json()["count"] == 0


def test_api_mistakes(as_user: Cli) -> None:
    for args, words in [
        (("api", "FETCH", "me"), "METHOD must be one of"),
        (("api", "POST", "orgs", "--data", "{nope"), "--data is not usable JSON"),
        (("api", "GET", "me", "-p", "novalue"), "--param wants key=value"),
        (("api", "GET", "_debug/status/404"), "Error: deliberate 404"),
    ]:
        ran = as_user(*args)
        assert ran.code == 1 and words in ran.stderr, (args, ran.stderr)


def test_validation_errors_name_the_fields(as_user: Cli) -> None:
    ran = as_user("api", "POST", "projects", "--data", '{"name": ""}')
    assert ran.code == 1
    assert ran.stderr.startswith("Error: Invalid request: name: ")
    many = {f"f{i}": 1 for i in range(8)}
    ran = as_user("api", "POST", "tokens", "--data", json.dumps({"scope": "x", "kind": "y",
                  "expires_in": -1, "device_id": "z", "name": 5, "project": [], **many}))
    assert ran.code == 1 and "\n  " in ran.stderr  # fields past the summary get a line each


def test_global_options_and_environment(cli: Cli, server: LiveServer, user: TestUser) -> None:
    flags = cli("--url", server.url, "--token", user.token, "whoami", "--json")
    assert flags.code == 0 and flags.json()["id"] == user.id
    env = cli("whoami", "--json", env={"CLOUDLET_URL": server.url,
                                       "CLOUDLET_TOKEN": user.token})
    assert env.json()["id"] == user.id
    refused = cli("--url", server.url, "--token", "clt_wrong", "projects", "list")
    assert refused.code == 1 and "Error: " in refused.stderr


def test_as_a_subprocess(server: LiveServer, user: TestUser, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLOUDLET_URL": server.url,
           "CLOUDLET_TOKEN": user.token, "CLOUDLET_CONFIG_DIR": str(tmp_path / "cfg")}
    ran = run_module("projects", "list", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    assert [p["gid"] for p in json.loads(ran.stdout)] == [user.home_project["gid"]]
    missing = run_module("projects", "show", "p--0fff-ffff", env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
