"""Operator commands: `serve`, `db upgrade` and `admin …`. They import the server lazily, so
the SDK-only install never needs it; they work while a server runs on the same data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cloudlet.cli.durations import parse_duration

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
admin_app = typer.Typer(help="Installation administration (no server needed).",
                        no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: CLOUDLET_DATA_DIR or ./.cloudlet)"),
]


def _settings(data_dir: Path | None, **overrides: Any) -> Any:
    try:
        from cloudlet.server.settings import Settings
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise typer.BadParameter(
            f"the server is not installed ({exc.name} missing): pip install 'cloudlet[server]'"
        ) from exc
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values).prepare()


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000)")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; more than 1 needs PostgreSQL")
    ] = None,
) -> None:
    """Serve Cloudlet: migrate, create the first admin on an empty database, then listen."""
    import os

    settings = _settings(data_dir, host=host, port=port, workers=workers)

    import uvicorn

    from cloudlet.server.app import create_app, prepare_installation

    if settings.workers > 1 and (settings.is_sqlite or not settings.redis_url):
        _fail(
            "--workers > 1 needs PostgreSQL (SQLite allows one writer process) and Redis "
            "(events must reach every worker): set CLOUDLET_DATABASE_URL=postgresql://… and "
            "CLOUDLET_REDIS_URL=redis://…, or run one worker."
        )
    created = prepare_installation(settings)
    if created:
        username, password, token = created
        typer.echo(
            "\nCloudlet created the first admin account. This is shown once; keep it safe:\n"
            f"  username: {username}\n  password: {password}\n  token:    {token}\n",
        )
    typer.echo(f"Cloudlet serving http://{settings.host}:{settings.port} "
               f"(data in {settings.data_dir})", err=True)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
    else:
        os.environ.update(settings.for_workers())
        uvicorn.run(
            "cloudlet.server.app:app_from_env", factory=True, workers=settings.workers, **common
        )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending schema migrations (safe to run while the server runs)."""
    from cloudlet.server.core import migrate
    from cloudlet.server.core.db import Database

    settings = _settings(data_dir)
    db = Database(settings.db_url)
    try:
        was_pending = migrate.pending(db)
        migrate.upgrade(db)
    finally:
        db.dispose()
    typer.echo("Database upgraded." if was_pending else "Database already up to date.")


def _services(data_dir: Path | None) -> Any:
    from cloudlet.server.core import migrate
    from cloudlet.server.core.db import Database
    from cloudlet.server.services import Services

    settings = _settings(data_dir)
    db = Database(settings.db_url)
    migrate.upgrade(db)
    return Services.build(settings, db)


@admin_app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option(help="Login name")],
    email: Annotated[str, typer.Option(help="Email address")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                          help="Password (prompted when omitted)")
    ],
    superuser: Annotated[bool, typer.Option("--superuser", help="Administers the install")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user, with their personal org and home project."""
    from cloudlet.server.core.errors import DomainError

    services = _services(data_dir)
    try:
        user = services.accounts.create_user(
            None, username=username, email=email, password=password, is_superuser=superuser
        )
    except DomainError as exc:
        _fail(exc.detail)
    finally:
        services.db.dispose()
    typer.echo(f"Created user {user['username']} (id {user['id']}).")


@admin_app.command("create-token")
def create_token(
    user: Annotated[str, typer.Option(help="Username the token acts as")],
    scope: Annotated[str, typer.Option(help="read, write or admin")] = "write",
    project: Annotated[
        str | None, typer.Option(help="Restrict to this project (id, gid or uuid)")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime such as 30d, 12h")] = None,
    name: Annotated[str, typer.Option(help="A label for the token")] = "cli",
    data_dir: DataDir = None,
) -> None:
    """Create an API token and print only the token on stdout."""
    from cloudlet.server.core.errors import DomainError

    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as exc:
        _fail(str(exc))
    services = _services(data_dir)
    try:
        secret = services.tokens.issue_for_operator(
            user_id=services.accounts.find_user_id(user),
            scope=scope,
            name=name,
            project=project,
            expires_in=lifetime,
        )
    except DomainError as exc:
        _fail(exc.detail)
    finally:
        services.db.dispose()
    typer.echo(secret)
