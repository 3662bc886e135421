"""Hyperliquid's margin rule as normal-form margin accounts. Pure: no I/O.

Inputs are the exact integers of :mod:`indexer.protocols.hyperliquid.decode` (USD · 1e6,
sizes in 10^-szDecimals, prices in USD · 10^(6 - szDecimals)); outputs are ``MarginAccount``s
with ``*_usd_e30`` amounts, converted exactly (USD · 1e6 → USD · 1e30 is a factor 10^24).

The collateral follows from HyperCore's "raw USD" accounting. Trading ``szi`` at price ``px``
moves ``-szi · px`` into raw USD, so at the mark

    cross equity     = accountValue   = rawUsd         + Σ szi · mark
    isolated equity                   = isolatedRawUsd + szi · mark

The normal form has equity = collateral + Σ (szi · mark - side · entryNtl), hence

    cross USDC       = rawUsd         + Σ side · entryNtl   (deposits + realised PnL)
    isolated margin  = isolatedRawUsd + side · entryNtl     (long: raw + ntl; short: raw - ntl)

Interpretation (PROTOCOLS.md §3.1 ⚠, implemented the same way by devnet/contracts/HlCore.sol):
``accountMarginSummary`` covers the cross part only, and ``isolatedRawUsd`` of an isolated
short 10 ETH at 2000 with 2000 margin is 22000e6. Funding settles hourly on HyperCore, so there
is no pending-fee term; closing fees are not part of the liquidation rule.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.errors import ConfigError, DecodeError
from indexer.models import (
    E30,
    Collateral,
    MarginAccount,
    MarginMode,
    MmTier,
    Position,
    continuous_deduction_e30,
)
from indexer.protocols.hyperliquid.decode import MarginSummary, PerpInfo, RawPosition

USDC = "USDC"
USDC_DECIMALS = 6
PRICE_FEED = "hyperliquid:usd"
"""HyperCore keeps perp margin in USD: the collateral's price is 1 by definition."""

USD_E6_TO_E30 = 10**24

SINGLE_TIER_TABLES = 50
"""Margin table ids below this are one tier whose max leverage is the id (PROTOCOLS.md §3.2)."""


@dataclass(frozen=True, slots=True)
class MarginTier:
    """From ``lower_bound_usd`` (whole USD of position notional) up, at most ``max_leverage``.

    Raises:
        ValueError: a negative bound or a max leverage below 1 (one line, names the value).
    """

    lower_bound_usd: int
    max_leverage: int

    def __post_init__(self) -> None:
        if type(self.lower_bound_usd) is not int or self.lower_bound_usd < 0:
            raise ValueError(
                f"margin tier lower bound must be an int >= 0 USD, got {self.lower_bound_usd!r}"
            )
        if type(self.max_leverage) is not int or self.max_leverage < 1:
            raise ValueError(
                f"margin tier max leverage must be an int >= 1, got {self.max_leverage!r}"
            )


@dataclass(frozen=True, slots=True)
class AccountContext:
    """Who and when: shared by every account built from one owner's read."""

    chain_id: int
    protocol: str
    owner: str
    block_number: int


@dataclass(frozen=True, slots=True)
class PerpLeg:
    """One non-empty position with its perp's facts, mark price and margin tiers."""

    info: PerpInfo
    position: RawPosition
    mark_px: int
    tiers: tuple[MarginTier, ...] = ()


def mm_rate_e30(max_leverage: int) -> int:
    """Maintenance rate = half the initial margin at max leverage: 1 / (2 · maxLeverage).

    Raises ValueError (not ZeroDivisionError) for a max leverage below 1.
    """
    if max_leverage < 1:
        raise ValueError(f"max leverage must be >= 1, got {max_leverage}")
    return E30 // (2 * max_leverage)


