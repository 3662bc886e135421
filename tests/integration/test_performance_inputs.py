"""Alert performance's inputs from the database: each indexed liquidation of an account timed
by its own alert, not a later life's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from indexer.scan.rows import TouchKind
from indexer.store.accounts import load_accounts, save_read
from monitor.alerts.levels import Level
from monitor.api.queries import performance_inputs
from monitor.delivery.outbox import enqueue
from tests.integration.test_account_store import OWNER, _open_account, _touch

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_each_liquidation_of_a_reused_key_is_timed_by_its_own_alert(engine: Engine) -> None:
    """Liquidated at 7 (never alerted: the monitor was down), open again when read at 10,
    liquidated again at 20 and alerted at 21: the first liquidation has no time, the second
    the alert's."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    save_read(engine, 42161, "test", [OWNER], [], read_block=8)
    save_read(engine, 42161, "test", [OWNER], [_open_account(10)], read_block=10)
    _touch(engine, 20, TouchKind.LIQUIDATED)
    save_read(engine, 42161, "test", [OWNER], [], read_block=21)
    ((account_id, _),) = load_accounts(engine, status=None)
    with engine.begin() as conn:
        enqueue(conn, account_id, Level.LIQUIDATED, 1, {"block_number": 21}, [], now=T)

    liquidations, events = performance_inputs(engine)

    assert [(e.level, e.block_number) for e in events] == [(Level.LIQUIDATED, 21)]
    told_at = events[0].at
    assert told_at is not None
    timed = sorted((x.block_number, x.at) for x in liquidations)
    assert timed == [(7, None), (20, told_at)]
