"""``perpwatch drift``: the monitor measures each position's fee growth while GMX borrowing
accrues on the devnet (every position owes ``size · DELTA`` more per tick, an hour apart on
both clocks), persists the time to liquidation, and the command prints the same from the
database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.scenario import World
from indexer.models import E30
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.latest.tables import LatestHealth
from monitor.runtime.service import Monitor
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import run
from tests.monitor_helpers import world as world
from tests.monitor_helpers import write_toml

pytestmark = pytest.mark.chain

_health = LatestHealth.__table__  # type: ignore[attr-defined]
HOUR_S = 3600
DELTA_E30 = 10**26  # cumulative borrowing factor per tick: 1e-4 of the position's size


def _clock(start: datetime) -> tuple[Callable[[], datetime], Callable[[int], None]]:
    now = [start]

    def advance(seconds: int) -> None:
        now[0] += timedelta(seconds=seconds)

    return (lambda: now[0]), advance


def test_drift_reports_the_time_to_liquidation_the_monitor_measured(
    world: World, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    cfg = demo_config(world, db_url)
    clock, advance = _clock(utcnow())
    monitor = Monitor(cfg, engine, {}, clock=clock)
    for runtime in monitor.runtimes.values():
        runtime.full_refresh_s = 0.0  # re-read every account each tick: fees move with time

    async def ticks() -> None:
        try:
            for _ in range(3):
                await monitor.tick_all()
                for market in world.gmx.markets:
                    for is_long in (True, False):
                        world.gmx.accrue_borrowing(market, is_long, DELTA_E30)
                world.devnet.anvil.increase_time(HOUR_S)
                advance(HOUR_S)
            await monitor.tick_all()
        finally:
            await monitor.close()

    asyncio.run(ticks())
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_health).where(_health.c.hours_to_liquidation.is_not(None)))
        measured = rows.mappings().all()
    assert measured, "borrowing accrues on the devnet: some account must have a fee growth"
    book = dict(load_accounts(engine))
    for found in measured:
        for position in book[found["account_id"]].positions:
            size_usd = position.entry_notional_usd_e30 / E30
            want = size_usd * DELTA_E30 / E30  # USD per hour
            assert found["fee_growth"][position.market] == pytest.approx(want, rel=1e-6)
    row = measured[0]
    growth = sum(row["fee_growth"].values())
    expected = (row["equity_usd"] - row["maintenance_usd"]) / growth
    assert row["hours_to_liquidation"] == pytest.approx(expected, rel=1e-6)

    owner = book[row["account_id"]].owner
    config = write_toml(cfg, tmp_path / "perpwatch.toml")
    result = run("--config", str(config), "drift", owner, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    mine = {a["id"]: a for a in document["accounts"]}
    assert mine[row["account_id"]]["hours_to_liquidation"] == pytest.approx(
        row["hours_to_liquidation"], rel=1e-9
    )
    assert mine[row["account_id"]]["fee_growth_usd_per_hour"] == pytest.approx(growth)
    table = run("--config", str(config), "drift", owner)
    assert table.exit_code == 0, table.output
    assert "liquidation in" in table.stdout
