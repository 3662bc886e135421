"""Fee drift: how long an account lasts at the current prices while fees accrue, and how fast
its liquidation prices creep toward the mark.

Borrowing, funding and holding fees grow ``pending_fees`` (equity falls) while maintenance does
not depend on them, so at fixed prices ``equity - maintenance`` falls linearly and the time to
liquidation is exact: ``gap / growth``. The growth per position, USD per hour, comes from the
caller (the venue's current borrowing and funding rates times size; perpwatch's adapters read
the accrued amount, not a forecast). Liquidation-price drift is measured, not linearised: the
liquidation prices after one day of that growth minus the ones now
(``monitor.health.account.account_health`` on the account with the fees added).

    drift = fee_drift(account, prices, [1.5])       # USD/hour for each position
    drift.hours_to_liquidation, drift.positions[0].drift_usd_per_day
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from indexer.models import E30, MarginAccount, Position
from monitor.health.account import PositionRisk, account_health

HOURS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True)
class PositionDrift:
    """Liquidation price now and after a day of fee growth (USD per unit; None when no
    positive price liquidates), and the change per day in USD and in percent of the mark
    (positive: toward the mark, i.e. less room)."""

    market: str
    asset: str
    liquidation_price_usd: float | None
    liquidation_price_in_1d_usd: float | None
    drift_usd_per_day: float | None
    drift_pct_per_day: float | None


@dataclass(frozen=True, slots=True)
class Drift:
    """``hours_to_liquidation``: at the current prices; 0.0 if already liquidatable, None if
    fees do not grow (or the account cannot be valued)."""

    fee_growth_usd_per_hour: float
    hours_to_liquidation: float | None
    positions: tuple[PositionDrift, ...]


def with_fees_after(
    account: MarginAccount, growth_usd_per_hour: Sequence[float], hours: float
) -> MarginAccount:
    """``account`` after ``hours`` of fee growth (each position's pending fees increased)."""
    positions = tuple(
        replace(p, pending_fees_usd_e30=p.pending_fees_usd_e30 + round(g * hours * E30))
        for p, g in zip(account.positions, growth_usd_per_hour, strict=True)
    )
    return replace(account, positions=positions)


def fee_drift(
    account: MarginAccount, prices: Mapping[str, float], growth_usd_per_hour: Sequence[float]
) -> Drift:
    """Time to liquidation and liquidation-price drift of ``account`` at ``prices`` when its
    positions' fees grow by ``growth_usd_per_hour`` (one entry per position).

    Raises ValueError if the growth does not have one entry per position.
    """
    if len(growth_usd_per_hour) != len(account.positions):
        raise ValueError(
            f"need one fee growth per position ({len(account.positions)}), "
            f"got {len(growth_usd_per_hour)}"
        )
    total = sum(growth_usd_per_hour)
    now = account_health(account, prices)
    later = account_health(with_fees_after(account, growth_usd_per_hour, HOURS_PER_DAY), prices)
    hours: float | None = None
    # No requirement (maintenance ≤ 0) is infinite health: fees never liquidate it.
    if now.known and account.positions and now.maintenance_usd > 0.0:
        if now.health <= 1.0:
            hours = 0.0
        elif total > 0.0:
            hours = (now.equity_usd - now.maintenance_usd) / total
    pairs = zip(account.positions, now.positions, later.positions, strict=True)
    return Drift(total, hours, tuple(_position_drift(p, a, b) for p, a, b in pairs))


def _position_drift(position: Position, now: PositionRisk, later: PositionRisk) -> PositionDrift:
    change = None
    if now.liquidation_price is not None and later.liquidation_price is not None:
        # A long's liquidation price rises toward the mark, a short's falls: sign by side.
        change = position.side * (later.liquidation_price - now.liquidation_price)
    pct = None if change is None else 100.0 * change / now.mark_price
    return PositionDrift(
        position.market,
        position.asset,
        now.liquidation_price,
        later.liquidation_price,
        change,
        pct,
    )
