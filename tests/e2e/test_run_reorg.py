"""Reorgs under a running ``perpwatch run``: the monitor follows the chain that stands.

A reorg (``anvil_reorg``: the last blocks replaced by empty ones, the head keeps its height,
then one block more) removes a liquidation the monitor had already recorded and told, and a
plain close; the monitor is killed (SIGKILL) and restarted between the endings and the reorg.
The store must take both accounts back as open (their endings gone), monitoring must resume
(the liquidatable account alerts again, in a new episode), and when the keeper liquidates it
again on the new chain that liquidation is recorded and sent, not taken for a repeat of the
vanished one. In the end the database holds what a fresh ``perpwatch index`` of the canonical
chain (and a full re-read of its accounts) holds.

Each test gets its own anvil (automine: a block per transaction), so ``anvil_reorg`` never
disturbs the session's devnet.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, demo_config
from devnet.deploy import start_devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World
from devnet.solc import Artifact
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.scan.runner import open_rpc
from indexer.store.engine import ensure_schema, make_engine
from indexer.store.tables import Account, AccountEnding, Cursor
from indexer.store.tables import Position as PositionRow
from monitor.alerts.levels import Level
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import by_chain
from tests.e2e.test_run_kill import (
    MonitorProcess,
    expire_dead_leases,
    wait_for_full_pass,
    wait_until,
)
from tests.monitor_helpers import (
    AlertRow,
    alert_rows,
    duplicate_keys,
    outbox_statuses,
    telegram_texts,
    with_chain,
    write_toml,
)
from tests.monitor_helpers import telegram as telegram
from tests.scan_helpers import event_rows

pytestmark = [pytest.mark.chain, pytest.mark.slow]

E30 = 10**30
USDC = 10**6
ALICE = devnet_address("run-reorg:alice").lower()  # 20x long BTC: liquidated, twice
BOB = devnet_address("run-reorg:bob").lower()  # 2x long ETH: closes, then not
_accounts = Account.__table__  # type: ignore[attr-defined]
_positions = PositionRow.__table__  # type: ignore[attr-defined]
_endings = AccountEnding.__table__  # type: ignore[attr-defined]
_cursors = Cursor.__table__  # type: ignore[attr-defined]


@pytest.fixture
def world(artifacts: Mapping[str, Artifact]) -> Iterator[World]:
    with start_devnet(artifacts=artifacts) as devnet:
        yield World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, artifacts))


def _config(world: World, db_url: str, telegram: TelegramApi) -> Config:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    # Tick every 0.2 s; the devnet mines only on a transaction, so a quiet head is normal.
    return with_chain(cfg, block_time=0.2, stall_after_blocks=1_000_000)


@pytest.fixture
def monitor_process(
    world: World, db_url: str, telegram: TelegramApi, tmp_path: Path
) -> Iterator[MonitorProcess]:
    config = write_toml(_config(world, db_url, telegram), tmp_path / "perpwatch.toml")
    process = MonitorProcess(config, tmp_path)
    yield process
    process.stop_if_running()


def _key(world: World, owner: str, market: str, collateral: str) -> str:
    return "0x" + world.gmx.position_key(owner, market, collateral, True).hex()


def _status(engine: Engine, ref: str) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(sa.select(_accounts.c.status).where(_accounts.c.ref == ref)).scalar()
    return None if value is None else str(value)


def _endings_of(engine: Engine) -> set[tuple[str, int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_endings.c.ref, _endings.c.block_number, _endings.c.kind))
        return {(ref, int(block), str(kind)) for ref, block, kind in rows}


def _open_book(engine: Engine) -> set[tuple[Any, ...]]:
    """Every open account's ref with what the chain says of its positions (size, entry)."""
    query = (
        sa.select(_accounts.c.protocol, _accounts.c.ref, _positions.c.market,
                  _positions.c.size_raw, _positions.c.entry_notional_usd_e30)
        .join(_positions, _positions.c.account_id == _accounts.c.id)
        .where(_accounts.c.status == "open")
    )  # fmt: skip
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(query)}


def _cursors_of(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_cursors.c.name, _cursors.c.next_block))
        return {str(name): int(next_block) for name, next_block in rows}


def _alerts_of(engine: Engine, ref: str, level: Level) -> list[AlertRow]:
    return [r for r in alert_rows(engine) if r.ref == ref and r.level is level]


