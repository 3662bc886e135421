"""Metrics only the running monitor knows (``perpwatch run --metrics-port``): tick duration
(whole and per phase), logs ingested, alerts decided (about accounts and about chains), RPC
requests and failures per URL, the new-heads subscription, head lag, and how remembered owners'
reads went.

    metrics = ProcessMetrics(monitor)       # registers a tick listener on ``monitor``
    metrics.serve(host, port)               # a daemon thread answering GET /metrics
"""

from __future__ import annotations

from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from indexer.protocols.base import RemembersOwners
from monitor.runtime.heartbeat import TickSummary
from monitor.runtime.service import Monitor

TICK_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _NodeCollector(Collector):
    """Per-URL RPC counters and head lag, read from the monitor's node clients per scrape."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "perpwatch_rpc_requests", "JSON-RPC requests per URL.", labels=["chain", "url"]
        )
        failures = CounterMetricFamily(
            "perpwatch_rpc_failures", "Failed JSON-RPC requests per URL.", labels=["chain", "url"]
        )
        subscribed = GaugeMetricFamily(
            "perpwatch_head_subscription_up",
            "1 while the chain's ws_url subscription to new heads is up (its heads are then "
            "not polled), 0 while it is down; absent without a ws_url.",
            labels=["chain"],
        )
        pushed = CounterMetricFamily(
            "perpwatch_heads_pushed", "New heads the chain's ws_url pushed.", labels=["chain"]
        )
        lag = GaugeMetricFamily(
            "perpwatch_head_lag_blocks",
            "Newest head a node reported minus the block the last tick read at "
            "(finality_blocks included).",
            labels=["chain"],
        )
        for name, runtime in self.monitor.runtimes.items():
            stats = runtime.rpc_stats()
            for s in stats:
                requests.add_metric([name, s.url], s.requests)
                failures.add_metric([name, s.url], s.failures)
            if (subscription := runtime.heads) is not None:
                subscribed.add_metric([name], int(subscription.connected))
                pushed.add_metric([name], subscription.pushes)
            heads = [s.last_head for s in stats if s.last_head is not None]
            tick = self.monitor.last_ticks.get(name)
            if heads and tick is not None and tick.leased and tick.block >= 0:
                lag.add_metric([name], max(0, max(heads) - tick.block))
        yield from (requests, failures, subscribed, pushed, lag)


class _OwnerReadsCollector(Collector):
    """How the reads of protocols that remember owners went (``RemembersOwners``), per scrape."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        reads = CounterMetricFamily(
            "perpwatch_owner_reads",
            "Owners read by a protocol that remembers them (Hyperliquid), by outcome: "
            "unchanged (the margin summary sufficed), changed (a second step read the "
            "positions), in_full (every position at once).",
            labels=["chain", "protocol", "outcome"],
        )
        for name, runtime in self.monitor.runtimes.items():
            for adapter in runtime.group.adapters:
                if isinstance(adapter, RemembersOwners):
                    for outcome, count in sorted(adapter.read_outcomes().items()):
                        reads.add_metric([name, adapter.name, outcome], count)
        yield reads


class ProcessMetrics:
    """The ``run`` process's registry; see the module docstring."""

    def __init__(self, monitor: Monitor) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tick_seconds = Histogram(
            "perpwatch_tick_duration_seconds", "Seconds per monitor tick.", ["chain"],
            buckets=TICK_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.phase_seconds = Histogram(
            "perpwatch_tick_phase_seconds",
            "Seconds per phase of a monitor tick (scan, read, value, judge, latest, rules, "
            "record).", ["chain", "phase"], buckets=TICK_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.slowest_request_seconds = Histogram(
            "perpwatch_tick_slowest_rpc_seconds",
            "The longest single request to the node in each monitor tick (a tick slow because "
            "of its node shows here too).", ["chain"], buckets=TICK_BUCKETS_S,
            registry=self.registry,
        )  # fmt: skip
        self.logs = Counter(
            "perpwatch_logs_ingested", "Event logs indexed by the monitor's ticks.", ["chain"],
            registry=self.registry,
        )  # fmt: skip
        self.refreshed = Counter(
            "perpwatch_accounts_stepped", "Accounts whose rule inputs changed, per tick.",
            ["chain"], registry=self.registry,
        )  # fmt: skip
        self.alerts = Counter(
            "perpwatch_alerts_decided", "Alerts decided by the monitor's ticks.",
            ["chain", "level"], registry=self.registry,
        )  # fmt: skip
        self.chain_alerts = Counter(
            "perpwatch_chain_alerts_decided", "Chain alerts (an outage, its recovery) decided.",
            ["chain", "level"], registry=self.registry,
        )  # fmt: skip
        self.registry.register(_NodeCollector(monitor))
        self.registry.register(_OwnerReadsCollector(monitor))
        monitor.tick_listeners.append(self.observe)

    def observe(self, chain: str, summary: TickSummary, seconds: float) -> None:
        if not summary.leased:
            return  # another worker ticked the chain: this process did nothing
        self.tick_seconds.labels(chain).observe(seconds)
        for phase, phase_s in summary.phase_s.items():
            self.phase_seconds.labels(chain, phase).observe(phase_s)
        self.slowest_request_seconds.labels(chain).observe(summary.slowest_request_s)
        self.logs.labels(chain).inc(summary.logs)
        self.refreshed.labels(chain).inc(summary.stepped)
        for decided in summary.alerts:
            self.alerts.labels(chain, decided.decision.level.value).inc()
        for chain_decided in summary.chain_alerts:
            self.chain_alerts.labels(chain, chain_decided.decision.level.value).inc()

    def serve(self, host: str, port: int) -> WSGIServer:
        """Answer ``GET /metrics`` on ``host:port`` from a daemon thread; the server."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
