"""The metadata database: one engine, read and write transactions, after-commit hooks.

SQLite (the embedded default) allows one writer: write transactions take a process-wide lock
and `BEGIN IMMEDIATE`, so concurrent requests queue instead of failing with `database is
locked`, and `busy_timeout` covers other processes (the operator CLI) on the same file.
Readers use their own pooled connections under WAL. PostgreSQL needs neither.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

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


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.engine: Engine = self._make_engine(url, echo)

    def _make_engine(self, url: str, echo: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
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
