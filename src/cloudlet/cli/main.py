"""The `cloudlet` command."""

from __future__ import annotations

import typer

from cloudlet.cli import operator

app = typer.Typer(
    help="Cloudlet: a self-hosted data cloud for devices and scientific data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(operator.serve)
app.add_typer(operator.db_app, name="db")
app.add_typer(operator.admin_app, name="admin")
