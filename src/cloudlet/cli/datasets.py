"""`cloudlet datasets …`: thin over `client.datasets`, with progress bars on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cloudlet.cli.context import connect
from cloudlet.cli.galleries import gallery_app
from cloudlet.cli.output import (
    Column,
    JsonFlag,
    Limit,
    note,
    print_json,
    print_record,
    print_table,
)

datasets_app = typer.Typer(help="Geospatial datasets: list, show, import, export, remove.",
                           no_args_is_help=True)

ProjectArg = Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")]
DatasetArg = Annotated[int, typer.Argument(help="Dataset id.")]
Quiet = Annotated[bool, typer.Option("--no-progress", help="Show no progress bar.")]

DATASET_COLUMNS: list[Column] = [
    ("id", "id"), ("name", "name"), ("kind", "kind"), ("table", "table_name"),
    ("geometry", "geometry_type"), ("features", "feature_count"), ("updated", "updated_at"),
]
DATASET_FIELDS: list[Column] = [
    ("id", "id"), ("name", "name"), ("description", "description"), ("kind", "kind"),
    ("project", "project_gid"), ("table", "table_name"),
    ("geometry", lambda d: d["geometry_column"] and
     f"{d['geometry_column']} ({d['geometry_type']})"),
    ("features", "feature_count"),
    ("bbox", lambda d: d["bbox"] and ", ".join(f"{v:g}" for v in d["bbox"])),
    ("columns", lambda d: ", ".join(
        f"{c['name']} {c['geometry_type'] or c['type']}" for c in d["columns"])),
    ("created", "created_at"), ("updated", "updated_at"),
]
STAGES = {"upload": "Uploading", "fetching": "Receiving", "scanning": "Checking",
          "loading": "Loading", "export": "Exporting"}


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    """A callback `(stage, done, total)` drawing one bar per stage on stderr."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    bars = Progress(TextColumn("{task.description:<10}"), BarColumn(),
                    TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                    console=console, transient=not console.is_terminal)
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(STAGES.get(stage, stage), total=total, count="")
        unit = "rows" if stage == "loading" else "bytes"
        count = f"{done:,} {unit}" + (f" of {total:,}" if total else "")
        bars.update(tasks[stage], completed=done, total=total, count=count)

    with bars:
        yield update


@datasets_app.command("list")
def list_datasets(
    ctx: typer.Context,
    project: ProjectArg,
    search: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Limit = 100,
    json: JsonFlag = False,
) -> None:
    """List a project's datasets."""
    with connect(ctx) as client:
        found = list(islice(client.datasets.list(project, search=search), limit or None))
    print_table(found, DATASET_COLUMNS, as_json=json)


@datasets_app.command("show")
def show_dataset(ctx: typer.Context, project: ProjectArg, dataset: DatasetArg,
                 json: JsonFlag = False) -> None:
    """Show one dataset: its columns, geometry, feature count and bounding box."""
    with connect(ctx) as client:
        found = client.datasets.get(project, dataset)
    print_record(found, DATASET_FIELDS, as_json=json)


@datasets_app.command("import")
def import_dataset(
    ctx: typer.Context,
    project: ProjectArg,
    file: Annotated[Path, typer.Argument(
        help="CSV, TSV, GeoJSON, or a zip of them (Shapefile/GeoPackage if the server has "
        "pyogrio).", exists=True, dir_okay=False, readable=True)],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the file's stem).")
                    ] = None,
    description: Annotated[str | None, typer.Option(help="What the dataset holds.")] = None,
    no_progress: Quiet = False,
    json: JsonFlag = False,
) -> None:
    """Upload FILE and make a dataset of it (one per file inside a zip)."""
    with connect(ctx) as client, _progress(not no_progress) as progress:
        made = client.datasets.import_file(project, file, name=name, description=description,
                                           progress=progress)
    if json:
        print_json(made)
        return
    for dataset in made:
        note(f"Imported {dataset['feature_count']:,} rows into dataset {dataset['id']} "
             f"{dataset['name']!r} (table {dataset['table_name']}).")
    print_table(made, DATASET_COLUMNS)


@datasets_app.command("export")
def export_dataset(
    ctx: typer.Context,
    project: ProjectArg,
    dataset: DatasetArg,
    format: Annotated[Literal["csv", "geojson"], typer.Option(
        "--format", "-f", help="csv (geometries as WKT) or geojson.")] = "csv",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="File to write (default: stdout).", dir_okay=False)] = None,
    bbox: Annotated[str | None, typer.Option(
        help="Only rows within min_lon,min_lat,max_lon,max_lat.")] = None,
    no_progress: Quiet = False,
) -> None:
    """Export a dataset as CSV or GeoJSON, streamed to a file or stdout."""
    with connect(ctx) as client, _progress(not no_progress and output is not None) as progress:
        target = output if output is not None else sys.stdout.buffer
        written = client.datasets.export(project, dataset, format=format, to=target,
                                         progress=progress, bbox=bbox)
    if output is not None:
        note(f"Wrote {written:,} bytes to {output}.")
    else:
        sys.stdout.flush()


@datasets_app.command("rm")
def remove_dataset(
    ctx: typer.Context,
    project: ProjectArg,
    dataset: DatasetArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a dataset and all its rows."""
    with connect(ctx) as client:
        found = client.datasets.get(project, dataset)
        if not yes:
            typer.confirm(f"Delete dataset {found['name']!r} ({found['feature_count']:,} "
                          "rows)?", abort=True)
        client.datasets.delete(project, dataset)
    note(f"Deleted dataset {found['id']} {found['name']!r}.")


datasets_app.add_typer(gallery_app, name="gallery")
