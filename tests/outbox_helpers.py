"""Shared parts of the outbox and notifier tests: an account, alerts in the outbox, payloads,
and the per-channel status of its rows.

    account = add_account(engine)
    add_alerts(engine, account, 3, ["telegram:7"])      # enqueued at T0, episodes 0..2
    assert statuses(engine, "telegram:7") == [("pending", 0)] * 3
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.models import MarginMode
from indexer.store.engine import session
from indexer.store.tables import Account, validated
from monitor.alerts.levels import Level
from monitor.delivery.outbox import enqueue
from monitor.tables import OutboxMessage, OutboxStatus

__all__ = ["T0", "add_account", "add_alerts", "alert_payload", "statuses"]

T0 = datetime(2025, 1, 1, tzinfo=UTC)
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


def alert_payload(asset: str = "ETH", n: int = 0) -> dict[str, Any]:
    """A valid alert payload whose market names ``asset`` and ``n`` (to tell alerts apart)."""
    return {
        "chain_id": 42161, "protocol": "gmx_v2", "owner": "0x" + "cd" * 20,
        "account_ref": f"0x{n:02x}", "mode": "isolated", "level": "critical", "health": 1.1,
        "equity_usd": 110.0, "maintenance_usd": 100.0, "block_number": 100 + n,
        "positions": [{"market": f"{asset}/USD #{n}", "asset": asset, "side": "long",
                       "mark_price_usd": 2000.0, "liquidation_price_usd": 1900.0,
                       "distance_pct": 5.0, "adverse_move_pct": 1.0}],
    }  # fmt: skip


def add_account(engine: Engine, ref: str = "0x01") -> int:
    """An isolated GMX v2 account row (owner ``0xcdcd…``); returns its id."""
    with session(engine) as s:
        row = validated(Account, chain_id=42161, protocol="gmx_v2", owner="0x" + "cd" * 20,
                        ref=ref, mode=MarginMode.ISOLATED, block_number=1)  # fmt: skip
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def add_alerts(engine: Engine, account: int, count: int, channels: list[str]) -> list[int]:
    """``count`` critical alerts (episodes 0…count-1) enqueued at ``T0``; returns their ids."""
    ids = []
    with session(engine) as s:
        for n in range(count):
            alert = enqueue(s, account, Level.CRITICAL, n, alert_payload(n=n), channels, now=T0)
            assert alert is not None
            ids.append(alert)
    return ids


def statuses(engine: Engine, channel: str) -> list[tuple[str, int]]:
    """``(status, attempts)`` of ``channel``'s rows, in alert order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.status, _outbox.c.attempts)
            .where(_outbox.c.channel == channel)
            .order_by(_outbox.c.alert_id)
        ).all()
    return [(OutboxStatus(r.status).value, r.attempts) for r in rows]
