"""The metadata database: one engine, read and write transactions, after-commit hooks.

SQLite (the embedded default) allows one writer: write transactions take a process-wide lock
and `BEGIN IMMEDIATE`, so concurrent requests queue instead of failing with `database is
locked`, and `busy_timeout` covers other processes (the operator CLI) on the same file.
Readers use their own pooled connections under WAL. PostgreSQL needs neither; there
`lock_timeout` bounds the wait for another connection's lock the same way. A write that waits
longer, or finds the database unreachable, is answered 503 (`unavailable`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

from cloudlet.server.core.errors import Unavailable

log = logging.getLogger(__name__)


class Tx:
    """One transaction: execute statements; `after_commit` callbacks run only if it commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._after: list[Callable[[], None]] = []

    def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        return self.conn.execute(statement, params)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after.append(callback)


def _driver_errors() -> tuple[type[Exception], ...]:
    """The drivers' errors about the database's state rather than the statement's."""
    try:
        import psycopg
    except ImportError:  # the embedded install has no PostgreSQL driver
        return (sqlite3.OperationalError,)
    return (sqlite3.OperationalError, psycopg.OperationalError)


_DRIVER_ERRORS = _driver_errors()
# what `unavailable` may turn into a 503: the error wires handle these as they do DomainError
DATABASE_ERRORS = (sa_exc.OperationalError, sa_exc.TimeoutError)


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 for an error that says the database can't serve now (a lock held past the
    busy timeout, the server unreachable, the pool exhausted), not that the request is
    wrong; None for any other error (a missing table is an OperationalError too)."""
    if isinstance(error, sa_exc.TimeoutError):
        return Unavailable("The database is overloaded; retry shortly.", retry_after=2)
    if isinstance(error, sa_exc.OperationalError):
        lost, error = error.connection_invalidated, error.orig  # type: ignore[assignment]
    else:  # the driver's own, from a raw cursor (COPY)
        lost = False
    if not isinstance(error, _DRIVER_ERRORS):
        return None
    message = str(error).lower()
    if lost or "connection" in message or "server" in message:
        return Unavailable("The database is unreachable; retry shortly.", retry_after=5)
    # SQLite's busy_timeout passed ("table is locked" is a statement's own mistake), or
    # PostgreSQL's lock_timeout
    if "database is locked" in message or "lock timeout" in message:
        return Unavailable("The database is busy with another writer; retry shortly.",
                           retry_after=1)
    return None


class Database:
    def __init__(self, url: str, *, echo: bool = False, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.busy_timeout = busy_timeout  # seconds a write waits for another's lock
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.engine: Engine = self._make_engine(url, echo)

    def _make_engine(self, url: str, echo: bool) -> Engine:
        wait_ms = int(self.busy_timeout * 1000)
        if not self.is_sqlite:
            pg = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)

            @event.listens_for(pg, "connect")
            def _on_pg_connect(dbapi_conn: Any, _record: Any) -> None:
                # a SET, not connect_args: options in the URL or PGOPTIONS still apply
                with dbapi_conn.cursor() as cur:
                    cur.execute(f"SET lock_timeout = {wait_ms}")
                dbapi_conn.commit()

            return pg
        engine = create_engine(
            url, echo=echo,
            connect_args={"check_same_thread": False, "timeout": self.busy_timeout}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={wait_ms}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("cloudlet_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only view; nothing written here is committed."""
        with self.engine.connect() as conn, conn.begin() as trans:
            yield conn
            trans.rollback()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction; commits on success, rolls back on any exception."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(cloudlet_write=True)
                tx = Tx(conn)
                with conn.begin():
                    yield tx
        finally:
            if lock is not None:
                lock.release()
        for callback in tx._after:
            try:
                callback()
            except Exception:  # an after-commit hook must never undo a committed answer
                log.exception("after-commit callback failed")

    def dispose(self) -> None:
        self.engine.dispose()
