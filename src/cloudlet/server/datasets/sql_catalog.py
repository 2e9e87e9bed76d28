"""The datasets side of the SQL port (`cloudlet.server.sql.catalog.DatasetCatalog`): which
`dataset_<id>` tables a project's SQL may reach, where they live, and what follows a write.

Only ready datasets are listed: a table still being imported stays out of reach (on
PostgreSQL the project role's grants are revoked on any table not listed)."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import Connection, select

from cloudlet.server.core.errors import NotFound
from cloudlet.server.datasets.service import DatasetService
from cloudlet.server.datasets.storage import schema_name, table_name
from cloudlet.server.datasets.storage.sqlite import SqliteStorage, register_functions
from cloudlet.server.datasets.tables import datasets
from cloudlet.server.sql.catalog import DatasetTable, ProjectTables

log = logging.getLogger(__name__)


class DatasetSqlCatalog:
    def __init__(self, service: DatasetService) -> None:
        self.service = service
        self.storage = service.storage

    def tables_of(self, conn: Connection, project_id: int) -> ProjectTables:
        found = conn.execute(select(datasets.c.id, datasets.c.columns).where(
            datasets.c.project_id == project_id, datasets.c.state == "ready")).all()
        tables: dict[str, DatasetTable] = {}
        for dataset_id, columns in found:
            name = table_name(dataset_id)
            tables[name] = DatasetTable(
                name=name, dataset_id=int(dataset_id),
                geometry_columns={c["name"]: str(c.get("geometry_type") or "geometry")
                                  for c in columns if c["type"] == "geometry"},
                columns={"amigo_id": "text", **{c["name"]: c["type"] for c in columns}})
        if isinstance(self.storage, SqliteStorage):
            return ProjectTables(project_id, tables, sqlite_path=self.storage.path(project_id))
        return ProjectTables(project_id, tables, pg_schema=schema_name(project_id))

    def after_sql_write(self, project_id: int, tables: set[str]) -> None:
        """Recount and re-extent each changed dataset; `dataset.changed` goes out after."""
        for name in sorted(tables):
            dataset_id = int(name.removeprefix("dataset_"))
            with self.service.db.read() as conn:
                owner = conn.execute(select(datasets.c.project_id).where(
                    datasets.c.id == dataset_id)).scalar()
            if owner != project_id:
                continue  # dropped meanwhile (the wall only lets the project's tables through)
            try:
                self.service.refresh_summary(dataset_id)
            except NotFound:  # its table went with a concurrent delete
                log.info("dataset %s vanished before its SQL summary refresh", dataset_id)

    def prepare_sqlite(self, conn: sqlite3.Connection) -> None:
        register_functions(conn)
