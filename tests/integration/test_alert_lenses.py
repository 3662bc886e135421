"""Two chats watching one wallet with different thresholds each hear every crossing of their
own: the real monitor ticking a devnet while prices fall, on SQLite and PostgreSQL.

One chat warns at 20 % to liquidation (critical at 6 %), the other keeps the config's 10 % and
3 %. Stepped with the most sensitive thresholds alone, the account was at warning from 20 %
on, so the second chat's warning at 10 % was never a new level and it heard nothing until
liquidation. Each distinct set of thresholds is now a lens with an alert state of its own; a
monitor restarted between the two warnings neither repeats nor forgets either chat's."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, demo_config
from devnet.deploy import Devnet
from devnet.gmx import devnet_address
from devnet.scenario import build_world
from indexer.config.loader import Config
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.runtime.service import Monitor
from monitor.subscriptions.service import Target, set_thresholds, watch
from monitor.tables import Alert, OutboxMessage
from tests.monitor_helpers import alert_rows, config_data, duplicate_keys

pytestmark = pytest.mark.chain

_alerts = Alert.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_accounts = Account.__table__  # type: ignore[attr-defined]
E30, USDC = 10**30, 10**6
Heard = dict[str, list[tuple[Level, float, int]]]
"""Per channel, (level, move to liquidation in %, block) of each alert it is sent, in order."""
TIGHT = Target("telegram", "8001")
PLAIN = Target("telegram", "8002")
STEP = 0.985  # every price 1.5 % lower per tick


def heard(engine: Engine, owner: str) -> Heard:
    """What each channel is sent about ``owner``'s accounts."""
    query = (
        sa.select(_outbox.c.channel, _alerts.c.level, _alerts.c.payload)
        .join(_alerts, _alerts.c.id == _outbox.c.alert_id)
        .join(_accounts, _accounts.c.id == _alerts.c.account_id)
        .where(sa.func.lower(_accounts.c.owner) == owner.lower())
        .order_by(_alerts.c.id)
    )
    out: Heard = defaultdict(list)
    with engine.connect() as conn:
        for channel, level, payload in conn.execute(query):
            out[channel].append((Level(level), payload["move_pct"], payload["block_number"]))
    return out


def test_each_chat_hears_its_own_thresholds_crossed_once_restart_included(
    devnet: Devnet, engine: Engine, db_url: str
) -> None:
    world = build_world(devnet, gmx_traders=2, hl_traders=1, seed=3)
    owner = devnet_address("lenses:owner")
    # 4x long: about 24 % from liquidation, past both chats' warnings at the first tick.
    world.gmx.increase(owner, "ETH/USD", "USDC", True, 1_000 * USDC, 4_000 * E30)
    # The config's chat is never sent to here (no delivery runs): only its outbox rows count.
    data: dict[str, Any] = config_data(
        demo_config(world, db_url, telegram_url="http://127.0.0.1:9")
    )
    # Distance triggers only (health ones past reach), so each level is a distance crossed.
    data["alerts"] = {"warning": 1.02, "critical": 1.01}
    cfg = Config.model_validate(data)
    watch(engine, TIGHT, owner, limit=5)
    watch(engine, PLAIN, owner, limit=5)
    set_thresholds(engine, TIGHT, warning_distance_pct=20.0, critical_distance_pct=6.0)

    async def fall_until(done: Callable[[Heard], bool], monitor: Monitor, most: int = 40) -> None:
        group = monitor.groups[0]
        try:
            for _ in range(most):
                await monitor.tick(group)
                if done(heard(engine, owner)):
                    return
                world.move_prices(STEP)
        finally:
            await monitor.close()
        raise AssertionError(f"not reached in {most} ticks: {dict(heard(engine, owner))}")

    def levels(channel: str, got: Heard) -> list[Level]:
        return [level for level, _, _ in got.get(channel, [])]

    def tight_has_warned(got: Heard) -> bool:
        return Level.WARNING in levels(TIGHT.channel, got)

    def plain_has_critical(got: Heard) -> bool:
        return Level.CRITICAL in levels(PLAIN.channel, got)

    asyncio.run(fall_until(tight_has_warned, Monitor(cfg, engine, {})))
    asyncio.run(fall_until(plain_has_critical, Monitor(cfg, engine, {})))  # restarted between
    got = heard(engine, owner)
    tight, plain = got[TIGHT.channel], got[PLAIN.channel]
    assert [level for level, _, _ in tight] == [Level.WARNING, Level.CRITICAL]
    assert [level for level, _, _ in plain] == [Level.WARNING, Level.CRITICAL]
    # Each at its own distance: the tight chat's warning within 20 % (and not yet 10 %, at
    # this step size), the plain chat's within 10 %, blocks later.
    (_, tight_warned, tight_block), (_, tight_critical, _) = tight
    (_, plain_warned, plain_block), (_, plain_critical, _) = plain
    assert 10.0 < tight_warned <= 20.0
    assert 3.0 < plain_warned <= 10.0
    assert plain_block > tight_block
    assert tight_critical <= 6.0
    assert plain_critical <= 3.0
    # The console and the config's chat hear the primary lens: the config's thresholds.
    assert got["console"] == plain
    assert got[f"telegram:{DEMO_CHAT}"] == plain
    assert duplicate_keys(alert_rows(engine)) == []
