"""An index on ``touched_accounts`` by owner.

A monitor watching a few wallets of a whole protocol asks every tick for the touched owners
among its wallets, and each read consumes its owners' touches. The touches of everyone else are
never consumed, so without the index both scan every touch the protocol ever had.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_touched_accounts_owner", "touched_accounts", ["chain_id", "protocol", "owner"]
    )


def downgrade() -> None:
    op.drop_index("ix_touched_accounts_owner", table_name="touched_accounts")
