"""``ProcessMetrics.observe``: what one tick summary adds to the ``run`` process's counters."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from prometheus_client import generate_latest

from monitor.alerts.chain import ChainDecision
from monitor.alerts.chain_store import ChainDecided
from monitor.alerts.levels import Level
from monitor.metrics.process import ProcessMetrics
from monitor.runtime.heartbeat import TickSummary
from monitor.runtime.service import Monitor
from tests.api_helpers import parse_metrics

SINCE = datetime(2026, 12, 3, tzinfo=UTC)


def _chain_alert(level: Level, episode: int) -> ChainDecided:
    return ChainDecided(42161, episode, ChainDecision(level, episode, "rpc down", SINCE))


def _metrics() -> ProcessMetrics:
    stand_in = SimpleNamespace(tick_listeners=[], runtimes={}, last_ticks={})
    return ProcessMetrics(cast(Monitor, stand_in))


def test_chain_alerts_are_counted_apart_from_account_alerts() -> None:
    metrics = _metrics()
    outage = TickSummary(
        "arbitrum", 10, 0, 3, 3, (), chain_alerts=(_chain_alert(Level.UNKNOWN, 1),)
    )
    metrics.observe("arbitrum", outage, 0.5)
    later = TickSummary(
        "arbitrum", 20, 0, 3, 0, (), chain_alerts=(_chain_alert(Level.RECOVERED, 1),)
    )
    metrics.observe("arbitrum", later, 0.5)
    metrics.observe("arbitrum", TickSummary("arbitrum", 21, 0, 3, 0, ()), 0.5)

    samples = parse_metrics(generate_latest(metrics.registry).decode())
    for level in ("unknown", "recovered"):
        labels = (("chain", "arbitrum"), ("level", level))
        assert samples["perpwatch_chain_alerts_decided_total", labels] == 1
        assert ("perpwatch_alerts_decided_total", labels) not in samples
    assert samples["perpwatch_tick_duration_seconds_count", (("chain", "arbitrum"),)] == 3


def test_a_tick_another_worker_held_counts_nothing() -> None:
    metrics = _metrics()
    held = TickSummary("arbitrum", -1, 0, 0, 0, (), leased=False)
    metrics.observe("arbitrum", held, 0.01)
    names = {name for name, _ in parse_metrics(generate_latest(metrics.registry).decode())}
    assert "perpwatch_tick_duration_seconds_count" not in names
