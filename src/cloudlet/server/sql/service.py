"""SQL rules: who may run what on which project's datasets.

Reading (GET) needs read access to the project, and runs SELECT/WITH only; POST needs write
access and may also INSERT, UPDATE or DELETE rows of the project's own dataset tables. The
statement then passes the wall and runs in the backend's sandbox (engine.py).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.sql.catalog import DatasetCatalog, ProjectTables
from cloudlet.server.sql.engine import Answer, SqlEngine

log = logging.getLogger(__name__)


class SqlService:
    def __init__(self, db: Database, projects: ProjectService, engine: SqlEngine,
                 catalog: DatasetCatalog | None = None) -> None:
        self.db = db
        self.projects = projects
        self.engine = engine
        self.catalog = catalog

    def _tables(self, conn: Connection, project_id: int) -> ProjectTables:
        if self.catalog is None:  # no datasets domain mounted: a project without tables
            return ProjectTables(project_id=project_id, tables={})
        return self.catalog.tables_of(conn, project_id)

    def run(self, principal: Principal, ref: str, query: str, *, write: bool, limit: int,
            offset: int, geometry_format: str = "geojson") -> Answer:
        with self.db.read() as conn:
            project = self.projects.authorize(conn, principal, ref,
                                              Level.WRITE if write else Level.READ)
            tables = self._tables(conn, project["id"])
        answer = self.engine.run(tables, query, allow_writes=write, limit=limit, offset=offset,
                                 geometry_format=geometry_format,
                                 prepare=self.catalog.prepare_sqlite if self.catalog else None)
        if answer.checked.writes and self.catalog is not None and answer.checked.target \
                and answer.count > 0:  # no rows changed: nothing to recount or announce
            try:
                self.catalog.after_sql_write(project["id"], {answer.checked.target})
            except Exception:  # the rows are committed; a stale count must not undo that
                log.exception("refreshing datasets after SQL on project %s", project["id"])
        return answer

    def drop_project(self, tx: Tx, project: dict[str, Any]) -> None:
        """Remove the project's SQL role (PostgreSQL), in the project's delete transaction."""
        if self.engine.pg is not None:
            self.engine.pg.drop(tx.conn, project["id"])
