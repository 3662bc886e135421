"""Metrics read from the database at each scrape (``perpwatch serve``'s ``/metrics``).

registry = CollectorRegistry(); registry.register(DatabaseCollector(engine, names))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from indexer.models import AccountStatus
from indexer.store.columns import utcnow
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.latest.tables import LatestPrice
from monitor.tables import Alert, AlertStateRow, ChainTick, OutboxMessage, OutboxStatus

_accounts, _states, _alerts, _outbox, _ticks, _prices = (
    model.__table__  # type: ignore[union-attr]
    for model in (Account, AlertStateRow, Alert, OutboxMessage, ChainTick, LatestPrice)
)

LATENCY_SAMPLE = 5000
"""Delivery latency quantiles are over the newest this many sent deliveries."""
QUANTILES = (0.5, 0.9, 0.99, 1.0)


def quantile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of a non-empty ascending list."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


class DatabaseCollector(Collector):
    """Reads the monitor's tables on every ``collect`` (one scrape)."""

    def __init__(
        self,
        engine: Engine,
        chain_names: Mapping[int, str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.names, self.clock = engine, chain_names, clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        with self.engine.connect() as conn:
            yield self._levels(conn)
            yield from self._outbox(conn, now)
            yield self._alerts(conn)
            yield from self._chains(conn, now)

    def _chain(self, chain_id: int) -> str:
        return self.names.get(chain_id, str(chain_id))

    def _levels(self, conn: sa.Connection) -> Metric:
        level = sa.func.coalesce(_states.c.level, Level.OK.value)
        rows = conn.execute(
            sa.select(_accounts.c.chain_id, level, sa.func.count())
            .select_from(_accounts.outerjoin(_states, _states.c.account_id == _accounts.c.id))
            .where(_accounts.c.status == AccountStatus.OPEN.value)
            .group_by(_accounts.c.chain_id, level)
        ).all()
        family = GaugeMetricFamily(
            "perpwatch_accounts", "Open accounts by alert level.", labels=["chain", "level"]
        )
        for chain_id, name, count in rows:
            family.add_metric([self._chain(chain_id), str(name)], count)
        return family

    def _outbox(self, conn: sa.Connection, now: datetime) -> Iterator[Metric]:
        rows = conn.execute(
            sa.select(_outbox.c.channel, _outbox.c.status, sa.func.count())
            .group_by(_outbox.c.channel, _outbox.c.status)
        ).all()  # fmt: skip
        depth = GaugeMetricFamily(
            "perpwatch_outbox_depth",
            "Deliveries waiting (pending or sending) per channel.",
            labels=["channel"],
        )
        sent = CounterMetricFamily(
            "perpwatch_alerts_sent", "Deliveries acknowledged by the channel.", labels=["channel"]
        )
        failed = CounterMetricFamily(
            "perpwatch_alerts_failed", "Deliveries given up on.", labels=["channel"]
        )
        waiting: dict[str, int] = {}
        for channel, status, count in rows:
            if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
                waiting[channel] = waiting.get(channel, 0) + count
            elif status == OutboxStatus.SENT:
                sent.add_metric([channel], count)
            elif status == OutboxStatus.FAILED:
                failed.add_metric([channel], count)
        for channel, count in sorted(waiting.items()):
            depth.add_metric([channel], count)
        yield from (depth, sent, failed)
        yield self._latency(conn)

    def _latency(self, conn: sa.Connection) -> Metric:
        rows = conn.execute(
            sa.select(_outbox.c.channel, _outbox.c.sent_at, _alerts.c.created_at)
            .join(_alerts, _alerts.c.id == _outbox.c.alert_id)
            .where(_outbox.c.status == OutboxStatus.SENT.value)
            .order_by(_outbox.c.id.desc())
            .limit(LATENCY_SAMPLE)
        ).all()
        by_channel: dict[str, list[float]] = {}
        for channel, sent_at, created_at in rows:
            if sent_at is not None:
                by_channel.setdefault(channel, []).append((sent_at - created_at).total_seconds())
        family = GaugeMetricFamily(
            "perpwatch_delivery_latency_seconds",
            f"Alert recorded to delivery acknowledged, quantiles over the newest "
            f"{LATENCY_SAMPLE} sent deliveries.",
            labels=["channel", "quantile"],
        )
        for channel, values in sorted(by_channel.items()):
            values.sort()
            for q in QUANTILES:
                family.add_metric([channel, str(q)], quantile(values, q))
        return family

    def _alerts(self, conn: sa.Connection) -> Metric:
        rows = conn.execute(
            sa.select(_alerts.c.level, sa.func.count()).group_by(_alerts.c.level)
        ).all()
        family = CounterMetricFamily(
            "perpwatch_alerts_recorded", "Alerts recorded by the monitor.", labels=["level"]
        )
        for level, count in rows:
            family.add_metric([str(Level(level))], count)
        return family

    def _chains(self, conn: sa.Connection, now: datetime) -> Iterator[Metric]:
        block = GaugeMetricFamily(
            "perpwatch_tick_block", "Block of the chain's last monitor tick.", labels=["chain"]
        )
        age = GaugeMetricFamily(
            "perpwatch_tick_age_seconds",
            "Seconds since the chain's last monitor tick (data freshness).",
            labels=["chain"],
        )
        for row in conn.execute(sa.select(_ticks)):
            block.add_metric([self._chain(row.chain_id)], row.block_number)
            age.add_metric([self._chain(row.chain_id)], (now - row.ticked_at).total_seconds())
        prices = GaugeMetricFamily(
            "perpwatch_price_read_age_seconds",
            "Seconds since the monitor last stored a changed price on the chain.",
            labels=["chain"],
        )
        query = sa.select(_prices.c.chain_id, sa.func.max(_prices.c.read_at)).group_by(
            _prices.c.chain_id
        )
        for chain_id, read_at in conn.execute(query):
            prices.add_metric([self._chain(chain_id)], (now - read_at).total_seconds())
        yield from (block, age, prices)
