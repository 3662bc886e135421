"""The monitor's latest view for readers in other processes: ``latest_prices`` (each protocol's
latest price per asset and chain) and ``latest_health`` (each account's latest health); and
``watched_wallets``, the watch list kept through the HTTP API.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "latest_prices",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("protocol", sa.String(32), primary_key=True),
        sa.Column("asset", sa.String(100), primary_key=True),
        sa.Column("price_usd", sa.Float(), nullable=False),
        sa.Column("source_updated_at", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "latest_health",
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_latest_health_account_id"),
            primary_key=True,
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("equity_usd", sa.Float(), nullable=True),
        sa.Column("maintenance_usd", sa.Float(), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("move_pct", sa.Float(), nullable=True),
        sa.Column(
            "fee_growth",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("hours_to_liquidation", sa.Float(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "watched_wallets",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watched_wallets")
    op.drop_table("latest_health")
    op.drop_table("latest_prices")
