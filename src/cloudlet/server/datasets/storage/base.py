"""The storage contract both backends fulfil, and the SQL they share."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cloudlet.server.core.db import Tx
from cloudlet.server.datasets.columns import Column

BBox = tuple[float, float, float, float]  # min x (lon), min y (lat), max x, max y
OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "in", "isnull")
Progress = Callable[[int], None]


def table_name(dataset_id: int) -> str:
    return f"dataset_{int(dataset_id)}"


def schema_name(project_id: int) -> str:
    return f"project_{int(project_id)}"


def extent(box: BBox | None, bounds: Any) -> BBox | None:
    """`box` grown by an (n, 4) array of geometry bounds (NaN rows: no geometry)."""
    import numpy as np

    if len(bounds) == 0 or np.isnan(bounds[:, 0]).all():
        return box
    found = (float(np.nanmin(bounds[:, 0])), float(np.nanmin(bounds[:, 1])),
             float(np.nanmax(bounds[:, 2])), float(np.nanmax(bounds[:, 3])))
    if box is None:
        return found
    return (min(box[0], found[0]), min(box[1], found[1]), max(box[2], found[2]),
            max(box[3], found[3]))


def quote(name: str) -> str:
    """Names are checked to be [a-z0-9_] before they get here; quoting keeps keywords safe."""
    assert '"' not in name
    return f'"{name}"'


@dataclass(frozen=True)
class Filter:
    column: Column
    op: str
    value: Any  # a typed value; a list for `in`; a bool for `isnull`


@dataclass(frozen=True)
class Selection:
    """Which rows: filters AND-ed, an optional bbox on the primary geometry, a page."""

    filters: list[Filter] = field(default_factory=list)
    bbox: BBox | None = None
    geometry_column: str | None = None
    limit: int | None = None
    offset: int = 0
    known_total: int | None = None  # the caller knows how many rows match: don't count


class Params:
    """Collects bind parameters under generated names (`:p0` / `%(p0)s`)."""

    def __init__(self, style: str) -> None:
        self.style = style
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}" if self.style == "named" else f"%({name})s"


class DatasetStorage(abc.ABC):
    """Rows of datasets, per project. Values in and out are typed (see columns.py), with
    geometries as shapely objects; every row dict carries its `amigo_id`."""

    #: a row is re-read in batches of this many when iterating for export
    batch_size = 5000

    @abc.abstractmethod
    def check_ready(self) -> None:
        """Raise a clear error if datasets cannot be stored (e.g. PostGIS missing)."""

    @abc.abstractmethod
    def create_table(self, project_id: int, dataset_id: int, columns: list[Column], *,
                     geometry_column: str | None, unique: tuple[str, ...] = ()) -> None: ...

    @abc.abstractmethod
    def add_column(self, project_id: int, dataset_id: int, column: Column, *,
                   primary: bool) -> None:
        """A new column (null in existing rows); `primary`: it becomes the indexed
        geometry."""

    @abc.abstractmethod
    def drop_table(self, project_id: int, dataset_id: int) -> None: ...

    @abc.abstractmethod
    def drop_project(self, tx: Tx, project_id: int) -> None:
        """Remove all of a project's dataset storage as part of deleting the project."""

    @abc.abstractmethod
    def load(self, project_id: int, dataset_id: int, columns: list[Column],
             batches: Iterable[list[dict[str, Any]]], progress: Progress | None = None,
             geometry_column: str | None = None) -> tuple[int, BBox | None]:
        """Bulk-insert rows into a table made for this load (with this primary geometry);
        returns the count and the extent. Nothing else writes to the table meanwhile. On
        any error the table is dropped (the caller's catalogue row never becomes visible)."""

    @abc.abstractmethod
    def insert(self, project_id: int, dataset_id: int, columns: list[Column],
               rows: list[dict[str, Any]]) -> None: ...

    @abc.abstractmethod
    def update(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str,
               values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(row before, row after), or None if there is no such row."""

    @abc.abstractmethod
    def delete(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
               ) -> dict[str, Any] | None:
        """The deleted row, or None."""

    @abc.abstractmethod
    def upsert(self, project_id: int, dataset_id: int, columns: list[Column], key: str,
               rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert or update rows by the unique `key` column; returns the rows as stored."""

    @abc.abstractmethod
    def get(self, project_id: int, dataset_id: int, columns: list[Column], amigo_id: str
            ) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def select(self, project_id: int, dataset_id: int, columns: list[Column],
               selection: Selection) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the page)."""

    @abc.abstractmethod
    def iterate(self, project_id: int, dataset_id: int, columns: list[Column],
                selection: Selection) -> Iterator[list[dict[str, Any]]]:
        """Every matching row, in batches, in `amigo_id` order (for streaming exports)."""

    @abc.abstractmethod
    def summary(self, project_id: int, dataset_id: int, geometry_column: str | None
                ) -> tuple[int, BBox | None]:
        """(row count, extent of the primary geometry) computed from the table."""

    # --- SQL both backends share -----------------------------------------------------------

    def _where(self, table: str, selection: Selection, params: Params) -> str:
        clauses = [self._filter_sql(f, params) for f in selection.filters]
        if selection.bbox is not None and selection.geometry_column:
            clauses.append(
                self._bbox_sql(table, selection.geometry_column, selection.bbox, params))
        return (" WHERE " + " AND ".join(clauses)) if clauses else ""

    def _filter_sql(self, f: Filter, params: Params) -> str:
        col = quote(f.column.name)
        if f.op == "isnull":
            return f"{col} IS NULL" if f.value else f"{col} IS NOT NULL"
        if f.op == "contains":
            return f"{self._contains(col)}(lower({col}), lower({params.add(f.value)})) > 0"
        if f.op == "in":
            names = ", ".join(params.add(self.encode(f.column, v)) for v in f.value)
            return f"{col} IN ({names})"
        symbol = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[f.op]
        if f.op == "ne":  # what a person means: rows whose value differs, NULLs included
            return f"({col} IS NULL OR {col} <> {params.add(self.encode(f.column, f.value))})"
        return f"{col} {symbol} {params.add(self.encode(f.column, f.value))}"

    @abc.abstractmethod
    def _contains(self, col: str) -> str: ...

    @abc.abstractmethod
    def _bbox_sql(self, table: str, column: str, bbox: BBox, params: Params) -> str: ...

    @abc.abstractmethod
    def encode(self, column: Column, value: Any) -> Any:
        """A typed value as this backend binds it."""
