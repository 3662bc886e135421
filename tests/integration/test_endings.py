"""How a position ended is decided from the events of the chain that stands.

- A keeper liquidating between the scan and the state read (a chain that keeps moving) must not
  turn a liquidation into a plain close: state is read at exactly the scanned block.
- A reorg that removes a reopened position must not erase the earlier liquidation: endings are
  kept per event and rolled back with the events, not overwritten by the latest touch.

Each test gets its own anvil (``anvil_reorg`` must not disturb the session's devnet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import start_devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World
from devnet.solc import Artifact
from indexer.models import AccountStatus
from indexer.scan.runner import open_rpc
from indexer.scan.scanner import Scanner
from indexer.store.accounts import load_accounts
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import by_chain

pytestmark = pytest.mark.chain

E30 = 10**30
USDC = 10**6
ALICE = devnet_address("endings:alice").lower()


@pytest.fixture
def world(artifacts: Mapping[str, Artifact]) -> Iterator[World]:
    with start_devnet(artifacts=artifacts) as devnet:
        yield World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, artifacts))


def _sync(world: World, engine: Engine) -> None:
    (group, *_) = [g for g in by_chain(demo_config(world, "sqlite://")) if g.adapters]

    async def main() -> None:
        async with open_rpc(group.chain) as rpc:
            await sync_chain(rpc, engine, group)

    asyncio.run(main())


def _alice_status(world: World, engine: Engine) -> AccountStatus:
    key = "0x" + world.gmx.position_key(ALICE, "BTC/USD", "USDC", True).hex()
    (account,) = [a for _, a in load_accounts(engine, status=None) if a.ref == key]
    return account.status


def _open_20x_long(world: World) -> None:
    world.gmx.set_price("BTC", 60_000)
    world.gmx.increase(ALICE, "BTC/USD", "USDC", True, 500 * USDC, 10_000 * E30)


def test_a_liquidation_right_after_the_scan_is_not_stored_as_a_close(
    world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _open_20x_long(world)
    _sync(world, engine)
    assert _alice_status(world, engine) is AccountStatus.OPEN
    world.gmx.set_price("BTC", 57_200)  # about -4.7 %: the 20x long is liquidatable

    real_backfill = Scanner.backfill

    async def scan_then_keeper_acts(*args: Any, **kwargs: Any) -> Any:
        results = await real_backfill(*args, **kwargs)
        # The keeper liquidates in the next block, after the scan and before the read.
        assert await asyncio.to_thread(world.gmx.liquidate, ALICE, "BTC/USD", "USDC", True)
        return results

    monkeypatch.setattr(Scanner, "backfill", scan_then_keeper_acts)
    _sync(world, engine)
    assert _alice_status(world, engine) is AccountStatus.OPEN  # read at the scanned block
    monkeypatch.undo()
    _sync(world, engine)  # the next pass scans the liquidation event, then reads
    assert _alice_status(world, engine) is AccountStatus.LIQUIDATED


def test_a_reorg_removing_a_reopen_keeps_the_earlier_liquidation(
    world: World, engine: Engine
) -> None:
    anvil = world.devnet.anvil
    _open_20x_long(world)
    _sync(world, engine)
    world.gmx.set_price("BTC", 57_200)
    assert world.gmx.liquidate(ALICE, "BTC/USD", "USDC", True)
    _sync(world, engine)
    assert _alice_status(world, engine) is AccountStatus.LIQUIDATED

    before_reopen = anvil.block_number()
    world.gmx.set_price("BTC", 60_000)
    world.gmx.increase(ALICE, "BTC/USD", "USDC", True, 500 * USDC, 10_000 * E30)
    _sync(world, engine)
    assert _alice_status(world, engine) is AccountStatus.OPEN  # the same key, reopened

    anvil.reorg(anvil.block_number() - before_reopen)  # the reopen never happened
    anvil.mine(1)
    _sync(world, engine)
    assert _alice_status(world, engine) is AccountStatus.LIQUIDATED
