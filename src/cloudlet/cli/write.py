"""`cloudlet write`: send points from a file or stdin, in batches, with a progress bar
(on stderr, when it is a terminal: stdout stays clean for redirection).

Line protocol, CSV and NDJSON are streamed: the input is read a batch of lines at a time
(CSV batches repeat the header), so a file of any size goes through in bounded memory. A
JSON document is read whole and sent in parts of the same form (cloudlet.cli.json_batches).
Each batch is atomic and idempotent, so re-running a failed write never duplicates points;
the batches before a failed one stay written, and the error says how many points they held.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.json_batches import (
    Malformed,
    documents,
    parse_document,
    split_document,
    split_ndjson,
)
from cloudlet.cli.output import fail, note
from cloudlet.cli.transfer_progress import transfer_bar
from cloudlet.client import CloudletError

Format = Literal["line", "csv", "json", "ndjson"]
SUFFIXES: dict[str, Format] = {".csv": "csv", ".json": "json", ".ndjson": "ndjson",
                               ".jsonl": "ndjson"}


@dataclass
class Batch:
    """One request: the `write_points` arguments, the input it covers (for messages) and
    how far through the input it brings the progress bar."""

    form: dict[str, Any]
    where: str
    done: int
    of: int | None
    lines: int | None = None  # line protocol: the server does not count them back


def _batches(stream: IO[bytes], size: int, header: bool
             ) -> Iterator[tuple[bytes, int, tuple[int, int]]]:
    """(body, bytes consumed, first and last line number) per batch of `size` lines; CSV
    batches start with the header."""
    first = stream.readline() if header else b""
    if header and not first.strip():
        return
    lines: list[bytes] = []
    used = len(first)
    pending = used
    start = last = 1 if header else 0
    for number, line in enumerate(stream, start=last + 1):
        pending += len(line)
        if not line.strip():
            continue
        start = start if lines else number
        last = number
        lines.append(line if line.endswith(b"\n") else line + b"\n")
        if len(lines) >= size:
            yield first + b"".join(lines), pending, (start, last)
            lines, pending = [], 0
    if lines or pending:
        yield first + b"".join(lines), pending, (start, last)


def _requests(kind: Format, stream: IO[bytes], size: int, total: int | None,
              precision: str | None) -> Iterator[Batch]:
    """The input as requests, in order."""
    if kind == "json":
        body = stream.read()
        parts = list(split_document(parse_document(body), size))
        points, done = sum(p.points for p in parts), 0
        for part in parts:
            done += part.points
            share = done / points if points else 1
            yield Batch({"data": part.doc, "precision": precision}, part.where,
                        round(len(body) * share), len(body))
    elif kind == "ndjson":
        if total is not None:  # a file is checked first, so a bad line sends nothing
            for _ in documents(stream):
                pass
            stream.seek(0)
        for part, used in split_ndjson(stream, size):
            yield Batch({"data": part.doc, "precision": precision}, part.where, used, total)
    else:
        sent = 0
        for body, used, (first, last) in _batches(stream, size, header=kind == "csv"):
            sent += used
            where = f"lines {first}–{last}" if first != last else f"line {first}"
            if kind == "csv":
                yield Batch({"csv": body, "precision": precision}, where, sent, total)
            else:
                yield Batch({"lines": body, "precision": precision or "ns"}, where, sent,
                            total, lines=_data_lines(body))


def write(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project id, gid (p--0000-0001) or uuid.")],
    file: Annotated[str, typer.Argument(metavar="[FILE|-]",
                                        help="File to read; - (the default) reads stdin.")
                    ] = "-",
    device: Annotated[str | None, typer.Option(
        help="Device (key or gid) of every point; for line protocol it replaces the "
             "measurement as the device.")] = None,
    format: Annotated[Format | None, typer.Option(
        "--format", help="line, csv, json or ndjson (one JSON document a line); default "
                         "from the file name (.csv, .json, .ndjson, .jsonl), else line.")
                      ] = None,
    precision: Annotated[str | None, typer.Option(
        help="Unit of integer times: s, ms, us or ns (line protocol default: ns).")] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, help="Lines per request for line protocol and CSV; points (table rows, "
                    "list items) per request for JSON and NDJSON.")] = 5000,
) -> None:
    """Write points from a file or stdin: line protocol, CSV (`time,series…`), JSON or
    NDJSON, in batches. Each batch is committed on its own: when one fails, the batches
    before it stay written (the error says how many points they held)."""
    kind: Format = format or SUFFIXES.get(Path(file).suffix.lower(), "line")
    if file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        path = Path(file)
        if not path.is_file():
            raise fail(f"No such file: {file}")
        stream = path.open("rb")
        total = path.stat().st_size
    points = requests = 0
    try:
        with connect(ctx) as client, transfer_bar("writing") as bar:
            for batch in _requests(kind, stream, batch_size, total, precision):
                try:
                    answer = client.write_points(project, device=device, gzip=True,
                                                 **batch.form)
                except CloudletError as error:
                    raise _stopped(error, batch, requests, points) from None
                points += batch.lines if batch.lines is not None else (
                    answer.get("points", 0) if isinstance(answer, dict) else 0)
                requests += 1
                if bar:
                    bar(batch.done, batch.of)
    except Malformed as error:
        written = f" ({points} points in {requests} request(s) were written before it)" \
            if requests else ""
        raise fail(f"{error}{written}") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    what = "lines" if kind == "line" else "points"
    note(f"Wrote {points} {what} in {requests} request(s).")


def _data_lines(body: bytes) -> int:
    """Line protocol lines that are not blank or comments."""
    return sum(1 for line in body.split(b"\n") if line.strip() and
               not line.lstrip().startswith(b"#"))


def _stopped(error: CloudletError, batch: Batch, requests: int, points: int) -> typer.Exit:
    """The server's error, then what of the input it concerns and what is already in."""
    stop = fail(error)
    what = "points" if batch.lines is None else "lines"
    before = (f"the {points} {what} of the {requests} request(s) before it are written "
              "(each request is committed on its own)" if requests else "nothing was written")
    typer.echo(f"Request {requests + 1} ({batch.where}) failed; {before}.", err=True)
    return stop
