"""Realised σ from price windows, and distances to liquidation in percent and in σ
(monitor.health.volatility, monitor.health.account.move_to_liquidation_pct)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from indexer.models import MarginMode
from monitor.alerts.apply import Observation, _report, alert_payload
from monitor.alerts.levels import Level
from monitor.alerts.rules import AlertDecision
from monitor.health.account import account_health, adverse_weights, liquidation_price
from monitor.health.volatility import (
    MIN_RETURNS,
    MarketVolatility,
    PriceWindow,
    Sigmas,
    position_sigma,
    realised_sigma,
    sigma_move,
)
from tests.health_helpers import account, hl_position, two_asset_cross, usdc

PRICES = {"BTC": 100_000.0, "ETH": 2_000.0, "USDC": 1.0}


def zigzag(n: int, step_s: float, ret: float) -> list[tuple[float, float]]:
    """Prices alternating up and down by log return ``ret`` every ``step_s`` seconds."""
    return [(i * step_s, 100.0 * math.exp(ret if i % 2 else 0.0)) for i in range(n)]


def test_sigma_of_a_zigzag_is_its_return_scaled_by_root_time() -> None:
    # 60 returns of ±1 % a minute: 1 % per minute, √60 % per hour.
    samples = zigzag(61, 60.0, 0.01)
    assert realised_sigma(samples, 60.0) == pytest.approx(0.01, rel=1e-12)
    assert realised_sigma(samples, 3600.0) == pytest.approx(0.01 * math.sqrt(60), rel=1e-12)


def test_irregular_ticks_count_each_return_with_its_time() -> None:
    # A feed that updates on deviation: flat for long stretches, then one jump. Variance per
    # second is the jump² over the whole span, whatever the tick rhythm.
    flat = [(float(t), 100.0) for t in range(0, 3000, 7)]
    samples = [*flat, (3600.0, 100.0 * math.exp(0.02))]
    assert realised_sigma(samples, 3600.0) == pytest.approx(0.02, rel=1e-12)


def test_too_few_returns_or_too_short_a_span_give_no_sigma() -> None:
    assert realised_sigma(zigzag(MIN_RETURNS, 60.0, 0.01), 3600.0) is None
    assert realised_sigma(zigzag(MIN_RETURNS + 1, 60.0, 0.01), 3600.0) is not None
    assert realised_sigma(zigzag(31, 1.0, 0.01), 3600.0, min_span_s=900.0) is None


def test_bad_samples_are_skipped() -> None:
    samples = zigzag(61, 60.0, 0.01)
    noisy = [*samples[:5], (240.0, 50.0), (300.0, math.nan), (301.0, -1.0), *samples[5:]]
    assert realised_sigma(noisy, 60.0) == pytest.approx(realised_sigma(samples, 60.0))


def test_window_keeps_its_span_merges_close_ticks_and_ignores_old_times() -> None:
    window = PriceWindow(span_s=2048.0)  # merge ticks closer than 1 s
    for t in range(0, 5000, 2):
        window.record(float(t), 100.0 + t)
    window.record(4000.0, 1.0)  # out of order: a re-read block
    times = [t for t, _ in window.samples]
    assert times[0] <= 4998 - 2048 < times[1]
    assert times[-1] == 4998.0
    window.record(4998.5, 6.0)
    window.record(4998.8, 7.0)  # within 1 s of the tick before the newest: replaces the newest
    assert window.samples[-2:] == ((4998.0, 5098.0), (4998.8, 7.0))


def test_market_volatility_keeps_one_window_per_market_and_asset() -> None:
    vol = MarketVolatility(horizon_s=60.0, window_s=3600.0)
    sigmas = None
    for t, price in zigzag(61, 60.0, 0.01):
        sigmas = vol.observe((1, "gmx"), {"ETH": price, "USDC": 1.0}, t)
        vol.observe((1, "hl"), {"ETH": 100.0}, t)  # same asset, another source: its own
    assert sigmas is not None
    assert sigmas.horizon_s == 60.0
    assert sigmas.by_asset["ETH"] == pytest.approx(0.01)
    assert sigmas.by_asset["USDC"] == 0.0
    assert vol.observe((1, "hl"), {"ETH": 100.0}, 3601.0).by_asset["ETH"] == 0.0


def test_adverse_weights_follow_net_exposure() -> None:
    cross = two_asset_cross()  # long BTC, long ETH
    assert adverse_weights(cross) == {"BTC": -1.0, "ETH": -1.0}
    short = hl_position("ETH", -10 * 10**4, 4, 20_000 * 10**6, 25)
    mixed = account(MarginMode.CROSS, (usdc(20_000),), cross.positions[0], short)
    assert adverse_weights(mixed, {"BTC": 0.02, "ETH": 0.03}) == {"BTC": -0.02, "ETH": 0.03}


def test_a_cross_account_is_nearer_liquidation_when_its_markets_fall_together() -> None:
    cross = two_asset_cross()
    health = account_health(cross, PRICES)
    alone = [r.distance_pct for r in health.positions]
    assert health.move_pct is not None
    assert all(d is not None for d in alone)
    assert health.move_pct < min(d for d in alone if d is not None)
    # At the joint move both prices are down move_pct: health is exactly 1 there.
    shocked = {a: p * (1 - health.move_pct / 100) for a, p in PRICES.items() if a != "USDC"}
    assert account_health(cross, {**PRICES, **shocked}).health == pytest.approx(1.0, rel=1e-9)


def test_a_single_market_account_moves_as_its_position() -> None:
    one = account(MarginMode.ISOLATED, (usdc(5_000),), two_asset_cross().positions[1])
    health = account_health(one, PRICES)
    assert health.move_pct == liquidation_price(one, PRICES, one.positions[0])[1]


def test_distances_in_sigma() -> None:
    cross = two_asset_cross()
    health = account_health(cross, PRICES)
    sigmas = {"BTC": 0.01, "ETH": 0.02}
    risk = health.positions[0]
    assert risk.distance_pct is not None
    assert position_sigma(risk, sigmas) == pytest.approx(risk.distance_pct / 100 / 0.01)
    assert position_sigma(risk, {"BTC": 0.0}) is None  # a price that never moved
    k = sigma_move(cross, PRICES, sigmas, health.positions)
    assert k is not None
    # Each market k·σ against the account: health 1 (the joint move is the nearest here).
    moved = {"BTC": PRICES["BTC"] * (1 - 0.01 * k), "ETH": PRICES["ETH"] * (1 - 0.02 * k)}
    assert account_health(cross, {**PRICES, **moved}).health == pytest.approx(1.0, rel=1e-9)
    assert sigma_move(cross, PRICES, {"BTC": 0.01}, health.positions) is None  # ETH unknown
    # Without prices only the positions' own distances count: never nearer than the joint one.
    alone = sigma_move(cross, None, sigmas, health.positions)
    assert alone is not None
    assert alone >= k


def test_sigma_facts_reach_the_rules_and_the_alert_payload() -> None:
    cross = replace(two_asset_cross(), protocol="hyperliquid")
    health = account_health(cross, PRICES)
    sigmas = Sigmas(3600.0, {"BTC": 0.01, "ETH": 0.02})
    obs = Observation(1, cross, health, 7, marks_usd=PRICES, sigmas=sigmas)
    report = _report(obs)
    assert report.move_pct == health.move_pct
    assert report.move_sigma == sigma_move(cross, PRICES, sigmas.by_asset, health.positions)
    decision = AlertDecision(Level.WARNING, 1, "liquidation 8.0% away ≤ 10%")
    payload = alert_payload(obs, decision, report.move_sigma)
    assert (payload["move_pct"], payload["move_sigma"]) == (health.move_pct, report.move_sigma)
    assert (payload["sigma_horizon_s"], payload["reason"]) == (3600.0, decision.reason)
    btc = payload["positions"][0]
    assert btc["distance_sigma"] == position_sigma(health.positions[0], sigmas.by_asset)
    # Without the monitor's windows (a first tick): the σ facts are unknown, not zero.
    assert _report(Observation(1, cross, health, 7)).move_sigma is None
