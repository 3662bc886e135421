"""Subscriptions: subscribers (Telegram chats, webhook endpoints), the wallets each watches with
its own thresholds, and the bot's persisted update offset.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("watch_all", sa.Boolean(), nullable=False),
        sa.Column("warning", sa.Float(), nullable=True),
        sa.Column("critical", sa.Float(), nullable=True),
        sa.Column("warning_distance_pct", sa.Float(), nullable=True),
        sa.Column("critical_distance_pct", sa.Float(), nullable=True),
        sa.Column("quiet_from_hour", sa.Integer(), nullable=True),
        sa.Column("quiet_to_hour", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "target", name="uq_subscribers_kind_target"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("protocol", sa.String(32), nullable=True),
        sa.Column("account_ref", sa.String(200), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_subscriptions_subscriber_id",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("subscriber_id", "owner", name="uq_subscriptions_subscriber_owner"),
    )
    op.create_index("ix_subscriptions_owner", "subscriptions", ["owner"])
    op.create_table(
        "bot_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("update_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bot_cursors")
    op.drop_index("ix_subscriptions_owner", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("subscribers")
