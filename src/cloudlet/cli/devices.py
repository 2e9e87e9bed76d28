"""`cloudlet devices …`: thin over `client.devices`."""

from __future__ import annotations

from itertools import islice
from typing import Annotated

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, Limit, fail, print_record, print_table

devices_app = typer.Typer(help="Devices of a project: list, register and show.",
                          no_args_is_help=True)

ProjectArg = Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")]

DEVICE_COLUMNS: list[Column] = [
    ("gid", "gid"), ("key", "key"), ("label", "label"), ("streams", "stream_count"),
    ("created", "created_at"),
]
DEVICE_FIELDS: list[Column] = [
    ("id", "id"), ("gid", "gid"), ("key", "key"), ("label", "label"), ("project", "project"),
    ("streams", "stream_count"), ("tags", lambda d: ", ".join(
        f"{k}={v}" for k, v in (d.get("tags") or {}).items())), ("created", "created_at"),
]


@devices_app.command("list")
def list_devices(
    ctx: typer.Context,
    project: ProjectArg,
    search: Annotated[str | None, typer.Option(help="Only keys or labels containing this.")
                      ] = None,
    limit: Limit = 100,
    json: JsonFlag = False,
) -> None:
    """List a project's devices."""
    with connect(ctx) as client:
        found = list(islice(client.devices.list(project, search=search), limit or None))
    print_table(found, DEVICE_COLUMNS, as_json=json)


@devices_app.command("register")
def register_device(
    ctx: typer.Context,
    project: ProjectArg,
    key: Annotated[str | None, typer.Option(
        help="External key (A-Z a-z 0-9 _ : -); generated when omitted.")] = None,
    label: Annotated[str | None, typer.Option(help="A name people recognise it by.")] = None,
    tag: Annotated[list[str] | None, typer.Option(
        help="A tag as NAME=VALUE; repeat for more.")] = None,
    json: JsonFlag = False,
) -> None:
    """Register a device (409 when the key is taken)."""
    tags: dict[str, str] = {}
    for item in tag or []:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise fail(f"--tag wants NAME=VALUE, not {item!r}.")
        tags[name] = value
    with connect(ctx) as client:
        device = client.devices.register(project, key, label=label, tags=tags or None)
    print_record(device, DEVICE_FIELDS, as_json=json)


@devices_app.command("show")
def show_device(
    ctx: typer.Context,
    project: ProjectArg,
    device: Annotated[str, typer.Argument(help="Device gid (d--…), key or id.")],
    json: JsonFlag = False,
) -> None:
    """Show one device."""
    with connect(ctx) as client:
        found = client.devices.get(project, device)
    print_record(found, DEVICE_FIELDS, as_json=json)
