"""Account endings (every close and liquidation event of the canonical chain, kept per block)
and the monitor's per-chain heartbeat.

``touched_accounts`` is the refresh queue (one row per account, the latest touch); it cannot say
how an account ended once a reorg removes a later touch. ``account_endings`` keeps each ending
event, is rolled back with the events, and decides closed vs liquidated when a read finds an
account gone. ``chain_ticks`` records each chain's last completed monitor tick and
``chain_leases`` which worker ticks each chain.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_endings",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("protocol", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(200), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), primary_key=True),
        sa.Column(
            "kind",
            sa.Enum(
                # The touch kinds, as touched_accounts.kind; only closed/liquidated are stored.
                "touched",
                "closed",
                "liquidated",
                name="ck_account_endings_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
    )

    op.create_table(
        "chain_ticks",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("stepped", sa.Integer(), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
    )
    op.create_table(
        "chain_leases",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chain_leases")
    op.drop_table("chain_ticks")
    op.drop_table("account_endings")
