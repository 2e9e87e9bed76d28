"""The second wall on PostgreSQL: each project's statements run as that project's own role.

One `LOGIN NOINHERIT` role per project, named `cloudlet_<database oid>_p<project id>` so it is
unique per installation on a shared cluster, with no memberships and no attributes; it may
connect to this database, use its project's schema and the PostGIS schema, and read and change
only the tables listed by the catalog. `PUBLIC` loses every right on the database and on the
`public` schema. Its password is derived from the server secret, so every worker can log in
with nothing stored. Requests run on the role's own connections (a small pool per role,
`DISCARD ALL` when one goes back): `BEGIN READ ONLY` for reads, `statement_timeout` set
locally from the request's deadline (and a watchdog that cancels past it), the statement sent
alone through the extended protocol, which refuses stacked statements. There is no shared
role that could `SET ROLE` into a project's role.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from cloudlet.server.core.errors import Invalid
from cloudlet.server.sql.limits import Limits, size_of, timed_out, too_many_bytes, too_many_rows
from cloudlet.server.sql.results import PG_KINDS, Rows

log = logging.getLogger(__name__)
FETCH = 256
IDLE_PER_ROLE = 2
IDLE_SECONDS = 60.0
GRANTS = "SELECT, INSERT, UPDATE, DELETE"


class RolePools:
    """Idle connections per role, least recently used roles closed first."""

    def __init__(self, max_roles: int) -> None:
        self.max_roles = max_roles
        self._idle: OrderedDict[str, list[tuple[float, psycopg.Connection[Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, role: str) -> psycopg.Connection[Any] | None:
        with self._lock:
            idle = self._idle.get(role)
            self._idle.move_to_end(role) if idle is not None else None
            while idle:
                since, conn = idle.pop()
                if time.monotonic() - since < IDLE_SECONDS and not conn.closed:
                    return conn
                conn.close()
        return None

    def give(self, role: str, conn: psycopg.Connection[Any]) -> None:
        evicted: list[psycopg.Connection[Any]] = []
        with self._lock:
            idle = self._idle.setdefault(role, [])
            self._idle.move_to_end(role)
            if len(idle) < IDLE_PER_ROLE:
                idle.append((time.monotonic(), conn))
            else:
                evicted.append(conn)
            while len(self._idle) > self.max_roles:
                _, old = self._idle.popitem(last=False)
                evicted.extend(c for _, c in old)
        for c in evicted:
            c.close()

    def forget(self, role: str) -> None:
        with self._lock:
            old = self._idle.pop(role, [])
        for _, c in old:
            c.close()

    def close(self) -> None:
        with self._lock:
            roles = list(self._idle)
        for role in roles:
            self.forget(role)


class PgSandbox:
    def __init__(self, engine: Engine, secret_key: str, limits: Limits, max_roles: int = 64
                 ) -> None:
        self.engine = engine
        self.secret = secret_key.encode()
        self.limits = limits
        self.pools = RolePools(max_roles)
        self._ready: dict[str, frozenset[str]] = {}
        self._db_oid: int | None = None
        self._postgis: str | None = None
        self._kinds: dict[int, str] = {}
        self._lock = threading.Lock()
        url = make_url(engine.url).set(drivername="postgresql")
        self._base_url = url

    # --- the role and its grants (run as the application's own database user) ------------

    def role_name(self, project_id: int) -> str:
        return f"cloudlet_{self._installation()}_p{int(project_id)}"

    def _password(self, role: str) -> str:
        return hmac.new(self.secret, f"sql-role:{role}".encode(), hashlib.sha256).hexdigest()

    def _installation(self) -> int:
        if self._db_oid is None:
            with self.engine.connect() as conn:
                self._db_oid = int(conn.exec_driver_sql(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"
                ).scalar_one())
        return self._db_oid

    def _setup_once(self, conn: Connection) -> None:
        if self._postgis is not None:
            return
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(database)))
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        found = conn.exec_driver_sql(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = "
            "e.extnamespace WHERE e.extname = 'postgis'").scalar()
        self._postgis = found or ""
        for oid, name in conn.exec_driver_sql(
                "SELECT oid, typname FROM pg_type WHERE typname IN ('geometry', 'geography')"):
            self._kinds[int(oid)] = "geometry"
            del name

    def ensure(self, project_id: int, schema: str | None, tables: Collection[str]) -> str:
        """Create or repair the project's role so it reaches exactly `tables` in `schema`."""
        role = self.role_name(project_id)
        wanted = frozenset(tables)
        key = f"{role}:{schema or ''}"
        if self._ready.get(key) == wanted:
            return role
        with self._lock, self.engine.begin() as conn:
            self._setup_once(conn)
            self._grant(conn, role, schema, wanted)
            self._ready[key] = wanted
        return role

    def _grant(self, conn: Connection, role: str, schema: str | None, tables: frozenset[str]
               ) -> None:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        ident, password = sql.Identifier(role), sql.Literal(self._password(role))
        attributes = sql.SQL("LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE "
                             "NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 8 PASSWORD {}"
                             ).format(password)
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                      (role,)).scalar()
        verb = "ALTER" if exists else "CREATE"
        cur.execute(sql.SQL(verb + " ROLE {} ").format(ident) + attributes)
        for (granted,) in conn.exec_driver_sql(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s", (role,)).all():
            cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), ident))
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database), ident))
        path = [sql.Identifier(s) for s in (schema, self._postgis) if s]
        cur.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(
            ident, sql.SQL(", ").join(path) if path else sql.SQL("''")))
        cur.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
            ident, sql.Literal(f"{int(self.limits.timeout * 1000)}ms")))
        if self._postgis:
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(self._postgis), ident))
        has_schema = schema and conn.exec_driver_sql(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).scalar()
        if not schema or not has_schema:
            return
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                    ident))
        present = {name for (name,) in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        for table in present:
            target = sql.Identifier(schema, table)
            if table in tables:
                cur.execute(sql.SQL("GRANT " + GRANTS + " ON {} TO {}").format(target, ident))
            else:
                cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, ident))
        cur.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
            sql.Identifier(schema), ident))

    def drop(self, conn: Connection, project_id: int) -> None:
        """Drop the project's role, inside the transaction that deletes the project."""
        role = self.role_name(project_id)
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                      (role,)).scalar()
        if exists:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        for key in [k for k in self._ready if k.startswith(role + ":")]:
            del self._ready[key]
        self.pools.forget(role)

    # --- running a statement as the role --------------------------------------------------

    @contextmanager
    def _connection(self, role: str) -> Iterator[psycopg.Connection[Any]]:
        conn = self.pools.take(role)
        if conn is None:
            url = self._base_url.set(username=role, password=self._password(role))
            try:
                # no auto-prepared statements: DISCARD ALL drops them behind psycopg's back
                conn = psycopg.connect(url.render_as_string(hide_password=False),
                                       autocommit=True, connect_timeout=10,
                                       prepare_threshold=None)
            except psycopg.OperationalError as error:
                log.error("cannot connect as SQL role %s: %s", role, error)
                raise Invalid("The SQL sandbox could not connect to the database; the server "
                              "log has the details.") from None
        healthy = False
        try:
            yield conn
            healthy = True
        finally:
            if healthy and not conn.closed:
                try:
                    conn.execute("DISCARD ALL")
                    self.pools.give(role, conn)
                except psycopg.Error:
                    conn.close()
            else:
                conn.close()

    def read(self, role: str, *, page_sql: str, count_sql: str, limit: int, offset: int) -> Rows:
        deadline = self.limits.deadline()
        with self._connection(role) as conn:
            conn.execute("BEGIN READ ONLY")
            try:
                result = self._run(conn, page_sql, deadline)
                if len(result.rows) < limit and (result.rows or offset == 0):
                    result.total = offset + len(result.rows)
                else:
                    result.total = int(self._run(conn, count_sql, deadline).rows[0][0])
                if result.total > self.limits.max_rows:
                    raise too_many_rows(self.limits)
                return result
            finally:
                conn.execute("ROLLBACK")

    def write(self, role: str, *, sql_text: str) -> Rows:
        deadline = self.limits.deadline()
        with self._connection(role) as conn:
            conn.execute("BEGIN")
            try:
                result = self._run(conn, sql_text, deadline, write=True)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def _run(self, conn: psycopg.Connection[Any], text: str, deadline: float, *,
             write: bool = False) -> Rows:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out(self.limits)
        conn.execute("SELECT set_config('statement_timeout', %s, true)",
                      (f"{max(1, int(remaining * 1000))}ms",))
        watchdog = threading.Timer(remaining + 1.0, conn.cancel_safe)
        watchdog.daemon = True
        watchdog.start()
        rows: list[tuple[Any, ...]] = []
        size = 0
        try:
            with conn.cursor(binary=True) as cur:
                cur.execute(text.encode(), binary=True)  # extended protocol: one statement
                names = [d.name for d in cur.description or ()]
                kinds = [self._kind(d.type_code) for d in cur.description or ()]
                while cur.description is not None and (batch := cur.fetchmany(FETCH)):
                    size += sum(size_of(v) for row in batch for v in row)
                    rows.extend(batch)
                    if size > self.limits.max_bytes:
                        raise too_many_bytes(self.limits)
                    if len(rows) > self.limits.max_rows:
                        raise too_many_rows(self.limits)
                total = cur.rowcount if write else len(rows)
        except pg_errors.QueryCanceled:
            raise timed_out(self.limits) from None
        except psycopg.Error as error:
            raise self._explain(error) from None
        finally:
            watchdog.cancel()
        return Rows(names=names, kinds=kinds, rows=rows, total=total)

    def _kind(self, oid: int) -> str | None:
        if oid in self._kinds:
            return self._kinds[oid]
        info = psycopg.adapters.types.get(oid)
        return PG_KINDS.get(info.name) if info is not None else None

    def _explain(self, error: psycopg.Error) -> Exception:
        diag = error.diag
        message = diag.message_primary or str(error).split("\n")[0]
        if isinstance(error, pg_errors.InsufficientPrivilege):
            return Invalid(f"The query was refused by the database: {message}.")
        if isinstance(error, pg_errors.ReadOnlySqlTransaction):
            return Invalid("GET runs read-only statements; send writes with POST.")
        return Invalid(f"The query failed: {message}.")

    def close(self) -> None:
        self.pools.close()
