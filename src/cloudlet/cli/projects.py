"""`cloudlet projects …`: thin over `client.projects`."""

from __future__ import annotations

from itertools import islice
from typing import Annotated

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, Limit, note, print_record, print_table

projects_app = typer.Typer(help="Projects: create, list, show and delete.", no_args_is_help=True)

ProjectArg = Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")]

PROJECT_COLUMNS: list[Column] = [
    ("gid", "gid"), ("name", "name"), ("org", "org"), ("access", "access"),
    ("description", "description"),
]
PROJECT_FIELDS: list[Column] = [
    ("id", "id"), ("gid", "gid"), ("uuid", "uuid"), ("name", "name"),
    ("description", "description"), ("org", "org"), ("home", "is_home"),
    ("your access", "access"), ("created", "created_at"), ("updated", "updated_at"),
]


@projects_app.command("list")
def list_projects(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="Only this org's projects (slug).")] = None,
    search: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Limit = 100,
    json: JsonFlag = False,
) -> None:
    """List the projects you can see."""
    with connect(ctx) as client:
        found = list(islice(client.projects.list(org=org, search=search), limit or None))
    print_table(found, PROJECT_COLUMNS, as_json=json)


@projects_app.command("create")
def create_project(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name.")],
    description: Annotated[str | None, typer.Option(help="What the project holds.")] = None,
    org: Annotated[str | None, typer.Option(help="Owning org slug (default: yours).")] = None,
    json: JsonFlag = False,
) -> None:
    """Create a project."""
    with connect(ctx) as client:
        project = client.projects.create(name, description=description, org=org)
    print_record(project, PROJECT_FIELDS, as_json=json)


@projects_app.command("show")
def show_project(ctx: typer.Context, project: ProjectArg, json: JsonFlag = False) -> None:
    """Show one project."""
    with connect(ctx) as client:
        found = client.projects.get(project)
    print_record(found, PROJECT_FIELDS, as_json=json)


@projects_app.command("delete")
def delete_project(
    ctx: typer.Context,
    project: ProjectArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a project and everything in it."""
    with connect(ctx) as client:
        found = client.projects.get(project)
        if not yes:
            typer.confirm(
                f"Delete project {found['name']!r} ({found['gid']}) and everything in it?",
                abort=True,
            )
        client.projects.delete(found["id"])
    note(f"Deleted project {found['name']!r} ({found['gid']}).")
