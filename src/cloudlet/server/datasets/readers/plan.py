"""What a scan finds: the columns, the primary geometry, the row count, and how to read the
rows again; plus the errors readers raise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cloudlet.server.core.errors import DomainError, Invalid
from cloudlet.server.datasets.columns import Column

BATCH = 5000
Progress = Callable[[int], None]  # bytes (or features) read so far in this pass


class Unsupported(DomainError):
    status, title = 415, "Unsupported Media Type"


class BadFile(Invalid):
    """A file that cannot be imported; `extra` names the file and the line or feature."""


@dataclass
class Plan:
    name: str  # the dataset name this file suggests (its stem, or a layer name)
    filename: str
    format: str
    columns: list[Column]
    geometry_column: str | None
    count: int
    read: Callable[[Progress | None], Iterator[list[dict[str, Any]]]]

    def batches(self, progress: Progress | None = None) -> Iterator[list[dict[str, Any]]]:
        return self.read(progress)


def primary_geometry_name(taken: set[str]) -> str:
    """`location` (AmigoCloud's name) unless a column already has it."""
    for name in ("location", "geometry", "geom"):
        if name not in taken:
            return name
    n = 2
    while f"location_{n}" in taken:
        n += 1
    return f"location_{n}"