def tiers_for(max_leverage: int, tiers: Sequence[MarginTier] = ()) -> tuple[MmTier, ...]:
    """The normal-form maintenance tiers of a perp: its margin table, or without one a single
    tier at ``max_leverage`` (``perpAssetInfo.maxLeverage``; tables with id < 50 are that).

    Each tier's rate is ``1 / (2 · maxLeverage_n)`` and ``deduction_n = deduction_{n-1} +
    lowerBound_n · (rate_n - rate_{n-1})`` (Hyperliquid docs "Margin tiers"), which keeps the
    requirement continuous across bounds; bounds are whole USD, so this is exact in 1e30.

        >>> tiers_for(40, [MarginTier(0, 40), MarginTier(150_000_000, 20)])[1].deduction_usd_e30
        1875000000000000000000000000000000000

    Raises:
        ValueError: the bounds do not start at 0 or do not ascend strictly, or a max leverage
            is below 1 (one line each).
    """
    if not tiers:
        return (MmTier(0, mm_rate_e30(max_leverage), 0),)
    if tiers[0].lower_bound_usd != 0:
        raise ValueError(f"margin tiers must start at 0 USD, got {tiers[0].lower_bound_usd}")
    out = [MmTier(0, mm_rate_e30(tiers[0].max_leverage), 0)]
    for previous, tier in itertools.pairwise(tiers):
        if tier.lower_bound_usd <= previous.lower_bound_usd:
            raise ValueError(
                f"margin tier bounds must ascend: {tier.lower_bound_usd} after "
                f"{previous.lower_bound_usd} USD"
            )
        lower_e30, rate = tier.lower_bound_usd * E30, mm_rate_e30(tier.max_leverage)
        out.append(MmTier(lower_e30, rate, continuous_deduction_e30(out[-1], lower_e30, rate)))
    return tuple(out)


def mark_price_usd(info: PerpInfo, mark_px: int) -> float:
    """A raw perp price as USD per whole coin."""
    scale: int = 10 ** (6 - info.sz_decimals)
    return mark_px / scale


def _side(position: RawPosition) -> int:
    return 1 if position.szi > 0 else -1


def to_position(leg: PerpLeg) -> Position:
    """The normal-form position, its maintenance as tiers (``tiers_for``): exact at every
    price, since the tier is chosen at the evaluated notional, not at today's.

    Raises:
        ConfigError: the perp's margin table has tiers (id >= 50) and none are configured.
        DecodeError: HyperCore reported a position the normal form rejects (entry notional 0).
        ValueError: the perp's tiers are invalid (see ``tiers_for``).
    """
    pos, info = leg.position, leg.info
    if info.margin_table_id >= SINGLE_TIER_TABLES and not leg.tiers:
        raise ConfigError(
            f"hyperliquid: {info.coin} (asset {info.index}) uses margin table "
            f"{info.margin_table_id}, whose tiers the precompiles do not return; set "
            f"[[protocols.margin_tiers.{info.index}]] from Hyperliquid's meta.marginTables"
        )
    tiers = tiers_for(info.max_leverage, leg.tiers)
    try:
        position = Position(
            market=info.coin,
            asset=info.coin,
            size_raw=pos.szi,
            size_decimals=info.sz_decimals,
            entry_notional_usd_e30=pos.entry_ntl_usd_e6 * USD_E6_TO_E30,
            pending_fees_usd_e30=0,
            closing_fee_rate_e30=0,
            mm_rate_e30=0,
            mm_rate_entry_e30=0,
            mm_floor_usd_e30=0,
            mm_tiers=tiers,
        )
    except ValueError as exc:
        raise DecodeError(f"hyperliquid position in {info.coin}: {exc}") from exc
    return position


def _account(
    ctx: AccountContext, ref: str, mode: MarginMode, usd_e6: int, legs: Sequence[PerpLeg]
) -> MarginAccount:
    return MarginAccount(
        chain_id=ctx.chain_id,
        protocol=ctx.protocol,
        owner=ctx.owner,
        ref=ref,
        mode=mode,
        collateral=(Collateral(USDC, usd_e6, USDC_DECIMALS, PRICE_FEED),),
        positions=tuple(to_position(leg) for leg in legs),
        block_number=ctx.block_number,
    )


def cross_account(
    ctx: AccountContext, dex: int, summary: MarginSummary, legs: Sequence[PerpLeg]
) -> MarginAccount | None:
    """The owner's cross account on ``dex`` (ref ``owner:cross:dex``), or None when it holds
    neither a position nor a balance. ``legs`` are the cross positions of that dex."""
    if not legs and summary.raw_usd_e6 == 0:
        return None
    usdc_e6 = summary.raw_usd_e6 + sum(
        _side(leg.position) * leg.position.entry_ntl_usd_e6 for leg in legs
    )
    return _account(ctx, f"{ctx.owner}:cross:{dex}", MarginMode.CROSS, usdc_e6, legs)


def isolated_account(ctx: AccountContext, leg: PerpLeg) -> MarginAccount:
    """One isolated position as its own account (ref ``owner:isolated:asset_id``)."""
    pos = leg.position
    margin_e6 = pos.isolated_raw_usd_e6 + _side(pos) * pos.entry_ntl_usd_e6
    return _account(
        ctx, f"{ctx.owner}:isolated:{leg.info.index}", MarginMode.ISOLATED, margin_e6, [leg]
    )
