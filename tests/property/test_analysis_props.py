"""Properties of the risk views over random books (hypothesis, ``tests.health_helpers``).

- the ladder accounts for every open position: its sides' totals are the open notional;
- the stress curve at 0 % liquidates exactly the accounts already liquidatable;
- the what-if's cross account with one position is that position isolated with the same
  collateral (margin mode changes who shares the collateral, not the rule);
- fee drift's time to liquidation, applied as fees, brings the account to health 1.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from indexer.models import Collateral, MarginAccount, MarginMode, Position
from monitor.analysis.book import PricedAccount, notional_usd
from monitor.analysis.drift import fee_drift, with_fees_after
from monitor.analysis.ladder import liquidation_ladder
from monitor.analysis.stress import stress_report
from monitor.analysis.whatif import wallet_whatif
from monitor.health.account import account_health, stress
from tests.health_helpers import ASSETS, accounts, collaterals, make_account, positions, prices


@st.composite
def books(draw: st.DrawFn) -> list[PricedAccount]:
    """1-6 accounts, each priced by its own (random) prices, as two protocols would."""
    count = draw(st.integers(1, 6))
    return [PricedAccount(draw(accounts()), draw(prices())) for _ in range(count)]


@given(books(), st.sampled_from(ASSETS), st.sampled_from([0.5, 1.0, 2.5]))
def test_ladder_totals_equal_open_notional_per_side(
    book: list[PricedAccount], asset: str, step_pct: float
) -> None:
    ladder = liquidation_ladder(book, asset, step_pct=step_pct, max_pct=20.0)
    for side, sign in ((ladder.long, 1), (ladder.short, -1)):
        open_usd = sum(
            notional_usd(p, e.prices)
            for e in book
            for p in e.account.positions
            if p.asset == asset and p.side == sign
        )
        assert math.isclose(side.total_notional_usd, open_usd, rel_tol=1e-12, abs_tol=1e-9)
        # Cumulative from the mark outward: never falls, ends at everything but beyond/unknown.
        running = [b.cumulative_notional_usd for b in side.bins]
        assert running == sorted(running)
        inside = open_usd - side.beyond.notional_usd - side.unknown.notional_usd
        assert math.isclose(running[-1], inside, rel_tol=1e-9, abs_tol=1e-9)


def _health(entry: PricedAccount) -> float:
    return account_health(entry.account, entry.prices).health


@given(books())
def test_stress_at_zero_liquidates_only_what_is_liquidatable(book: list[PricedAccount]) -> None:
    report = stress_report(book, moves_pct=[-10.0, 0.0, 10.0])
    now = [e for e in book if e.account.positions and _health(e) <= 1.0]
    notional = sum(notional_usd(p, e.prices) for e in now for p in e.account.positions)
    for curve in (*report.curves, report.joint):
        point = curve.at(0.0)
        assert point.liquidated_accounts == len(now)
        assert math.isclose(point.liquidated_notional_usd, notional, rel_tol=1e-12, abs_tol=1e-9)


@given(positions(), st.lists(collaterals(), min_size=1, max_size=3), prices())
def test_whatif_cross_with_one_position_is_it_isolated(
    position: Position, collateral: list[Collateral], px: dict[str, float]
) -> None:
    account = make_account(MarginMode.CROSS, collateral, [position])
    (venue,) = wallet_whatif([PricedAccount(account, px)])
    cross, own, even = venue.variants
    assert cross.outcomes == own.outcomes == even.outcomes
    alone = account_health(make_account(MarginMode.ISOLATED, collateral, [position]), px)
    assert cross.outcomes[0].liquidation_price_usd == alone.positions[0].liquidation_price


@given(books(), st.sampled_from([-30.0, -5.0, 5.0, 30.0]))
def test_joint_stress_agrees_with_the_health_module(book: list[PricedAccount], move: float) -> None:
    """The curve's cheap valuation gives the verdict of ``health.account.stress``, account by
    account recomputed whole."""
    report = stress_report(book, moves_pct=[move])
    moved = {p.asset for e in book for p in e.account.positions}
    hit = 0
    for e in book:
        shocks = {a: move / 100.0 for a in moved & e.account.assets}
        after = stress(e.account, e.prices, shocks)
        hit += bool(e.account.positions) and after.health <= 1.0
    assert report.joint.at(move).liquidated_accounts == hit


@given(accounts(), prices(), st.floats(0.01, 100.0))
def test_fee_drift_hours_bring_health_to_one(
    account: MarginAccount, px: dict[str, float], growth_usd_per_hour: float
) -> None:
    growth = [growth_usd_per_hour / len(account.positions)] * len(account.positions)
    hours = fee_drift(account, px, growth).hours_to_liquidation
    health = account_health(account, px)
    if health.health <= 1.0 or health.maintenance_usd <= 0.0:
        assert hours == (0.0 if health.health <= 1.0 else None)
        return
    assert hours is not None
    after = account_health(with_fees_after(account, growth, hours), px)
    assert math.isclose(after.equity_usd, after.maintenance_usd, rel_tol=1e-6, abs_tol=1e-6)
