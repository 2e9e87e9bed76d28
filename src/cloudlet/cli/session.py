"""Signing in and choosing a server: `login`, `logout`, `whoami`, `profiles list|use`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudlet.cli.context import connect, globals_of
from cloudlet.cli.output import JsonFlag, fail, note, print_json, print_record, print_table
from cloudlet.client import Client, CloudletError, Profile, ProfileStore
from cloudlet.client.profiles import DEFAULT_PROFILE

profiles_app = typer.Typer(help="Saved servers and credentials (profiles).",
                           no_args_is_help=True)

LOCAL_SERVER = "http://127.0.0.1:8000"


def _store() -> ProfileStore:
    try:
        return ProfileStore()
    except CloudletError as error:
        raise fail(error) from None


def _existing(store: ProfileStore, name: str) -> Profile | None:
    return store.get(name) if name in store.names() else None


def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Option(
        prompt=True, help="Username or email (asked when omitted).")],
    password: Annotated[str, typer.Option(
        prompt=True, hide_input=True,
        help="Password (asked when omitted; prefer the prompt to keep it out of history).")],
    url: Annotated[str | None, typer.Option(
        help="Server URL (default: --url/CLOUDLET_URL, the profile's, or asked).")] = None,
    profile: Annotated[str | None, typer.Option(
        help="Profile to store the session in (default: the active one, or 'default').")] = None,
    project: Annotated[str | None, typer.Option(
        help="Default project of this profile (id, gid or uuid).")] = None,
) -> None:
    """Log in and store the session in a profile, which becomes the active one."""
    options = globals_of(ctx)
    store = _store()
    name = profile or options.profile or store.active_name or DEFAULT_PROFILE
    previous = _existing(store, name)
    url = url or options.url or (previous.url if previous else None)
    if not url:
        url = typer.prompt("Server URL", default=LOCAL_SERVER)
    try:
        with Client(url, profile=False, env=False) as client:
            user = client.login(username, password)
            saved = Profile(
                name=name, url=client.url, username=user["username"], token=client.token,
                project=project or (previous.project if previous else None),
            )
    except CloudletError as error:
        raise fail(error) from None
    store.save(saved)
    note(f"Logged in to {saved.url} as {saved.username}; profile {name!r} is active.")


def logout(ctx: typer.Context) -> None:
    """Revoke the profile's session on the server and forget its token."""
    store = _store()
    name = globals_of(ctx).profile or store.active_name
    if name is None:
        raise fail("Not logged in: there is no active profile.")
    try:
        saved = store.get(name)
    except CloudletError as error:
        raise fail(error) from None
    if saved.token is None:
        note(f"Profile {name!r} is already logged out.")
        return
    try:
        with Client(saved.url, saved.token, profile=False, env=False) as client:
            client.logout()
    except CloudletError as error:
        note(f"Could not revoke the session on the server ({error.detail}); "
             "forgetting it here anyway.")
    saved.token = None
    store.save(saved, activate=False)
    note(f"Logged out of {saved.url} (profile {name!r}).")


def whoami(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Show the account and credential the CLI is using."""
    with connect(ctx) as client:
        me = client.me()
        server, profile = client.url, client.connection.profile
    if json:
        print_json(me)
        return
    token: dict[str, Any] = me.get("token") or {}
    print_record(me, [
        ("username", "username"),
        ("email", "email"),
        ("name", lambda m: f"{m.get('first_name', '')} {m.get('last_name', '')}".strip()),
        ("superuser", "is_superuser"),
        ("org", "org"),
        ("home project", lambda m: (m.get("home_project") or {}).get("gid")),
        ("server", lambda m: server),
        ("profile", lambda m: profile),
        ("token", lambda m: f"{token.get('kind')} {token.get('scope')}"
                            f" {token.get('name') or ''}".rstrip()),
        ("expires", lambda m: token.get("expires_at") or "never"),
    ])


@profiles_app.command("list")
def list_profiles(json: JsonFlag = False) -> None:
    """List the saved profiles; the active one is marked with *."""
    store = _store()
    active = store.active_name
    rows = []
    for name in store.names():
        saved = store.get(name)
        rows.append({"name": name, "active": name == active, "url": saved.url,
                     "username": saved.username, "project": saved.project,
                     "logged_in": saved.token is not None})
    print_table(rows, [("", lambda r: "*" if r["active"] else ""), ("name", "name"),
                       ("url", "url"), ("username", "username"), ("project", "project"),
                       ("logged in", "logged_in")], as_json=json)


@profiles_app.command("use")
def use_profile(name: Annotated[str, typer.Argument(help="Profile to make active.")]) -> None:
    """Make a saved profile the active one."""
    store = _store()
    try:
        saved = store.use(name)
    except CloudletError as error:
        raise fail(error) from None
    note(f"Profile {name!r} is active ({saved.url}).")
