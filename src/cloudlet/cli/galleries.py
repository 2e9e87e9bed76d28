"""`cloudlet datasets gallery …`: thin over `client.datasets.galleries` (files attached to a
dataset's rows), with transfer bars on stderr when it is a terminal."""

from __future__ import annotations

import json as jsonlib
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, Limit, fail, note, print_json, print_table
from cloudlet.cli.transfer_progress import transfer_bar

gallery_app = typer.Typer(help="Galleries: photos and other files attached to a dataset's "
                          "rows.", no_args_is_help=True)

ProjectArg = Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")]
DatasetArg = Annotated[int, typer.Argument(help="Dataset id.")]
GalleryArg = Annotated[int, typer.Argument(help="Gallery id.")]
RecordArg = Annotated[int, typer.Argument(help="Record id (from `gallery records`).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

GALLERY_COLUMNS: list[Column] = [
    ("id", "id"), ("name", "name"), ("dataset", "dataset"), ("records", "record_count"),
    ("description", "description"), ("updated", "updated_at"),
]
RECORD_COLUMNS: list[Column] = [
    ("id", "id"), ("row", "source_amigo_id"), ("filename", "filename"),
    ("type", "content_type"), ("size", "size"), ("created", "created_at"),
]


@gallery_app.command("list")
def list_galleries(ctx: typer.Context, project: ProjectArg, dataset: DatasetArg,
                   json: JsonFlag = False) -> None:
    """List a dataset's galleries."""
    with connect(ctx) as client:
        found = list(client.datasets.galleries.list(project, dataset))
    print_table(found, GALLERY_COLUMNS, as_json=json)


@gallery_app.command("create")
def create_gallery(
    ctx: typer.Context, project: ProjectArg, dataset: DatasetArg,
    name: Annotated[str, typer.Argument(help="Gallery name (unique in the dataset).")],
    description: Annotated[str | None, typer.Option(help="What the gallery holds.")] = None,
    json: JsonFlag = False,
) -> None:
    """Create a gallery in a dataset."""
    with connect(ctx) as client:
        made = client.datasets.galleries.create(project, dataset, name,
                                                description=description)
    if json:
        print_json(made)
        return
    note(f"Created gallery {made['id']} {made['name']!r}.")


@gallery_app.command("rm")
def remove_gallery(ctx: typer.Context, project: ProjectArg, gallery: GalleryArg,
                   yes: Yes = False) -> None:
    """Delete a gallery and all its records."""
    with connect(ctx) as client:
        found = client.datasets.galleries.get(project, gallery)
        if not yes:
            typer.confirm(f"Delete gallery {found['name']!r} ({found['record_count']:,} "
                          "files)?", abort=True)
        client.datasets.galleries.delete(project, gallery)
    note(f"Deleted gallery {found['id']} {found['name']!r}.")


@gallery_app.command("upload")
def upload_record(
    ctx: typer.Context, project: ProjectArg, gallery: GalleryArg,
    file: Annotated[Path, typer.Argument(help="The file to attach.", exists=True,
                                         dir_okay=False, readable=True)],
    row: Annotated[str, typer.Option("--row", help="amigo_id of the row it belongs to.")],
    metadata: Annotated[str | None, typer.Option(help="A JSON object of metadata.")] = None,
    filename: Annotated[str | None, typer.Option(
        "--filename", help="Name to store (default: the file's own).")] = None,
    json: JsonFlag = False,
) -> None:
    """Attach FILE to a row, streamed (resumable for large files)."""
    meta: Any = None
    if metadata is not None:
        try:
            meta = jsonlib.loads(metadata)
        except ValueError:
            raise fail("--metadata must be a JSON object.") from None
    with connect(ctx) as client, transfer_bar(f"Uploading {file.name}") as progress:
        made = client.datasets.galleries.upload(project, gallery, file, source_amigo_id=row,
                                                filename=filename, metadata=meta,
                                                progress=progress)
    if json:
        print_json(made)
        return
    note(f"Uploaded {made['filename']!r} ({made['size']:,} bytes) as record {made['id']}.")


@gallery_app.command("records")
def list_records(
    ctx: typer.Context, project: ProjectArg, gallery: GalleryArg,
    row: Annotated[str | None, typer.Option("--row", help="Only this row's records.")] = None,
    limit: Limit = 100, json: JsonFlag = False,
) -> None:
    """List a gallery's records."""
    with connect(ctx) as client:
        found = list(islice(client.datasets.galleries.records(project, gallery,
                                                              source_amigo_id=row),
                            limit or None))
    print_table(found, RECORD_COLUMNS, as_json=json)


@gallery_app.command("download")
def download_record(
    ctx: typer.Context, project: ProjectArg, gallery: GalleryArg, record: RecordArg,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="File or directory to write (default: its name, here).")
    ] = None,
) -> None:
    """Download a record's file (checked against its sha256)."""
    with connect(ctx) as client, transfer_bar("Downloading") as progress:
        target = client.datasets.galleries.download(project, gallery, record, output,
                                                    progress=progress)
    note(f"Wrote {target}.")


@gallery_app.command("rm-record")
def remove_record(ctx: typer.Context, project: ProjectArg, gallery: GalleryArg,
                  record: RecordArg) -> None:
    """Delete one record and its file."""
    with connect(ctx) as client:
        client.datasets.galleries.delete_record(project, gallery, record)
    note(f"Deleted record {record}.")
