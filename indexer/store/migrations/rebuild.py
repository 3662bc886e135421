"""A guard for migrations that rebuild a table other tables reference, on SQLite."""

from __future__ import annotations

from alembic import op


def refuse_cascading_rebuild(revision: str, table: str, referencing: str) -> None:
    """Stop before SQLite rebuilds ``table`` (batch mode) with foreign keys on while
    ``referencing`` has rows: dropping the old table would cascade-delete them.
    ``perpwatch db upgrade`` turns foreign keys off meanwhile; a bare ``alembic`` run does
    not, so it stops here rather than lose them."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    enforced = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    filled = bind.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {referencing})").scalar()
    if enforced and filled:
        raise RuntimeError(
            f"revision {revision} rebuilds the {table} table; with SQLite foreign keys on that "
            f"would delete the {referencing}: run `perpwatch db upgrade` instead"
        )
