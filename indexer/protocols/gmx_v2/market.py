"""A GMX v2 market's DataStore state at one block, and what it makes of one position.

:class:`MarketParams` holds every value the liquidation check reads for a market;
:class:`BlockState` the block-wide values (time, global flags, on-chain prices).
:func:`position_terms` turns a position into the normal form's USD fees, funding tokens and the
price-linear part of its impact, using :mod:`indexer.protocols.gmx_v2.terms`. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from indexer.errors import DecodeError
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from indexer.protocols.gmx_v2 import terms
from indexer.protocols.gmx_v2.decode import (
    FUNDING_PRECISION,
    PROTOCOL,
    GmxMarket,
    GmxPosition,
    GmxToken,
)


@dataclass(frozen=True, slots=True)
class MarketParams:
    """A market's DataStore values at one block; factors times 1e30.

    ``position_fee_factor_e30`` by ``balanceWasImproved``; ``borrowing_e30`` the cumulative
    borrowing factor by ``is_long``; ``funding_per_size`` by ``(collateral_token, is_long)``.
    Open interest and pool amounts are already divided by 2 in single-token markets. The
    remaining fields default to a market without impact, profit cap or accrual.
    """

    market: GmxMarket
    liquidation_factor_e30: int
    position_fee_factor_e30: Mapping[bool, int]
    borrowing_e30: Mapping[bool, int]
    funding_per_size: Mapping[tuple[str, bool], int]
    open_interest_e30: Mapping[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    open_interest_raw: Mapping[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    pool_raw: Mapping[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    max_pnl_factor_e30: Mapping[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    impact: terms.ImpactConfig | None = None
    borrowing_updated_at: Mapping[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    borrowing_config: Mapping[bool, terms.BorrowingConfig] | None = None
    funding_updated_at: int = 0
    max_funding_per_second_e30: int = 0
    virtual_inventory: bool = False


@dataclass(frozen=True, slots=True)
class BlockState:
    """Block-wide inputs: ``timestamp`` (Unix s), global flags, and token prices (USD per
    smallest unit x1e30, by lower-case address) from the configured feeds; a token without a
    feed is absent."""

    timestamp: int = 0
    skip_borrowing_for_smaller_side: bool = False
    balance_in_tokens: bool = False
    price_e30: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PositionTerms:
    """What a position owes and gains at liquidation, in normal-form pieces.

    ``fees_usd_e30``: closing fee, borrowing (accrued), funding bound, profit-cap haircut, minus
    the constant part of the clamped impact. ``funding_raw``: funding owed in collateral
    tokens. ``impact_slope_raw``: index tokens whose value is added to equity (the
    price-linear part of the impact). ``fee_factor_e30`` and ``balance_improved``: the closing
    fee factor used and its flag.
    """

    fees_usd_e30: int
    funding_raw: int
    impact_slope_raw: int
    fee_factor_e30: int
    balance_improved: bool


def _balance_improved(p: GmxPosition, m: MarketParams, block: BlockState) -> bool:
    if block.balance_in_tokens:  # OI in tokens x mid: the mid price cancels in the comparison
        oi, delta = m.open_interest_raw, p.size_in_tokens_raw
    else:
        oi, delta = m.open_interest_e30, p.size_in_usd_e30
    return terms.balance_was_improved(oi[True], oi[False], delta, p.is_long)


def _impact(p: GmxPosition, m: MarketParams, block: BlockState) -> tuple[int, int]:
    """``(constant_usd_e30, slope_raw)`` of the clamped impact (see ``terms.impact_terms``)."""
    cfg = m.impact
    if cfg is None or cfg.liquidation_cap_e30 == 0:
        return 0, 0
    size = p.size_in_usd_e30
    floor = -(size * cfg.liquidation_cap_e30 // E30)
    price = block.price_e30.get(m.market.index_token)
    if block.balance_in_tokens or m.virtual_inventory:
        # Close impact then depends on prices or virtual inventory: take the worst case.
        return floor, 0
    close = terms.close_impact_usd_e30(
        m.open_interest_e30[True], m.open_interest_e30[False], size, p.is_long, cfg
    )
    if price is None:  # no on-chain price: 0 only if no term can be negative
        return (0, 0) if close >= 0 and p.pending_impact_raw >= 0 else (floor, 0)
    side = 1 if p.is_long else -1
    return terms.impact_terms(
        close, p.pending_impact_raw, price, side, size, cfg.liquidation_cap_e30
    )


def _borrowing_usd_e30(p: GmxPosition, m: MarketParams, block: BlockState) -> int:
    """Borrowing owed at ``block.timestamp``: the stored cumulative factor plus the elapsed
    seconds at today's per-second rate (``getNextCumulativeBorrowingFactor``)."""
    cumulative = m.borrowing_e30[p.is_long]
    updated = m.borrowing_updated_at[p.is_long]
    index = block.price_e30.get(m.market.index_token)
    pool_token = m.market.long_token if p.is_long else m.market.short_token
    pool_price = block.price_e30.get(pool_token)
    cfg = m.borrowing_config
    if cfg is not None and updated and block.timestamp > updated and index and pool_price:
        oi = m.open_interest_e30
        reserved = m.open_interest_raw[True] * index if p.is_long else oi[False]
        if block.balance_in_tokens:
            oi = {s: m.open_interest_raw[s] * index for s in (True, False)}
        smaller = oi[p.is_long] < oi[not p.is_long]
        skipped = block.skip_borrowing_for_smaller_side and smaller
        pool_usd = m.pool_raw[p.is_long] * pool_price
        rate = terms.borrowing_rate_e30(cfg[p.is_long], reserved, pool_usd, skipped)
        cumulative += (block.timestamp - updated) * rate
    if cumulative <= p.borrowing_factor_e30:
        return 0
    return p.size_in_usd_e30 * (cumulative - p.borrowing_factor_e30) // E30


