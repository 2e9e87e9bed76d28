"""The port between SQL and the datasets domain: what SQL needs to know about a project's
dataset tables, and what it tells datasets after a write.

The datasets domain implements `DatasetCatalog` (its service, wired in `Services.build`); the SQL
service never reads datasets' tables itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection


@dataclass(frozen=True)
class DatasetTable:
    """One dataset as SQL sees it: `dataset_<id>` with its geometry columns."""

    name: str  # the SQL name, `dataset_<id>`
    dataset_id: int
    geometry_columns: Mapping[str, str] = field(default_factory=dict)  # column → "POINT", …
    # column → its datasets type (text, integer, real, boolean, timestamp, json, geometry):
    # on SQLite, which stores booleans as 0/1 and JSON as text, this types `SELECT *` answers
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectTables:
    """A project's dataset tables and where they live: on SQLite `sqlite_path` (the project's
    own database file; None until it has one), on PostgreSQL `pg_schema` (the project's own
    schema, holding only `dataset_<id>` tables)."""

    project_id: int
    tables: Mapping[str, DatasetTable]
    sqlite_path: Path | None = None
    pg_schema: str | None = None

    def geometry_columns(self) -> dict[str, dict[str, str]]:
        """Per table, its geometry columns and their types (`point`, …, `geometry`)."""
        return {name: dict(t.geometry_columns) for name, t in self.tables.items()}

    def column_kinds(self, tables: set[str] | frozenset[str]) -> dict[str, str]:
        """Answer types of the named tables' columns (by column name), where they are sure."""
        kinds: dict[str, str] = {}
        for name in sorted(tables):
            table = self.tables.get(name)
            if table is None:
                continue
            for column, kind in table.columns.items():
                if kind in _KINDS:
                    kinds.setdefault(column, _KINDS[kind])
            for column in table.geometry_columns:
                kinds.setdefault(column, "geometry")
        return kinds


_KINDS = {"boolean": "boolean", "json": "json", "geometry": "geometry", "timestamp": "datetime"}


class DatasetCatalog(Protocol):
    def tables_of(self, conn: Connection, project_id: int) -> ProjectTables:
        """The project's dataset tables, read in the caller's metadata transaction."""
        ...

    def after_sql_write(self, project_id: int, tables: set[str]) -> None:
        """Rows of these tables were inserted, updated or deleted through SQL (committed):
        refresh what datasets derives from them (feature_count, bbox) and announce it."""
        ...

    def prepare_sqlite(self, conn: sqlite3.Connection) -> None:
        """Register on a SQL sandbox connection the functions the dataset tables' own triggers
        call (their R*Tree upkeep). Users cannot call them: they are on no allow-list."""
        ...
