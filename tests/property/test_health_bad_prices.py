"""A price that is NaN, ±inf, zero or negative never yields a health: the account is unknown,
with a reason, on the scalar and the vectorised path alike, and the alert rules say so."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from indexer.models import MarginAccount
from monitor.alerts.apply import Observation, alert_payload
from monitor.alerts.levels import Level
from monitor.alerts.rules import AlertState, Policy, Report, step
from monitor.health.account import account_health, liquidation_price, shock_to_liquidation
from monitor.health.book import account_healths, compile_accounts, evaluate
from tests.health_helpers import accounts, prices

BAD = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
    st.floats(max_value=-1e-300, allow_infinity=False),
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@given(st.lists(accounts(), min_size=1, max_size=5), prices(), st.data())
def test_bad_price_makes_the_account_unknown_on_both_paths(
    book_accounts: list[MarginAccount], px: dict[str, float], data: st.DataObject
) -> None:
    asset = data.draw(st.sampled_from(sorted({a for acc in book_accounts for a in acc.assets})))
    bad = {**px, asset: data.draw(BAD)}
    book = compile_accounts(book_accounts)
    vector = book.price_vector(bad)
    result = evaluate(book, vector)
    vectorised = account_healths(book, result, vector)
    for i, acc in enumerate(book_accounts):
        scalar = account_health(acc, bad)
        if asset not in acc.assets:
            assert scalar.known
            assert vectorised[i].known
            assert not result.unknown[i]
            continue
        for health in (scalar, vectorised[i]):
            assert not health.known
            assert health.reason is not None
            assert asset in health.reason
            assert "bad price" in health.reason
            assert math.isnan(health.health)
            assert math.isnan(health.equity_usd)
            assert all(r.liquidation_price is None for r in health.positions)
            assert all(r.distance_pct is None for r in health.positions)
        assert result.unknown[i]
        assert math.isnan(result.health[i])
        assert vectorised[i].reason == scalar.reason
        rows = book.pos_account == i
        assert all(math.isnan(v) for v in result.liquidation_price[rows])
        assert liquidation_price(acc, bad, acc.positions[0]) == (None, None)
        assert shock_to_liquidation(acc, bad, {asset: -1.0}) is None


@given(accounts(), prices(), st.data())
def test_the_alert_rules_report_a_bad_price_as_unknown_with_its_reason(
    acc: MarginAccount, px: dict[str, float], data: st.DataObject
) -> None:
    asset = data.draw(st.sampled_from(sorted(acc.assets)))
    health = account_health(acc, {**px, asset: data.draw(BAD)})
    state, alerts = step(AlertState(), Report.from_health(health), Policy(), NOW)
    assert state.level is Level.UNKNOWN
    (alert,) = alerts
    assert alert.level is Level.UNKNOWN
    assert health.reason is not None
    assert health.reason in alert.reason
    payload = alert_payload(Observation(1, acc, health, 1), alert)
    assert payload["health"] is None
    assert (payload["equity_usd"], payload["maintenance_usd"]) == (0.0, 0.0)
