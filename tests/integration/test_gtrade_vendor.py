"""perpwatch's gTrade margin math against Gains Network's own SDK (@gainsnetwork/sdk 1.8.7, a
dev dependency), run with node on thousands of seeded random trades.

Every collateral (DAI, USDC, WETH, GNS, APE: 18 and 6 decimals), long and short, leverage below,
at, inside, at the end of and above the dynamic-threshold range, all five params set / one of
them 0 / startLeverage == endLeverage / none (pre-v9.2), spreads on and off, every contracts
version, minimum position sizes and counter-trade fee multipliers. Agreement is 1e-9 relative
to the SDK's price, with an absolute floor of 1e-12 of the open price: the SDK computes
``open - dist`` in floats, so near a price of 0 its own rounding is about 1e-16 of the open
price. The classes that differ, each asserted below:

1. Closing fee: perpwatch floors it to the collateral's smallest unit (integer arithmetic, as
   the diamond stores amounts); the SDK keeps the fraction. ``test_closing_fee`` holds the
   difference in [0, 1) unit; ``test_sdk_pipeline`` allows the liquidation price the move that
   one unit makes (``open / (collateral_raw · leverage)``), and ``test_liquidation_price``
   gives the SDK perpwatch's fee to show nothing else differs.
2. A zero start or end threshold with the other four set: ``convertLiquidationParams``
   substitutes 90 % for that threshold alone, while ``getLiqPnlThresholdP`` (and perpwatch, and
   the issue's rule) uses 90 % flat when any param is 0. The diamond's setter rejects a zero
   param, so no live trade is in this class; ``test_sdk_pipeline`` checks the SDK equals
   perpwatch with the substituted params.
3. startLeverage == endLeverage == leverage with different thresholds: the SDK divides 0 by 0
   (NaN); perpwatch returns the start threshold (``leverage <= startLeverage``).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from indexer.protocols.gtrade import margin
from monitor.health.account import account_health
from monitor.health.book import compile_accounts, evaluate
from tests.gtrade_helpers import (
    RawTrade,
    account,
    collateral_prices,
    random_trades,
    substituted_params,
)

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "tests" / "vendor"
SEED = 13
COUNT = 5_000
REL = 1e-9
ABS_OF_OPEN = 1e-12
LEGACY = margin.LEGACY_LIQ_THRESHOLD_P

pytestmark = pytest.mark.slow


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the vendor comparison needs it (npm ci installs the SDK)")
    return node


def _run(script: str, stdin: str = "") -> str:
    done = subprocess.run(
        [_node(), str(VENDOR / script)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"node {script} failed: {done.stderr.strip()[:2000]}")
    return done.stdout


@pytest.fixture(scope="module")
def cases() -> list[tuple[RawTrade, dict[str, Any]]]:
    trades = random_trades(SEED, COUNT)
    out = json.loads(_run("gtrade_liq.js", json.dumps([t.sdk_input() for t in trades])))
    assert len(out) == len(trades)
    return list(zip(trades, out, strict=True))


def _usd(price_e10: float) -> float:
    return price_e10 / 1e10


def _close(ours: float, sdk: float, trade: RawTrade, extra: float = 0.0) -> bool:
    tolerance = REL * abs(sdk) + ABS_OF_OPEN * _usd(trade.open_price_e10) + extra
    return abs(ours - sdk) <= tolerance


def _nan_class(trade: RawTrade) -> bool:
    """Class 3: the SDK's 0/0 at startLeverage == endLeverage == leverage."""
    p = trade.params
    return (
        p.complete
        and p.start_leverage == p.end_leverage == trade.leverage_e3
        and p.start_liq_threshold_p != p.end_liq_threshold_p
    )


def _substituted_class(trade: RawTrade) -> bool:
    """Class 2: one threshold 0, the other four set."""
    p = trade.params
    nonzero = (p.max_liq_spread_p, p.start_leverage, p.end_leverage)
    return all(nonzero) and (p.start_liq_threshold_p == 0) != (p.end_liq_threshold_p == 0)


