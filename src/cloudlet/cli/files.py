"""`cloudlet files …`: thin over `client.files`. Remote files are named by a path (`/a/b`)
or an id; transfers show a progress bar on a terminal and none when piped."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.tree import Tree

from cloudlet.cli.context import connect
from cloudlet.cli.output import Column, JsonFlag, Limit, fail, note, print_json, print_table
from cloudlet.cli.transfer_progress import transfer_bar
from cloudlet.client import Client, NotFound
from cloudlet.client.file_calls import filter_from_keywords

files_app = typer.Typer(help="Files and folders: list, transfer, organise, query.",
                        no_args_is_help=True)

Remote = Annotated[str, typer.Argument(help="Remote path (/a/b) or id.")]
Conflict = Annotated[str, typer.Option(
    "--on-conflict",
    help="When the name is taken: fail, rename, overwrite or overwrite_or_rename.")]
MetaOption = Annotated[list[str] | None, typer.Option(
    "--meta", help="Metadata KEY=VALUE (VALUE as JSON if it parses); repeatable.")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeatable.")]

NODE_COLUMNS: list[Column] = [
    ("id", "id"), ("type", "type"), ("name", "name"), ("size", "size"),
    ("updated", "updated_on"), ("etag", lambda n: (n.get("etag") or "")[:12]),
]


def resolve(client: Client, text: str) -> int | str:
    """`/a/b`, `a/b`, `/`, `root` or an id → what the SDK takes."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text in ("", "/", "root"):
        return "root"
    return client.files.resolve(text if text.startswith("/") else "/" + text)


def pairs(items: list[str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"{item!r} is not KEY=VALUE.")
        try:
            found[key] = json.loads(value)
        except json.JSONDecodeError:
            found[key] = value
    return found


@files_app.command("ls")
def ls(ctx: typer.Context, folder: Annotated[str, typer.Argument(
        help="Remote folder (path or id).")] = "/",
       sort: Annotated[str | None, typer.Option(help="Sort, e.g. -size or name.")] = None,
       limit: Limit = 1000, json: JsonFlag = False) -> None:
    """List a folder."""
    with connect(ctx) as client:
        found = list(islice(client.files.children(resolve(client, folder), sort=sort),
                            limit or None))
    print_table(found, NODE_COLUMNS, as_json=json)


@files_app.command("tree")
def tree(ctx: typer.Context, folder: Annotated[str, typer.Argument(
        help="Remote folder (path or id).")] = "/",
         depth: Annotated[int, typer.Option(min=1, help="Levels to show.")] = 20) -> None:
    """Show a folder and everything in it as a tree."""
    with connect(ctx) as client:
        top = client.files.get(resolve(client, folder))
        view = Tree(f"{top['name'] or '/'}")

        def grow(branch: Tree, node_id: int | str, level: int) -> None:
            for child in client.files.children(node_id):
                if child["type"] == "folder":
                    sub = branch.add(f"{child['name']}/")
                    if level < depth:
                        grow(sub, child["id"], level + 1)
                else:
                    branch.add(f"{child['name']}  ({child['size']} B)")

        if top["id"] is not None:
            grow(view, top["id"], 1)
    Console(highlight=False).print(view)


@files_app.command("upload")
def upload(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Local files or directories.",
                                                exists=True)],
    to: Annotated[str, typer.Option("--to", help="Remote folder (made if missing).")] = "/",
    name: Annotated[str | None, typer.Option(help="Remote name (one file only).")] = None,
    meta: MetaOption = None, tag: TagOption = None,
    on_conflict: Conflict = "fail", json: JsonFlag = False,
) -> None:
    """Upload files, and directories with everything in them (unchanged files skipped)."""
    if name and (len(paths) > 1 or paths[0].is_dir()):
        raise fail("--name takes one file.")
    done: list[dict[str, Any]] = []
    with connect(ctx) as client:
        target = client.files.mkdir(to)["id"] if to not in ("/", "root") else "root"
        for path in paths:
            with transfer_bar(path.name) as bar:
                if path.is_dir():
                    folder = client.files.mkdir(name=path.name, parent=target,
                                                on_conflict="overwrite")
                    result = client.files.upload_tree(path, folder["id"], progress=bar)
                    done.extend(result["uploaded"])
                    if not json:
                        note(f"{path}: {len(result['uploaded'])} uploaded, "
                             f"{len(result['skipped'])} unchanged.")
                else:
                    done.append(client.files.upload(
                        path, parent=target, name=name, metadata=pairs(meta) or None,
                        tags=tag, on_conflict=on_conflict, progress=bar))
    if json:
        print_json(done)
    else:
        print_table(done, NODE_COLUMNS)


