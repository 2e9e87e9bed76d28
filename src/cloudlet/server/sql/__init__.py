"""Per-project SQL over datasets: PostgreSQL/PostGIS dialect on both backends, two walls each.

`wall` checks the parsed statement, `transpile` turns it into SQLite, `spatial` supplies
PostGIS's vocabulary on SQLite, `sqlite_sandbox` and `pg_sandbox` run it confined to one
project, `service` holds the rules and `catalog` is the port the datasets domain fills.
"""
