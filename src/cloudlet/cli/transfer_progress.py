"""Progress of a transfer: a rich bar (bytes, speed, time left) on a terminal, nothing when
stderr is piped, so scripts get clean output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

Report = Callable[[int, int | None], None]


@contextmanager
def transfer_bar(label: str) -> Iterator[Report | None]:
    """A `progress(done, total)` callback drawing a bar, or None when not on a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task(label, total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield report
