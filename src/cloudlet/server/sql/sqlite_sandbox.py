"""The second wall on SQLite: a dedicated connection to one project's dataset file.

- opened read-only (`mode=ro`) for reads, and `PRAGMA query_only`; read-write only for a POST
  that writes;
- an authorizer that denies by default: it allows reading the project's dataset tables and CTEs
  (`db is None`), calling allow-listed functions and, for a write, changing the one target table;
  PRAGMA, ATTACH, DDL, transactions and everything else are refused;
- `setlimit` caps: no attached databases, bounded SQL length, expression depth, string size;
- a progress handler that stops the statement at the deadline;
- what the dataset tables' own triggers do (their R*Tree upkeep, written by the datasets
  domain; users cannot create triggers) is allowed, with the R*Tree's shadow tables of the
  table being written;
- `fetchmany` with row and byte caps.
The connection lives for one request, so nothing a statement does outlives it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection
from pathlib import Path
from urllib.parse import quote

from cloudlet.server.core.errors import Invalid
from cloudlet.server.sql.limits import Limits, size_of, timed_out, too_many_bytes, too_many_rows
from cloudlet.server.sql.results import Rows
from cloudlet.server.sql.spatial import FUNCTIONS as SPATIAL
from cloudlet.server.sql.spatial import INTERNAL, FunctionErrors, register

# what sqlglot writes for the allowed PostgreSQL functions, and SQLite's own helpers (LIKE)
SQLITE_FUNCTIONS = frozenset({
    "count", "sum", "avg", "min", "max", "total", "group_concat", "coalesce", "ifnull",
    "nullif", "iif", "lower", "upper", "length", "substr", "substring", "trim", "ltrim", "rtrim",
    "replace", "instr", "abs", "round", "ceil", "ceiling", "floor", "sqrt", "pow", "power",
    "ln", "exp", "sign", "random", "like", "glob", "date", "datetime", "current_timestamp",
    "current_date", "row_number", "rank", "dense_rank", "lag", "lead", "first_value",
    "last_value", "ntile",
}) | frozenset(SPATIAL) | frozenset(INTERNAL)

_LIMITS = {
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 400,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 50,
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 64,  # none from users (the wall); the R*Tree binds some
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 16,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1000,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 10,
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: 0,
}
STRING_LIMIT = 64 << 20
Prepare = Callable[[sqlite3.Connection], None]
PROGRESS_STEPS = 50_000  # VM steps between deadline checks (~1 ms); each check takes the GIL
FETCH = 256


class SqliteSandbox:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def _connect(self, path: Path | None, write: bool) -> sqlite3.Connection:
        if path is None or not path.exists():
            if write:
                raise Invalid("This project has no dataset tables to change yet.")
            conn = sqlite3.connect(":memory:", isolation_level=None)
        else:
            mode = "rw" if write else "ro"
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True,
                                   isolation_level=None,
                                   timeout=self.limits.timeout)
        for category, value in _LIMITS.items():
            conn.setlimit(category, value)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, self.limits.max_length * 4 + 4096)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, STRING_LIMIT)
        if not write:
            conn.execute("PRAGMA query_only = ON")
        return conn

    def read(self, path: Path | None, *, tables: Collection[str], ctes: Collection[str],
             page_sql: str, count_sql: str, limit: int, offset: int,
             prepare: Prepare | None = None) -> Rows:
        conn = self._connect(path, write=False)
        errors = FunctionErrors()
        deadline = self.limits.deadline()
        try:
            register(conn, errors)
            if prepare is not None:
                prepare(conn)
            conn.execute("BEGIN")
            self._guard(conn, tables, ctes, None, deadline)
            result = self._fetch(conn, page_sql, errors, deadline)
            if len(result.rows) < limit and (result.rows or offset == 0):
                result.total = offset + len(result.rows)
            else:
                total = self._fetch(conn, count_sql, errors, deadline).rows[0][0]
                result.total = int(total)
            if result.total > self.limits.max_rows:
                raise too_many_rows(self.limits)
            return result
        finally:
            conn.set_authorizer(None)
            conn.close()

    def write(self, path: Path | None, *, tables: Collection[str], ctes: Collection[str],
              target: str, sql: str, prepare: Prepare | None = None) -> Rows:
        conn = self._connect(path, write=True)
        errors = FunctionErrors()
        deadline = self.limits.deadline()
        try:
            register(conn, errors)
            if prepare is not None:
                prepare(conn)
            conn.execute(f"PRAGMA busy_timeout = {int(self.limits.timeout * 1000)}")
            conn.execute("BEGIN IMMEDIATE")
            self._guard(conn, tables, ctes, target, deadline)
            result = self._fetch(conn, sql, errors, deadline)
            conn.set_authorizer(None)
            conn.set_progress_handler(None, 0)
            result.total = int(conn.execute("SELECT changes()").fetchone()[0])
            conn.execute("COMMIT")
            return result
        except BaseException:
            conn.set_authorizer(None)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _guard(self, conn: sqlite3.Connection, tables: Collection[str], ctes: Collection[str],
               target: str | None, deadline: float) -> None:
        readable = frozenset(t.lower() for t in tables)
        cte_names = frozenset(c.lower() for c in ctes)
        triggers, index = self._upkeep(conn, target)

        def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None,
                      source: str | None) -> int:
            if source is not None and source in triggers and db in ("main", None):
                return sqlite3.SQLITE_OK  # the datasets domain's own trigger at work
            if action == sqlite3.SQLITE_SELECT or action == sqlite3.SQLITE_RECURSIVE:
                return sqlite3.SQLITE_OK
            if action == sqlite3.SQLITE_READ:
                table = (arg1 or "").lower()
                if table in readable and db in ("main", None):
                    return sqlite3.SQLITE_OK
                if db is None and table in cte_names:
                    return sqlite3.SQLITE_OK
                if db == "main" and (arg1 or "") in index:
                    return sqlite3.SQLITE_OK  # the R*Tree module reading its shadow tables
                return sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_FUNCTION:
                return sqlite3.SQLITE_OK if (arg2 or "").lower() in SQLITE_FUNCTIONS \
                    else sqlite3.SQLITE_DENY
            if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
                if target is not None and db == "main" and (arg1 or "").lower() == target:
                    return sqlite3.SQLITE_OK
                if db == "main" and (arg1 or "") in index:
                    return sqlite3.SQLITE_OK  # the R*Tree module keeping its shadow tables
            return sqlite3.SQLITE_DENY

        conn.set_authorizer(authorize)
        conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)

    def _upkeep(self, conn: sqlite3.Connection, target: str | None
                ) -> tuple[frozenset[str], frozenset[str]]:
        """The triggers on the table a write changes, and its R*Tree's shadow tables (the
        R*Tree is opened here, before the authorizer, so its own statements are prepared)."""
        if target is None:
            return frozenset(), frozenset()
        schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        triggers = frozenset(name for kind, name, table, _ in schema
                             if kind == "trigger" and table == target)
        index: set[str] = set()
        for kind, name, _, sql in schema:
            if kind == "table" and name == f"_rtree_{target}" \
                    and (sql or "").upper().startswith("CREATE VIRTUAL TABLE"):
                conn.execute(f'SELECT 1 FROM "{name}" LIMIT 0').fetchall()
                index |= {name, f"{name}_node", f"{name}_rowid", f"{name}_parent"}
        return triggers, frozenset(index)

    def _fetch(self, conn: sqlite3.Connection, sql: str, errors: FunctionErrors,
               deadline: float) -> Rows:
        rows: list[tuple[object, ...]] = []
        size = 0
        try:
            cursor = conn.execute(sql)
            while batch := cursor.fetchmany(FETCH):
                for row in batch:
                    size += sum(size_of(v) for v in row)
                rows.extend(batch)
                if size > self.limits.max_bytes:
                    raise too_many_bytes(self.limits)
                if len(rows) > self.limits.max_rows:
                    raise too_many_rows(self.limits)
        except sqlite3.Error as error:
            raise self._explain(error, errors, deadline) from None
        names = [d[0] for d in cursor.description or ()]
        return Rows(names=names, kinds=[None] * len(names), rows=rows, total=len(rows))

    def _explain(self, error: sqlite3.Error, errors: FunctionErrors, deadline: float
                 ) -> Exception:
        message = str(error)
        if "interrupted" in message and time.monotonic() > deadline:
            return timed_out(self.limits)
        if "user-defined function raised exception" in message and errors.last:
            return Invalid(f"The query failed: {errors.last}.")
        if "not authorized" in message or "prohibited" in message:
            return Invalid("The query tried something Cloudlet SQL does not allow "
                           "(only this project's dataset tables and allow-listed functions).")
        if "too big" in message:
            return Invalid("A value in the query grew past the size limit.")
        if "database is locked" in message or "busy" in message:
            return timed_out(self.limits)
        return Invalid(f"The query failed: {message}.")
