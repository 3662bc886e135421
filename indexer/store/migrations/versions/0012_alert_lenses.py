"""Alert lenses: an alert state per distinct thresholds among an account's watchers.

``alert_lens_states`` holds an account's state in each secondary lens (the primary's stays in
``alert_states``), and ``alerts.lens`` says which lens decided an alert: (account, lens, level,
episode) is unique instead of (account, level, episode). Every alert stored before is the
primary's (``""``). The downgrade drops secondary lenses' alerts, with their deliveries.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from indexer.store.migrations.rebuild import refuse_cascading_rebuild

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("ok", "warning", "critical", "liquidatable", "liquidated", "unknown", "recovered")
LENS_KEY_CHARS = 200


def upgrade() -> None:
    refuse_cascading_rebuild("0012", "alerts", "outbox")
    op.create_table(
        "alert_lens_states",
        sa.Column("account_id", sa.Integer(), primary_key=True),
        sa.Column("lens", sa.String(LENS_KEY_CHARS), primary_key=True),
        sa.Column(
            "level",
            sa.Enum(
                *LEVELS,
                name="ck_alert_lens_states_level",
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
            name="fk_alert_lens_states_account_id",
            ondelete="CASCADE",
        ),
    )
    # Batch: SQLite changes a unique constraint only by rebuilding the table (perpwatch's
    # upgrade turns its foreign keys off meanwhile, so the outbox rows stay).
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("lens", sa.String(LENS_KEY_CHARS), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_alerts_account_level_episode", type_="unique")
        batch.create_unique_constraint(
            "uq_alerts_account_lens_level_episode", ["account_id", "lens", "level", "episode"]
        )


def downgrade() -> None:
    refuse_cascading_rebuild("0012", "alerts", "outbox")
    op.execute("DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE lens <> '')")
    op.execute("DELETE FROM alerts WHERE lens <> ''")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_account_lens_level_episode", type_="unique")
        batch.create_unique_constraint(
            "uq_alerts_account_level_episode", ["account_id", "level", "episode"]
        )
        batch.drop_column("lens")
    op.drop_table("alert_lens_states")
