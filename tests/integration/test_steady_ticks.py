"""A tick judges only the accounts that could alert: price moves that leave an account's level
standing step nothing, and a crash alerts exactly the accounts it takes past a threshold."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import build_world
from indexer.config.loader import Config
from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy, Reading
from monitor.health.account import account_health
from monitor.runtime.chain_pass import in_scope
from monitor.runtime.service import Monitor

pytestmark = pytest.mark.chain


def _health_only(cfg: Config) -> Config:
    raw: dict[str, Any] = cfg.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    raw["alerts"] = {"warning_distance_pct": 0, "critical_distance_pct": 0}
    return Config.model_validate(raw)


def _past_a_threshold(monitor: Monitor, engine: Engine) -> set[int]:
    """Accounts in scope whose health, at the prices of the monitor's last tick, reaches
    warning or worse (the scalar health module, no screen)."""
    (group,) = monitor.groups
    policy = Policy.from_thresholds(monitor.cfg.alerts)
    out = set()
    for account_id, account in load_accounts(engine, chain_id=group.chain.chain_id):
        if not in_scope(group.scope_by_protocol, account):
            continue
        prices = monitor.latest_prices[(group.chain.chain_id, account.protocol)]
        health = account_health(account, prices).health
        if policy.raw_level(Reading(health)) is not Level.OK:
            out.add(account_id)
    return out


def test_only_accounts_near_a_threshold_are_judged(devnet: Devnet, engine: Engine) -> None:
    world = build_world(devnet, gmx_traders=6, hl_traders=2)
    cfg = _health_only(demo_config(world, "sqlite://"))
    chain_now = datetime.fromtimestamp(int(devnet.anvil.block()["timestamp"], 16), UTC)
    skew = chain_now - utcnow()
    monitor = Monitor(cfg, engine, {}, clock=lambda: utcnow() + skew)

    (first,) = asyncio.run(monitor.tick_all())
    assert first.accounts > 0
    assert first.stepped == first.accounts  # the first tick knows no stored level: all
    assert _past_a_threshold(monitor, engine) == set()

    world.move_prices(1.002)
    (calm,) = asyncio.run(monitor.tick_all())
    assert (calm.stepped, calm.alerts) == (0, ())  # every account still far: none judged

    world.move_prices(0.8)
    (crash,) = asyncio.run(monitor.tick_all())
    near = _past_a_threshold(monitor, engine)
    assert near  # the crash takes some accounts past warning...
    assert {d.account_id for d in crash.alerts} == near  # ...and each of them alerts
    assert len(near) <= crash.stepped < crash.accounts  # the rest (shorts) stay unjudged

    world.move_prices(1.0001)
    (after,) = asyncio.run(monitor.tick_all())
    assert _past_a_threshold(monitor, engine) == near
    assert (after.stepped, after.alerts) == (0, ())  # their warnings stand: none judged again

    # The book kept in memory (accounts as read, never reloaded) is what the database holds.
    (group,) = monitor.groups
    gone = world.gmx_positions[0]
    world.gmx.close(gone.account, gone.market, gone.collateral, gone.is_long)
    asyncio.run(monitor.tick_all())
    live = monitor.runtimes[group.chain.name].live
    assert live is not None
    stored = [(i, a) for i, a in load_accounts(engine, chain_id=group.chain.chain_id)
              if in_scope(group.scope_by_protocol, a)]  # fmt: skip
    assert len(stored) == len(live) == first.accounts - 1

    def unblocked(rows: Iterable[tuple[int, MarginAccount]]) -> list[tuple[int, MarginAccount]]:
        return [(i, replace(a, block_number=0)) for i, a in rows]

    assert unblocked(live.rows()) == unblocked(sorted(stored))
