"""Engines, URLs, migrations and schema checks, on SQLite and PostgreSQL (tests/fixtures/db.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from indexer.errors import ConfigError, SchemaError
from indexer.store import tables
from indexer.store.columns import utcnow
from indexer.store.engine import (
    MIGRATIONS_DIR,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    normalize_url,
    redact,
    session,
    upgrade,
)

TABLES = {
    "account_endings",
    "chain_ticks",
    "chain_leases",
    "accounts",
    "positions",
    "collateral",
    "alerts",
    "outbox",
    "raw_events",
    "blocks",
    "cursors",
    "block_hashes",
    "touched_accounts",
    "alert_states",
    "subscribers",
    "subscriptions",
    "bot_cursors",
    "latest_prices",
    "latest_health",
    "watched_wallets",
    "chain_alert_states",
    "alert_lens_states",
}

HEAD = "0012"
"""The newest migration perpwatch ships."""

REVISION_NEXT = f'''"""Add cursors.note."""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cursors", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cursors") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def scripts_next(tmp_path: Path) -> Path:
    """perpwatch's migrations plus a 9999, as a newer perpwatch would ship them."""
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "9999_cursor_note.py").write_text(REVISION_NEXT)
    return location


def _table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_creates_every_table_from_any_directory(
    empty_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert upgrade(empty_engine) == (None, HEAD)
    assert _table_names(empty_engine) == TABLES | {"alembic_version"}
    assert upgrade(empty_engine) == (HEAD, HEAD)
    assert list(elsewhere.iterdir()) == []


def test_migration_matches_table_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert _table_names(engine) <= {"alembic_version"}
    assert current_revision(engine) is None
    assert upgrade(engine) == (None, HEAD)


def test_enum_columns_are_checked_by_the_database(engine: Engine) -> None:
    insert = sa.text(
        "INSERT INTO accounts (chain_id, protocol, owner, ref, mode, status,"
        " fixed_requirement_usd_e30, block_number, updated_at)"
        " VALUES (1, 'gmx_v2', :owner, 'r', 'sideways', 'open', '0', 1, :now)"
    )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"owner": "0x" + "ab" * 20, "now": utcnow()})


def test_ensure_schema_migrates_an_empty_database(empty_engine: Engine) -> None:
    ensure_schema(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert _table_names(empty_engine) >= TABLES


def test_ensure_schema_leaves_a_current_database_alone(engine: Engine) -> None:
    with session(engine) as db:
        db.add(tables.Cursor(name="gmx", chain_id=1, next_block=7))
    ensure_schema(engine)
    with session(engine) as db:
        cursor = db.get(tables.Cursor, "gmx")
        assert cursor is not None
        assert cursor.next_block == 7


def test_ensure_schema_refuses_an_out_of_date_database(engine: Engine, scripts_next: Path) -> None:
    with pytest.raises(SchemaError) as caught:
        ensure_schema(engine, script_location=scripts_next)
    message = str(caught.value)
    expected = f"database schema is at {HEAD}, perpwatch needs 9999: run `perpwatch db upgrade`"
    assert expected in message
    assert "\n" not in message
    assert "note" not in {c["name"] for c in sa.inspect(engine).get_columns("cursors")}

    assert upgrade(engine, script_location=scripts_next) == (HEAD, "9999")
    ensure_schema(engine, script_location=scripts_next)
    assert "note" in {c["name"] for c in sa.inspect(engine).get_columns("cursors")}


def test_ensure_schema_refuses_a_database_from_a_newer_perpwatch(
    empty_engine: Engine, scripts_next: Path
) -> None:
    upgrade(empty_engine, script_location=scripts_next)
    with pytest.raises(SchemaError, match=r"at 9999, which this perpwatch does not know"):
        ensure_schema(empty_engine)
    with pytest.raises(SchemaError, match=r"9999"):
        upgrade(empty_engine)
    assert current_revision(empty_engine) == "9999"


def test_ensure_schema_refuses_unversioned_tables_and_writes_nothing(
    empty_engine: Engine,
) -> None:
    SQLModel.metadata.tables["cursors"].create(empty_engine)
    with pytest.raises(SchemaError, match=r"has tables \(cursors\) but no perpwatch schema"):
        ensure_schema(empty_engine)
    assert _table_names(empty_engine) == {"cursors"}


def test_schema_errors_never_show_the_password(postgres_url: str) -> None:
    # Trust authentication accepts any password, so the URL still connects.
    url = make_url(postgres_url).set(password="hunter2-secret")
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        SQLModel.metadata.tables["cursors"].create(engine)
        with pytest.raises(SchemaError) as caught:
            ensure_schema(engine)
    finally:
        engine.dispose()
    assert "hunter2-secret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_database_urls_are_normalised_and_redacted() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert redact("postgresql://u:pw-secret@h/db") == "postgresql://u:***@h/db"
    with pytest.raises(ConfigError) as caught:
        normalize_url("mysql://u:pw-secret@h/db")
    assert "pw-secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="not a database URL"):
        normalize_url("pw-secret")


def test_default_database_is_perpwatch_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    engine = make_engine()
    try:
        with engine.connect() as connection:
            pragmas = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        engine.dispose()
    assert pragmas == ["wal", 1, 5000]
    assert (tmp_path / "perpwatch.db").exists()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert make_engine().url.database == str(tmp_path / "other.db")


def test_0012_keeps_every_alert_and_delivery_as_the_primary_lens(empty_engine: Engine) -> None:
    """Alerts stored before lenses are the primary lens's, their deliveries kept (SQLite
    rebuilds the alerts table); after it, one (account, level, episode) may be alerted once
    per lens, and still only once per lens."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011")
    now = utcnow()
    alert = sa.text(
        "INSERT INTO alerts (account_id, level, episode, created_at, payload)"
        " VALUES (:account, 'warning', 1, :now, '{}')"
    )
    with session(empty_engine) as db:
        account = tables.validated(tables.Account, chain_id=1, protocol="gmx_v2",
                                   owner="0x" + "ab" * 20, ref="r", mode="isolated",
                                   block_number=1)  # fmt: skip
        db.add(account)
        db.flush()
        db.execute(alert, {"account": account.id, "now": now})
        db.execute(
            sa.text(
                "INSERT INTO outbox (alert_id, channel, status, attempts, next_attempt_at)"
                " SELECT id, 'console', 'pending', 0, :now FROM alerts"
            ),
            {"now": now},
        )
        account_id = account.id
    assert upgrade(empty_engine) == ("0011", HEAD)
    with empty_engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT lens, level FROM alerts")).all()
        deliveries = connection.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
    assert [tuple(row) for row in kept] == [("", "warning")]
    assert deliveries == 1
    with empty_engine.begin() as connection:
        lensed = alert.text.replace("(account_id,", "(lens, account_id,").replace(
            "VALUES (", "VALUES ('20/6', "
        )
        connection.execute(sa.text(lensed), {"account": account_id, "now": now})
    with pytest.raises(sa.exc.IntegrityError), empty_engine.begin() as connection:
        connection.execute(alert, {"account": account_id, "now": now})
