"""What every SDK-backed command shares: the global options (`--url`, `--token`,
`--profile`, `--project`, or CLOUDLET_* variables) and an SDK client built from them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from cloudlet.cli.output import fail
from cloudlet.client import Client, CloudletError


@dataclass
class Globals:
    url: str | None = None
    token: str | None = None
    profile: str | None = None
    project: str | None = None


def global_options(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        envvar="CLOUDLET_URL", help="Server URL (default: from the active profile).")] = None,
    token: Annotated[str | None, typer.Option(
        envvar="CLOUDLET_TOKEN", help="API token (default: from the profile).")] = None,
    profile: Annotated[str | None, typer.Option(
        envvar="CLOUDLET_PROFILE", help="Profile to use instead of the active one.")] = None,
    project: Annotated[str | None, typer.Option(
        envvar="CLOUDLET_PROJECT",
        help="Project (id, gid or uuid) that relative `api` paths are under.")] = None,
) -> None:
    """Cloudlet: a self-hosted data cloud for devices and scientific data."""
    ctx.obj = Globals(url=url, token=token, profile=profile, project=project)


def globals_of(ctx: typer.Context) -> Globals:
    found = ctx.find_object(Globals)
    return found if found is not None else Globals()


@contextmanager
def connect(ctx: typer.Context) -> Iterator[Client]:
    """An SDK client from the global options; SDK errors become `Error: <detail>`, exit 1."""
    options = globals_of(ctx)
    try:
        with Client(options.url, options.token, options.project,
                    profile=options.profile) as client:
            yield client
    except CloudletError as error:
        raise fail(error) from None
