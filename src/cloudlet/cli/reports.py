"""`cloudlet report sum`: the accumulation report (seed 002's "User Reports") as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, print_json, print_table
from cloudlet.cli.query import TimeOption, parse_time

report_app = typer.Typer(help="Reports over stream data.", no_args_is_help=True)

STREAM_COLUMNS: list[Column] = [
    ("stream", "stream"), ("series", "name"), ("points", "count"),
    ("sum", lambda r: f"{r['output_sum']:g}"), ("unit", "unit"),
    ("raw sum", lambda r: f"{r['sum']:g}"),
]
TOTAL_COLUMNS: list[Column] = [
    ("total", lambda t: f"{t['sum']:g}"), ("unit", "unit"), ("points", "count"),
]


@report_app.command("sum")
def report_sum(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(
        metavar="SOURCE...", help="Project (p--…), device (d--…) or stream (s--…) gids.")],
    start: TimeOption = None,
    end: TimeOption = None,
    json: JsonFlag = False,
) -> None:
    """Sum every stream of the sources over [--start, --end], in each stream's output
    unit, with a total per unit."""
    lo, hi = parse_time(start), parse_time(end)
    with connect(ctx) as client:
        answer = client.report_sum(sources, lo, hi)  # type: ignore[arg-type]
    if json:
        print_json(answer)
        return
    print_table(answer["streams"], STREAM_COLUMNS)
    typer.echo()
    print_table(answer["totals"], TOTAL_COLUMNS)
