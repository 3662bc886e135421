"""The monitor end to end on the devnet: a crash step by step with a keeper, alerts to the
console and to two Telegram chats through the Bot API stand-in, on SQLite and PostgreSQL.

Every liquidation must be preceded by a warning-level alert, every alert must reach every chat
exactly once and in alert order, even while the Bot API answers 429 and 502, and an account
whose price comes back must get ``recovered``. A dead node must show every open account
``unknown`` with one chain alert, never leave it looking safe.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from rich.console import Console
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, DEMO_TOKEN, demo_config
from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.store.columns import utcnow
from indexer.store.engine import ensure_schema, make_engine
from monitor.alerts.apply import Decided
from monitor.alerts.levels import Level
from monitor.api.queries import AccountFilter, account_page
from monitor.delivery.worker import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.notify.telegram import TelegramNotifier
from monitor.runtime.service import Monitor
from tests.fixtures.faulty_proxy import FaultyProxy
from tests.monitor_helpers import (
    WARNING_LEVELS,
    AlertRow,
    SteppingClock,
    alert_rows,
    config_data,
    console_lines,
    duplicate_keys,
    outbox_statuses,
    price_path,
    state_levels,
    telegram_texts,
    unreported_liquidations,
    unwarned_liquidations,
    with_chain,
)
from tests.monitor_helpers import telegram as telegram
from tests.monitor_helpers import world as world

pytestmark = pytest.mark.chain

CHATS = (DEMO_CHAT, "-100777")
# 20 steps of 0.6 % down (about 11 %), 10 back up: on this seeded world that liquidates a GMX
# and a Hyperliquid account and brings others back from warning.
CRASH = price_path(crash_steps=20, recover_steps=10, step_pct=0.6)
FAULT_STEPS = (0, 10)  # at these steps the Bot API answers one 429, then three 502s
RETRY_AFTER_S = 40


@dataclass
class CrashRun:
    """What a crash produced: every decision the ticks returned and the console's output."""

    decided: list[Decided] = field(default_factory=list)
    console: io.StringIO = field(default_factory=io.StringIO)
    scripted_faults: int = 0


