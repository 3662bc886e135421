"""The latest view (``latest_health``, read by ``serve``) is written behind the tick: the tick
returns once its alerts are recorded, and the views of ticks that end while a write still runs
wait for the next write, the newest view of an account winning. Nothing of them is lost, unless
the chain went to another worker meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import build_world
from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.health.account import AccountHealth
from monitor.health.tick import AccountView
from monitor.latest.store import LatestWriter, Written
from monitor.latest.tables import LatestHealth
from monitor.runtime.chain_pass import ChainSync
from monitor.runtime.lease import acquire_lease, lease_ttl_s
from monitor.runtime.service import Monitor

pytestmark = pytest.mark.chain

_latest = LatestHealth.__table__  # type: ignore[attr-defined]
GATE_LIMIT_S = 30.0  # a hang guard only


def _stored_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(_latest.c.account_id)).scalars())


def test_the_latest_view_is_written_behind_the_tick_and_no_view_is_lost(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=1, gtrade_traders=1)
    monitor = Monitor(demo_config(world, "sqlite://"), engine, {})
    (group,) = monitor.groups
    chain = group.chain.name
    gate = threading.Event()
    writes: list[dict[int, MarginAccount]] = []
    write = LatestWriter.write

    def gated(
        self: LatestWriter,
        chain_id: int,
        block: int,
        prices: Any,
        updated_at: Any,
        healths: Iterable[tuple[int, MarginAccount, AccountHealth | None]],
        now: datetime,
        blocks: Mapping[int, int] | None = None,
    ) -> Written:
        listed = list(healths)
        writes.append({account_id: account for account_id, account, _ in listed})
        assert gate.wait(GATE_LIMIT_S), "the test never opened the gate"
        return write(self, chain_id, block, prices, updated_at, listed, now, blocks)

    monkeypatch.setattr(LatestWriter, "write", gated)

    async def go() -> tuple[set[int], set[int], list[tuple[int, MarginAccount]], int]:
        summary = await monitor.tick(group)
        running = monitor._latest_tasks[chain]
        stored_while_running = _stored_ids(engine)
        assert not running.done()  # the tick returned with its latest view still being written
        for _ in range(int(GATE_LIMIT_S / 0.01)):
            if writes:
                break
            await asyncio.sleep(0.01)  # until its worker thread took it up
        rows = load_accounts(engine, chain_id=group.chain.chain_id)
        (a_id, a), (b_id, b) = rows[:2]
        newer_a = replace(a, block_number=a.block_number + 1)
        sync = ChainSync(group.chain.chain_id, summary.block + 1)
        # Two ticks end while the write runs: their views wait, the newer one of ``a`` wins.
        monitor._persist_latest(chain, sync, [AccountView(a_id, a, None)])
        monitor._persist_latest(
            chain, sync, [AccountView(a_id, newer_a, None), AccountView(b_id, b, None)]
        )
        assert len(writes) == 1
        gate.set()
        await monitor.flush_latest()
        after_first = _stored_ids(engine)
        # The next tick, a block later, judged nothing of its own.
        monitor._persist_latest(chain, replace(sync, block=sync.block + 1), [])
        await monitor.close()  # waits for the latest view's writes
        return stored_while_running, after_first, [(a_id, newer_a), (b_id, b)], sync.block

    stored_while_running, after_first, waited, waited_at = asyncio.run(go())
    assert stored_while_running == set()
    assert after_first  # the tick's own views, once its write was let through
    assert after_first == set(writes[0])
    assert writes[1] == dict(waited)  # both waiting views, each account's newest
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_latest.c.account_id, _latest.c.block_number))
        blocks = {int(account_id): int(block) for account_id, block in rows}
    # Each waiting view is dated by the block it was computed at, not by the write's.
    assert [blocks[account_id] for account_id, _ in waited] == [waited_at, waited_at]


def test_views_waiting_when_the_chain_goes_to_another_worker_are_dropped(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Views that wait for the next write belong to this worker's time on the chain: once
    another worker holds it, they would land over its newer ones, so losing the lease (and
    taking it back later) drops them."""
    world = build_world(devnet, gmx_traders=2, hl_traders=1, gtrade_traders=1)
    now = [utcnow()]
    monitor = Monitor(demo_config(world, "sqlite://"), engine, {}, clock=lambda: now[0])
    (group,) = monitor.groups
    chain, chain_id = group.chain.name, group.chain.chain_id
    ttl_s = lease_ttl_s(group.chain.block_time)
    gate = threading.Event()
    writes: list[set[int]] = []
    write = LatestWriter.write

    def gated(self: LatestWriter, *args: Any) -> Written:
        writes.append({account_id for account_id, _, _ in args[4]})
        assert gate.wait(GATE_LIMIT_S), "the test never opened the gate"
        return write(self, *args)

    monkeypatch.setattr(LatestWriter, "write", gated)

    async def go() -> None:
        summary = await monitor.tick(group)
        (a_id, a), *_ = load_accounts(engine, chain_id=chain_id)
        sync = ChainSync(chain_id, summary.block)
        monitor._persist_latest(chain, sync, [AccountView(a_id, a, None)])  # waits
        now[0] += timedelta(seconds=ttl_s + 1)  # this worker stalled past its lease
        assert acquire_lease(engine, chain_id, "another worker", now[0], ttl_s)
        assert not await monitor._hold(group)
        now[0] += timedelta(seconds=ttl_s + 1)
        assert await monitor._hold(group)  # back, from the database
        gate.set()
        await monitor.flush_latest()
        monitor._persist_latest(chain, sync, [])
        await monitor.close()

    asyncio.run(go())
    assert len(writes) == 2
    assert writes[1] == set()  # the view from before the other worker's time is gone
