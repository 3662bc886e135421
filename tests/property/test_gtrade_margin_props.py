"""Properties of gTrade's margin rule and of its normal-form account (hypothesis).

Exact properties are checked on rationals (``margin_ratio``, ``is_liquidatable``); the monitor's
float results (``monitor.health.account``) to 1e-9.
"""

from __future__ import annotations

import math

from hypothesis import assume, example, given
from hypothesis import strategies as st

from indexer.models import MarginAccount
from indexer.protocols.gtrade import margin
from indexer.protocols.gtrade.margin import LiqParams, TradeTerms
from monitor.health.account import account_health
from tests.gtrade_helpers import COLLATERALS, CollateralKind

PERCENT_P = 10**10


@st.composite
def liq_params(draw: st.DrawFn) -> LiqParams:
    end_thr = draw(st.integers(10 * PERCENT_P, 90 * PERCENT_P))
    start_thr = draw(st.integers(end_thr, 90 * PERCENT_P))
    start_lev = draw(st.integers(1_000, 100_000))
    end_lev = draw(st.integers(start_lev, 300_000))
    values = [draw(st.integers(1, 10**10)), start_thr, end_thr, start_lev, end_lev]
    zero = draw(st.sampled_from([None, 0, 1, 2, 3, 4]))
    if zero is not None:
        values[zero] = 0
    return LiqParams(*values)


