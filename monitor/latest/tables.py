"""Tables of the monitor's latest view: ``latest_prices`` and ``latest_health``.

Both hold one row per key, upserted by ``monitor.latest.store.LatestWriter`` only when the
value changed, so a tick whose prices did not move writes nothing. The account's alert level
stays in ``alert_states`` (``monitor.tables.AlertStateRow``); no health history is kept.
Every schema change needs a migration in ``indexer/store/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from indexer.store.columns import UtcDateTime
from indexer.store.tables import Json, NonNegative


class LatestPrice(SQLModel, table=True):
    """A protocol's latest price of an asset on a chain (USD per whole unit, as the monitor
    valued accounts with it); ``source_updated_at`` is the source's own Unix time, if it says."""

    __tablename__ = "latest_prices"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    protocol: str = Field(primary_key=True, sa_type=sa.String(32))
    asset: str = Field(primary_key=True, sa_type=sa.String(100))
    price_usd: float
    source_updated_at: int | None = Field(default=None, sa_type=sa.BigInteger)
    block_number: NonNegative = Field(sa_type=sa.BigInteger)
    read_at: datetime = Field(sa_type=UtcDateTime)


class LatestHealth(SQLModel, table=True):
    """An account's latest health: equity and maintenance in USD, their ratio, and the smallest
    adverse move to liquidation in percent. All None when it could not be valued (a bad
    price); ``health`` None also where maintenance is zero. ``block_number`` and
    ``computed_at`` are when these values were last different (the chain's freshness is in
    ``chain_ticks``).

    ``fee_growth`` (market → USD per hour) is each position's pending fees' growth measured
    between the monitor's last two readings that differed (``monitor.latest.fees``), and
    ``hours_to_liquidation`` the time that growth takes to liquidate the account at the
    current prices (``monitor.analysis.drift``; 0 if liquidatable, None if unknown or fees
    do not grow)."""

    __tablename__ = "latest_health"

    account_id: int = Field(
        primary_key=True,
        sa_column_args=[
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_latest_health_account_id")
        ],
    )
    block_number: NonNegative = Field(sa_type=sa.BigInteger)
    equity_usd: float | None = None
    maintenance_usd: float | None = None
    health: float | None = None
    move_pct: float | None = None
    fee_growth: dict[str, float] = Field(default_factory=dict, sa_type=Json)
    hours_to_liquidation: float | None = None
    computed_at: datetime = Field(sa_type=UtcDateTime)
