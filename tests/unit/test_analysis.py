"""The risk views against hand-computed numbers (``tests.analysis_helpers`` explains the book)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from indexer.models import MarginMode
from monitor.analysis.book import PricedAccount
from monitor.analysis.drift import fee_drift
from monitor.analysis.ladder import liquidation_ladder
from monitor.analysis.stress import JOINT, default_moves_pct, stress_report
from monitor.analysis.whatif import wallet_whatif
from tests.analysis_helpers import PRICES, hand_book, margin, perp

approx = pytest.approx


def test_ladder_bins_each_position_by_its_distance() -> None:
    ladder = liquidation_ladder(hand_book(), "eth", step_pct=1.0, max_pct=50.0)
    long, short = ladder.long, ladder.short
    assert ladder.mark_price_usd == 2000.0
    assert len(long.bins) == 50
    assert (long.now.notional_usd, long.now.collateral_usd) == (4000.0, 30.0)  # B
    ten = long.bins[9]  # (9, 10] %: A at 9.09 %
    assert (ten.move_pct, ten.price_usd) == approx((-10.0, 1800.0))
    assert (ten.amounts.notional_usd, ten.amounts.collateral_usd) == (2000.0, 200.0)
    assert ten.amounts.cross_notional_usd == 0.0
    twenty = long.bins[19]  # (19, 20] %: D's ETH, depends on its account
    assert twenty.amounts.cross_notional_usd == twenty.amounts.notional_usd == 2000.0
    assert twenty.amounts.collateral_usd == approx(1000.0 * 2000 / 62_000)  # pro rata
    assert [b.cumulative_notional_usd for b in long.bins[8:10]] == [4000.0, 6000.0]
    assert long.bins[-1].cumulative_notional_usd == long.total_notional_usd == 8000.0
    assert sum(b.amounts.positions for b in long.bins) == 2
    shorts = [(i, b) for i, b in enumerate(short.bins) if b.amounts.positions]
    assert [(i, b.move_pct, b.amounts.collateral_usd) for i, b in shorts] == [(23, 24.0, 500.0)]
    assert short.bins[23].price_usd == approx(2480.0)


def test_ladder_puts_far_and_unpriced_positions_aside() -> None:
    safe = margin("S", MarginMode.ISOLATED, 5000, perp("ETH", 1, 2000))  # no positive liq price
    bad = PricedAccount(margin("X", MarginMode.ISOLATED, 100, perp("ETH", 1, 2000)),
                        {**PRICES, "ETH": float("nan")})  # fmt: skip
    ladder = liquidation_ladder([PricedAccount(safe, PRICES), bad], "ETH", max_pct=10)
    assert ladder.long.beyond.notional_usd == 2000.0
    assert ladder.long.unknown.positions == 1
    with pytest.raises(ValueError, match="step_pct"):
        liquidation_ladder([], "ETH", step_pct=0.0)


def test_stress_curves_per_market_and_joint() -> None:
    report = stress_report(hand_book())
    assert (report.accounts, report.unknown_accounts) == (4, 0)
    assert [c.market for c in report.curves] == ["BTC", "ETH"]
    assert len(report.joint.points) == len(default_moves_pct()) == 101
    eth = report.curves[1]
    now = eth.at(0.0)  # only B, already liquidatable, equity 30 ≥ 0
    assert (now.liquidated_accounts, now.liquidated_notional_usd, now.bad_debt_usd) == (
        1, 4000.0, 0.0)  # fmt: skip
    down = eth.at(-10.0)  # ETH 1,800: A (equity 0) and B (equity -370)
    assert (down.liquidated_accounts, down.liquidated_notional_usd) == approx((2, 6000.0))
    assert down.bad_debt_usd == approx(370.0)
    up = eth.at(30.0)  # ETH 2,600: C at equity -100; B is back above water
    assert (up.liquidated_accounts, up.liquidated_notional_usd) == approx((1, 2000.0))
    assert up.bad_debt_usd == approx(100.0)
    btc = report.curves[0].at(-10.0)  # D's BTC loss (6,000) takes its ETH with it; B as before
    assert (btc.liquidated_accounts, btc.liquidated_notional_usd) == approx((2, 66_000.0))
    assert btc.bad_debt_usd == approx(5000.0)
    joint = report.joint.at(-10.0)  # A, B, D, at the current marks
    assert report.joint.market == JOINT
    assert (joint.liquidated_accounts, joint.liquidated_notional_usd) == approx((3, 68_000.0))
    assert joint.bad_debt_usd == approx(370.0 + 5200.0)


def _wallet() -> list[PricedAccount]:
    """Cross: long 1 ETH @ 2,000, long 0.1 BTC @ 60,000, 800 USDC; isolated: short 10 SOL
    @ 150, 300 USDC."""
    cross = margin("X", MarginMode.CROSS, 800, perp("ETH", 1, 2000), perp("BTC", 0.1, 60_000))
    iso = margin("Y", MarginMode.ISOLATED, 300, perp("SOL", -10, 150))
    return [PricedAccount(cross, PRICES), PricedAccount(iso, PRICES)]


def test_whatif_cross_against_isolated() -> None:
    (venue,) = wallet_whatif(_wallet())
    assert [p.asset for p in venue.positions] == ["ETH", "BTC", "SOL"]
    cross, own, even = venue.variants
    assert (cross.name, own.name, even.name) == ("cross", "isolated_own", "isolated_even")
    # One account of 1,100 USDC, maintenance 1 % of 2,000 + 6,000 + 1,500 at the marks.
    liq = [o.liquidation_price_usd for o in cross.outcomes]
    assert liq == [approx(975 / 0.99), approx(4935 / 0.099), approx(2520 / 10.1)]
    assert cross.first == 1  # BTC
    assert cross.outcomes[0].survives_pct == approx(cross.outcomes[0].distance_pct)
    # ETH and BTC falling, SOL rising together: 1,100 - 9,500u = 95 - 65u.
    assert cross.joint_survives_pct == approx((100 * 1005 / 9435,))
    # Isolated with their own collateral: X's 800 split 400/400, Y keeps 300.
    liq = [o.liquidation_price_usd for o in own.outcomes]
    assert liq == [approx(1600 / 0.99), approx(5600 / 0.099), approx(1800 / 10.1)]
    assert own.first == 1
    assert len(own.accounts) == 3
    assert own.joint_survives_pct[1] == approx(100 * (1 - 5600 / 0.099 / 60_000))
    # Even split of 1,100: 366.666668 to the first, 366.666666 to the others.
    share = 1_100_000_000 // 3 / 1e6
    assert even.outcomes[2].liquidation_price_usd == approx((share + 1500) / 10.1)
    assert even.outcomes[0].liquidation_price_usd == approx((2000 - (share + 2e-6)) / 0.99)
    assert sum(c.amount_raw for a in even.accounts for c in a.collateral) == 1_100_000_000


def test_whatif_keeps_venues_apart() -> None:
    a, b = _wallet()
    elsewhere = replace(margin("Z", MarginMode.ISOLATED, 100, perp("ETH", 1, 2000)), chain_id=2)
    other = PricedAccount(elsewhere, PRICES)
    venues = wallet_whatif([a, b, other])
    assert [(v.chain_id, len(v.positions)) for v in venues] == [(1, 3), (2, 1)]


def test_fee_drift_time_and_liquidation_price_creep() -> None:
    # Long 1 ETH @ 2,000, 200 USDC, maintenance 1 %: gap 200 - 20 = 180 USD at 1.5 USD/hour.
    account = margin("A", MarginMode.ISOLATED, 200, perp("ETH", 1, 2000))
    drift = fee_drift(account, PRICES, [1.5])
    assert drift.hours_to_liquidation == approx(120.0)
    (position,) = drift.positions
    assert position.liquidation_price_usd == approx(1800 / 0.99)
    assert position.liquidation_price_in_1d_usd == approx(1836 / 0.99)  # 36 USD of fees
    assert position.drift_usd_per_day == approx(36 / 0.99)
    assert position.drift_pct_per_day == approx(100 * 36 / 0.99 / 2000)
    short = margin("C", MarginMode.ISOLATED, 500, perp("ETH", -1, 2000))
    assert fee_drift(short, PRICES, [1.0]).positions[0].drift_usd_per_day == approx(24 / 1.01)
    assert fee_drift(account, PRICES, [0.0]).hours_to_liquidation is None
    with pytest.raises(ValueError, match="one fee growth per position"):
        fee_drift(account, PRICES, [])


def test_a_venue_view_of_a_price_belongs_to_its_market() -> None:
    """gTrade values a long at ``BTC:low`` (the lookback low): ``ladder BTC`` lists it, and
    the stress curve of BTC moves it, as one market with the plain ``BTC`` positions."""
    view_long = replace(perp("BTC", 1, 60_000), asset="BTC:low", market="BTC/USD")
    gtrade = margin("G", MarginMode.ISOLATED, 6_000, view_long)
    prices = {**PRICES, "BTC:low": 59_000.0, "BTC:high": 61_000.0}
    book = [*hand_book(), PricedAccount(gtrade, prices)]
    ladder = liquidation_ladder(book, "btc", step_pct=1.0, max_pct=50.0)
    assert sum(b.amounts.positions for b in ladder.long.bins) == 2  # D's BTC and G
    # G: 6,000 USDC, maintenance 1 %: liquidated at (60,000 - 6,000) / 0.99 = 54,545.45,
    # 7.55 % below its own mark of 59,000 (bins are relative to each position's mark).
    eight = ladder.long.bins[7]
    assert eight.amounts.notional_usd == approx(59_000.0)
    report = stress_report(book)
    assert [c.market for c in report.curves] == ["BTC", "ETH"]
    btc = report.curves[0]
    # B is liquidatable already; D (cross, 1,000 USDC) goes with a 1.7 % BTC drop; G at 7.55 %.
    assert btc.at(-7.0).liquidated_accounts == 2
    assert btc.at(-8.0).liquidated_accounts == 3
