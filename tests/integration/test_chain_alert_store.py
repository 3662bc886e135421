"""Chain alert states in the database (``monitor.alerts.chain_store``): several workers that
step one chain at the same moment record its outage once, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.alerts.chain import ChainLevel, ChainPolicy, readable, unreadable
from monitor.alerts.chain_store import ChainSubject, chain_states, record_chain_read
from monitor.tables import Alert, OutboxMessage

T0 = datetime(2026, 12, 3, 12, tzinfo=UTC)
SUBJECT = ChainSubject(42161, "arbitrum", 3, ("console", "telegram:-1001"))
WORKERS = 6


def _alert_count(engine: Engine) -> tuple[int, int]:
    alerts, outbox = Alert.__table__, OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one(),
        )


@pytest.mark.db
def test_workers_stepping_one_chain_together_record_its_outage_once(engine: Engine) -> None:
    policy = ChainPolicy(recovery_after_s=0)
    start = threading.Barrier(WORKERS)

    def step(read_ok: bool) -> int:
        start.wait()
        read = readable(10) if read_ok else unreadable("connection refused", 9)
        _, decided = record_chain_read(engine, SUBJECT, read, policy, T0)
        return len(decided)

    with ThreadPoolExecutor(WORKERS) as pool:
        assert sum(pool.map(step, [False] * WORKERS)) == 1
    assert _alert_count(engine) == (1, 2)  # one alert, one delivery per channel
    assert chain_states(engine)[42161].level is ChainLevel.OUTAGE

    start.reset()
    with ThreadPoolExecutor(WORKERS) as pool:
        assert sum(pool.map(step, [True] * WORKERS)) == 1
    assert _alert_count(engine) == (2, 4)
    state = chain_states(engine)[42161]
    assert (state.level, state.episode, state.unreadable) == (ChainLevel.OK, 2, False)

    later = T0 + timedelta(seconds=30)
    _, decided = record_chain_read(engine, SUBJECT, unreadable("502", 10), policy, later)
    assert [(d.decision.episode, d.decision.since) for d in decided] == [(2, later)]
