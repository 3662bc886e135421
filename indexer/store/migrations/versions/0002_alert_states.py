"""Alert states: each account's place in the alert state machine, kept across restarts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("ok", "warning", "critical", "liquidatable", "liquidated", "unknown", "recovered")


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("account_id", sa.Integer(), primary_key=True),
        sa.Column(
            "level",
            sa.Enum(
                *LEVELS,
                name="ck_alert_states_level",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("alerted", sa.JSON(), nullable=False),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_alert_states_account_id",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
