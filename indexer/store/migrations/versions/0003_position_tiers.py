"""Positions carry their maintenance tiers (Hyperliquid margin tables).

``positions.mm_tiers`` is a JSON list of ``[lower_bound_usd_e30, mm_rate_e30,
deduction_usd_e30]`` decimal strings; existing rows get ``[]`` (no tiers), which is what they
meant.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    with op.batch_alter_table("positions") as batch:
        batch.add_column(sa.Column("mm_tiers", json, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.drop_column("mm_tiers")
