"""gTrade margin math: PROTOCOLS.md §4.4's worked numbers, the threshold/spread/fee rules at their
edges, and the normal-form account as the monitor evaluates it."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest

from indexer.models import E30, MarginAccount, MarginMode
from indexer.protocols.gtrade import margin
from indexer.protocols.gtrade.margin import LiqParams, TradeTerms
from monitor.health.account import account_health, liquidation_price

# PROTOCOLS.md §4.4: 1000 USDC, 50x long BTC at 100,000, docs-sample params, closing 0.06 % = 30,
# holding 5, spread 0.
DOCS_PARAMS = LiqParams(5 * 10**8, 9 * 10**11, 65 * 10**10, 25_000, 60_000)
EXAMPLE = TradeTerms(
    long=True,
    open_price_e10=100_000 * 10**10,
    collateral_raw=1_000 * 10**6,
    collateral_decimals=6,
    leverage_e3=50_000,
    liq_params=DOCS_PARAMS,
    closing_fee_collateral_raw=30 * 10**6,
    holding_fee_collateral_raw=5 * 10**6,
    realized_pnl_collateral_raw=0,
    realized_trading_fees_collateral_raw=0,
    liq_spread_p=0,
)


def usd(price_e10: float) -> float:
    return price_e10 / 1e10


def build(
    t: TradeTerms, price_e8: int = 10**8, asset: str = "BTC", coll: str = "USDC"
) -> MarginAccount:
    return margin.trade_account(
        t,
        account_id="0xabc:0",
        owner="0xabc",
        market="BTC/USD",
        asset=asset,
        collateral_asset=coll,
        collateral_price_feed=f"test:{coll}",
        collateral_price_usd_e8=price_e8,
        chain_id=42161,
        block_number=7,
    )


# --- PROTOCOLS.md §4.4 ------------------------------------------------------------------------


def test_worked_threshold_is_101_over_140() -> None:
    thr = margin.liq_threshold_p(DOCS_PARAMS, 50_000)
    # 0.9 - 25/35 · 0.25 = 101/140 = 72.142857142857… %; the quotient is floored, so the
    # threshold itself rounds up in its last unit (1e-10 %).
    assert thr == 721_428_571_429
    assert abs(Fraction(thr, 10**12) - Fraction(101, 140)) < Fraction(1, 10**12)


def test_worked_closing_fee() -> None:
    assert margin.closing_fee_collateral_raw(6 * 10**8, 10**9, 50_000, 0, 10**8, 6) == 30 * 10**6


@pytest.mark.parametrize(
    ("change", "expected_usd"),
    [
        ({}, 98_627.1429),
        ({"long": False}, 101_372.8571),
        ({"liq_spread_p": 5 * 10**8}, 98_677.1429),
        ({"liq_params": margin.NO_LIQ_PARAMS}, 98_270.0),
    ],
)
def test_worked_liquidation_prices(change: dict[str, object], expected_usd: float) -> None:
    t = dataclasses.replace(EXAMPLE, **change)  # type: ignore[arg-type]
    assert usd(margin.liquidation_price_e10(t)) == pytest.approx(expected_usd, abs=5e-5)


def test_worked_distance_is_exact() -> None:
    # dist = 100000 · (1000 · thr - 35) / 1000 / 50, thr = 721428571429 / 1e12.
    thr = Fraction(721_428_571_429, 10**12)
    expected = 100_000 * 10**10 * (1000 * thr - 35) / 1000 / 50
    assert margin.liquidation_distance_e10(EXAMPLE) == expected


# --- threshold, spread, fee rules --------------------------------------------------------------


@pytest.mark.parametrize("field", LiqParams.__slots__)
@pytest.mark.parametrize("leverage_e3", [1_000, 25_000, 40_000, 60_000, 200_000])
def test_any_zero_param_gives_90_percent(field: str, leverage_e3: int) -> None:
    params = dataclasses.replace(DOCS_PARAMS, **{field: 0})
    assert not params.complete
    assert margin.liq_threshold_p(params, leverage_e3) == margin.LEGACY_LIQ_THRESHOLD_P


@pytest.mark.parametrize(
    ("leverage_e3", "expected"),
    [
        (1_000, 9 * 10**11),
        (24_999, 9 * 10**11),
        (25_000, 9 * 10**11),
        (25_001, 9 * 10**11 - 25 * 10**10 // 35_000),
        (59_999, 65 * 10**10 + 25 * 10**10 - (34_999 * 25 * 10**10) // 35_000),
        (60_000, 65 * 10**10),
        (500_000, 65 * 10**10),
    ],
)
def test_threshold_edges(leverage_e3: int, expected: int) -> None:
    assert margin.liq_threshold_p(DOCS_PARAMS, leverage_e3) == expected


def test_threshold_when_start_and_end_leverage_meet() -> None:
    flat = dataclasses.replace(DOCS_PARAMS, end_leverage=25_000)
    assert margin.liq_threshold_p(flat, 25_000) == 9 * 10**11
    assert margin.liq_threshold_p(flat, 25_001) == 65 * 10**10


@pytest.mark.parametrize(
    ("pair", "fixed", "max_liq", "version", "expected"),
    [
        (10**9, 0, 5 * 10**8, 0, 0),  # before v9.2: no spread
        (10**9, 0, 5 * 10**8, 1, 5 * 10**8),  # half the pair spread
        (10**9, 2 * 10**8, 5 * 10**8, 2, 5 * 10**8),  # capped at maxLiqSpreadP
        (4 * 10**8, 10**8, 5 * 10**8, 2, 3 * 10**8),
        (10**9, 0, 0, 2, 0),  # no params and no fixed spread
        (10**9, 10**8, 0, 2, 6 * 10**8),  # the SDK: a fixed spread alone applies, uncapped
        (0, 0, 5 * 10**8, 2, 0),
        (3, 0, 5 * 10**8, 2, 1),  # half of an odd raw spread is floored
    ],
)
def test_liq_spread(pair: int, fixed: int, max_liq: int, version: int, expected: int) -> None:
    assert margin.liq_spread_p(pair, fixed, max_liq, version) == expected


def test_closing_fee_minimum_position_in_a_non_usd_collateral() -> None:
    # 1 WETH at $2,000, 2x = $4,000 < minimum $5,000 = 2.5 WETH; 0.08 % of 2.5 WETH.
    fee = margin.closing_fee_collateral_raw(
        8 * 10**8, 10**18, 2_000, 5_000 * 10**18, 2_000 * 10**8, 18
    )
    assert fee == 2 * 10**15
    # Above the minimum the position size counts: 10x = 10 WETH.
    fee = margin.closing_fee_collateral_raw(
        8 * 10**8, 10**18, 10_000, 5_000 * 10**18, 2_000 * 10**8, 18
    )
    assert fee == 8 * 10**15


def test_closing_fee_floors_and_counter_trades() -> None:
    # 0.06 % of 333.333 USDC (1 raw unit = 1e-6) = 0.1999998 USDC, floored.
    assert margin.closing_fee_collateral_raw(6 * 10**8, 333_333_000, 1_000, 0, 10**8, 6) == 199_999
    doubled = margin.closing_fee_collateral_raw(
        6 * 10**8, 10**9, 50_000, 0, 10**8, 6, counter_trade_fee_rate_multiplier_e3=2_000
    )
    assert doubled == 60 * 10**6


def test_counter_trade_multiplier_scales_the_position_not_the_minimum() -> None:
    # $4,000 position (1000 USDC, 4x), minimum $5,000, 0.1 %.
    def fee(multiplier_e3: int) -> int:
        return margin.closing_fee_collateral_raw(
            10**9, 10**9, 4_000, 5_000 * 10**18, 10**8, 6,
            counter_trade_fee_rate_multiplier_e3=multiplier_e3,
        )  # fmt: skip

    assert fee(1_000) == 5 * 10**6  # the minimum
    assert fee(1_500) == 6 * 10**6  # $6,000 scaled position
    assert fee(500) == 5 * 10**6  # $2,000 scaled: the minimum, unscaled


def test_closing_fee_needs_a_price_for_its_minimum() -> None:
    with pytest.raises(ValueError, match="collateral price"):
        margin.closing_fee_collateral_raw(6 * 10**8, 10**9, 50_000, 10**18, 0, 6)


def test_fees_net_of_realised_pnl() -> None:
    t = dataclasses.replace(
        EXAMPLE, realized_pnl_collateral_raw=-7 * 10**6, realized_trading_fees_collateral_raw=10**6
    )
    # 30 + 5 - (-7 - 1) = 43 USDC
    assert margin.total_fees_collateral_raw(t) == 43 * 10**6
    assert margin.liquidation_price_e10(t) > margin.liquidation_price_e10(EXAMPLE)


def test_liquidation_price_is_clamped_at_zero() -> None:
    rich = dataclasses.replace(EXAMPLE, leverage_e3=1_100, realized_pnl_collateral_raw=2 * 10**9)
    assert margin.liquidation_price_e10(rich) == 0.0
    assert not margin.is_liquidatable(rich, 1)
    # A short whose fees exceed what the distance allows is liquidatable at any price.
    broke = dataclasses.replace(
        EXAMPLE, long=False, leverage_e3=1_100, holding_fee_collateral_raw=3 * 10**9
    )
    assert margin.liquidation_price_e10(broke) == 0.0
    assert margin.is_liquidatable(broke, 1)


def test_liquidatable_exactly_from_the_liquidation_price() -> None:
    liq = margin.liquidation_price_exact_e10(EXAMPLE)
    assert margin.is_liquidatable(EXAMPLE, math.floor(liq))
    assert not margin.is_liquidatable(EXAMPLE, math.floor(liq) + 1)
    short = dataclasses.replace(EXAMPLE, long=False)
    liq = margin.liquidation_price_exact_e10(short)
    assert margin.is_liquidatable(short, math.ceil(liq))
    assert not margin.is_liquidatable(short, math.ceil(liq) - 1)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"open_price_e10": 0}, "open_price_e10"),
        ({"collateral_raw": 0}, "collateral_raw"),
        ({"leverage_e3": 1.5}, "leverage_e3"),
        ({"collateral_decimals": 78}, "collateral_decimals"),
        ({"closing_fee_collateral_raw": -1}, "closing_fee"),
        ({"liq_spread_p": -1}, "liq_spread_p"),
        ({"long": 1}, "long"),
        ({"liq_params": (0, 0, 0, 0, 0)}, "liq_params"),
    ],
)
def test_terms_reject_bad_fields(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(EXAMPLE, **change)  # type: ignore[arg-type]


def test_params_reject_negative_values() -> None:
    with pytest.raises(ValueError, match="start_leverage"):
        LiqParams(1, 1, 1, -1, 1)


def test_account_needs_a_positive_conversion_price() -> None:
    with pytest.raises(ValueError, match="collateral price"):
        build(EXAMPLE, price_e8=0)


# --- normal form ---------------------------------------------------------------------------------


def test_account_shape() -> None:
    acct = build(EXAMPLE)
    assert acct.mode is MarginMode.ISOLATED
    assert acct.protocol == "gtrade"
    assert acct.ref == "0xabc:0"
    (coll,) = acct.collateral
    assert (coll.asset, coll.amount_raw, coll.decimals) == ("USDC", 10**9, 6)
    (pos,) = acct.positions
    assert pos.size == pytest.approx(0.5)  # $50,000 at $100,000
    assert pos.entry_price == 100_000.0
    assert pos.entry_notional_usd_e30 == 50_000 * E30
    assert pos.pending_fees_usd_e30 == 35 * E30
    assert pos.mm_rate_entry_e30 == 0
    assert (pos.closing_fee_rate_e30, pos.mm_rate_e30, pos.mm_floor_usd_e30) == (0, 0, 0)
    # C · (1 - thr) = 1000 · (1 - 0.721428571429) USD
    assert acct.fixed_requirement_usd_e30 == 278_571_428_571 * 10**21
    notes = dict(pos.venue_notes)
    assert notes["liq_threshold_p"] == 721_428_571_429


def test_spread_is_a_requirement_on_entry_notional() -> None:
    pos = build(dataclasses.replace(EXAMPLE, liq_spread_p=5 * 10**8)).positions[0]
    assert pos.mm_rate_entry == pytest.approx(0.0005)


@pytest.mark.parametrize("long", [True, False])
def test_monitor_health_is_one_at_the_worked_price(long: bool) -> None:
    t = dataclasses.replace(EXAMPLE, long=long)
    acct = build(t)
    prices = {"BTC": 100_000.0, "USDC": 1.0}
    liq, _ = liquidation_price(acct, prices, acct.positions[0])
    assert liq == pytest.approx(usd(margin.liquidation_price_e10(t)), rel=1e-12)
    at = account_health(acct, {**prices, "BTC": usd(margin.liquidation_price_e10(t))})
    assert at.health == pytest.approx(1.0, abs=1e-12)
    # Health is gTrade's margin ratio in collateral units, at any price.
    for price in (97_000, 99_000, 100_000, 103_000):
        health = account_health(acct, {**prices, "BTC": float(price)}).health
        assert health == pytest.approx(float(margin.margin_ratio(t, price * 10**10)), rel=1e-12)


@pytest.mark.parametrize(
    ("symbol", "price_e8"),
    [("WETH", 3_123_45678901), ("GNS", 2_37000000), ("APE", 61230000), ("DAI", 99_987_000)],
)
def test_non_usd_collateral_crosses_at_the_same_price(symbol: str, price_e8: int) -> None:
    """gTrade's rule is in collateral units: 1000 tokens of any collateral liquidate at the same
    pair price, and the USD account, every term converted at one price, crosses 1 exactly there."""
    t = dataclasses.replace(EXAMPLE, collateral_decimals=18, collateral_raw=1_000 * 10**18)
    t = dataclasses.replace(
        t, closing_fee_collateral_raw=30 * 10**18, holding_fee_collateral_raw=5 * 10**18
    )
    assert margin.liquidation_price_e10(t) == margin.liquidation_price_e10(EXAMPLE)
    acct = build(t, price_e8=price_e8, coll=symbol)
    prices = {"BTC": 100_000.0, symbol: price_e8 / 1e8}
    report = account_health(acct, prices)
    assert report.positions[0].liquidation_price == pytest.approx(
        usd(margin.liquidation_price_e10(t)), rel=1e-12
    )
    # USD amounts scale with the conversion price, health does not.
    usdc = account_health(build(EXAMPLE), {"BTC": 100_000.0, "USDC": 1.0})
    assert report.health == pytest.approx(usdc.health, rel=1e-12)
    assert report.equity_usd == pytest.approx(usdc.equity_usd * price_e8 / 1e8, rel=1e-12)


@pytest.mark.parametrize("long", [True, False])
def test_collateral_valued_at_another_price_moves_the_crossing(long: bool) -> None:
    """Valued at 10 % above the conversion price, WETH collateral adds equity the rule never
    counts: the monitor's crossing moves by exactly ``crossing_shift_e10``."""
    t = dataclasses.replace(EXAMPLE, long=long, collateral_decimals=18, collateral_raw=10**18)
    t = dataclasses.replace(t, closing_fee_collateral_raw=3 * 10**16, holding_fee_collateral_raw=0)
    acct = build(t, price_e8=3_000 * 10**8, coll="WETH")
    moved, _ = liquidation_price(acct, {"BTC": 100_000.0, "WETH": 3_300.0}, acct.positions[0])
    shift = margin.crossing_shift_e10(t, 3_000 * 10**8, 3_300 * 10**8)
    assert moved == pytest.approx(usd(margin.liquidation_price_e10(t) + shift), rel=1e-12)
    assert shift == pytest.approx(-(1 if long else -1) * 100_000 * 10**10 * 0.1 / 50)
    assert margin.crossing_shift_e10(t, 3_000 * 10**8, 3_000 * 10**8) == 0.0


