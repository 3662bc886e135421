"""The monitor persists its latest prices and healths (only changed rows), and reading them
back gives the same book and the same healths, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.scenario import World
from indexer.store.accounts import load_accounts, save_read
from monitor.health.account import account_health
from monitor.latest.read import latest_prices, read_book
from monitor.latest.store import LatestWriter, Written, health_values, hours_to_liquidation
from monitor.latest.tables import LatestHealth
from monitor.runtime.service import Monitor
from tests.health_helpers import gmx_account, usdc
from tests.monitor_helpers import world as world

pytestmark = pytest.mark.chain

_health = LatestHealth.__table__  # type: ignore[attr-defined]


def _stored_healths(engine: Engine) -> dict[int, tuple[float | None, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_health)).all()
    return {r.account_id: (r.equity_usd, r.maintenance_usd, r.health, r.move_pct) for r in rows}


def _close(a: tuple[float | None, ...], b: tuple[float | None, ...]) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y))
        for x, y in zip(a, b, strict=True)
    )


def test_latest_prices_and_healths_are_persisted_and_only_changes_rewritten(
    world: World, engine: Engine, db_url: str
) -> None:
    cfg = demo_config(world, db_url)
    monitor = Monitor(cfg, engine, {})
    asyncio.run(monitor.tick_all())
    stored = _stored_healths(engine)
    book = read_book(engine)
    assert book.unpriced == 0
    assert len(book.entries) == len(stored) > 0
    # The stored health is what the pure margin math gives at the stored prices.
    for account_id, entry in zip(book.ids, book.entries, strict=True):
        recomputed = health_values(account_health(entry.account, entry.prices))
        assert _close(stored[account_id], recomputed), entry.account.ref
    prices = latest_prices(engine)
    assert {protocol for _, protocol in prices} == {"gmx_v2", "hyperliquid"}

    # Nothing moved: a second tick writes nothing.
    written: list[Written] = []
    write = monitor.latest["devnet"].write

    def write_and_keep(*args: Any) -> Written:
        written.append(write(*args))
        return written[-1]

    monitor.latest["devnet"].write = write_and_keep  # type: ignore[method-assign, assignment]
    asyncio.run(monitor.tick_all())
    assert [(w.prices, w.healths) for w in written] == [(0, 0)]

    # Prices move: they and the healths of the accounts are rewritten.
    eth_before = {k: v["ETH"] for k, v in prices.items() if "ETH" in v}
    world.move_prices(Decimal("0.97"))
    asyncio.run(monitor.tick_all())
    assert written[-1].healths > 0
    after = latest_prices(engine)
    for key, price in eth_before.items():
        assert after[key]["ETH"] == pytest.approx(price * 0.97, rel=1e-6)
    moved = _stored_healths(engine)
    changed = [i for i in moved if i in stored and not _close(moved[i], stored[i])]
    assert changed
    book = read_book(engine)
    for account_id, entry in zip(book.ids, book.entries, strict=True):
        recomputed = health_values(account_health(entry.account, entry.prices))
        assert _close(moved[account_id], recomputed), entry.account.ref


def test_a_health_row_round_trips_every_column(engine: Engine) -> None:
    """What ``LatestWriter`` writes of an account reads back as written, on both backends:
    its values, fee growth (JSON), hours to liquidation, block and time; and rewritten in
    place when it changes."""
    position = gmx_account(is_long=True, collateral=usdc(10_000))
    save_read(engine, 42161, "gmx_v2", [position.owner], [position], read_block=5)
    ((account_id, stored),) = load_accounts(engine)
    writer = LatestWriter(engine)
    health = account_health(stored, {"ETH": 2_000.0, "USDC": 1.0})
    growth = {"ETH/USD": 2.5, "BTC/USD": 0.25}
    writer.fees.observe = lambda *_args: dict(growth)  # type: ignore[method-assign]
    noon = datetime(2026, 1, 2, 12, 0, 30, 123456, tzinfo=UTC)
    assert writer.write(42161, 7, {}, {}, [(account_id, stored, health)], noon).healths == 1
    values = health_values(health)
    hours = hours_to_liquidation(values, growth)
    assert hours is not None
    assert hours > 0
    expected = (account_id, 7, *values, growth, hours, noon)
    with engine.connect() as conn:
        assert tuple(conn.execute(sa.select(_health)).one()) == expected
    growth = {"ETH/USD": 5.0}
    later = datetime(2026, 1, 2, 12, 1, tzinfo=UTC)
    assert writer.write(42161, 8, {}, {}, [(account_id, stored, health)], later).healths == 1
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(_health)).all()
    assert (row.block_number, row.fee_growth, row.computed_at) == (8, {"ETH/USD": 5.0}, later)
