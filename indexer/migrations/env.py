"""Alembic environment for perpwatch's migrations.

perpwatch (``indexer.db.upgrade``) hands in an open connection inside a transaction through
``config.attributes["connection"]``; the plain ``alembic`` command gets an engine from
``DATABASE_URL`` instead. Logging is left alone: the application configures it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import indexer.tables  # noqa: F401  (registers perpwatch's tables on SQLModel.metadata)
from indexer.db import make_engine

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
