"""A leaner ``raw_events`` row: keyed by (chain_id, block_number, log_index), block hashes once
per block in a new ``blocks`` table, no surrogate id and no second index.

Existing rows are converted: each block's hash moves to ``blocks``; should two stored logs share
(chain, block number, log index) (only possible if a competing block was never rolled back) the
later-inserted one is kept, with its block's hash. The downgrade restores the old layout.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Types are spelled out here, not imported from ``indexer.store``, so this migration keeps meaning
what it meant when it shipped.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHARED = "tx_hash, address, topic0, topic1, topic2, topic3, data, source, event_name, args"


def _hash(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(66), nullable=nullable)


def _shared_columns() -> list[sa.Column[Any]]:
    return [
        _hash("tx_hash"),
        sa.Column("address", sa.String(42), nullable=False),
        *(_hash(f"topic{i}", nullable=True) for i in range(4)),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("event_name", sa.String(100), nullable=True),
        sa.Column("args", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        _hash("hash"),
    )
    op.create_table(
        "raw_events_lean",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        *_shared_columns(),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name="pk_raw_events"),
    )
    # The newest stored row of each (chain, block number, log index) and its block's hash.
    op.execute(
        "INSERT INTO raw_events_lean (chain_id, block_number, log_index, "
        f"{_SHARED}) SELECT chain_id, block_number, log_index, {_SHARED} FROM raw_events "
        "WHERE id IN (SELECT max(id) FROM raw_events "
        "GROUP BY chain_id, block_number, log_index)"
    )
    op.execute(
        "INSERT INTO blocks (chain_id, number, hash) "
        "SELECT chain_id, block_number, max(block_hash) FROM raw_events "
        "WHERE id IN (SELECT max(id) FROM raw_events GROUP BY chain_id, block_number) "
        "GROUP BY chain_id, block_number"
    )
    op.drop_index("ix_raw_events_chain_block", table_name="raw_events")
    op.drop_table("raw_events")
    op.rename_table("raw_events_lean", "raw_events")


def downgrade() -> None:
    op.create_table(
        "raw_events_wide",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        _hash("block_hash"),
        sa.Column("log_index", sa.Integer(), nullable=False),
        *_shared_columns(),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name="uq_raw_events_chain_block_log"
        ),
    )
    op.execute(
        "INSERT INTO raw_events_wide (chain_id, block_number, block_hash, log_index, "
        f"{_SHARED}) SELECT e.chain_id, e.block_number, b.hash, e.log_index, "
        + ", ".join(f"e.{c}" for c in _SHARED.split(", "))
        + " FROM raw_events e JOIN blocks b ON b.chain_id = e.chain_id "
        "AND b.number = e.block_number ORDER BY e.chain_id, e.block_number, e.log_index"
    )
    op.drop_table("raw_events")
    op.rename_table("raw_events_wide", "raw_events")
    op.create_index("ix_raw_events_chain_block", "raw_events", ["chain_id", "block_number"])
    op.drop_table("blocks")