def test_clamped_liquidation_price_has_none_in_the_monitor() -> None:
    rich = dataclasses.replace(EXAMPLE, leverage_e3=1_100, realized_pnl_collateral_raw=2 * 10**9)
    acct = build(rich)
    liq, _ = liquidation_price(acct, {"BTC": 100_000.0, "USDC": 1.0}, acct.positions[0])
    assert liq is None


def test_pinned_asset_round_trip() -> None:
    key = margin.pinned_asset("WETH", 312_345_678_901)
    assert key == "WETH@312345678901"
    assert margin.pinned_price(key) == 3_123.45678901
    for other in ("WETH", "BTC:low", "@5", "WETH@", "WETH@0", "WETH@1.5", "WETH@²"):
        assert margin.pinned_price(other) is None
    for symbol, price in (("", 1), ("A@B", 1), ("WETH", 0), ("WETH", 1.0)):
        with pytest.raises(ValueError, match="collateral"):
            margin.pinned_asset(symbol, price)  # type: ignore[arg-type]


@pytest.mark.parametrize("long", [True, False])
@pytest.mark.parametrize("weth_now", [1_500.0, 3_000.0, 4_200.0])
def test_pinned_collateral_keeps_the_crossing_whatever_the_token_does(
    long: bool, weth_now: float
) -> None:
    """WETH collateral pinned at its conversion price: the live WETH price is not part of the
    account, so the monitor's crossing stays at gTrade's liquidation price. The same account on
    the live key would be off by ``crossing_shift_e10``."""
    t = dataclasses.replace(EXAMPLE, long=long, collateral_decimals=18, collateral_raw=10**18)
    t = dataclasses.replace(t, closing_fee_collateral_raw=3 * 10**16, holding_fee_collateral_raw=0)
    pinned = build(t, price_e8=3_000 * 10**8, coll=margin.pinned_asset("WETH", 3_000 * 10**8))
    (coll,) = pinned.collateral
    prices = {"BTC": 100_000.0, "WETH": weth_now, coll.asset: margin.pinned_price(coll.asset)}
    liq, _ = liquidation_price(pinned, prices, pinned.positions[0])  # type: ignore[arg-type]
    assert liq == pytest.approx(usd(margin.liquidation_price_e10(t)), rel=1e-12)
    live = build(t, price_e8=3_000 * 10**8, coll="WETH")
    drifted, _ = liquidation_price(live, prices, live.positions[0])  # type: ignore[arg-type]
    shift = margin.crossing_shift_e10(t, 3_000 * 10**8, round(weth_now * 10**8))
    assert drifted == pytest.approx(usd(margin.liquidation_price_e10(t) + shift), rel=1e-12)
