"""Worked numbers from the protocols' own liquidation formulas, through the normal form.

Each builder below maps a protocol's raw numbers onto the normal form the way its adapter
does (PROTOCOLS.md §1.8-1.9, §2.4, §3.2); the expected prices are the protocols' (GMX SDK
``getLiquidationPrice``, Hyperliquid docs, Synthetix ``PerpsAccount``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import pytest

from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from monitor.health.account import (
    account_health,
    liquidation_price,
    shock_to_liquidation,
    shocked,
    stress,
)
from tests.health_helpers import (
    USDC,
    account,
    gmx_account,
    gmx_position,
    hl_position,
    two_asset_cross,
    usdc,
)

REL = 1e-6


# --- GMX v2 (§1.8-1.9): isolated; min collateral factor on sizeInUsd, minCollateralUsd floor.


WETH_04 = Collateral("ETH", 4 * 10**17, 18, "gmx:WETH")


@pytest.mark.parametrize(
    ("is_long", "collateral", "expected"),
    [
        (True, usdc(1000), Fraction(22655, 10)),
        (False, usdc(1000), Fraction(27345, 10)),
        (True, WETH_04, Fraction(25155, 11)),
        (False, WETH_04, Fraction(27605556, 10000)),
    ],
)
def test_gmx_liquidation_price(is_long: bool, collateral: Collateral, expected: Fraction) -> None:
    acc = gmx_account(is_long, collateral)
    report = account_health(acc, {"ETH": 2500.0, USDC: 1.0})
    risk = report.positions[0]
    assert risk.liquidation_price == pytest.approx(float(expected), rel=REL)
    assert report.equity_usd == pytest.approx(988.0, rel=1e-12)
    assert report.maintenance_usd == pytest.approx(50.0, rel=1e-12)  # max(1, 0.5 % of 10,000)
    assert risk.distance_pct == pytest.approx(abs(2500 - float(expected)) / 25, rel=REL)


# --- Hyperliquid (§3.2): MM = mmr·mark notional, mmr = 1 / (2·maxLeverage).


def test_hyperliquid_cross_long_btc() -> None:
    # Account value 20,000 at mark = entry 100,000; maxLeverage 40 -> l = 1/80.
    position = hl_position("BTC", 10**5, 5, 100_000 * 10**6, 40)
    acc = account(MarginMode.CROSS, (usdc(20_000),), position)
    report = account_health(acc, {"BTC": 100_000.0, USDC: 1.0})
    assert report.maintenance_usd == pytest.approx(1250.0, rel=1e-12)
    assert report.health == pytest.approx(16.0, rel=1e-12)
    assert report.positions[0].liquidation_price == pytest.approx(6_400_000 / 79, rel=REL)


def test_hyperliquid_isolated_short_eth_from_raw_precompile_values() -> None:
    szi, entry_ntl, isolated_raw_usd, mark_px_raw, sz_decimals = (
        -100_000,
        20_000 * 10**6,
        22_000 * 10**6,
        200_000,
        4,
    )
    side = 1 if szi > 0 else -1
    # isolatedRawUsd = margin - side·entryNtl (long pays the notional, short receives it).
    margin_e6 = isolated_raw_usd + side * entry_ntl
    acc = account(
        MarginMode.ISOLATED,
        (Collateral(USDC, margin_e6, 6, "hyperliquid:USDC"),),
        hl_position("ETH", szi, sz_decimals, entry_ntl, 25),
    )
    mark = mark_px_raw / 10 ** (6 - sz_decimals)
    report = account_health(acc, {"ETH": mark, USDC: 1.0})
    equity_e6 = isolated_raw_usd + szi * mark_px_raw  # the precompile's own equity
    assert report.equity_usd == pytest.approx(equity_e6 / 1e6, rel=1e-12)
    assert report.maintenance_usd == pytest.approx(400.0, rel=1e-12)
    assert report.positions[0].liquidation_price == pytest.approx(110_000 / 51, rel=REL)


# --- Synthetix v3 (§2.4): cross; MM = mmr·|size|·P + minimumPositionMargin, plus keeper reward.

D18 = 10**18


def synthetix_account(is_long: bool, mark: float) -> MarginAccount:
    """1000 snxUSD, 10 ETH at P_last 2000; PROTOCOLS.md §2.4 test parameters."""
    size_d18, skew_scale_d18 = 10 * D18, 100_000 * D18
    imr_d18 = size_d18 * D18 // skew_scale_d18 + 2 * D18 // 100  # IMR 1, minIMR 0.02
    mmr_d18 = imr_d18 * (D18 // 2) // D18  # maintenanceMarginScalar 0.5
    flag_d18 = 3 * 10**14  # flagRewardRatio 0.0003
    # Reward = flag·|size|·P while between its floor (cost + minKeeperRewardUsd 1) and its cap
    # min(collateral·0.3, 30): inside, it scales with the price, so it belongs in mm_rate.
    reward_usd = flag_d18 / D18 * 10 * mark
    assert 1 <= reward_usd <= min(1000 * 0.3, 30)
    position = Position(
        market="ETH",
        asset="ETH",
        size_raw=size_d18 if is_long else -size_d18,
        size_decimals=18,
        entry_notional_usd_e30=20_000 * E30,  # |size|·latestInteractionPrice
        pending_fees_usd_e30=0,
        closing_fee_rate_e30=0,
        mm_rate_e30=(mmr_d18 + flag_d18) * 10**12,
        mm_rate_entry_e30=0,
        mm_floor_usd_e30=0,
    )
    snx_usd = Collateral("snxUSD", 1000 * D18, 18, "fixed:snxUSD")
    # minimumPositionMargin 15 is *added* per position, not a floor: a fixed requirement.
    return account(MarginMode.CROSS, (snx_usd,), position, fixed_e30=15 * E30)


@pytest.mark.parametrize(
    ("is_long", "expected"), [(True, 38_030_000 / 19_793), (False, 20_985 / 10.1035)]
)
def test_synthetix_liquidation_price(is_long: bool, expected: float) -> None:
    acc = synthetix_account(is_long, 2000.0)
    report = account_health(acc, {"ETH": 2000.0, "snxUSD": 1.0})
    assert report.maintenance_usd == pytest.approx(216.0 + 6.0, rel=1e-12)  # MM + reward
    assert report.health == pytest.approx(1000 / 222, rel=1e-12)
    liq = report.positions[0].liquidation_price
    assert liq is not None
    assert liq == pytest.approx(expected, rel=REL)
    assert liq == pytest.approx(1921.3863 if is_long else 2077.0030, abs=1e-4)
    at_liq = account_health(acc, {"ETH": liq, "snxUSD": 1.0})
    assert at_liq.health == pytest.approx(1.0, rel=1e-12)
    if is_long:  # "available = MM + reward = 213.86 there"
        assert at_liq.equity_usd == pytest.approx(213.86, abs=0.005)


def test_synthetix_reward_frozen_as_fixed_requirement_misses_the_published_price() -> None:
    # Freezing the reward at its value at the mark (6 USD) ignores that it shrinks with P.
    acc = synthetix_account(True, 2000.0)
    frozen = replace(
        acc,
        positions=(
            replace(acc.positions[0], mm_rate_e30=acc.positions[0].mm_rate_e30 - 3 * 10**26),
        ),
        fixed_requirement_usd_e30=21 * E30,
    )
    liq, _ = liquidation_price(frozen, {"ETH": 2000.0, "snxUSD": 1.0}, frozen.positions[0])
    assert liq is not None
    assert liq == pytest.approx(19_021 / 9.8995, rel=1e-12)  # 1921.4102, not 1921.3863
    assert not math.isclose(liq, 38_030_000 / 19_793, rel_tol=REL)


# --- Behaviour beyond the published numbers.


def eth_short_with_floor(collateral_usd: int) -> MarginAccount:
    position = Position("ETH", "ETH", -(10**18), 18, 2000 * E30, 0, 0, 5 * 10**28, 0, 120 * E30)
    return account(MarginMode.ISOLATED, (usdc(collateral_usd),), position)


@pytest.mark.parametrize(
    ("collateral_usd", "expected"),
    [(450, 2330.0), (600, 2600 / 1.05)],  # floor 120 binds below 2400, 5 % of notional above
)
def test_liquidation_price_on_either_side_of_the_floor_kink(
    collateral_usd: int, expected: float
) -> None:
    acc = eth_short_with_floor(collateral_usd)
    liq, distance = liquidation_price(acc, {"ETH": 2000.0, USDC: 1.0}, acc.positions[0])
    assert liq == pytest.approx(expected, rel=1e-12)
    assert distance == pytest.approx((expected - 2000) / 20, rel=1e-12)


def test_already_liquidatable_reports_the_price_back_to_health_one() -> None:
    acc = gmx_account(True, usdc(1000))
    report = account_health(acc, {"ETH": 2200.0, USDC: 1.0})
    assert report.health < 1
    risk = report.positions[0]
    assert risk.liquidation_price == pytest.approx(2265.5, rel=1e-12)
    assert risk.distance_pct == pytest.approx(-65.5 / 22, rel=1e-12)


def test_overcollateralised_long_has_no_liquidation_price() -> None:
    position = hl_position("ETH", 10**4, 4, 2000 * 10**6, 50)
    acc = account(MarginMode.ISOLATED, (usdc(5000),), position)
    report = account_health(acc, {"ETH": 2000.0, USDC: 1.0})
    assert report.positions[0].liquidation_price is None
    assert report.positions[0].distance_pct is None
    assert report.health == pytest.approx(5000 / 20, rel=1e-12)  # MM 1 % of 2,000


def test_no_requirement_means_infinite_health() -> None:
    report = account_health(account(MarginMode.CROSS, (usdc(10),)), {USDC: 1.0})
    assert report.health == math.inf
    assert report.positions == ()


def test_shock_to_liquidation_moves_every_price_together() -> None:
    acc = two_asset_cross()
    prices = {"BTC": 100_000.0, "ETH": 2000.0, USDC: 1.0}
    u = shock_to_liquidation(acc, prices, {"BTC": -1.0, "ETH": -1.0})
    # equity 20,000 - 120,000·u = maintenance 1650·(1 - u)
    assert u is not None
    assert u == pytest.approx(18_350 / 118_350, rel=1e-12)
    at = stress(acc, prices, {"BTC": -u, "ETH": -u})
    assert at.health == pytest.approx(1.0, rel=1e-9)
    assert shock_to_liquidation(acc, prices, {"BTC": 1.0, "ETH": 1.0}) is None


def test_shocked_rejects_non_positive_prices() -> None:
    with pytest.raises(ValueError, match="non-positive"):
        shocked({"ETH": 2000.0}, {"ETH": -1.0})
    assert shocked({"ETH": 2000.0, USDC: 1.0}, {"ETH": -0.25}) == {"ETH": 1500.0, USDC: 1.0}


# --- The normal form's own checks.


def test_position_float_views_are_exact_conversions() -> None:
    p = gmx_account(False, usdc(1000)).positions[0]
    assert (p.size, p.entry_price, p.entry_notional_usd, p.mm_rate_entry) == (
        -4.0,
        2500.0,
        10_000.0,
        0.005,
    )
    assert p.side == -1
    assert not p.is_long


VALID = gmx_position(is_long=True, size_in_usd_e30=E30, size_in_tokens=10**18, fees_usd_e30=0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: replace(VALID, size_raw=0),
        lambda: replace(VALID, entry_notional_usd_e30=0),
        lambda: replace(VALID, mm_rate_e30=-1),
        lambda: replace(VALID, size_decimals=78),
        lambda: replace(VALID, size_raw=1.5),  # type: ignore[arg-type]  # the check under test
        lambda: replace(VALID, market=""),
        lambda: Collateral(USDC, 1, 6, "f", haircut_e30=E30 + 1),
        lambda: Collateral(USDC, -1, 6, "f", haircut_e30=1),
        lambda: Collateral(USDC, "100", 6, "f"),  # type: ignore[arg-type]
        lambda: account(MarginMode.ISOLATED, (), VALID, VALID),
        lambda: replace(account(MarginMode.CROSS, ()), mode="cross"),  # type: ignore[arg-type]
        lambda: replace(account(MarginMode.CROSS, ()), chain_id=0),
        lambda: replace(account(MarginMode.CROSS, ()), positions=[VALID]),  # type: ignore[arg-type]
    ],
)
def test_normal_form_rejects_invalid_values(build: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        build()  # type: ignore[operator]


def test_cross_account_may_hold_several_positions_and_a_negative_requirement() -> None:
    acc = replace(two_asset_cross(), fixed_requirement_usd_e30=-5 * E30)
    assert acc.assets == {"BTC", "ETH", USDC}
    assert acc.fixed_requirement_usd == -5.0
