"""`cloudlet query` and `cloudlet export`: a project's points, through the SDK's `Query`.

`query` prints every matching point (following the server's pages) as a table, CSV or a
JSON list; `export` streams the server's own CSV or Parquet into a file with a progress bar,
so an export of any size goes through in bounded memory on both ends.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from cloudlet.cli.context import connect
from cloudlet.cli.output import note
from cloudlet.cli.transfer_progress import transfer_bar
from cloudlet.client import Client, Query, StreamPoint
from cloudlet.client.query import AGGREGATES

ProjectArg = Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")]


def parse_time(text: str | None) -> datetime | int | None:
    """`--start`/`--end`: epoch milliseconds or ISO-8601 (no zone means UTC)."""
    if text is None:
        return None
    clean = text.strip()
    if clean.lstrip("-").isdigit():
        return int(clean)
    try:
        moment = datetime.fromisoformat(clean.replace("z", "Z"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither ISO-8601 (2024-01-01T00:00:00Z) nor epoch milliseconds."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _checked_time(value: str | None) -> str | None:
    parse_time(value)  # a bad time is a usage error before anything is sent
    return value


TimeOption = Annotated[str | None, typer.Option(
    help="ISO-8601 (2024-01-01T00:00:00Z; no zone means UTC) or epoch milliseconds; "
         "inclusive.", callback=_checked_time)]
StreamsOption = Annotated[list[str] | None, typer.Option(
    "--stream", help="A stream gid (s--…); repeat for more.")]
DevicesOption = Annotated[list[str] | None, typer.Option(
    "--device", help="A device (gid, key or id): its streams; repeat for more.")]
SeriesOption = Annotated[list[str] | None, typer.Option(
    "--series", help="Only streams of this series (variable) name; repeat for more.")]


def build_query(client: Client, project: str, streams: list[str], devices: list[str],
                series: list[str], start: str | None, end: str | None) -> Query:
    query = client.query(project).streams(streams).devices(devices)
    for name in series:
        query = query.series(name)
    lo, hi = parse_time(start), parse_time(end)
    if lo is not None:
        query = query.start(lo)
    if hi is not None:
        query = query.end(hi)
    return query


def _iso(point: StreamPoint) -> str:
    return point.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_row(point: StreamPoint, downsampled: bool, with_stream: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"stream": point.stream} if with_stream else {}
    row["time"] = point.timestamp_ms
    row["value"] = point.value
    if not downsampled:
        row["output_value"] = point.output_value
    return row


def _print_json(points: Any, downsampled: bool, with_stream: bool) -> None:
    out = sys.stdout
    out.write("[")
    first = True
    for point in points:
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(_json_row(point, downsampled, with_stream)))
        first = False
    out.write("]\n" if first else "\n]\n")
    out.flush()


def _print_csv(points: Any, downsampled: bool) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    header = ["time", "stream", "value", "output_value"]
    writer.writerow([*header, "count"] if downsampled else header)
    for p in points:
        row = [_iso(p), p.stream, repr(p.value), repr(p.output_value)]
        writer.writerow([*row, p.count] if downsampled else row)
    sys.stdout.flush()


def _print_table(points: Any, downsampled: bool) -> None:
    table = Table(box=None, pad_edge=False)
    for header in ("time", "stream", "value", "output_value", *(("count",) if downsampled
                                                                  else ())):
        table.add_column(header, justify="left" if header in ("time", "stream") else "right")
    count = 0
    for p in points:
        cells = [_iso(p).replace("T", " ").replace(".000000", ""), p.stream, f"{p.value:g}",
                 f"{p.output_value:g}"]
        table.add_row(*cells, *((str(p.count),) if downsampled else ()))
        count += 1
    Console(highlight=False, width=None if sys.stdout.isatty() else 1000).print(table)
    note(f"{count} {'bucket' if downsampled else 'point'}{'' if count == 1 else 's'}.")


def query(
    ctx: typer.Context,
    project: ProjectArg,
    stream: StreamsOption = None,
    device: DevicesOption = None,
    series: SeriesOption = None,
    start: TimeOption = None,
    end: TimeOption = None,
    lastn: Annotated[int | None, typer.Option(
        min=1, help="Only the N latest points of each stream.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N rows in all.")] = None,
    every: Annotated[str | None, typer.Option(
        help="Downsample into buckets of this width (30s, 1m, 1h, 1d), aligned to the Unix "
             "epoch in UTC.")] = None,
    agg: Annotated[str | None, typer.Option(
        help=f"Aggregate per bucket: {', '.join(AGGREGATES)} (default mean; needs --every).")
                   ] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Newest first.")] = False,
    format: Annotated[Literal["table", "csv", "json"], typer.Option(
        "--format", "-f", help="table, csv or json (a list of {time (epoch ms), value, "
                               "output_value}).")] = "table",
) -> None:
    """Print a stream's or a device's points (every page), oldest first unless --desc."""
    streams, devices = stream or [], device or []
    if not streams and not devices:
        raise typer.BadParameter("give --stream S or --device D (repeatable).")
    if streams and (devices or series):
        raise typer.BadParameter("--stream names streams; --device and --series go together.")
    if agg is not None and agg not in AGGREGATES:
        raise typer.BadParameter(f"--agg must be one of {', '.join(AGGREGATES)}, not {agg!r}.")
    if agg is not None and every is None:
        raise typer.BadParameter("--agg needs --every (the bucket width), e.g. --every 1h.")
    with connect(ctx) as client:
        q = build_query(client, project, streams, devices, series or [], start, end)
        if every is not None:
            q = q.every(every).agg(agg or "mean")  # type: ignore[arg-type]
        if lastn is not None:
            q = q.last(lastn)
        if limit is not None:
            q = q.limit(limit)
        if desc:
            q = q.descending()
        points = iter(q)
        head = next(points, None)  # a bad query fails here, before anything is printed
        rows = _chain(head, points)
        downsampled = every is not None
        if format == "json":
            _print_json(rows, downsampled, with_stream=len(streams) != 1)
        elif format == "csv":
            _print_csv(rows, downsampled)
        else:
            _print_table(rows, downsampled)


def _chain(head: StreamPoint | None, rest: Any) -> Any:
    if head is None:
        return
    yield head
    yield from rest


def export(
    ctx: typer.Context,
    project: ProjectArg,
    stream: StreamsOption = None,
    device: DevicesOption = None,
    series: SeriesOption = None,
    start: TimeOption = None,
    end: TimeOption = None,
    format: Annotated[Literal["csv", "parquet"], typer.Option(
        "--format", "-f", help="csv or parquet (needs pyarrow on the server).")] = "csv",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False,
        help="File to write (default for csv: stdout; parquet needs a file).")] = None,
) -> None:
    """Export points (all of the project's, or those of --stream/--device/--series) as
    CSV or Parquet, streamed into a file with a progress bar."""
    if format == "parquet" and output is None:
        raise typer.BadParameter("parquet is binary: give --output FILE.")
    with connect(ctx) as client:
        q = build_query(client, project, stream or [], device or [], series or [], start, end)
        if output is None:
            for chunk in q.iter_bytes(format):
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            return
        with transfer_bar(f"exporting {format}") as bar:
            written = q.export(output, format,
                               progress=None if bar is None else lambda n: bar(n, None))
    note(f"Wrote {written:,} bytes to {output}.")
