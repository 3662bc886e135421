"""The terms of GMX v2's ``isPositionLiquidatable`` beyond collateral, PnL and stored fees.

Pure integer functions on DataStore values, following the contracts (gmx-synthetics, deployed
Reader of 2025-11; PROTOCOLS.md §1.8): which closing-fee factor applies, the price impact of a
full close plus the v2.2 pending impact with the liquidation floor, borrowing accrued since the
market's last update, and the traders' profit cap. Units as GMX keeps them: USD and factors
times 1e30 (``*_e30``), token amounts in smallest units (``*_raw``), prices in USD per smallest
unit times 1e30 (``*_price_e30``).

    balance_was_improved(long_oi_usd_e30, short_oi_usd_e30, size_usd_e30, is_long=True)
    close_impact_usd_e30(long_oi, short_oi, size_usd_e30, True, impact_config)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from indexer.models import E30


@dataclass(frozen=True, slots=True)
class ImpactConfig:
    """A market's position-impact factors, keyed by ``isPositive``; ``liquidation_cap_e30`` is
    MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS (share of ``sizeInUsd``)."""

    factor_e30: Mapping[bool, int]
    exponent_e30: Mapping[bool, int]
    max_factor_e30: Mapping[bool, int]
    liquidation_cap_e30: int


@dataclass(frozen=True, slots=True)
class BorrowingConfig:
    """One market side's borrowing-rate parameters (per second, 1e30) and pool reserve factor."""

    factor_e30: int
    exponent_e30: int
    optimal_usage_e30: int
    base_e30: int
    above_optimal_e30: int
    reserve_factor_e30: int


def next_open_interest(
    long_e30: int, short_e30: int, delta_e30: int, is_long: bool
) -> tuple[int, int]:
    """Open interest after closing ``delta`` on one side (``getNextOpenInterestParams``): a
    side never goes below 0."""
    if is_long:
        return (0 if delta_e30 > long_e30 else long_e30 - delta_e30), short_e30
    return long_e30, (0 if delta_e30 > short_e30 else short_e30 - delta_e30)


def balance_was_improved(long_e30: int, short_e30: int, delta_e30: int, is_long: bool) -> bool:
    """Whether closing ``delta`` of ``is_long`` shrinks |long - short| strictly: the flag of
    ``positionFeeFactorKey``. A long improves iff L > S and delta < 2(L - S); equal → False."""
    next_long, next_short = next_open_interest(long_e30, short_e30, delta_e30, is_long)
    return abs(next_long - next_short) < abs(long_e30 - short_e30)


def apply_exponent(value_e30: int, exponent_e30: int) -> int:
    """``Precision.applyExponentFactor``: 0 below $1, identity at exponent 1, exact square at
    2 (GMX's PRBMath ``pow`` differs by ~1e-15 relative), float ``pow`` otherwise."""
    if value_e30 < E30:
        return 0
    if exponent_e30 == E30:
        return value_e30
    if exponent_e30 == 2 * E30:
        return value_e30 * value_e30 // E30
    return int((value_e30 / E30) ** (exponent_e30 / E30) * E30)


def _impact_of(diff_e30: int, factor_e30: int, exponent_e30: int) -> int:
    return apply_exponent(diff_e30, exponent_e30) * factor_e30 // E30


