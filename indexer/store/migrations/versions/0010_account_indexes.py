"""Two indexes on ``accounts`` for what the monitor asks every tick.

``ix_accounts_book_owner`` (chain, protocol, owner, status): every stored read asks for the open
accounts of the owners it read (what vanished is closed or liquidated), and for their closed
ones with a later liquidation event. With only ``ix_accounts_owner`` (owner alone) SQLite chose
the unique (chain, protocol, ref) key, whose prefix is the whole protocol: each store scanned
every account the protocol ever had, closed ones included.

``ix_accounts_status_block`` (chain, status, block): the liquidations not yet alerted are
looked for among the accounts that ended since a recent block, not among every account that
ever ended.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_accounts_book_owner", "accounts", ["chain_id", "protocol", "owner", "status"]
    )
    op.create_index("ix_accounts_status_block", "accounts", ["chain_id", "status", "block_number"])


def downgrade() -> None:
    op.drop_index("ix_accounts_status_block", table_name="accounts")
    op.drop_index("ix_accounts_book_owner", table_name="accounts")
