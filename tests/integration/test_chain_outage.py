"""A chain that cannot be read is one chain alert and one recovery, not an alert per account:
the real monitor ticking a devnet behind a proxy that goes down, on SQLite and PostgreSQL.

The accounts of the chain show as unknown (API, status line) during the outage; a monitor
restarted during it (a new ``Monitor`` on the same database) does not alert it again; the
alerts reach the config's Telegram chat through the paced delivery, and every subscriber
that watches something on the chain, but not one watching nothing there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, demo_config
from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.errors import DatabaseBusy
from indexer.store import engine as engine_module
from indexer.store.columns import utcnow
from indexer.store.engine import write_transaction
from monitor.alerts.levels import Level
from monitor.api.queries import (
    AccountFilter,
    account_page,
    alerts_page,
    freshness,
    performance_inputs,
)
from monitor.delivery.outbox import pending_count
from monitor.notify.channels import build_notifiers, close_notifiers
from monitor.runtime.service import Monitor
from monitor.subscriptions.service import Target, watch
from monitor.tables import Alert, OutboxMessage
from tests.fixtures.faulty_proxy import FaultyProxy
from tests.monitor_helpers import alert_rows, config_data
from tests.monitor_helpers import telegram as telegram
from tests.scan_helpers import migrated_sqlite

pytestmark = [pytest.mark.chain, pytest.mark.slow]

_alerts = Alert.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
WATCHER = Target("telegram", "7001")
BYSTANDER = Target("telegram", "7002")


def _config(world: World, db_url: str, telegram_url: str, rpc_url: str, **chain: Any) -> Config:
    data = config_data(demo_config(world, db_url, telegram_url=telegram_url))
    data["chains"][0].update(rpc_urls=[rpc_url], **chain)
    data["channels"]["telegram"]["paced"] = True  # the fair scheduler carries chain alerts too
    # Health triggers only, so every account starts (and stays) at ok: any per-account alert
    # below would be the outage leaking through. Recovery at the first readable tick.
    data["alerts"] = {"warning_distance_pct": 0, "critical_distance_pct": 0,
                      "chain_recovery_after_s": 0}  # fmt: skip
    return Config.model_validate(data)


def chain_alerts(engine: Engine) -> list[tuple[Level, int]]:
    """(level, episode) of every chain alert, oldest first."""
    query = sa.select(_alerts.c.level, _alerts.c.episode).where(_alerts.c.chain_id.is_not(None))
    with engine.connect() as conn:
        return [(Level(r.level), r.episode) for r in conn.execute(query.order_by(_alerts.c.id))]


def channels_of_first_chain_alert(engine: Engine) -> set[str]:
    query = (
        sa.select(_outbox.c.channel)
        .join(_alerts, _alerts.c.id == _outbox.c.alert_id)
        .where(_alerts.c.chain_id.is_not(None), _alerts.c.episode == 1,
               _alerts.c.level == Level.UNKNOWN.value)
    )  # fmt: skip
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def shown_levels(engine: Engine) -> set[str]:
    page = account_page(engine, AccountFilter(), limit=1000, offset=0, sort="id", now=utcnow())
    assert page["total"] > 0
    return {item["level"] for item in page["items"]}


async def _deliver_all(monitor: Monitor) -> None:
    for _ in range(200):  # the fair scheduler paces chats: rounds until nothing waits
        await monitor.deliver()
        if await asyncio.to_thread(pending_count, monitor.engine) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries still pending")


def test_an_rpc_outage_is_one_chain_alert_and_one_recovery_restart_included(
    devnet: Devnet,
    engine: Engine,
    db_url: str,
    faulty_proxy: Callable[..., FaultyProxy],
    telegram: TelegramApi,
) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=1)
    proxy = faulty_proxy(devnet.anvil.rpc_url, rate=0.0)
    # The head may not move during this test (no transactions): only the RPC outage counts.
    cfg = _config(world, db_url, telegram.url, proxy.url, stall_after_blocks=100_000)
    watch(engine, WATCHER, world.gmx_positions[0].account, limit=20)
    watch(engine, BYSTANDER, "0x" + "42" * 20, limit=20)  # no account on the devnet
    notifiers = build_notifiers(cfg)

    async def outage_restart_recovery_outage() -> None:
        monitor = Monitor(cfg, engine, notifiers)
        group = monitor.groups[0]
        await monitor.tick_or_unknown(group)
        assert chain_alerts(engine) == []
        assert alert_rows(engine) == []
        assert shown_levels(engine) == {"ok"}

        proxy.go_down()
        for _ in range(3):
            summary = await monitor.tick_or_unknown(group)
        assert summary.unreadable is not None
        assert summary.unknown == summary.accounts > 0
        assert summary.slowest_request_s > 0  # its failed attempts are timed too
        assert chain_alerts(engine) == [(Level.UNKNOWN, 1)]
        assert alert_rows(engine) == []  # no account alerted one by one
        assert shown_levels(engine) == {"unknown"}
        assert "devnet UNREADABLE" in await monitor.status_line()
        (state,) = freshness(engine, {c.chain_id: c.name for c in cfg.chains}, utcnow())
        assert state["outage"] is True
        assert state["unreadable_since"] is not None
        assert channels_of_first_chain_alert(engine) == {
            "console", f"telegram:{DEMO_CHAT}", WATCHER.channel,
        }  # fmt: skip
        await _deliver_all(monitor)

        await monitor.close()  # a restart during the outage: state comes from the database
        monitor = Monitor(cfg, engine, notifiers)
        for _ in range(2):
            await monitor.tick_or_unknown(group)
        assert chain_alerts(engine) == [(Level.UNKNOWN, 1)]

        proxy.come_back()
        summary = await monitor.tick_or_unknown(group)
        assert summary.unreadable is None
        assert summary.unknown == 0
        assert chain_alerts(engine) == [(Level.UNKNOWN, 1), (Level.RECOVERED, 1)]
        assert alert_rows(engine) == []  # nor a flood of per-account recoveries
        assert shown_levels(engine) == {"ok"}
        await monitor.tick_or_unknown(group)
        assert len(chain_alerts(engine)) == 2
        await _deliver_all(monitor)

        proxy.go_down()
        await monitor.tick_or_unknown(group)
        await _deliver_all(monitor)  # else the chat's two waiting alerts leave as one digest
        proxy.come_back()
        await monitor.tick_or_unknown(group)
        assert chain_alerts(engine) == [
            (Level.UNKNOWN, 1), (Level.RECOVERED, 1), (Level.UNKNOWN, 2), (Level.RECOVERED, 2),
        ]  # fmt: skip
        assert alert_rows(engine) == []
        await _deliver_all(monitor)
        await monitor.close()
        await close_notifiers(notifiers)

    asyncio.run(outage_restart_recovery_outage())
    listed = alerts_page(engine, level=None, account_id=None, limit=50, offset=0)
    assert listed["total"] == 4
    assert {(i["chain_id"], i["account_id"], i["owner"]) for i in listed["items"]} == {
        (cfg.chains[0].chain_id, None, None)
    }
    assert performance_inputs(engine) == ([], [])  # an outage warns of no liquidation
    titles = ["Chain outage", "Chain recovered", "Chain outage", "Chain recovered"]
    for chat in (DEMO_CHAT, WATCHER.target):
        texts = telegram.texts(chat)
        assert [t.split("</b>")[0].removeprefix("<b>") for t in texts] == titles
        assert "devnet (chain" in texts[0]
    assert telegram.texts(BYSTANDER.target) == []
    assert proxy.counts()["dropped"] > 0


def test_a_stalled_head_is_one_chain_alert_and_a_new_block_recovers_it(
    devnet: Devnet,
    engine: Engine,
    db_url: str,
    telegram: TelegramApi,
) -> None:
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    cfg = _config(world, db_url, telegram.url, devnet.anvil.rpc_url, stall_after_blocks=5)
    seconds = [0.0]  # the monitor's monotonic clock: the stall is counted on it

    async def stall_then_block() -> None:
        monitor = Monitor(cfg, engine, {}, monotonic=lambda: seconds[0])
        group = monitor.groups[0]
        await monitor.tick_or_unknown(group)
        seconds[0] += 6 * group.chain.block_time  # more than 5 block times, no new block
        for _ in range(2):
            summary = await monitor.tick_or_unknown(group)
        assert summary.unreadable is not None
        assert "node head stalled" in summary.unreadable
        assert summary.slowest_request_s > 0  # the stalled node answered, slow or not
        assert chain_alerts(engine) == [(Level.UNKNOWN, 1)]
        assert alert_rows(engine) == []
        devnet.anvil.request("evm_mine", [])
        summary = await monitor.tick_or_unknown(group)
        assert summary.unreadable is None
        assert chain_alerts(engine) == [(Level.UNKNOWN, 1), (Level.RECOVERED, 1)]
        assert alert_rows(engine) == []
        await monitor.close()

    asyncio.run(stall_then_block())


def test_a_database_locked_past_the_wait_is_not_a_chain_outage(
    devnet: Devnet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    telegram: TelegramApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another writer holding SQLite's write lock longer than perpwatch waits ends the tick in
    ``DatabaseBusy``: the database's failure, so no chain alert, no accounts shown unknown,
    no "unreadable" in the status line; the next tick, once the lock is free, goes on."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = migrated_sqlite(tmp_path / "busy.db")
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    cfg = _config(world, str(engine.url), telegram.url, devnet.anvil.rpc_url)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("UPDATE cursors SET next_block = next_block")
            holding.set()
            release.wait(10)

    async def ticks() -> None:
        monitor = Monitor(cfg, engine, build_notifiers(cfg))
        group = monitor.groups[0]
        await monitor.tick_or_unknown(group)
        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        holding.wait(5)
        devnet.anvil.request("evm_mine", [])  # something new to store
        try:
            with pytest.raises(DatabaseBusy, match="database is locked"):
                await monitor.tick_or_unknown(group)
        finally:
            release.set()
            holder.join()
        assert chain_alerts(engine) == []
        assert not [r for r in caplog.records if "unreadable" in r.getMessage()]
        assert "UNREADABLE" not in await monitor.status_line()
        summary = await monitor.tick_or_unknown(group)
        assert summary.unreadable is None
        assert summary.unknown == 0
        await monitor.close()

    try:
        asyncio.run(ticks())
    finally:
        engine.dispose()
