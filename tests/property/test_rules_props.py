"""Properties of the alert state machine over random report sequences (hypothesis).

Reports mix healths across every band, distances, stale or fresh prices (age drawn on both
sides of the heartbeat), stalled heads, missing healths and liquidation events; policies draw
their thresholds, clear margin and distance trigger.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bench.rules import LiteralPolicy
from indexer.config.sections import Thresholds
from monitor.alerts.levels import Level
from monitor.alerts.policy import LADDER, Reading, rank
from monitor.alerts.rules import AlertDecision, AlertState, Policy, PriceFreshness, Report, step

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HEARTBEAT_S = 600.0


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    warning = draw(st.floats(1.1, 2.0))
    critical = draw(st.floats(1.01, warning - 0.05))
    margin = draw(st.sampled_from([0.0, 0.01, 0.05, 0.2]))
    warn_pct = draw(st.sampled_from([0.0]) | st.floats(1.0, 30.0))
    crit_pct = draw(st.sampled_from([0.0]) | st.floats(0.1, 0.9)) * warn_pct
    warn_sigma = draw(st.sampled_from([0.0]) | st.floats(0.5, 6.0))
    crit_sigma = draw(st.sampled_from([0.0]) | st.floats(0.1, 0.9)) * warn_sigma
    return Policy.from_thresholds(
        Thresholds(
            warning=warning, critical=critical, clear_margin=margin,
            warning_distance_pct=warn_pct, critical_distance_pct=crit_pct,
            warning_sigma=warn_sigma, critical_sigma=crit_sigma,
        )
    )  # fmt: skip


healths = st.floats(0.5, 2.5) | st.sampled_from([1.0, 1.15, 1.5, math.inf])


@st.composite
def reports(draw: st.DrawFn) -> Report:
    """One report; price ages straddle the heartbeat so some are stale."""
    kind = draw(st.sampled_from(["fresh", "fresh", "fresh", "priced", "stalled", "none", "liq"]))
    if kind == "liq":
        return Report(liquidated=True)
    health = None if kind == "none" else draw(healths)
    distance = draw(st.none() | st.floats(-5.0, 40.0))
    sigma = draw(st.none() | st.floats(-1.0, 8.0))
    prices: tuple[PriceFreshness, ...] = ()
    if kind == "priced":
        age_s = draw(st.floats(0, 2 * HEARTBEAT_S))
        prices = (PriceFreshness("ETH", T0 - timedelta(seconds=age_s), HEARTBEAT_S),)
    return Report(health, distance, sigma, prices, head_stalled=kind == "stalled")


def is_stale(report: Report) -> bool:
    """The test's own oracle for staleness at T0."""
    old = any((T0 - p.updated_at).total_seconds() > p.heartbeat_s for p in report.prices)
    return old or report.head_stalled or report.health is None


Trace = list[tuple[AlertState, Report, AlertState, list[AlertDecision]]]


def trace(policy: Policy, items: list[Report]) -> Trace:
    """Every step as (before, report, after, alerts); all at T0 so ages are as drawn."""
    state, steps = AlertState(), []
    for item in items:
        after, alerts = step(state, item, policy, T0)
        steps.append((state, item, after, alerts))
        state = after
    return steps


sequences = st.lists(reports(), max_size=40)


@given(policies(), sequences)
def test_never_the_same_level_and_episode_twice(policy: Policy, items: list[Report]) -> None:
    keys = [(a.level, a.episode) for *_, alerts in trace(policy, items) for a in alerts]
    assert len(keys) == len(set(keys))
    assert keys == sorted(keys, key=lambda k: k[1])  # episodes never go back


@given(policies(), sequences)
def test_state_invariants(policy: Policy, items: list[Report]) -> None:
    for before, _, after, alerts in trace(policy, items):
        assert len(alerts) <= 1
        assert after.level is not Level.RECOVERED
        assert (after.level is Level.OK) == (not after.alerted)
        assert after.episode in (before.episode, before.episode + 1)
        assert all(a.episode == after.episode or a.level is Level.RECOVERED for a in alerts)
        # The worst health level alerted covers the milder ones, and the current one is covered.
        worst = max((rank(lv) for lv in after.alerted if lv in LADDER), default=0)
        assert {lv for lv in after.alerted if lv in LADDER} == set(LADDER[1 : worst + 1])
        assert after.level not in LADDER or rank(after.level) <= worst


