"""Three ``perpwatch run`` workers on one database through a crash: one ticks the chain at a
time (its lease), the holder is killed with SIGKILL, another takes the chain over, and no alert
is lost or recorded twice.

The holder is found from the lease row (``host:pid:suffix``); a killed worker's outbox claims
are fast-forwarded as in ``test_run_kill`` (their lease is ``lease_s`` long)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, demo_config
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.store.engine import ensure_schema, make_engine
from monitor.tables import ChainLease, ChainTick
from tests.e2e.test_run_kill import (
    MonitorProcess,
    expire_dead_leases,
    wait_for_full_pass,
    wait_until,
)
from tests.monitor_helpers import (
    alert_rows,
    duplicate_keys,
    outbox_statuses,
    price_path,
    telegram_texts,
    unreported_liquidations,
    unwarned_liquidations,
    with_chain,
    write_toml,
)
from tests.monitor_helpers import telegram as telegram
from tests.monitor_helpers import world as world

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CRASH = price_path(crash_steps=12, recover_steps=2, step_pct=0.8)
KILL_STEP = 5
_leases = ChainLease.__table__  # type: ignore[attr-defined]
_ticks = ChainTick.__table__  # type: ignore[attr-defined]


@pytest.fixture
def workers(
    world: World, db_url: str, telegram: TelegramApi, tmp_path: Path
) -> Iterator[list[MonitorProcess]]:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    cfg = with_chain(cfg, block_time=0.2, stall_after_blocks=1_000_000)
    config = write_toml(cfg, tmp_path / "perpwatch.toml")
    processes = []
    for i in range(3):
        logs = tmp_path / f"worker{i}"
        logs.mkdir()
        processes.append(MonitorProcess(config, logs))
    yield processes
    for process in processes:
        process.stop_if_running()


def _holder(engine: Engine) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(sa.select(_leases.c.holder)).scalar_one_or_none()
    return None if value is None else str(value)


def _tick_workers(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(_ticks.c.worker)).scalar_one())


def test_three_workers_one_lease_holder_killed_another_takes_over(
    world: World, db_url: str, telegram: TelegramApi, workers: list[MonitorProcess]
) -> None:
    engine = make_engine(db_url)
    ensure_schema(engine)
    for worker in workers:
        worker.start()
    watcher = workers[0]
    wait_for_full_pass(engine, watcher)
    for step, factor in enumerate(CRASH):
        world.move_prices(factor)
        if step == KILL_STEP:
            holder = _holder(engine)
            assert holder is not None
            assert _tick_workers(engine) == holder  # only the holder ticks
            (victim,) = [w for w in workers if w.proc and f":{w.proc.pid}:" in holder]
            victim.kill()
            expire_dead_leases(engine)
            watcher = next(w for w in workers if w is not victim)

            def taken_over(dead: str = holder) -> bool:
                return _holder(engine) not in (None, dead)

            wait_until(taken_over, watcher, "a takeover")
        wait_for_full_pass(engine, watcher)
        world.liquidate_what_is_allowed()
    wait_for_full_pass(engine, watcher)
    wait_until(lambda: set(outbox_statuses(engine)) <= {"sent"}, watcher, "all sent")
    for worker in workers:
        if worker.proc is not None and worker.proc.poll() is None:
            assert worker.terminate() == 0, worker.err.read_text()

    rows = alert_rows(engine)
    assert world.liquidated
    assert unwarned_liquidations(world, rows) == []
    unreported = unreported_liquidations(world, rows)
    assert all(":" in ref for ref in unreported), unreported  # Hyperliquid: no EVM event
    assert duplicate_keys(rows) == []
    texts = telegram.texts(DEMO_CHAT)
    # Every alert reached the chat; at most the one send in flight at the kill is repeated.
    assert set(texts) == set(telegram_texts(rows))
    assert len(texts) - len(set(texts)) <= 1
    engine.dispose()
