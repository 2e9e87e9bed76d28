"""The `cloudlet` command."""

from __future__ import annotations

import typer

from cloudlet.cli import operator
from cloudlet.cli.api import api
from cloudlet.cli.context import global_options
from cloudlet.cli.datasets import datasets_app
from cloudlet.cli.devices import devices_app
from cloudlet.cli.files import files_app
from cloudlet.cli.listen import listen
from cloudlet.cli.orgs import orgs_app
from cloudlet.cli.projects import projects_app
from cloudlet.cli.query import export, query
from cloudlet.cli.reports import report_app
from cloudlet.cli.session import login, logout, profiles_app, whoami
from cloudlet.cli.sql import sql
from cloudlet.cli.tokens import tokens_app
from cloudlet.cli.write import write

app = typer.Typer(
    help="Cloudlet: a self-hosted data cloud for devices and scientific data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(global_options)
app.command("serve")(operator.serve)
app.add_typer(operator.db_app, name="db")
app.add_typer(operator.admin_app, name="admin")
app.command("login")(login)
app.command("logout")(logout)
app.command("whoami")(whoami)
app.add_typer(profiles_app, name="profiles")
app.add_typer(projects_app, name="projects")
app.add_typer(orgs_app, name="orgs")
app.add_typer(tokens_app, name="tokens")
app.add_typer(files_app, name="files")
app.add_typer(datasets_app, name="datasets")
app.command("api")(api)
app.command("listen")(listen)
app.add_typer(devices_app, name="devices")
app.command("write")(write)
app.command("sql")(sql)
app.command("query")(query)
app.command("export")(export)
app.add_typer(report_app, name="report")