def test_every_class_is_covered(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    trades = [t for t, _ in cases]
    assert {t.collateral.symbol for t in trades} == {"DAI", "USDC", "WETH", "GNS", "APE"}
    assert {t.param_class for t in trades} == {"dynamic", "one_zero", "flat_leverage", "legacy"}
    dynamic = [t for t in trades if t.params.complete]
    assert any(t.leverage_e3 < t.params.start_leverage for t in dynamic)
    assert any(t.leverage_e3 == t.params.start_leverage for t in dynamic)
    assert any(t.params.start_leverage < t.leverage_e3 < t.params.end_leverage for t in dynamic)
    assert any(t.leverage_e3 == t.params.end_leverage for t in dynamic)
    assert any(t.leverage_e3 > t.params.end_leverage for t in dynamic)
    for field in margin.LiqParams.__slots__:
        assert any(t.param_class == "one_zero" and getattr(t.params, field) == 0 for t in trades)
    assert {t.long for t in trades} == {True, False}
    assert any(t.counter_multiplier_e3 != 1_000 and t.min_usd_e3 and t.fee_p for t in trades)
    assert any(t.spread_p > 0 for t in trades)
    assert any(t.spread_p == 0 for t in trades)
    assert any(_nan_class(t) for t in trades)
    assert any(_substituted_class(t) for t in trades)
    clamped = [t for t, sdk in cases if sdk["given_fee"] == 0.0]
    assert clamped
    assert all(t.long for t in clamped)


def test_threshold(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """``liq_threshold_p`` = the SDK's ``getLiqPnlThresholdP``, to its integer floor (1e-12)."""
    for trade, sdk in cases:
        ours = margin.liq_threshold_p(trade.params, trade.leverage_e3) / 1e12
        if _nan_class(trade):
            assert sdk["threshold"] is None
            assert ours == trade.params.start_liq_threshold_p / 1e12
            continue
        assert abs(ours - sdk["threshold"]) <= 2e-12, trade


def test_closing_fee(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """Class 1: perpwatch's fee is the SDK's, floored to the smallest unit."""
    for trade, sdk in cases:
        exact = sdk["fee"] * 10**trade.collateral.decimals
        slack = 1e-12 * exact
        assert exact - 1 - slack <= trade.closing_fee_raw <= exact + slack, trade


def test_liquidation_price(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """``liquidation_price_e10`` = ``getLiquidationPrice`` given the same closing fee and the
    raw params, to 1e-9 relative (class 3 aside)."""
    checked = 0
    for trade, sdk in cases:
        ours = _usd(margin.liquidation_price_e10(trade.terms()))
        if _nan_class(trade):
            assert sdk["given_fee"] is None
            assert not math.isnan(ours)
            continue
        assert _close(ours, sdk["given_fee"], trade), (trade, ours, sdk)
        assert _close(ours, sdk["direct"], trade, _fee_move(trade, sdk)), (trade, ours, sdk)
        checked += 1
    assert checked > 0.95 * COUNT


def _fee_move(trade: RawTrade, sdk: dict[str, Any]) -> float:
    """How far the floor of the closing fee moves the liquidation price (USD)."""
    exact: float = sdk["fee"] * 10**trade.collateral.decimals
    lost = abs(exact - trade.closing_fee_raw) + 1e-12 * exact
    return _usd(trade.open_price_e10) * lost * 1000 / (trade.collateral_raw * trade.leverage_e3)


def test_sdk_pipeline(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """The SDK's full pipeline (its converter, its fee) against perpwatch: equal up to the fee
    floor (class 1), with class 2 equal to perpwatch on the substituted params."""
    substituted = 0
    for trade, sdk in cases:
        if _nan_class(trade):
            assert sdk["sdk"] is None
            continue
        params = trade.params
        if _substituted_class(trade):
            params = substituted_params(params)
            substituted += 1
            flat = _usd(margin.liquidation_price_e10(trade.terms()))
            same = margin.liq_threshold_p(params, trade.leverage_e3) == LEGACY or sdk["sdk"] == 0
            assert same or not _close(flat, sdk["sdk"], trade, _fee_move(trade, sdk)), (
                "class 2 differs from the flat 90 % wherever the substituted threshold is not 90 % "
                "(and the price is not clamped at 0)"
            )
        ours = _usd(margin.liquidation_price_e10(trade.terms(params)))
        assert _close(ours, sdk["sdk"], trade, _fee_move(trade, sdk)), (trade, ours, sdk)
    assert substituted > 0


def test_monitor_book_liquidation_price(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """The monitor's vectorised book, fed perpwatch's accounts with their collateral pinned at
    the conversion price (``margin.pinned_asset``; the live symbols, quoted 37 % higher, are not
    part of any account), puts health 1 at the SDK's liquidation price (NaN where the SDK says
    0)."""
    rows = [(i, t, s) for i, (t, s) in enumerate(cases) if not _nan_class(t)]
    book = compile_accounts([account(t, i) for i, t, _ in rows])
    prices = collateral_prices()
    for i, trade, _ in rows:
        prices[f"PAIR{i}"] = _usd(trade.open_price_e10) * (1.02 if trade.long else 0.98)
    result = evaluate(book, book.price_vector(prices))
    assert not result.unknown.any()
    for row, (_, trade, sdk) in enumerate(rows):
        liq = float(result.liquidation_price[row])
        if sdk["given_fee"] == 0.0:
            assert math.isnan(liq), (trade, liq)
            continue
        assert _close(liq, sdk["given_fee"], trade), (trade, liq, sdk)


def test_monitor_account_health(cases: list[tuple[RawTrade, dict[str, Any]]]) -> None:
    """``monitor.health.account`` on every 10th trade: the liquidation price is the SDK's and the
    health there is 1; a step of 1e-6 beyond it is below 1, one before it above."""
    for i, (trade, sdk) in enumerate(cases[::10]):
        if _nan_class(trade) or sdk["given_fee"] == 0.0:
            continue
        acct = account(trade, i)
        prices = collateral_prices()
        prices[f"PAIR{i}"] = _usd(trade.open_price_e10)
        report = account_health(acct, prices)
        liq = report.positions[0].liquidation_price
        assert liq is not None
        assert _close(liq, sdk["given_fee"], trade), (trade, liq, sdk)
        side = 1.0 if trade.long else -1.0
        at = account_health(acct, {**prices, f"PAIR{i}": liq}).health
        worse = account_health(acct, {**prices, f"PAIR{i}": liq * (1 - side * 1e-6)}).health
        better = account_health(acct, {**prices, f"PAIR{i}": liq * (1 + side * 1e-6)}).health
        assert abs(at - 1.0) <= 1e-9, (trade, at)
        assert worse < 1.0 < better, (trade, worse, better)


def test_abi_file_is_the_sdk_extraction() -> None:
    """contracts_abi/gtrade/GNSMultiCollatDiamond.json is byte for byte what the extraction
    script makes of the installed SDK (contracts_abi/gtrade/SOURCE.md)."""
    shipped = (ROOT / "contracts_abi" / "gtrade" / "GNSMultiCollatDiamond.json").read_text()
    assert _run("gtrade_abi.js") == shipped