@pytest.fixture
def engine_for() -> Iterator[Callable[[Config], Engine]]:
    """Factory: a migrated engine for a config's database, disposed after the test."""
    engines: list[Engine] = []

    def make(cfg: Config) -> Engine:
        engine = make_engine(cfg.database_url)
        ensure_schema(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def two_chat_config(world: World, db_url: str, telegram: TelegramApi) -> Config:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    data = config_data(cfg)
    data["channels"]["telegram"]["chat_ids"] = list(CHATS)
    return Config.model_validate(data)


async def crash(world: World, monitor: Monitor, telegram: TelegramApi, run: CrashRun) -> None:
    """The demo's loop (move prices, tick, deliver, keeper) with Bot API faults injected, then
    deliveries until the outbox is empty (the monitor's clock steps past every backoff)."""
    for summary in await monitor.tick_all():
        run.decided += summary.alerts
    for step, factor in enumerate(CRASH):
        if step in FAULT_STEPS:
            telegram.script(429, retry_after=RETRY_AFTER_S)
            telegram.script(502, times=3)
            run.scripted_faults += 4
        world.move_prices(factor)
        for summary in await monitor.tick_all():
            run.decided += summary.alerts
        await monitor.deliver()
        world.liquidate_what_is_allowed()
    for summary in await monitor.tick_all():  # the last liquidations
        run.decided += summary.alerts
    for _ in range(40):
        if set(outbox_statuses(monitor.engine)) <= {"sent"}:
            break
        await monitor.deliver()


def run_crash(world: World, cfg: Config, engine: Engine, telegram: TelegramApi) -> CrashRun:
    run = CrashRun()
    notifier = TelegramNotifier(DEMO_TOKEN, base_url=telegram.url, per_chat_rate_per_min=100_000)
    notifiers: dict[str, Notifier] = {
        "console": ConsoleNotifier(Console(file=run.console)),
        "telegram": notifier,
    }
    # Each clock reading is a minute later: retry_after and outbox backoffs pass at once.
    monitor = Monitor(cfg, engine, notifiers, clock=SteppingClock(60.0))

    async def go() -> None:
        try:
            await crash(world, monitor, telegram, run)
        finally:
            await notifier.aclose()

    asyncio.run(go())
    return run


def check_recoveries(rows: list[AlertRow], levels: dict[int, Level]) -> int:
    """Every alerted account that is ok again and was not liquidated closed its episode with
    ``recovered``; every ``recovered`` follows a warning-level alert of its episode. Returns
    how many recovered."""
    recovered = [r for r in rows if r.level is Level.RECOVERED]
    for r in recovered:
        assert any(
            w.account_id == r.account_id and w.episode == r.episode and w.level in WARNING_LEVELS
            for w in rows[: rows.index(r)]
        ), r
    liquidated = {r.account_id for r in rows if r.level is Level.LIQUIDATED}
    for account_id in {r.account_id for r in rows} - liquidated:
        if levels.get(account_id) is Level.OK:
            last = [r for r in rows if r.account_id == account_id][-1]
            assert last.level is Level.RECOVERED, last
    return len(recovered)


def test_crash_warns_before_every_liquidation_and_delivers_each_alert_once_in_order(
    world: World,
    db_url: str,
    telegram: TelegramApi,
    engine_for: Callable[[Config], Engine],
) -> None:
    cfg = two_chat_config(world, db_url, telegram)
    engine = engine_for(cfg)
    run = run_crash(world, cfg, engine, telegram)
    rows = alert_rows(engine)

    assert world.liquidated, "the crash must liquidate something, or this test proves nothing"
    assert unwarned_liquidations(world, rows) == []
    # GMX liquidations come from PositionDecrease events; Hyperliquid emits no EVM log, so an
    # HL account that disappears while liquidatable is recorded as liquidated.
    assert unreported_liquidations(world, rows) == []
    assert any(":" not in ref for ref, _ in world.liquidated)  # GMX
    assert any(":" in ref for ref, _ in world.liquidated)  # Hyperliquid

    assert duplicate_keys(rows) == []
    decided = [(d.account_id, d.decision.level, d.decision.episode) for d in run.decided]
    assert len(decided) == len(set(decided)) == len(rows)

    # Every scripted fault was really answered, and yet every chat got every alert once, in order.
    assert len(telegram.paths) == len(telegram.messages) + run.scripted_faults
    for chat in CHATS:
        assert telegram.texts(chat) == telegram_texts(rows)
    assert run.console.getvalue().splitlines() == console_lines(rows)
    assert outbox_statuses(engine) == {"sent": len(rows) * (1 + len(CHATS))}

    assert check_recoveries(rows, state_levels(engine)) >= 1


def test_dead_rpc_is_one_chain_alert_and_shows_every_open_account_unknown(
    devnet: Devnet,
    db_url: str,
    faulty_proxy: Callable[..., FaultyProxy],
    engine_for: Callable[[Config], Engine],
) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=2)
    proxy = faulty_proxy(devnet.anvil.rpc_url, rate=0.0)
    cfg = with_chain(demo_config(world, db_url), rpc_urls=[proxy.url])
    engine = engine_for(cfg)
    console = io.StringIO()
    monitor = Monitor(cfg, engine, {"console": ConsoleNotifier(Console(file=console))})
    (group,) = monitor.groups

    async def go() -> tuple[int, int, int]:
        healthy = await monitor.tick_or_unknown(group)
        proxy.stop()  # from now on: connection refused
        dead = await monitor.tick_or_unknown(group)
        await monitor.deliver()
        return healthy.accounts, dead.accounts, dead.unknown

    open_accounts, seen, unknown = asyncio.run(go())
    assert open_accounts == 3 + 2 * 2  # 3 GMX positions; 2 HL traders: cross and isolated each
    assert seen == unknown == open_accounts
    # Not an alert per account: their alerts and states are what the healthy tick left.
    assert all(r.level is not Level.UNKNOWN for r in alert_rows(engine))
    assert Level.UNKNOWN not in set(state_levels(engine).values())
    page = account_page(engine, AccountFilter(), limit=100, offset=0, sort="id", now=utcnow())
    assert [i["level"] for i in page["items"]] == ["unknown"] * open_accounts
    (line,) = [x for x in console.getvalue().splitlines() if x.startswith("Chain")]
    assert line.startswith(f"Chain outage · devnet (chain {cfg.chains[0].chain_id}) | ")
    assert f"Its {open_accounts} accounts show as unknown" in line


def test_the_status_line_names_each_chain_and_the_pending_deliveries(
    world: World, db_url: str
) -> None:
    engine = make_engine(db_url)
    ensure_schema(engine)
    monitor = Monitor(demo_config(world, db_url), engine, {})

    async def main() -> tuple[str, str]:
        before = await monitor.status_line()
        await monitor.tick_all()
        after = await monitor.status_line()
        await monitor.close()
        return before, after

    before, after = asyncio.run(main())
    assert before == "status: devnet no tick yet; 0 deliveries pending"
    assert after.startswith("status: devnet block ")
    assert re.search(r"\d+ accounts \(0 unknown\); \d+ deliveries pending$", after), after
