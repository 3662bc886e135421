"""Drop ``health_snapshots``: no part of perpwatch ever wrote or read it.

An account's current health is in ``latest_health`` (rewritten by ``run``), its level and the
health that set it in ``alert_states``, and every level change in ``alerts``. A per-tick history
of a whole book would be the largest table by far; none is kept. The downgrade restores the
empty table as 0001 made it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("ok", "warning", "critical", "liquidatable", "liquidated", "unknown", "recovered")


def upgrade() -> None:
    op.drop_index("ix_health_snapshots_account_block", table_name="health_snapshots")
    op.drop_table("health_snapshots")


def downgrade() -> None:
    account = sa.ForeignKey(
        "accounts.id", ondelete="CASCADE", name="fk_health_snapshots_account_id"
    )
    level = sa.Enum(
        *LEVELS, name="ck_health_snapshots_level", native_enum=False, create_constraint=True,
        length=16,
    )  # fmt: skip
    op.create_table(
        "health_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), account, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("equity_usd", sa.Float(), nullable=False),
        sa.Column("maintenance_usd", sa.Float(), nullable=False),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("level", level, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_health_snapshots_account_block", "health_snapshots", ["account_id", "block_number"]
    )
