"""Properties of the margin math over random accounts (hypothesis).

The strategies keep magnitudes realistic (sizes 0.01-100 units, maintenance rates >= 0.1 %)
so float64 rounding stays far below the 1e-9 tolerances (``tests.health_helpers``).
"""

from __future__ import annotations

import itertools
import math

from hypothesis import assume, example, given
from hypothesis import strategies as st

from indexer.models import Collateral, MarginAccount, MarginMode, Position
from monitor.health.account import account_health, shocked
from tests.health_helpers import (
    ASSETS,
    MARKS,
    USDC,
    accounts,
    make_account,
    positions,
    prices,
)


@given(accounts(), prices())
@example(  # 240.87 SOL backing 0.01 SOL: liquidated 99.996 % down, the mark's terms' error
    make_account(
        MarginMode.ISOLATED,
        [Collateral("SOL", 240_866_666_666_666_688_512, 18, "feed:SOL")],
        [
            Position(
                "SOL-A",
                "SOL",
                100,
                4,
                1_581_187_533_415_507_037_664_340_606_976,
                0,
                0,
                10**27,
                0,
                0,
            )
        ],
    ),
    {"ETH": 2000.0, "BTC": 60000.0, "SOL": 150.0, "USDC": 1.0},
)
def test_health_is_one_at_every_liquidation_price(acc: MarginAccount, px: dict[str, float]) -> None:
    for risk in account_health(acc, px).positions:
        if risk.liquidation_price is not None:
            moved = {**px, risk.asset: risk.liquidation_price}
            at = account_health(acc, moved)

            # Equity is a difference of terms that can be much larger than it (a position
            # nearly backed by its own asset): float64 error scales with those terms, at the
            # marks where the root is solved (as a fraction of the mark: a price 99.99 % down
            # keeps the error of the mark's terms) as much as at the liquidation price.
            def gross(at_px: dict[str, float]) -> float:
                return sum(abs(c.amount) * at_px[c.asset] for c in acc.collateral) + sum(
                    p.entry_notional_usd + abs(p.size) * at_px[p.asset] for p in acc.positions
                )

            assert math.isclose(
                at.equity_usd,
                at.maintenance_usd,
                rel_tol=1e-9,
                abs_tol=1e-12 * max(gross(px), gross(moved)),
            ), (risk, at)


@st.composite
def leveraged_isolated(draw: st.DrawFn) -> MarginAccount:
    """An isolated position at 2-100x, collateral in USDC or in the position's asset.

    Tier tables at most 2x steep, as Hyperliquid's mainnet ones (BTC 40x/20x, ETH 25x/15x):
    a deduction makes maintenance fall faster than notional, so health (a ratio) of an account
    leveraged less than its table is steep can rise on an adverse move while equity minus
    maintenance still falls (``test_margin_gap_falls_...`` covers every table).
    """
    pos = draw(positions(steepest_tiers=2.0))
    value_usd = pos.entry_notional_usd / draw(st.floats(2.0, 100.0))
    if draw(st.booleans()):
        coll = Collateral(USDC, max(1, int(value_usd * 10**6)), 6, "fixed:USDC")
    else:
        coll = Collateral(pos.asset, int(value_usd / MARKS[pos.asset] * 10**18), 18, "f")
    return make_account(MarginMode.ISOLATED, [coll], [pos])


@given(leveraged_isolated(), prices(), st.lists(st.floats(0.0, 0.95), min_size=2, max_size=6))
def test_health_falls_monotonically_with_adverse_moves(
    acc: MarginAccount, px: dict[str, float], moves: list[float]
) -> None:
    pos = acc.positions[0]
    healths = [
        account_health(acc, shocked(px, {pos.asset: -pos.side * m})).health for m in sorted(moves)
    ]
    for before, after in itertools.pairwise(healths):
        assert after <= before + 1e-12 * max(1.0, abs(before))


@given(st.lists(accounts(), min_size=2, max_size=5), prices(), st.data())
def test_isolated_account_ignores_other_accounts_prices(
    wallet: list[MarginAccount], px: dict[str, float], data: st.DataObject
) -> None:
    isolated = [a for a in wallet if a.mode is MarginMode.ISOLATED]
    assume(isolated)
    own = isolated[0].assets
    others = sorted({a for acc in wallet for a in acc.assets} - own)
    assume(others)
    shocks = {a: data.draw(st.floats(-0.9, 2.0)) for a in others}
    assert account_health(isolated[0], shocked(px, shocks)) == account_health(isolated[0], px)


@st.composite
def usd_cross(draw: st.DrawFn) -> MarginAccount:
    """A cross account on USDC with 2-3 positions on distinct assets."""
    assets = draw(st.lists(st.sampled_from(ASSETS), min_size=2, max_size=3, unique=True))
    usd = draw(st.floats(10.0, 200_000.0))
    coll = [Collateral(USDC, int(usd * 10**6), 6, "fixed:USDC")]
    return make_account(MarginMode.CROSS, coll, [draw(positions(a)) for a in assets])


@given(usd_cross(), prices(), st.floats(0.001, 0.5))
def test_cross_loss_on_one_position_brings_the_others_closer_to_liquidation(
    acc: MarginAccount, px: dict[str, float], move: float
) -> None:
    before = account_health(acc, px)
    assume(before.health > 1.0)
    loser = acc.positions[0]
    after = account_health(acc, shocked(px, {loser.asset: -loser.side * move}))
    assert after.equity_usd - after.maintenance_usd < before.equity_usd - before.maintenance_usd
    for old, new in zip(before.positions[1:], after.positions[1:], strict=True):
        if old.distance_pct is None:
            continue
        if new.distance_pct is None:
            assert after.health <= 1.0  # liquidatable, and no price of this asset saves it
        else:
            assert new.distance_pct <= old.distance_pct + 1e-9
    isolated = [make_account(MarginMode.ISOLATED, list(acc.collateral), [p]) for p in acc.positions]
    unchanged = account_health(isolated[1], shocked(px, {loser.asset: -loser.side * move}))
    assert unchanged == account_health(isolated[1], px)
