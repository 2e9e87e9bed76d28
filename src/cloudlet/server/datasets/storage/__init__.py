"""Where dataset rows live: `DatasetStorage`, with a SQLite and a PostgreSQL/PostGIS backend.

Layout (the SQL feature confines user queries to it):

- SQLite: one database file per project, `<data dir>/datasets/project_<id>.sqlite`, holding
  the tables `dataset_<id>` and, per primary geometry column, an R*Tree `_rtree_dataset_<id>`
  kept current by triggers. Geometry is little-endian EWKB (2D, SRID 4326) in a BLOB, the
  form SQL's geometry functions write; timestamps are UTC text
  `YYYY-MM-DDTHH:MM:SS.ffffffZ` (fixed width, so text order is time order); booleans 0/1;
  json is JSON text. Every connection to such a file must come from
  `SqliteStorage.connect()`, which registers the functions the triggers call.
- PostgreSQL: one schema per project, `project_<id>`, holding `dataset_<id>` tables with
  `geometry(<Type>, 4326)` columns (PostGIS, installed in its own schema) and GiST indexes.

Both: `amigo_id text primary key` (a UUIDv7 in hex, so `ORDER BY amigo_id` is insertion
order), then the dataset's columns in order.
"""

from cloudlet.server.datasets.storage.base import (
    BBox,
    DatasetStorage,
    Filter,
    Selection,
    schema_name,
    table_name,
)

__all__ = ["BBox", "DatasetStorage", "Filter", "Selection", "schema_name", "table_name",
           "make_storage"]


def make_storage(settings: object, db: object) -> DatasetStorage:
    """The backend matching the metadata database (imported lazily)."""
    from cloudlet.server.core.db import Database
    from cloudlet.server.settings import Settings

    assert isinstance(settings, Settings) and isinstance(db, Database)
    if db.is_sqlite:
        from cloudlet.server.datasets.storage.sqlite import SqliteStorage

        return SqliteStorage(settings.data_dir / "datasets")
    from cloudlet.server.datasets.storage.postgres import PostgresStorage

    return PostgresStorage(db)
