"""How commands answer: rich tables for people, `--json` for machines, errors on stderr."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cloudlet.client import CloudletError, ValidationError

__all__ = [
    "Column", "JsonFlag", "Limit", "fail", "note", "print_json", "print_record", "print_table",
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Limit = Annotated[int, typer.Option(min=0, help="Show at most this many (0: all).")]

Getter = str | Callable[[dict[str, Any]], Any]
Column = tuple[str, Getter]
"""A header and how to get the cell: a key of the object, or a function of it."""


def _console(*, stderr: bool = False) -> Console:
    # Made per call, so output goes wherever sys.stdout points now (CliRunner swaps it).
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 1000  # piped: rows stay on one line each, for grep and friends
    return console


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]00:00)")


def _cell(obj: dict[str, Any], getter: Getter) -> str:
    """A value as people read it: yes/no, blanks for nothing, UTC times to the minute."""
    value = getter(obj) if callable(getter) else obj.get(getter)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        return value[:16].replace("T", " ") + "Z"
    return str(value)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_table(
    rows: Iterable[dict[str, Any]], columns: Sequence[Column], *, as_json: bool = False
) -> None:
    """Rows as a table, or as a JSON list of the whole objects."""
    if as_json:
        print_json(list(rows))
        return
    table = Table(box=None, pad_edge=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")  # wrap, never hide, what does not fit
    for row in rows:
        table.add_row(*(_cell(row, getter) for _, getter in columns))
    _console().print(table)


def print_record(obj: dict[str, Any], fields: Sequence[Column], *, as_json: bool = False
                 ) -> None:
    """One object as `label  value` lines, or as JSON."""
    if as_json:
        print_json(obj)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, getter in fields:
        table.add_row(label, _cell(obj, getter))
    _console().print(table)


def note(message: str) -> None:
    """A message for the person, on stderr, so stdout stays clean for pipes."""
    _console(stderr=True).print(message)


def fail(error: CloudletError | str, code: int = 1) -> typer.Exit:
    """Print `Error: <detail>` (and a 422's field errors) on stderr; raise what this returns."""
    detail = error if isinstance(error, str) else error.detail
    typer.echo(f"Error: {detail}", err=True)
    if isinstance(error, ValidationError):
        for item in error.errors:
            line = f"{item.get('field')}: {item.get('message')}"
            if line not in detail:  # the detail sums up the first few already
                typer.echo(f"  {line}", err=True)
    return typer.Exit(code)