def _funding_bound_usd_e30(p: GmxPosition, m: MarketParams, block: BlockState) -> int:
    """An upper bound on funding accrued since the market's last funding update: the paying
    side owes at most ``size · seconds · maxFundingFactorPerSecond`` (rounded up)."""
    if not m.funding_updated_at or block.timestamp <= m.funding_updated_at:
        return 0
    owed = p.size_in_usd_e30 * (block.timestamp - m.funding_updated_at)
    return -(-owed * m.max_funding_per_second_e30 // E30)


def _profit_haircut_usd_e30(p: GmxPosition, m: MarketParams, block: BlockState) -> int:
    """How much of the position's profit the traders' cap removes at the on-chain prices.

    It only shrinks as the price moves against the position (less profit, less pool pnl), so
    charging today's value as a fixed fee never overstates equity on the adverse side.
    """
    index = block.price_e30.get(m.market.index_token)
    pool_token = m.market.long_token if p.is_long else m.market.short_token
    pool_price = block.price_e30.get(pool_token)
    if index is None or pool_price is None:
        return 0
    side = 1 if p.is_long else -1
    pnl = side * (p.size_in_tokens_raw * index - p.size_in_usd_e30)
    oi_usd, oi_raw = m.open_interest_e30[p.is_long], m.open_interest_raw[p.is_long]
    pool_pnl = side * (oi_raw * index - oi_usd) if oi_usd and oi_raw else 0
    pool_usd = m.pool_raw[p.is_long] * pool_price
    return pnl - terms.capped_pnl_usd_e30(pnl, pool_pnl, pool_usd, m.max_pnl_factor_e30[p.is_long])


def position_terms(p: GmxPosition, m: MarketParams, block: BlockState) -> PositionTerms:
    """The position's fees, funding and impact as GMX's liquidation check counts them."""
    improved = _balance_improved(p, m, block)
    fee_factor = m.position_fee_factor_e30[improved]
    impact_const, impact_slope = _impact(p, m, block)
    fees = (
        p.size_in_usd_e30 * fee_factor // E30
        + _borrowing_usd_e30(p, m, block)
        + _funding_bound_usd_e30(p, m, block)
        + _profit_haircut_usd_e30(p, m, block)
        - impact_const
    )
    latest = m.funding_per_size[p.collateral_token, p.is_long]
    funding = 0
    if latest > p.funding_per_size:
        funding = -(-p.size_in_usd_e30 * (latest - p.funding_per_size) // FUNDING_PRECISION)
    return PositionTerms(fees, funding, impact_slope, fee_factor, improved)


def margin_account(
    p: GmxPosition,
    params: MarketParams,
    tokens: Mapping[str, GmxToken],
    min_collateral_usd_e30: int,
    chain_id: int,
    block_number: int,
    block: BlockState | None = None,
) -> tuple[MarginAccount, PositionTerms]:
    """One GMX position as an isolated margin account, and the terms it was built from.

    - equity: ``collateralAmount - funding owed`` of the collateral token (funding is owed in
      tokens, so it is worth ``amount · P`` at the evaluated price, as the contract values it),
      plus ``±(sizeInTokens·P - sizeInUsd)``, plus the impact's index-token slope (a second
      collateral row), minus ``pending_fees`` (``PositionTerms.fees_usd_e30``).
    - maintenance: ``max(minCollateralUsd, minCollateralFactorForLiquidation·sizeInUsd, 1e-30)``.

    Raises:
        DecodeError: the position has size in USD but no tokens (the normal form needs a size).
        KeyError: the index or collateral token is not in ``tokens``.
    """
    if p.size_in_tokens_raw == 0:
        raise DecodeError(f"GMX position {p.key} has sizeInUsd {p.size_in_usd_e30} but no tokens")
    index = tokens[params.market.index_token]
    collateral = tokens[p.collateral_token]
    owed = position_terms(p, params, block or BlockState())
    position = Position(
        market=p.market,
        asset=index.asset,
        size_raw=p.size_in_tokens_raw if p.is_long else -p.size_in_tokens_raw,
        size_decimals=index.decimals,
        entry_notional_usd_e30=p.size_in_usd_e30,
        pending_fees_usd_e30=owed.fees_usd_e30,
        closing_fee_rate_e30=0,  # GMX charges the closing fee on sizeInUsd: it is in the fees
        mm_rate_e30=0,
        mm_rate_entry_e30=params.liquidation_factor_e30,
        # GMX also liquidates at remaining <= 0; a floor of at least 1e-30 USD says so when
        # minCollateralUsd is 0 (remaining < 1 in e30 integers is remaining <= 0).
        mm_floor_usd_e30=max(min_collateral_usd_e30, 1),
        venue_notes=(
            ("closing_fee_factor_e30", str(owed.fee_factor_e30)),
            ("balance_was_improved", owed.balance_improved),
        ),
    )
    rows = [
        Collateral(
            collateral.asset,
            p.collateral_raw - owed.funding_raw,
            collateral.decimals,
            _feed(collateral, p.collateral_token),
        )
    ]
    if owed.impact_slope_raw:
        token = params.market.index_token
        rows.append(
            Collateral(index.asset, owed.impact_slope_raw, index.decimals, _feed(index, token))
        )
    account = MarginAccount(
        chain_id=chain_id,
        protocol=PROTOCOL,
        owner=p.account,
        ref=p.key,
        mode=MarginMode.ISOLATED,
        collateral=tuple(rows),
        positions=(position,),
        block_number=block_number,
    )
    return account, owed


def _feed(token: GmxToken, address: str) -> str:
    return f"chainlink:{token.feed}" if token.feed else f"{PROTOCOL}:{address}"
