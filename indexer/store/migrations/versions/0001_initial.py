"""Initial schema: normal form, health snapshots, alerts and outbox, indexing pipeline.

Revision ID: 0001
Revises:
Create Date: 2025-11-29

Types are spelled out here, not imported from ``indexer.store.columns``, so this migration keeps
meaning
what it meant when it shipped.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("ok", "warning", "critical", "liquidatable", "liquidated", "unknown", "recovered")


def _exact() -> sa.types.TypeEngine[Any]:
    """Exact integer: NUMERIC(78, 0) on PostgreSQL, decimal text on SQLite."""
    return sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _timestamp(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _parent(table: str, column: str, parent: str) -> sa.Column[Any]:
    fk = sa.ForeignKey(f"{parent}.id", ondelete="CASCADE", name=f"fk_{table}_{column}")
    return sa.Column(column, sa.Integer(), fk, nullable=False)


def _hash(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(66), nullable=nullable)


def upgrade() -> None:
    _create_normal_form()
    _create_alerting()
    _create_pipeline()


def _create_normal_form() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("protocol", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("mode", _enum("ck_accounts_mode", "isolated", "cross"), nullable=False),
        sa.Column(
            "status",
            _enum("ck_accounts_status", "open", "closed", "liquidated"),
            nullable=False,
        ),
        sa.Column("fixed_requirement_usd_e30", _exact(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        _timestamp("updated_at"),
        sa.UniqueConstraint("chain_id", "protocol", "ref", name="uq_accounts_chain_protocol_ref"),
    )
    op.create_index("ix_accounts_owner", "accounts", ["owner"])
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _parent("positions", "account_id", "accounts"),
        sa.Column("market", sa.String(100), nullable=False),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("size_raw", _exact(), nullable=False),
        sa.Column("size_decimals", sa.Integer(), nullable=False),
        sa.Column("entry_notional_usd_e30", _exact(), nullable=False),
        sa.Column("pending_fees_usd_e30", _exact(), nullable=False),
        sa.Column("closing_fee_rate_e30", _exact(), nullable=False),
        sa.Column("mm_rate_e30", _exact(), nullable=False),
        sa.Column("mm_rate_entry_e30", _exact(), nullable=False),
        sa.Column("mm_floor_usd_e30", _exact(), nullable=False),
        sa.UniqueConstraint("account_id", "market", name="uq_positions_account_market"),
    )
    op.create_table(
        "collateral",
        sa.Column("id", sa.Integer(), primary_key=True),
        _parent("collateral", "account_id", "accounts"),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("amount_raw", _exact(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("haircut_e30", _exact(), nullable=False),
        sa.Column("price_feed", sa.String(200), nullable=False),
        sa.UniqueConstraint("account_id", "asset", name="uq_collateral_account_asset"),
    )


def _create_alerting() -> None:
    op.create_table(
        "health_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        _parent("health_snapshots", "account_id", "accounts"),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("equity_usd", sa.Float(), nullable=False),
        sa.Column("maintenance_usd", sa.Float(), nullable=False),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("level", _enum("ck_health_snapshots_level", *LEVELS), nullable=False),
        _timestamp("computed_at"),
    )
    op.create_index(
        "ix_health_snapshots_account_block", "health_snapshots", ["account_id", "block_number"]
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _parent("alerts", "account_id", "accounts"),
        sa.Column("level", _enum("ck_alerts_level", *LEVELS), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        sa.Column("payload", _json(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "level", "episode", name="uq_alerts_account_level_episode"
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        _parent("outbox", "alert_id", "alerts"),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column(
            "status",
            _enum("ck_outbox_status", "pending", "sending", "sent", "failed"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _timestamp("sent_at", nullable=True),
        sa.UniqueConstraint("alert_id", "channel", name="uq_outbox_alert_channel"),
    )
    op.create_index("ix_outbox_status_next_attempt", "outbox", ["status", "next_attempt_at"])


def _create_pipeline() -> None:
    op.create_table(
        "raw_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        _hash("block_hash"),
        sa.Column("log_index", sa.Integer(), nullable=False),
        _hash("tx_hash"),
        sa.Column("address", sa.String(42), nullable=False),
        *(_hash(f"topic{i}", nullable=True) for i in range(4)),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=True),
        sa.Column("args", _json(), nullable=True),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name="uq_raw_events_chain_block_log"
        ),
    )
    op.create_index("ix_raw_events_chain_block", "raw_events", ["chain_id", "block_number"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        _timestamp("updated_at"),
    )
    op.create_table(
        "block_hashes",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        _hash("hash"),
        _hash("parent_hash"),
    )
    op.create_table(
        "touched_accounts",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("protocol", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            _enum("ck_touched_accounts_kind", "touched", "closed", "liquidated"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    for table in (
        "touched_accounts",
        "block_hashes",
        "cursors",
        "raw_events",
        "outbox",
        "alerts",
        "health_snapshots",
        "collateral",
        "positions",
        "accounts",
    ):
        op.drop_table(table)
