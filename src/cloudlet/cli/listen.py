"""`cloudlet listen`: realtime events as they arrive, thin over `client.events`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cloudlet.cli.context import connect
from cloudlet.cli.output import JsonFlag, note


def _line(message: dict[str, Any]) -> str:
    if message.get("op") == "gap":
        return f"gap {message.get('topic')}: {message.get('detail')}"
    data = json.dumps(message.get("data"), ensure_ascii=False, default=str,
                      separators=(",", ":"))
    when = str(message.get("time") or "")[:19].replace("T", " ")
    return (f"{when} {message.get('topic')} #{message.get('offset')} "
            f"{message.get('event')} {data}").strip()


def listen(
    ctx: typer.Context,
    topics: Annotated[list[str], typer.Argument(
        help="Topics to follow: user:<id>, project:<id|gid|uuid>.", show_default=False)],
    as_json: JsonFlag = False,
    seconds: Annotated[float | None, typer.Option(
        "--seconds", min=0, help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    offset: Annotated[int | None, typer.Option(
        "--offset", min=0,
        help="Replay each topic's history after this offset (0: all that is kept).")] = None,
) -> None:
    """Print events on TOPICs as they arrive; reconnects and resumes on its own."""
    with connect(ctx) as client:
        events = client.events

        def show(message: dict[str, Any]) -> None:
            if as_json:
                typer.echo(json.dumps(message, ensure_ascii=False, default=str))
            else:
                typer.echo(_line(message))

        events.on("*", show)
        events.on("subscribed", lambda m: note(
            f"Listening to {m.get('topic')} (latest offset {m.get('offset')})."))
        events.on("unsubscribed", lambda m: note(
            f"No longer listening to {m.get('topic')}: {m.get('detail')}"))
        for topic in topics:
            if offset is not None:
                events.offsets[topic] = offset
            events.subscribe(topic)
        try:
            events.listen(seconds)
        except KeyboardInterrupt:
            pass