def _fresh_index(world: World, workdir: Path) -> Engine:
    """``perpwatch index`` of the canonical chain into a new database, then one full re-read of
    its accounts at the indexed block (what ``perpwatch account`` does)."""
    url = f"sqlite:///{workdir / 'reference.db'}"
    cfg = demo_config(world, url)
    config = write_toml(cfg, workdir / "reference.toml")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PERPWATCH_")}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", str(config), "index", "--json"],
        capture_output=True, text=True, env=env, cwd=workdir, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    (group, *_) = [g for g in by_chain(cfg) if g.adapters]

    async def read_accounts() -> None:
        async with open_rpc(group.chain) as rpc:
            await sync_chain(rpc, engine, group)

    asyncio.run(read_accounts())
    return engine


def test_reorg_under_run_undoes_a_liquidation_and_a_close(
    world: World,
    db_url: str,
    telegram: TelegramApi,
    monitor_process: MonitorProcess,
    tmp_path: Path,
) -> None:
    engine = make_engine(db_url)
    ensure_schema(engine)
    anvil, gmx = world.devnet.anvil, world.gmx
    gmx.set_price("BTC", 60_000)
    gmx.set_price("ETH", 2_500)
    gmx.increase(ALICE, "BTC/USD", "USDC", True, 500 * USDC, 10_000 * E30)
    gmx.increase(BOB, "ETH/USD", "USDC", True, 1_000 * USDC, 2_000 * E30)
    alice, bob = _key(world, ALICE, "BTC/USD", "USDC"), _key(world, BOB, "ETH/USD", "USDC")
    monitor_process.start()
    wait_for_full_pass(engine, monitor_process)
    assert (_status(engine, alice), _status(engine, bob)) == ("open", "open")

    def until(done: Callable[[], bool], what: str) -> None:
        wait_until(done, monitor_process, what)

    gmx.set_price("BTC", 57_200)  # about -4.7 %: the 20x long is liquidatable
    until(lambda: bool(_alerts_of(engine, alice, Level.LIQUIDATABLE)), "alice liquidatable")
    fork = anvil.block_number()
    assert gmx.liquidate(ALICE, "BTC/USD", "USDC", True)
    gmx.close(BOB, "ETH/USD", "USDC", True)
    until(lambda: bool(_alerts_of(engine, alice, Level.LIQUIDATED)), "alice liquidated")
    until(lambda: _status(engine, bob) == "closed", "bob closed")
    assert _status(engine, alice) == "liquidated"
    (told,) = _alerts_of(engine, alice, Level.LIQUIDATED)
    assert {(ref, kind) for ref, _, kind in _endings_of(engine)} == {
        (alice, "liquidated"), (bob, "closed"),
    }  # fmt: skip

    # A restart in between: the new process knows the two endings only from the database (its
    # whole-book re-read is of the open owners alone), so only the reorg's rollback can bring
    # the accounts back.
    until(lambda: set(outbox_statuses(engine)) <= {"sent"}, "all sent before the kill")
    monitor_process.kill()
    expire_dead_leases(engine)
    monitor_process.start()
    wait_for_full_pass(engine, monitor_process)

    anvil.reorg(anvil.block_number() - fork)  # neither the liquidation nor the close happened
    anvil.mine(1)
    until(lambda: _status(engine, alice) == "open", "alice open again")
    until(lambda: _status(engine, bob) == "open", "bob open again")
    assert _endings_of(engine) == set()
    # Monitoring resumed: the account, liquidatable again, alerts in a new episode.
    until(
        lambda: any(
            r.episode > told.episode for r in _alerts_of(engine, alice, Level.LIQUIDATABLE)
        ),
        "alice alerted again",
    )

    assert gmx.liquidate(ALICE, "BTC/USD", "USDC", True)  # the new chain's own liquidation
    until(lambda: len(_alerts_of(engine, alice, Level.LIQUIDATED)) == 2, "alice liquidated again")
    until(lambda: _status(engine, alice) == "liquidated", "alice stored liquidated")
    until(lambda: set(outbox_statuses(engine)) <= {"sent"}, "all sent")
    wait_for_full_pass(engine, monitor_process)
    assert monitor_process.terminate() == 0, monitor_process.err.read_text()

    rows = alert_rows(engine)
    assert duplicate_keys(rows) == []
    first, second = _alerts_of(engine, alice, Level.LIQUIDATED)
    assert first == told
    assert second.episode > told.episode
    assert telegram.texts(DEMO_CHAT) == telegram_texts(rows)  # every alert, once, in order

    reference = _fresh_index(world, tmp_path)
    try:
        assert event_rows(engine) == event_rows(reference)
        assert _endings_of(engine) == _endings_of(reference)
        assert {(ref, kind) for ref, _, kind in _endings_of(engine)} == {(alice, "liquidated")}
        assert _cursors_of(engine) == _cursors_of(reference)
        assert _open_book(engine) == _open_book(reference)
        assert {ref for _, ref, *_ in _open_book(engine)} == {bob}
    finally:
        reference.dispose()
    engine.dispose()
