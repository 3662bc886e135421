"""Shared parts of the margin-math tests: worked accounts (GMX v2, Hyperliquid) and hypothesis
strategies over random accounts, used by the scalar and the vectorised health tests.

The strategies keep magnitudes realistic (sizes 0.01-100 units, maintenance rates >= 0.1 %)
so float64 rounding stays far below the 1e-9 tolerances.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from indexer.models import (
    E30,
    Collateral,
    MarginAccount,
    MarginMode,
    MmTier,
    Position,
    continuous_deduction_e30,
)

USDC = "USDC"


# -- worked accounts -----------------------------------------------------------------------------


def usdc(amount_usd: int) -> Collateral:
    return Collateral(USDC, amount_usd * 10**6, 6, "fixed:USDC")


def account(
    mode: MarginMode, collateral: tuple[Collateral, ...], *positions: Position, fixed_e30: int = 0
) -> MarginAccount:
    return MarginAccount(
        chain_id=42161,
        protocol="test",
        owner="0x00000000000000000000000000000000000000aa",
        ref="1",
        mode=mode,
        collateral=collateral,
        positions=positions,
        block_number=1,
        fixed_requirement_usd_e30=fixed_e30,
    )


# GMX v2 (PROTOCOLS.md §1.8-1.9): isolated; min collateral factor on sizeInUsd,
# minCollateralUsd floor.


def gmx_position(
    *, is_long: bool, size_in_usd_e30: int, size_in_tokens: int, fees_usd_e30: int
) -> Position:
    return Position(
        market="ETH/USD [WETH-USDC]",
        asset="ETH",
        size_raw=size_in_tokens if is_long else -size_in_tokens,
        size_decimals=18,
        entry_notional_usd_e30=size_in_usd_e30,
        # borrowing + funding + closing fee; GMX charges the closing fee on sizeInUsd.
        pending_fees_usd_e30=fees_usd_e30,
        closing_fee_rate_e30=0,
        mm_rate_e30=0,
        mm_rate_entry_e30=5 * 10**27,  # minCollateralFactorForLiquidation 0.5 %
        mm_floor_usd_e30=1 * E30,  # minCollateralUsd $1
    )


def gmx_account(is_long: bool, collateral: Collateral) -> MarginAccount:
    position = gmx_position(
        is_long=is_long, size_in_usd_e30=10**34, size_in_tokens=4 * 10**18, fees_usd_e30=12 * E30
    )
    return account(MarginMode.ISOLATED, (collateral,), position)


# Hyperliquid (§3.2): MM = mmr·mark notional, mmr = 1 / (2·maxLeverage).


def hl_position(
    market: str, szi: int, sz_decimals: int, entry_ntl_e6: int, max_lev: int
) -> Position:
    return Position(
        market=market,
        asset=market,
        size_raw=szi,
        size_decimals=sz_decimals,
        entry_notional_usd_e30=entry_ntl_e6 * 10**24,
        pending_fees_usd_e30=0,  # funding settles hourly: nothing pending
        closing_fee_rate_e30=0,
        mm_rate_e30=E30 // (2 * max_lev),
        mm_rate_entry_e30=0,
        mm_floor_usd_e30=0,
    )


def two_asset_cross() -> MarginAccount:
    btc = hl_position("BTC", 10**5, 5, 100_000 * 10**6, 40)
    eth = hl_position("ETH", 10 * 10**4, 4, 20_000 * 10**6, 25)
    return account(MarginMode.CROSS, (usdc(20_000),), btc, eth)


# -- random accounts (hypothesis) ----------------------------------------------------------------


MARKS = {"ETH": 2000.0, "BTC": 60_000.0, "SOL": 150.0}
ASSETS = tuple(MARKS)


def e30(value: float) -> int:
    return int(value * E30)


@st.composite
def prices(draw: st.DrawFn) -> dict[str, float]:
    """Marks within ±30 % of ``MARKS``; USDC at 1."""
    moved = {a: p * draw(st.floats(0.7, 1.3)) for a, p in MARKS.items()}
    return {**moved, USDC: 1.0}


def tier_table(lower_bounds_usd: list[int], leverages: list[int]) -> tuple[MmTier, ...]:
    """Hyperliquid-style tiers: from each bound (whole USD; the first 0) up, rate
    1 / (2·max leverage), deductions chained so maintenance is continuous."""
    tiers = [MmTier(0, E30 // (2 * leverages[0]), 0)]
    for lower_usd, lev in zip(lower_bounds_usd[1:], leverages[1:], strict=True):
        rate, lower = E30 // (2 * lev), lower_usd * E30
        tiers.append(MmTier(lower, rate, continuous_deduction_e30(tiers[-1], lower, rate)))
    return tuple(tiers)


LEVERAGES = (50, 40, 25, 20, 10, 5, 3, 2, 1)


@st.composite
def mm_tiers(draw: st.DrawFn, notional_usd: float, steepest: float = 50.0) -> tuple[MmTier, ...]:
    """0-3 tiers with bounds at 0.2-3x ``notional_usd`` (so the tests' price moves cross
    them), leverage falling as in real tables; the last rate at most ``steepest`` times the
    first."""
    count = draw(st.integers(0, 3))
    if count == 0:
        return ()
    leverages = sorted(draw(st.sets(st.sampled_from(LEVERAGES), min_size=count, max_size=count)))
    leverages = [lev for lev in reversed(leverages) if lev * steepest >= leverages[-1]]
    factors = draw(st.lists(st.floats(0.2, 3.0), min_size=count - 1, max_size=count - 1))
    bounds = sorted({0, *(int(f * notional_usd) + 1 for f in factors)})
    count = min(len(bounds), len(leverages))
    return tier_table(bounds[:count], leverages[:count])


@st.composite
def positions(draw: st.DrawFn, asset: str | None = None, steepest_tiers: float = 50.0) -> Position:
    asset = asset or draw(st.sampled_from(ASSETS))
    decimals = draw(st.sampled_from([4, 8, 18]))
    size_raw = draw(st.integers(10, 100_000)) * 10 ** (decimals - 3)  # 0.01 to 100 units
    entry_notional = size_raw / 10**decimals * MARKS[asset] * draw(st.floats(0.5, 1.5))
    return Position(
        market=f"{asset}-{draw(st.sampled_from('AB'))}",
        asset=asset,
        size_raw=size_raw * draw(st.sampled_from([1, -1])),
        size_decimals=decimals,
        entry_notional_usd_e30=e30(entry_notional),
        pending_fees_usd_e30=e30(entry_notional * draw(st.floats(-0.001, 0.01))),
        closing_fee_rate_e30=draw(st.integers(0, 20)) * 10**26,
        mm_rate_e30=draw(st.integers(10, 1000)) * 10**26,
        mm_rate_entry_e30=draw(st.integers(0, 500)) * 10**26,
        mm_floor_usd_e30=draw(st.integers(0, 200)) * E30,
        mm_tiers=draw(mm_tiers(entry_notional, steepest_tiers)),
    )


@st.composite
def collaterals(draw: st.DrawFn, assets: tuple[str, ...] = ASSETS) -> Collateral:
    asset = draw(st.sampled_from((USDC, *assets)))
    usd = draw(st.floats(10.0, 1_000_000.0))
    if asset == USDC:
        return Collateral(USDC, int(usd * 10**6), 6, "fixed:USDC")
    haircut = draw(st.integers(0, 30)) * 10**28
    return Collateral(asset, int(usd / MARKS[asset] * 10**18), 18, f"feed:{asset}", haircut)


def make_account(mode: MarginMode, coll: list[Collateral], pos: list[Position]) -> MarginAccount:
    return MarginAccount(42161, "test", "0xabc", "1", mode, tuple(coll), tuple(pos), 1)


@st.composite
def accounts(draw: st.DrawFn) -> MarginAccount:
    """Isolated (one position) or cross (1-4 positions, assets may repeat) accounts."""
    if draw(st.booleans()):
        pos = [draw(positions())]
        return make_account(MarginMode.ISOLATED, [draw(collaterals((pos[0].asset,)))], pos)
    pos = draw(st.lists(positions(), min_size=1, max_size=4))
    coll = draw(st.lists(collaterals(), min_size=1, max_size=3))
    fixed = draw(st.integers(-5, 50)) * E30
    return replace(make_account(MarginMode.CROSS, coll, pos), fixed_requirement_usd_e30=fixed)
