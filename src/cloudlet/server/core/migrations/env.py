"""Alembic environment: runs against the engine `cloudlet.server.core.migrate` hands over."""

from alembic import context

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if engine.dialect.name == "sqlite":
        # one writer at a time, also against a server already running on the same file
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    else:  # a migration waits for the locks it needs, however long a running server holds them
        connection.exec_driver_sql("SET lock_timeout = 0")
    context.configure(
        connection=connection,
        render_as_batch=engine.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
