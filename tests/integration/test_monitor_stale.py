"""Stale prices are never read as safe: an account valued with a price older than its feed's
heartbeat goes to ``unknown`` with an alert, and back once the price is fresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import build_world
from indexer.config.loader import Config
from indexer.store.columns import utcnow
from monitor.alerts.levels import Level
from monitor.runtime.service import Monitor
from tests.monitor_helpers import alert_rows

pytestmark = pytest.mark.chain

HEARTBEAT_S = 60


def _config(cfg: Config) -> Config:
    raw: dict[str, Any] = cfg.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    for protocol in raw["protocols"]:
        protocol["price_heartbeat_s"] = HEARTBEAT_S
    # Health triggers only: some seeded positions open within the default 10 % distance, and
    # this test is about staleness, so every account must start (and end) at ok.
    raw["alerts"] = {"warning_distance_pct": 0, "critical_distance_pct": 0}
    return Config.model_validate(raw)


def test_a_price_older_than_its_heartbeat_makes_the_account_unknown(
    devnet: Devnet, engine: Engine
) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=1)
    cfg = _config(demo_config(world, "sqlite://"))
    # The monitor's clock follows the chain's (earlier tests may have moved anvil's time).
    chain_now = datetime.fromtimestamp(int(devnet.anvil.block()["timestamp"], 16), UTC)
    skew = chain_now - utcnow()
    offset = timedelta(0)
    monitor = Monitor(cfg, engine, {}, clock=lambda: utcnow() + skew + offset)

    asyncio.run(monitor.tick_all())
    assert alert_rows(engine) == []  # fresh prices, healthy accounts: nothing to say

    offset = timedelta(seconds=2 * HEARTBEAT_S)  # the feeds stop updating
    asyncio.run(monitor.tick_all())
    unknown = {r.ref for r in alert_rows(engine) if r.level is Level.UNKNOWN}
    gmx_refs = {"0x" + world.gmx.position_key(p.account, p.market, p.collateral, p.is_long).hex()
                for p in world.gmx_positions}  # fmt: skip
    assert unknown == gmx_refs  # Hyperliquid marks carry no timestamp: not judged stale

    world.move_prices(1)  # every feed answers again (same price, new round)
    offset = timedelta(0)
    asyncio.run(monitor.tick_all())
    recovered = {r.ref for r in alert_rows(engine) if r.level is Level.RECOVERED}
    assert recovered == gmx_refs