@files_app.command("download")
def download(
    ctx: typer.Context, remote: Remote,
    local: Annotated[Path, typer.Argument(help="Where to (default: here).")] = Path("."),
    zip: Annotated[bool, typer.Option("--zip", help="A folder as one zip file.")] = False,
) -> None:
    """Download a file, or a folder with everything in it."""
    with connect(ctx) as client:
        node = client.files.get(resolve(client, remote))
        with transfer_bar(node["name"] or "files") as bar:
            if node["type"] == "folder" and not zip:
                target = local / (node["name"] or "files") if local.is_dir() else local
                result = client.files.download_tree(node, target, progress=bar)
                note(f"{target}: {len(result['downloaded'])} downloaded, "
                     f"{len(result['skipped'])} unchanged.")
            else:
                note(f"Saved {client.files.download(node, local, progress=bar)}.")


@files_app.command("mkdir")
def mkdir(ctx: typer.Context,
          path: Annotated[str, typer.Argument(help="Remote path; parents are made too.")],
          meta: MetaOption = None, tag: TagOption = None, json: JsonFlag = False) -> None:
    """Make a folder (and any missing parents)."""
    with connect(ctx) as client:
        made = client.files.mkdir("/" + path.lstrip("/"), metadata=pairs(meta) or None,
                                  tags=tag)
    if json:
        print_json(made)
    else:
        note(f"/{path.strip('/')} is folder {made['id']}.")


@files_app.command("mv")
def mv(ctx: typer.Context, source: Remote,
       dest: Annotated[str, typer.Argument(help="A folder to move into, or a new path.")],
       json: JsonFlag = False) -> None:
    """Move or rename a file or folder."""
    with connect(ctx) as client:
        node = resolve(client, source)
        try:
            into = client.files.get(resolve(client, dest))
        except NotFound:
            into = None
        if into is not None and into["type"] == "folder":
            moved = client.files.move(node, into["id"] if into["id"] else "root")
        else:
            parent, _, new_name = dest.rstrip("/").rpartition("/")
            target = resolve(client, parent) if parent else None
            moved = client.files.move(node, target, name=new_name)
    if json:
        print_json(moved)
    else:
        note(f"Moved to {moved['name']!r} (id {moved['id']}).")


@files_app.command("rm")
def rm(ctx: typer.Context,
       remotes: Annotated[list[str], typer.Argument(help="Remote paths or ids.")],
       recursive: Annotated[bool, typer.Option(
           "--recursive", "-r", help="Also delete folders with their contents.")] = False
       ) -> None:
    """Delete files (and, with -r, folders)."""
    with connect(ctx) as client:
        nodes = [client.files.get(resolve(client, r)) for r in remotes]
        folders = [n["name"] for n in nodes if n["type"] == "folder"]
        if folders and not recursive:
            raise fail(f"{', '.join(folders)}: folders need -r.")
        answer = client.files.delete(*nodes)
    note(f"Deleted {answer['deleted']} files and folders.")


@files_app.command("meta")
def meta(
    ctx: typer.Context, remote: Remote,
    values: Annotated[list[str] | None, typer.Argument(
        help="KEY=VALUE to set (VALUE as JSON if it parses); none: show.")] = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", help="A key to remove.")]
    = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace the whole metadata with the given keys.")] = False,
) -> None:
    """Show or change a file's or folder's metadata."""
    with connect(ctx) as client:
        node = resolve(client, remote)
        changes = pairs(values)
        changes.update({k: None for k in unset or []})
        if changes or replace:
            if replace:
                changes = {k: v for k, v in changes.items() if v is not None}
            found = client.files.update_metadata(node, changes, replace=replace)
        else:
            found = client.files.get(node)
    print_json(found["metadata"])


@files_app.command("find")
def find(
    ctx: typer.Context,
    terms: Annotated[list[str] | None, typer.Argument(
        help="Django-style terms: size__gt=1000 metadata__run=3 name__contains=raw.")] = None,
    filter: Annotated[str | None, typer.Option(
        "--filter", help='A Mongo-style JSON filter, e.g. {"run": {"$gte": 3}}.')] = None,
    sort: Annotated[str | None, typer.Option(help="Sort, e.g. -size.")] = None,
    count: Annotated[bool, typer.Option("--count", help="Only say how many.")] = False,
    limit: Limit = 100, json: JsonFlag = False,
) -> None:
    """Find files and folders by metadata and built-in fields."""
    try:
        doc = {**(json_loads(filter) if filter else {}), **filter_from_keywords(**pairs(terms))}
    except ValueError as error:
        raise fail(str(error)) from None
    with connect(ctx) as client:
        if count:
            typer.echo(client.files.count(doc))
            return
        found = list(islice(client.files.query(doc, sort=sort), limit or None))
    print_table(found, NODE_COLUMNS, as_json=json)


def json_loads(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--filter is not JSON: {error}") from None
    if not isinstance(found, dict):
        raise ValueError("--filter must be a JSON object")
    return found
