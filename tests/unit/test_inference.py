"""How an event-less account ended: below its maintenance margin at the marks of the read that
found it gone means liquidated."""

from __future__ import annotations

import math
from dataclasses import replace

from monitor.alerts.inference import describe_cut, liquidated_when_gone
from tests.health_helpers import gmx_account, two_asset_cross, usdc

# Long 4 ETH entered at $10,000 with $1,000 of USDC and $12 of fees, maintenance 0.5 % of the
# entry notional: equity 4·P - 9,012 meets maintenance $50 at P = $2,265.50.
LONG = replace(gmx_account(True, usdc(1_000)), protocol="hyperliquid")


def _marks(eth_usd: float) -> dict[str, dict[str, float]]:
    return {"hyperliquid": {"ETH": eth_usd, "USDC": 1.0}}


def test_gone_below_maintenance_is_a_liquidation_and_above_it_a_close() -> None:
    assert liquidated_when_gone([(7, LONG)], _marks(2_200.0)) == [7]
    assert liquidated_when_gone([(7, LONG)], _marks(2_265.0)) == [7]
    assert liquidated_when_gone([(7, LONG)], _marks(2_266.0)) == []
    assert liquidated_when_gone([(7, LONG)], _marks(2_500.0)) == []


def test_without_usable_marks_nothing_is_inferred() -> None:
    assert liquidated_when_gone([(7, LONG)], {}) == []
    assert liquidated_when_gone([(7, LONG)], {"hyperliquid": {"USDC": 1.0}}) == []
    assert liquidated_when_gone([(7, LONG)], _marks(math.nan)) == []
    assert liquidated_when_gone([(7, LONG)], _marks(0.0)) == []


def test_each_account_is_judged_at_its_own_protocols_marks() -> None:
    other = replace(LONG, protocol="other")
    marks = {**_marks(2_000.0), "other": {"ETH": 3_000.0, "USDC": 1.0}}
    assert liquidated_when_gone([(1, LONG), (2, other)], marks) == [1]


def test_a_cut_names_each_position_lost_or_smaller_exactly() -> None:
    cross = two_asset_cross()  # long 1 BTC (5 decimals), long 10 ETH (4 decimals)
    btc, eth = cross.positions
    fifth = replace(btc, size_raw=btc.size_raw * 4 // 5)
    assert describe_cut(cross, replace(cross, positions=(fifth, eth))) == "BTC long 1 → 0.8"
    assert describe_cut(cross, replace(cross, positions=(eth,))) == "BTC long closed"
    short = replace(cross, positions=(replace(eth, size_raw=-eth.size_raw),))
    cut = replace(short, positions=(replace(eth, size_raw=-eth.size_raw * 4 // 5),))
    assert describe_cut(short, cut) == "ETH short 10 → 8"


def test_what_a_liquidation_cannot_leave_is_no_cut() -> None:
    cross = two_asset_cross()
    btc, eth = cross.positions
    flipped = replace(eth, size_raw=-eth.size_raw)  # the trader turned it around
    assert describe_cut(cross, replace(cross, positions=(flipped,))) is None
    grown = replace(btc, size_raw=btc.size_raw + 1)
    assert describe_cut(cross, replace(cross, positions=(grown,))) is None
    only_btc = replace(cross, positions=(btc,))
    assert describe_cut(only_btc, replace(cross, positions=(btc, eth))) is None  # a new one
    assert describe_cut(cross, cross) is None  # nothing lost