@given(policies(), sequences)
def test_escalation_alerts_at_the_first_crossing(policy: Policy, items: list[Report]) -> None:
    for before, item, after, alerts in trace(policy, items):
        if item.liquidated or is_stale(item):
            continue
        assert item.health is not None
        raw = policy.raw_level(Reading(item.health, item.move_pct, item.move_sigma))
        if before.level in LADDER:
            assert rank(after.level) >= rank(raw)  # escalation is never delayed
        if before.level is Level.LIQUIDATED and raw is not Level.OK:
            # Open again after a liquidation: a new episode, alerted whatever the last one said.
            assert after.level is raw
            assert [(a.level, a.episode) for a in alerts] == [(raw, before.episode + 1)]
            continue
        if raw is Level.OK or raw in before.alerted:
            continue
        assert after.level is raw
        assert [(a.level, a.episode) for a in alerts] == [(raw, before.episode)]


@given(policies(), sequences)
def test_unknown_always_alerts(policy: Policy, items: list[Report]) -> None:
    for before, item, after, alerts in trace(policy, items):
        if item.liquidated or not is_stale(item):
            continue
        assert after.level is Level.UNKNOWN
        entered = [] if before.level is Level.UNKNOWN else [(Level.UNKNOWN, after.episode)]
        assert [(a.level, a.episode) for a in alerts] == entered


@given(policies(), sequences)
def test_recovered_closes_the_episode(policy: Policy, items: list[Report]) -> None:
    for before, _, after, alerts in trace(policy, items):
        recovered = before.level is not Level.OK and after.level is Level.OK
        closing = [(a.level, a.episode) for a in alerts if a.level is Level.RECOVERED]
        assert closing == ([(Level.RECOVERED, before.episode)] if recovered else [])
        assert (after.episode == before.episode + 1) == (recovered or _reopened(before, alerts))


def _reopened(before: AlertState, alerts: list[AlertDecision]) -> bool:
    """A second unknown or liquidated in an episode starts the next one, and so does an
    account open again (at warning or worse) after its liquidation."""
    again = before.level is Level.LIQUIDATED and any(a.level in LADDER for a in alerts)
    return again or any(
        a.level in before.alerted and a.episode == before.episode + 1 for a in alerts
    )


@given(policies(), st.sampled_from(LADDER[1:]), st.data())
def test_hysteresis_prevents_flapping(policy: Policy, level: Level, data: st.DataObject) -> None:
    """Health oscillating between a threshold and its clear level alerts once, and holds."""
    threshold = policy.triggers(level, Reading(health=1.0))[0].threshold  # health comes first
    lower = {Level.WARNING: policy.thresholds.critical, Level.CRITICAL: 1.0}.get(level, 0.5)
    band = st.floats(lower, policy.thresholds.clear_above(threshold), exclude_min=True)
    oscillation = data.draw(st.lists(band, max_size=30))
    items = [Report(health=h) for h in [threshold, *oscillation]]
    steps = trace(policy, items)
    assert [(a.level, a.episode) for *_, alerts in steps for a in alerts] == [(level, 1)]
    assert {after.level for _, _, after, _ in steps} == {level}


readings = st.builds(Reading, healths, st.none() | st.floats(-5.0, 40.0),
                     st.none() | st.floats(-1.0, 8.0))  # fmt: skip


@given(policies(), readings)
def test_levels_follow_the_triggers(policy: Policy, reading: Reading) -> None:
    """``raw_level`` and ``holds`` (read from precomputed limits) agree with the triggers, the
    definition, evaluated literally by the benchmark's baseline."""
    literal = LiteralPolicy(policy.thresholds)
    assert policy.raw_level(reading) is literal.raw_level(reading)
    for level in LADDER[1:]:
        assert policy.holds(level, reading) is literal.holds(level, reading)