def close_impact_usd_e30(
    long_e30: int, short_e30: int, size_e30: int, is_long: bool, cfg: ImpactConfig
) -> int:
    """Price impact (USD·1e30, > 0 a credit) of closing a whole position of ``size_e30``, with
    the positive side capped at ``min(maxPositionImpactFactor±)·size`` as the check does.

    Same-side rebalance: ±|f_b(initial) - f_b(next)|; crossover: f₊(initial) - f₋(next); the
    positive factor and exponent are never above the negative ones ("adjusted" factors).
    Virtual inventory is not modelled here (the adapter falls back to the floor when it is set).
    """
    next_long, next_short = next_open_interest(long_e30, short_e30, size_e30, is_long)
    initial, after = abs(long_e30 - short_e30), abs(next_long - next_short)
    pos_f = min(cfg.factor_e30[True], cfg.factor_e30[False])
    pos_e = min(cfg.exponent_e30[True], cfg.exponent_e30[False])
    neg_f, neg_e = cfg.factor_e30[False], cfg.exponent_e30[False]
    if (long_e30 <= short_e30) == (next_long <= next_short):
        improved = after < initial
        f, e = (pos_f, pos_e) if improved else (neg_f, neg_e)
        delta = abs(_impact_of(initial, f, e) - _impact_of(after, f, e))
        impact = delta if improved else -delta
    else:
        impact = _impact_of(initial, pos_f, pos_e) - _impact_of(after, neg_f, neg_e)
    if impact > 0:
        cap = min(cfg.max_factor_e30[True], cfg.max_factor_e30[False])
        impact = min(impact, size_e30 * cap // E30)
    return impact


def clamp_impact(total_e30: int, size_e30: int, liquidation_cap_e30: int) -> int:
    """The check's clamp: a positive total counts as 0, a negative one at most
    ``liquidation_cap·size`` (``applyFactor``, so the floor rounds toward 0)."""
    if total_e30 >= 0:
        return 0
    return max(total_e30, -(size_e30 * liquidation_cap_e30 // E30))


def impact_terms(
    close_e30: int, pending_raw: int, index_price_e30: int, side: int, size_e30: int, cap_e30: int
) -> tuple[int, int]:
    """``(constant_usd_e30, slope_raw)``: the clamped impact as an affine function of the index
    price, ``constant + slope_raw · P``, exact at ``index_price_e30`` and never above GMX's
    value for moves of P against the position (``side``: +1 long, -1 short).

    The clamp is not affine in P. Where the unclamped total falls as P moves adversely (pending
    impact on the position's side), the slope is kept, which errs low once the floor is reached;
    where it rises, the clamped value is held constant, which errs low as the total rises.
    """
    if cap_e30 == 0:  # any negative total is clamped to 0, a positive one is 0 anyway
        return 0, 0
    total = close_e30 + pending_raw * index_price_e30
    clamped = clamp_impact(total, size_e30, cap_e30)
    if side * pending_raw > 0 and clamped > -(size_e30 * cap_e30 // E30):
        return clamped - pending_raw * index_price_e30, pending_raw
    return clamped, 0


def borrowing_rate_e30(
    cfg: BorrowingConfig, reserved_usd_e30: int, pool_usd_e30: int, smaller_side_skipped: bool
) -> int:
    """``getBorrowingFactorPerSecond`` (1e30 per second) of one side at one set of prices.
    ``smaller_side_skipped``: SKIP_BORROWING_FEE_FOR_SMALLER_SIDE is on and this side is the
    strictly smaller. GMX reverts on an empty pool; perpwatch then accrues nothing."""
    if reserved_usd_e30 == 0 or smaller_side_skipped or pool_usd_e30 == 0:
        return 0
    if cfg.optimal_usage_e30 != 0:
        max_reserved = pool_usd_e30 * cfg.reserve_factor_e30 // E30
        if max_reserved == 0:
            return 0
        usage = reserved_usd_e30 * E30 // max_reserved
        rate = usage * cfg.base_e30 // E30
        if usage > cfg.optimal_usage_e30 and cfg.optimal_usage_e30 < E30:
            extra = max(cfg.above_optimal_e30 - cfg.base_e30, 0)
            rate += extra * (usage - cfg.optimal_usage_e30) // (E30 - cfg.optimal_usage_e30)
        return rate
    reserved = apply_exponent(reserved_usd_e30, cfg.exponent_e30)
    return (reserved * E30 // pool_usd_e30) * cfg.factor_e30 // E30


def capped_pnl_usd_e30(
    pnl_e30: int, pool_pnl_e30: int, pool_usd_e30: int, max_pnl_factor_e30: int
) -> int:
    """The position's PnL after the traders' profit cap (``getPositionPnlUsd``): a profit is
    scaled by ``min(pool pnl, pool usd · factor) / pool pnl`` when that cap binds and is
    positive; a loss passes unchanged."""
    if pnl_e30 <= 0 or pool_pnl_e30 <= 0:
        return pnl_e30
    capped = min(pool_pnl_e30, pool_usd_e30 * max_pnl_factor_e30 // E30)
    if capped == pool_pnl_e30 or capped <= 0:
        return pnl_e30
    return pnl_e30 * capped // pool_pnl_e30
