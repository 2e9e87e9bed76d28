"""One statement, from text to answer: the wall, the backend's form of it, the sandbox, and
the rows shaped for the wire. No rights are checked here: `SqlService` does that first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cloudlet.server.core.db import Database
from cloudlet.server.sql import transpile
from cloudlet.server.sql.catalog import ProjectTables
from cloudlet.server.sql.limits import Limits
from cloudlet.server.sql.pg_sandbox import PgSandbox
from cloudlet.server.sql.results import Rows, answer_rows, expression_kind
from cloudlet.server.sql.sqlite_sandbox import SqliteSandbox
from cloudlet.server.sql.wall import Checked, check, identifier_name

GEOMETRY_FORMATS = ("geojson", "wkt")


@dataclass(frozen=True)
class Answer:
    columns: list[dict[str, str]]
    data: list[dict[str, Any]]
    count: int  # a read: rows of the whole result; a write: rows changed
    checked: Checked

    def body(self) -> dict[str, Any]:
        return {"columns": self.columns, "data": self.data, "count": self.count}


def _column_kind(target: exp.Expression, by_name: dict[str, str]) -> str | None:
    """A plain column's type from its table (SQLite keeps booleans as 0/1, JSON as text)."""
    inner = target.this if isinstance(target, exp.Alias) else target
    if isinstance(inner, exp.Column):
        return by_name.get(identifier_name(inner.this))
    return None


class SqlEngine:
    def __init__(self, db: Database, limits: Limits, secret_key: str) -> None:
        self.limits = limits
        self.is_sqlite = db.is_sqlite
        self.sqlite = SqliteSandbox(limits) if db.is_sqlite else None
        self.pg = None if db.is_sqlite else PgSandbox(db.engine, secret_key, limits)

    def run(self, project: ProjectTables, query: str, *, allow_writes: bool, limit: int,
            offset: int, geometry_format: str = "geojson",
            prepare: Callable[[sqlite3.Connection], None] | None = None) -> Answer:
        """`prepare` registers the datasets domain's trigger functions on SQLite connections."""
        checked = check(query, tables=project.tables.keys(), allow_writes=allow_writes,
                        max_length=self.limits.max_length)
        targets = transpile.projections(checked.tree)
        stars = any(isinstance(t, exp.Star) or (isinstance(t, exp.Column)
                                                  and isinstance(t.this, exp.Star))
                    for t in targets)
        by_name = project.column_kinds(checked.tables)
        hints = [] if stars else [expression_kind(t) or _column_kind(t, by_name)
                                  for t in targets]
        rows = self._execute(project, checked, limit, offset, prepare)
        columns, data = answer_rows(rows, hints, geometry_format, by_name if stars else {})
        return Answer(columns=columns, data=data, count=rows.total, checked=checked)

    def _execute(self, project: ProjectTables, checked: Checked, limit: int, offset: int,
                 prepare: Callable[[sqlite3.Connection], None] | None) -> Rows:
        tree = checked.tree
        if self.sqlite is not None:
            geometry = project.geometry_columns()
            if checked.writes:
                text, ctes = transpile.to_sqlite(tree, checked, geometry)
                assert checked.target is not None
                return self.sqlite.write(project.sqlite_path, tables=checked.tables, ctes=ctes,
                                         target=checked.target, sql=text, prepare=prepare)
            page, ctes = transpile.to_sqlite(transpile.page(tree, limit, offset), checked,
                                             geometry)
            count, more = transpile.to_sqlite(
                transpile.counting(tree, self.limits.max_rows), checked, geometry)
            return self.sqlite.read(project.sqlite_path, tables=checked.tables,
                                    ctes=ctes | more, page_sql=page, count_sql=count,
                                    limit=limit, offset=offset, prepare=prepare)
        assert self.pg is not None
        role = self.pg.ensure(project.project_id, project.pg_schema, project.tables.keys())
        if checked.writes:
            return self.pg.write(role, sql_text=transpile.to_postgres(tree))
        return self.pg.read(
            role, page_sql=transpile.to_postgres(transpile.page(tree, limit, offset)),
            count_sql=transpile.to_postgres(transpile.counting(tree, self.limits.max_rows)),
            limit=limit, offset=offset)

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()
