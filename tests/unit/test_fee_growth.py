"""Measured fee growth and the time to liquidation the monitor persists with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.models import E30, MarginAccount, MarginMode
from monitor.analysis.drift import fee_drift
from monitor.health.account import account_health
from monitor.latest.fees import FeeGrowth
from monitor.latest.store import health_values, hours_to_liquidation
from tests.analysis_helpers import PRICES, margin, perp


def with_fees(account: MarginAccount, fees_usd: float) -> MarginAccount:
    position = replace(account.positions[0], pending_fees_usd_e30=round(fees_usd * E30))
    return replace(account, positions=(position,))


def test_growth_is_measured_between_differing_readings_and_gives_hours_by_hand() -> None:
    # 1 ETH long at 2,000, 200 USD collateral, 1 % maintenance (20 USD): a gap of 180 USD.
    account = margin("A", MarginMode.ISOLATED, 200, perp("ETH", 1, 2000))
    tracker = FeeGrowth()
    assert tracker.observe(1, with_fees(account, 0.0), 0.0) == {}
    assert tracker.observe(1, with_fees(account, 0.0), 600.0) == {}  # unchanged: no reading
    growth = tracker.observe(1, with_fees(account, 3.0), 3600.0)  # 3 USD in 1 hour
    assert growth == {"ETH": pytest.approx(3.0)}
    later = with_fees(account, 3.0)
    # gap now 200 - 3 - 20 = 177 USD at 3 USD/hour: 59 hours, as the drift analysis says.
    values = health_values(account_health(later, PRICES))
    assert hours_to_liquidation(values, growth) == pytest.approx(59.0)
    drift = fee_drift(later, PRICES, [growth["ETH"]])
    assert drift.hours_to_liquidation == pytest.approx(59.0)
    assert tracker.observe(1, later, 4000.0) == {"ETH": pytest.approx(3.0)}  # kept while equal
    # Fees fall (claimed on an increase): no growth until the next rise.
    assert tracker.observe(1, with_fees(account, 0.5), 7200.0) == {}
    assert hours_to_liquidation(values, {}) is None
    assert hours_to_liquidation((None, None, None, None), growth) is None  # a bad price


@settings(deadline=None)  # a loaded machine is no failure of the code
@given(st.floats(0.01, 100.0), st.floats(1.0, 1e5))
def test_a_linear_fee_path_measures_its_slope(rate_usd_per_hour: float, dt_s: float) -> None:
    account = margin("A", MarginMode.ISOLATED, 200, perp("ETH", 1, 2000))
    tracker = FeeGrowth()
    tracker.observe(7, with_fees(account, 1.0), 1000.0)
    fees = 1.0 + rate_usd_per_hour * dt_s / 3600.0
    growth = tracker.observe(7, with_fees(account, fees), 1000.0 + dt_s)
    assert growth["ETH"] == pytest.approx(rate_usd_per_hour, rel=1e-6)


@settings(deadline=None)  # a loaded machine is no failure of the code
@given(st.floats(30.0, 5000.0), st.floats(-0.9, 3.0), st.floats(0.001, 50.0))
def test_stored_hours_equal_the_drift_analysis(
    collateral_usd: float, move: float, rate_usd_per_hour: float
) -> None:
    account = margin("A", MarginMode.ISOLATED, collateral_usd, perp("ETH", 1, 2000))
    prices = {**PRICES, "ETH": 2000.0 * (1.0 + move)}
    values = health_values(account_health(account, prices))
    want = fee_drift(account, prices, [rate_usd_per_hour]).hours_to_liquidation
    got = hours_to_liquidation(values, {"ETH": rate_usd_per_hour})
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
