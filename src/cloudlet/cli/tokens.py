"""`cloudlet tokens …`: thin over `client.tokens`. Needs an admin-scope credential, such as
the session `cloudlet login` stores."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Literal

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.durations import parse_duration
from cloudlet.cli.output import Column, JsonFlag, Limit, fail, note, print_json, print_table

tokens_app = typer.Typer(help="API tokens: create, list and revoke.", no_args_is_help=True)

TOKEN_COLUMNS: list[Column] = [
    ("id", "id"), ("name", "name"), ("kind", "kind"), ("scope", "scope"),
    ("project", lambda t: (t.get("project") or {}).get("gid")), ("prefix", "prefix"),
    ("expires", "expires_at"), ("last used", "last_used_at"), ("active", "active"),
]


@tokens_app.command("list")
def list_tokens(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("--all", help="Include revoked and expired tokens.")
                   ] = False,
    limit: Limit = 100,
    json: JsonFlag = False,
) -> None:
    """List your tokens (never their secrets)."""
    with connect(ctx) as client:
        found = list(islice(client.tokens.list(all=all), limit or None))
    print_table(found, TOKEN_COLUMNS, as_json=json)


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="A label to recognise it by.")] = "",
    scope: Annotated[Literal["read", "write", "admin"], typer.Option(
        help="What it may do.")] = "write",
    project: Annotated[str | None, typer.Option(
        help="Restrict it to one project (id, gid or uuid).")] = None,
    expires: Annotated[str | None, typer.Option(
        help="Lifetime such as 90s, 15m, 12h, 30d, 2w (default: never).")] = None,
    kind: Annotated[Literal["api", "jwt"], typer.Option(
        "--kind", "--format",
        help="api (opaque clt_… secret) or jwt (signed, self-describing; with --project, a "
             "refreshable project token, as the iobeam client needs).")] = "api",
    json: JsonFlag = False,
) -> None:
    """Create a token. The secret goes to stdout, alone, and is shown this once."""
    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as error:
        raise fail(str(error)) from None
    with connect(ctx) as client:
        created = client.tokens.create(name, scope=scope, project=project, expires_in=lifetime,
                                       kind=kind)
    if json:
        print_json(created)
        return
    note(f"Created {created['kind']} token {created['id']} ({created['scope']} scope). "
         "Copy the secret now; it is not shown again:")
    typer.echo(created["token"])


@tokens_app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (see `list`).")],
) -> None:
    """Revoke a token; anything using it is refused from now on."""
    with connect(ctx) as client:
        client.tokens.revoke(token_id)
    note(f"Revoked token {token_id}.")
