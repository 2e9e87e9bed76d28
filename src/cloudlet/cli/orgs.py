"""`cloudlet orgs …`: thin over `client.orgs`."""

from __future__ import annotations

from itertools import islice
from typing import Annotated

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, Limit, print_record, print_table

orgs_app = typer.Typer(help="Organisations: create, list and show.", no_args_is_help=True)

ORG_COLUMNS: list[Column] = [
    ("slug", "slug"), ("name", "name"), ("role", "role"), ("personal", "personal"),
]
ORG_FIELDS: list[Column] = [
    ("id", "id"), ("slug", "slug"), ("name", "name"), ("about", "about"),
    ("personal", "personal"), ("your role", "role"), ("created", "created_at"),
]


@orgs_app.command("list")
def list_orgs(ctx: typer.Context, limit: Limit = 100, json: JsonFlag = False) -> None:
    """List the orgs you belong to."""
    with connect(ctx) as client:
        found = list(islice(client.orgs.list(), limit or None))
    print_table(found, ORG_COLUMNS, as_json=json)


@orgs_app.command("create")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Display name.")],
    slug: Annotated[str | None, typer.Option(help="URL name (default: from the name).")] = None,
    about: Annotated[str | None, typer.Option(help="A description.")] = None,
    json: JsonFlag = False,
) -> None:
    """Create an org, with you as its owner."""
    with connect(ctx) as client:
        org = client.orgs.create(name, slug=slug, about=about)
    print_record(org, ORG_FIELDS, as_json=json)


@orgs_app.command("show")
def show_org(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The org's slug.")],
    json: JsonFlag = False,
) -> None:
    """Show one org."""
    with connect(ctx) as client:
        org = client.orgs.get(slug)
    print_record(org, ORG_FIELDS, as_json=json)
