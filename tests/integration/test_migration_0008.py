"""Migration 0008 (chain alerts) keeps every existing alert and delivery, lets an alert be
about a chain instead of an account (never both, never neither), and its downgrade drops only
the chain alerts; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from indexer.store.engine import MIGRATIONS_DIR, make_engine, upgrade

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _migrate(conn: Connection, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(config, revision)


def _old_alert(conn: Connection) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO accounts (id, chain_id, protocol, owner, ref, mode, status,"
            " fixed_requirement_usd_e30, block_number, updated_at)"
            " VALUES (1, 1, 'gmx_v2', :owner, 'r', 'cross', 'open', '0', 1, :now)"
        ),
        {"owner": "0x" + "ab" * 20, "now": NOW},
    )
    conn.execute(
        sa.text(
            "INSERT INTO alerts (id, account_id, level, episode, created_at, payload)"
            " VALUES (1, 1, 'critical', 1, :now, '{}')"
        ),
        {"now": NOW},
    )
    conn.execute(
        sa.text(
            "INSERT INTO outbox (alert_id, channel, status, attempts, next_attempt_at)"
            " VALUES (1, 'console', 'pending', 0, :now)"
        ),
        {"now": NOW},
    )


def _chain_alert(
    conn: Connection, alert_id: int, account_id: int | None, chain_id: int | None
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO alerts (id, account_id, chain_id, level, episode, created_at, payload)"
            " VALUES (:id, :account, :chain, 'unknown', 1, :now, '{}')"
        ),
        {"id": alert_id, "account": account_id, "chain": chain_id, "now": NOW},
    )


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.db
def test_0008_keeps_deliveries_and_holds_chain_alerts(empty_engine: Engine) -> None:
    engine = empty_engine
    with engine.begin() as conn:
        _migrate(conn, "0007")
        _old_alert(conn)

    # perpwatch's upgrade (as `perpwatch db upgrade`), through 0008 to the newest revision
    assert upgrade(engine)[0] == "0007"
    assert _count(engine, "outbox") == 1  # the rebuilt alerts table cascaded nothing
    with engine.begin() as conn:
        _chain_alert(conn, 2, None, 42161)
        conn.execute(
            sa.text(
                "INSERT INTO outbox (alert_id, channel, status, attempts, next_attempt_at)"
                " VALUES (2, 'console', 'pending', 0, :now)"
            ),
            {"now": NOW},
        )
    for account_id, chain_id in ((None, None), (1, 42161)):  # a subject, and only one
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            _chain_alert(conn, 3, account_id, chain_id)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _chain_alert(conn, 4, None, 42161)  # (chain, level, episode) is unique

    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":  # as perpwatch's upgrade does around a rebuild
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        with conn.begin():
            _migrate(conn, "0007", down=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM alerts")).scalars().all() == [1]
        assert conn.execute(sa.text("SELECT alert_id FROM outbox")).scalars().all() == [1]


def test_0008_on_sqlite_refuses_a_rebuild_that_would_cascade(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")  # foreign keys on, as every connection
    try:
        with engine.begin() as conn:
            _migrate(conn, "0007")
            _old_alert(conn)
        with pytest.raises(RuntimeError, match="perpwatch db upgrade"), engine.begin() as conn:
            _migrate(conn, "0008")
        assert _count(engine, "outbox") == 1
    finally:
        engine.dispose()
