"""`cloudlet api METHOD PATH`: any call, for what no command covers yet (`client.request`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import fail, print_json

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _body(data: str | None) -> Any:
    """`--data`: JSON text, `@file` for a file's JSON, or `-` for JSON on stdin."""
    if data is None:
        return None
    try:
        if data == "-":
            text = sys.stdin.read()
        elif data.startswith("@"):
            text = Path(data[1:]).read_text()
        else:
            text = data
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise fail(f"--data is not usable JSON: {error}") from None


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--param wants key=value, not {pair!r}")
        params.setdefault(key, value)
    return params


def api(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE.")],
    path: Annotated[str, typer.Argument(
        help="`me`, `/projects`, or a full URL; relative paths are under --project if given.")],
    data: Annotated[str | None, typer.Option(
        help="JSON body: the text, @file, or - for stdin.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Query parameter key=value (repeatable).")] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="Write the answer's bytes as they are.")] = False,
) -> None:
    """Call any API endpoint and print the JSON answer."""
    verb = method.upper()
    if verb not in METHODS:
        raise fail(f"METHOD must be one of {', '.join(METHODS)}, not {method!r}")
    body = _body(data)
    with connect(ctx) as client:
        answer = client.request(verb, path, params=_params(param or []) or None, data=body,
                                raw=raw)
    if raw:
        sys.stdout.buffer.write(answer)
        sys.stdout.flush()
    elif isinstance(answer, str):
        typer.echo(answer)
    elif answer is not None:
        print_json(answer)
