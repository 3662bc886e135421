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

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.errors import DecodeError
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from indexer.protocols.hyperliquid.decode import MarginSummary, PerpInfo, RawPosition

USDC = "USDC"
USDC_DECIMALS = 6
PRICE_FEED = "hyperliquid:usd"
"""HyperCore keeps perp margin in USD: the collateral's price is 1 by definition."""

USD_E6_TO_E30 = 10**24


@dataclass(frozen=True, slots=True)
class MarginTier:
    """From ``lower_bound_usd`` (whole USD of position notional) up, at most ``max_leverage``."""

    lower_bound_usd: int
    max_leverage: int


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
    """Maintenance rate = half the initial margin at max leverage: 1 / (2 · maxLeverage)."""
    return E30 // (2 * max_leverage)


def tier_terms(
    notional_usd_e6: int, max_leverage: int, tiers: Sequence[MarginTier]
) -> tuple[int, int]:
    """``(mm_rate_e30, deduction_usd_e30)`` at this notional: MM = ntl · rate - deduction.

    Without tiers, one tier at ``max_leverage`` (deduction 0). With tiers, ``deduction_n =
    deduction_{n-1} + lowerBound_n · (rate_n - rate_{n-1})`` (Hyperliquid docs "Margin tiers"),
    which keeps MM continuous across bounds. Caveat: the tier is chosen at the current
    notional, exact for the account now and approximate for large price moves.
    """
    if not tiers:
        return mm_rate_e30(max_leverage), 0
    rate, deduction = mm_rate_e30(tiers[0].max_leverage), 0
    for tier in tiers[1:]:
        if tier.lower_bound_usd * 10**6 > notional_usd_e6:
            break
        next_rate = mm_rate_e30(tier.max_leverage)
        deduction += tier.lower_bound_usd * (next_rate - rate)
        rate = next_rate
    return rate, deduction


def mark_price_usd(info: PerpInfo, mark_px: int) -> float:
    """A raw perp price as USD per whole coin."""
    scale: int = 10 ** (6 - info.sz_decimals)
    return mark_px / scale


def _side(position: RawPosition) -> int:
    return 1 if position.szi > 0 else -1


def to_position(leg: PerpLeg) -> tuple[Position, int]:
    """The normal-form position and its tier deduction (USD · 1e30).

    Raises:
        DecodeError: HyperCore reported a position the normal form rejects (entry notional 0).
    """
    pos, info = leg.position, leg.info
    rate, deduction = tier_terms(abs(pos.szi) * leg.mark_px, info.max_leverage, leg.tiers)
    try:
        position = Position(
            market=info.coin,
            asset=info.coin,
            size_raw=pos.szi,
            size_decimals=info.sz_decimals,
            entry_notional_usd_e30=pos.entry_ntl_usd_e6 * USD_E6_TO_E30,
            pending_fees_usd_e30=0,
            closing_fee_rate_e30=0,
            mm_rate_e30=rate,
            mm_rate_entry_e30=0,
            mm_floor_usd_e30=0,
        )
    except ValueError as exc:
        raise DecodeError(f"hyperliquid position in {info.coin}: {exc}") from exc
    return position, deduction


def _account(
    ctx: AccountContext, ref: str, mode: MarginMode, usd_e6: int, legs: Sequence[PerpLeg]
) -> MarginAccount:
    converted = [to_position(leg) for leg in legs]
    return MarginAccount(
        chain_id=ctx.chain_id,
        protocol=ctx.protocol,
        owner=ctx.owner,
        ref=ref,
        mode=mode,
        collateral=(Collateral(USDC, usd_e6, USDC_DECIMALS, PRICE_FEED),),
        positions=tuple(p for p, _ in converted),
        block_number=ctx.block_number,
        fixed_requirement_usd_e30=-sum(d for _, d in converted),
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
