"""Chain alerts: ``chain_alert_states`` (each chain's place in the chain alert state machine)
and alerts about a whole chain (``alerts.chain_id``, ``alerts.account_id`` then NULL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from indexer.store.migrations.rebuild import refuse_cascading_rebuild

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN_LEVELS = ("ok", "outage")
SUBJECT = "(account_id IS NULL) <> (chain_id IS NULL)"


def upgrade() -> None:
    refuse_cascading_rebuild("0008", "alerts", "outbox")
    op.create_table(
        "chain_alert_states",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "level",
            sa.Enum(
                *CHAIN_LEVELS,
                name="ck_chain_alert_states_level",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("readable_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Batch: SQLite changes a column's nullability only by rebuilding the table (perpwatch's
    # upgrade turns its foreign keys off meanwhile, so the outbox rows stay).
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("chain_id", sa.BigInteger(), nullable=True))
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
        batch.create_unique_constraint(
            "uq_alerts_chain_level_episode", ["chain_id", "level", "episode"]
        )
        batch.create_check_constraint("ck_alerts_subject", SUBJECT)


def downgrade() -> None:
    refuse_cascading_rebuild("0008", "alerts", "outbox")
    # Chain alerts have no account: they go, with their deliveries (foreign keys may be off).
    op.execute(
        "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE account_id IS NULL)"
    )
    op.execute("DELETE FROM alerts WHERE account_id IS NULL")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("ck_alerts_subject", type_="check")
        batch.drop_constraint("uq_alerts_chain_level_episode", type_="unique")
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("chain_id")
    op.drop_table("chain_alert_states")
