"""Alembic environment for perpwatch's migrations.

perpwatch (``indexer.store.engine.upgrade``) hands in an open connection inside a transaction
through
``config.attributes["connection"]``; the plain ``alembic`` command gets an engine from
``DATABASE_URL`` instead. Logging is left alone: the application configures it.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from indexer.store.engine import make_engine

# The schema spans the indexer's and the monitor's tables. They are named as data (one place,
# the list below) rather than imported, so the indexer package never imports the monitor.
TABLE_MODULES = (
    "indexer.store.tables",
    "monitor.tables",
    "monitor.subscriptions.tables",
    "monitor.latest.tables",
    "monitor.watchlist",
)
for _module in TABLE_MODULES:
    importlib.import_module(_module)  # registers the tables on SQLModel.metadata

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    # Batch mode: SQLite can only change a column by rebuilding its table.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the connection given by perpwatch, else on one to ``DATABASE_URL``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as own_connection:
            _run(own_connection)
            own_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("perpwatch migrations run online only: set DATABASE_URL and run upgrade")
run_migrations_online()
