"""Measured fee growth and the time to liquidation the monitor persists with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.models import E30, MarginAccount, MarginMode
from monitor.latest.fees import FeeGrowth
from monitor.latest.store import hours_to_liquidation
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
    # gap now 200 - 3 - 20 = 177 USD at 3 USD/hour: 59 hours.
    assert hours_to_liquidation(later, PRICES, growth) == pytest.approx(59.0)
    assert tracker.observe(1, later, 4000.0) == {"ETH": pytest.approx(3.0)}  # kept while equal
    # Fees fall (claimed on an increase): no growth until the next rise.
    assert tracker.observe(1, with_fees(account, 0.5), 7200.0) == {}
    assert hours_to_liquidation(later, PRICES, {}) is None


@given(st.floats(0.01, 100.0), st.floats(1.0, 1e5))
def test_a_linear_fee_path_measures_its_slope(rate_usd_per_hour: float, dt_s: float) -> None:
    account = margin("A", MarginMode.ISOLATED, 200, perp("ETH", 1, 2000))
    tracker = FeeGrowth()
    tracker.observe(7, with_fees(account, 1.0), 1000.0)
    fees = 1.0 + rate_usd_per_hour * dt_s / 3600.0
    growth = tracker.observe(7, with_fees(account, fees), 1000.0 + dt_s)
    assert growth["ETH"] == pytest.approx(rate_usd_per_hour, rel=1e-6)