@st.composite
def trades(draw: st.DrawFn, kind: CollateralKind | None = None) -> TradeTerms:
    coll = kind or draw(st.sampled_from(COLLATERALS))
    scale = 10**coll.decimals
    collateral = draw(st.integers(scale // 10, 10**6 * scale))
    return TradeTerms(
        long=draw(st.booleans()),
        open_price_e10=draw(st.integers(10**6, 10**16)),
        collateral_raw=collateral,
        collateral_decimals=coll.decimals,
        leverage_e3=draw(st.integers(1_100, 250_000)),
        liq_params=draw(liq_params()),
        closing_fee_collateral_raw=draw(st.integers(0, collateral // 10)),
        holding_fee_collateral_raw=draw(st.integers(-collateral // 20, collateral // 20)),
        realized_pnl_collateral_raw=draw(st.integers(-collateral // 5, collateral // 5)),
        realized_trading_fees_collateral_raw=draw(st.integers(0, collateral // 100)),
        liq_spread_p=draw(st.sampled_from([0, draw(st.integers(1, 10**9))])),
    )


def _account(t: TradeTerms, kind: CollateralKind, price_e8: int | None = None) -> MarginAccount:
    return margin.trade_account(
        t,
        account_id="0x1:0",
        owner="0x1",
        market="X/USD",
        asset="X",
        collateral_asset=kind.symbol,
        collateral_price_feed="test",
        collateral_price_usd_e8=price_e8 or kind.price_usd_e8,
        chain_id=1,
        block_number=1,
    )


@given(liq_params(), st.integers(1, 400_000))
def test_threshold_is_90_percent_when_a_param_is_zero(params: LiqParams, leverage: int) -> None:
    thr = margin.liq_threshold_p(params, leverage)
    if not params.complete:
        assert thr == margin.LEGACY_LIQ_THRESHOLD_P
    else:
        assert params.end_liq_threshold_p <= thr <= params.start_liq_threshold_p


@given(liq_params(), st.integers(1, 400_000), st.integers(1, 400_000))
def test_threshold_never_rises_with_leverage(params: LiqParams, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert margin.liq_threshold_p(params, low) >= margin.liq_threshold_p(params, high)


@given(trades(), st.integers(1, 10**17))
def test_liquidatable_exactly_when_margin_ratio_at_most_one(t: TradeTerms, price: int) -> None:
    """``C + pnl - F <= C(1 - thr) + s·C·lev`` is the liquidation-price rule (positive
    requirement; the price clamp at 0 only matters where no positive price crosses)."""
    assume(margin.liquidation_price_exact_e10(t) > 0)
    assert margin.is_liquidatable(t, price) == (margin.margin_ratio(t, price) <= 1)


@given(trades())
def test_margin_ratio_is_exactly_one_at_the_liquidation_price(t: TradeTerms) -> None:
    liq = margin.liquidation_price_exact_e10(t)
    assume(liq > 0)
    assert margin.margin_ratio(t, liq) == 1


@given(trades(), st.integers(1, 10**17), st.integers(1, 10**17))
def test_margin_ratio_is_monotonic_in_price(t: TradeTerms, a: int, b: int) -> None:
    low, high = sorted((a, b))
    if t.long:
        assert margin.margin_ratio(t, low) <= margin.margin_ratio(t, high)
    else:
        assert margin.margin_ratio(t, low) >= margin.margin_ratio(t, high)


# A long whose exact liquidation price is 2.7e-16 of its open price: below float resolution
# at the open price, so the monitor may not tell it from "no positive price liquidates".
_BELOW_RESOLUTION = TradeTerms(
    long=True,
    open_price_e10=10**6,
    collateral_raw=6_728_512_142_874_223_390,
    collateral_decimals=18,
    leverage_e3=1_100,
    liq_params=LiqParams(0, 10**11, 10**11, 1_000, 1_000),
    closing_fee_collateral_raw=0,
    holding_fee_collateral_raw=0,
    realized_pnl_collateral_raw=1_345_702_428_574_842_693,
    realized_trading_fees_collateral_raw=0,
    liq_spread_p=0,
)
_DAI = next(k for k in COLLATERALS if k.symbol == "DAI")


@given(st.sampled_from(COLLATERALS).flatmap(lambda k: st.tuples(st.just(k), trades(k))))
@example((_DAI, _BELOW_RESOLUTION))
def test_monitor_health_is_one_at_the_liquidation_price(
    case: tuple[CollateralKind, TradeTerms],
) -> None:
    """Health is 1 at gTrade's liquidation price, and seen from the open price the monitor's
    liquidation price is gTrade's to 1e-9, or to 1e-12 of the open price: a liquidation price
    closer to 0 than that is below float resolution there and may be reported as none."""
    kind, t = case
    liq = margin.liquidation_price_e10(t) / 1e10
    assume(liq > 0)
    acct = _account(t, kind)
    prices = {"X": liq, kind.symbol: kind.price_usd_e8 / 1e8}
    report = account_health(acct, prices)
    assert math.isclose(report.health, 1.0, rel_tol=1e-9), report
    open_usd = t.open_price_e10 / 1e10
    resolution = 1e-12 * open_usd
    risk = account_health(acct, {**prices, "X": open_usd}).positions[0]
    if risk.liquidation_price is None:
        assert liq <= resolution, (liq, open_usd)
    else:
        assert math.isclose(risk.liquidation_price, liq, rel_tol=1e-9, abs_tol=resolution)


@given(
    st.sampled_from(COLLATERALS).flatmap(lambda k: st.tuples(st.just(k), trades(k))),
    st.floats(0.2, 5.0),
    st.floats(0.5, 2.0),
)
def test_monitor_health_is_the_margin_ratio_and_monotonic(
    case: tuple[CollateralKind, TradeTerms], move: float, step: float
) -> None:
    """At any pair price the account's health is gTrade's margin ratio; it rises with the price
    for a long and falls for a short."""
    kind, t = case
    acct = _account(t, kind)
    collateral = {kind.symbol: kind.price_usd_e8 / 1e8}
    price = t.open_price_e10 * move
    ratio = float(margin.margin_ratio(t, round(price)))
    health = account_health(acct, {"X": round(price) / 1e10, **collateral}).health
    assert math.isclose(health, ratio, rel_tol=1e-9, abs_tol=1e-9), (health, ratio)
    assume(step != 1.0)
    other = account_health(acct, {"X": round(price) * step / 1e10, **collateral}).health
    rises = (step > 1.0) == t.long
    assert (other >= health) if rises else (other <= health)


@given(
    st.sampled_from(COLLATERALS).flatmap(lambda k: st.tuples(st.just(k), trades(k))),
    st.integers(10**4, 10**13),
)
def test_health_does_not_depend_on_the_conversion_price(
    case: tuple[CollateralKind, TradeTerms], price_e8: int
) -> None:
    """gTrade's rule is in collateral units: any one conversion price gives the same health and
    the same liquidation price, while USD amounts scale with it."""
    kind, t = case
    pair = {"X": t.open_price_e10 / 1e10}
    base = account_health(_account(t, kind), {**pair, kind.symbol: kind.price_usd_e8 / 1e8})
    other = account_health(_account(t, kind, price_e8), {**pair, kind.symbol: price_e8 / 1e8})
    assert math.isclose(other.health, base.health, rel_tol=1e-9, abs_tol=1e-12)
    a, b = base.positions[0].liquidation_price, other.positions[0].liquidation_price
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * pair["X"])
    scale = price_e8 / kind.price_usd_e8
    assert math.isclose(other.equity_usd, base.equity_usd * scale, rel_tol=1e-9, abs_tol=1e-9)
