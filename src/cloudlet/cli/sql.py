"""`cloudlet sql PROJECT "select …"`: thin over `client.sql`."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from itertools import islice
from typing import Annotated, Any

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import note, print_json, print_table


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _text(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def sql(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")],
    query: Annotated[str, typer.Argument(help="One PostgreSQL/PostGIS statement.")],
    format: Annotated[Format, typer.Option("--format", help="table, csv or json.")
                      ] = Format.table,
    limit: Annotated[int, typer.Option(min=0, help="Print at most this many rows (0: all).")
                     ] = 1000,
    geometry: Annotated[str | None, typer.Option(
        help="Geometries as wkt or geojson (default: wkt in tables and CSV, GeoJSON in JSON)."
    )] = None,
) -> None:
    """Run SQL on a project's datasets and print the rows."""
    shown = geometry or ("geojson" if format == Format.json else "wkt")
    with connect(ctx) as client:
        cursor = client.sql(project, query, {"geometry": shown})
        rows = list(islice(cursor, limit or None))
        columns = [c["name"] for c in cursor.get("columns", [])]
        count = cursor.get("count", len(rows))
        changed = cursor.get("next") is None and not columns and rows == []
    if format == Format.json:
        print_json(rows)
    elif format == Format.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text(row.get(c)) for c in columns])
    else:
        print_table([{c: _text(v) for c, v in row.items()} for row in rows],
                    [(c, c) for c in columns])
    if changed:
        note(f"{count} rows changed.")
    elif len(rows) < count:
        note(f"Showing {len(rows)} of {count} rows (--limit 0 shows all).")
