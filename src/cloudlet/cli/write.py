"""`cloudlet write`: send points from a file or stdin, in batches, with a progress bar
(on stderr, when it is a terminal: stdout stays clean for redirection).

Line protocol and CSV are streamed: the file is read a batch of lines at a time (CSV
batches repeat the header), so a file of any size goes through in bounded memory. A JSON
document is sent whole. Each batch is atomic and idempotent, so re-running a failed write
never duplicates points.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Literal

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import fail, note
from cloudlet.cli.transfer_progress import transfer_bar

Format = Literal["line", "csv", "json"]


def _batches(stream: IO[bytes], size: int, header: bool) -> Iterator[tuple[bytes, int]]:
    """(body, bytes consumed) per batch of `size` lines; CSV batches start with the header."""
    first = stream.readline() if header else b""
    if header and not first.strip():
        return
    lines: list[bytes] = []
    used = len(first)
    pending = used
    for line in stream:
        pending += len(line)
        if not line.strip():
            continue
        lines.append(line if line.endswith(b"\n") else line + b"\n")
        if len(lines) >= size:
            yield first + b"".join(lines), pending
            lines, pending = [], 0
    if lines or pending:
        yield first + b"".join(lines), pending


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
        "--format", help="line, csv or json (default: from the file name, else line).")
                      ] = None,
    precision: Annotated[str | None, typer.Option(
        help="Unit of integer times: s, ms, us or ns (line protocol default: ns).")] = None,
    batch_size: Annotated[int, typer.Option(
        min=1, help="Lines per request for line protocol and CSV.")] = 5000,
) -> None:
    """Write points from a file or stdin: line protocol, CSV (`time,series…`) or JSON."""
    kind: Format = format or ("csv" if file.endswith(".csv") else
                              "json" if file.endswith(".json") else "line")
    if file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        path = Path(file)
        if not path.is_file():
            raise fail(f"No such file: {file}")
        stream = path.open("rb")
        total = path.stat().st_size
    points = requests = sent = 0
    try:
        with connect(ctx) as client, transfer_bar("writing") as bar:
            if kind == "json":
                body = stream.read()
                answer = client.write_points(project, _json(body), device=device,
                                             precision=precision)
                points += answer.get("points", 0) if isinstance(answer, dict) else 0
                requests += 1
                if bar:
                    bar(len(body), total)
            else:
                for body, used in _batches(stream, batch_size, header=kind == "csv"):
                    if kind == "csv":
                        answer = client.write_points(project, csv=body, device=device,
                                                     precision=precision, gzip=True)
                        points += answer.get("points", 0)
                    else:
                        client.write_points(project, lines=body, device=device,
                                            precision=precision or "ns", gzip=True)
                        points += body.count(b"\n")
                    requests += 1
                    sent += used
                    if bar:
                        bar(sent, total)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    what = "lines" if kind == "line" else "points"
    note(f"Wrote {points} {what} in {requests} request(s).")


def _json(body: bytes) -> object:
    import json

    try:
        return json.loads(body)
    except ValueError as error:
        raise fail(f"The file is not valid JSON: {error}.") from None
