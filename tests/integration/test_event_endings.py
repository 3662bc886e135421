"""Accounts ended by final events (GMX v2 liquidations and full closes) leave the live book in
the tick that scans the event, without a read, and a later read confirms them.

- A liquidated position is ``liquidated`` and out of the book at once; its owner is read behind
  the next tick (the touch is consumed then, not before), and the read joins the tick after.
- The confirming read is what catches a position reopened under the same key in the block that
  liquidated it: the event said "ended", the chain says "open again".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import start_devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World
from devnet.solc import Artifact
from devnet.txbatch import TxBatch
from indexer import refresh as indexer_refresh
from indexer.config.loader import Config
from indexer.errors import RetryableError
from indexer.models import AccountStatus
from indexer.store.accounts import load_accounts, touched_owners
from monitor.runtime import chain as chain_module
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.chain_pass import ChainSync, by_chain

pytestmark = pytest.mark.chain

E30, USDC = 10**30, 10**6
ALICE = devnet_address("event-endings:alice").lower()
BOB = devnet_address("event-endings:bob").lower()


@pytest.fixture
def world(artifacts: Mapping[str, Artifact]) -> Iterator[World]:
    with start_devnet(artifacts=artifacts) as devnet:
        yield World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, artifacts))


def _gmx_only(world: World) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    raw["protocols"] = [p for p in raw["protocols"] if p["name"] == "gmx_v2"]
    raw["wallets"] = []
    return Config.model_validate(raw)


def _key(world: World, owner: str) -> str:
    return "0x" + world.gmx.position_key(owner, "BTC/USD", "USDC", True).hex()


def _status(world: World, engine: Engine, owner: str) -> AccountStatus:
    (account,) = [a for _, a in load_accounts(engine, status=None) if a.ref == _key(world, owner)]
    return account.status


def _open_20x_longs(world: World) -> None:
    world.gmx.set_price("BTC", 60_000)
    for owner in (ALICE, BOB):
        world.gmx.increase(owner, "BTC/USD", "USDC", True, 500 * USDC, 10_000 * E30)


class Ticks:
    """A long-lived runtime's ticks (sync, then the live book) and what each read."""

    def __init__(self, world: World, engine: Engine) -> None:
        (group,) = by_chain(_gmx_only(world))
        self.runtime = ChainRuntime(group, engine, full_refresh_s=3600.0)

    def touched(self) -> list[str]:
        return touched_owners(self.runtime.engine, self.runtime.group.chain.chain_id, "gmx_v2")

    async def tick(self) -> tuple[ChainSync, set[str]]:
        sync = await self.runtime.sync()
        live = await self.runtime.book(sync)
        return sync, {a.owner for a in live.accounts()}


def _run(world: World, engine: Engine, scenario: Callable[[Ticks], Awaitable[None]]) -> None:
    async def main() -> None:
        ticks = Ticks(world, engine)
        try:
            _, held = await ticks.tick()  # the first tick reads everyone
            assert held == {ALICE, BOB}
            world.gmx.set_price("BTC", 57_200)  # about -4.7 %: both 20x longs liquidatable
            await scenario(ticks)
        finally:
            await ticks.runtime.close()

    _open_20x_longs(world)
    asyncio.run(main())


def test_a_liquidation_ends_the_account_in_the_tick_that_scans_it_and_a_read_confirms_it(
    world: World, engine: Engine
) -> None:
    async def scenario(ticks: Ticks) -> None:
        assert world.gmx.liquidate(ALICE, "BTC/USD", "USDC", True)
        sync, held = await ticks.tick()
        assert (sync.refreshed, sync.liquidated) == (0, 1)  # ended by its event
        assert held == {BOB}
        assert {lost.was.owner for lost in ticks.runtime.lost} == {ALICE}
        assert _status(world, engine, ALICE) is AccountStatus.LIQUIDATED
        assert ticks.touched() == [ALICE]  # not read yet: her touch is still queued
        await ticks.tick()  # her confirming read goes out behind this tick
        sync, held = await ticks.tick()  # and is stored before this one reads
        assert sync.refreshed == 0  # the confirming read found her with no account
        assert ticks.touched() == []
        assert _status(world, engine, ALICE) is AccountStatus.LIQUIDATED
        assert held == {BOB}

    _run(world, engine, scenario)


def test_a_position_reopened_in_the_block_that_liquidated_it_comes_back_on_the_confirming_read(
    world: World, engine: Engine
) -> None:
    async def scenario(ticks: Ticks) -> None:
        with TxBatch(world.devnet) as batch:  # one block: liquidated, then opened again
            batch.add(world.gmx.liquidate_call(ALICE, "BTC/USD", "USDC", True))
            batch.add(
                world.gmx.increase_call(ALICE, "BTC/USD", "USDC", True, 900 * USDC, 9_000 * E30)
            )
        sync, held = await ticks.tick()
        assert (sync.liquidated, held) == (1, {BOB})  # what the events said
        sync, held = await ticks.tick()
        assert held == {BOB}  # her confirming read is out behind this tick
        sync, held = await ticks.tick()
        assert (sync.refreshed, held) == (1, {ALICE, BOB})  # what the chain says
        assert _status(world, engine, ALICE) is AccountStatus.OPEN

    _run(world, engine, scenario)


def test_a_confirming_read_that_fails_behind_the_tick_is_taken_again(
    world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh = indexer_refresh.refresh_owners  # what the runtime calls
    reads: list[str] = []  # each read of her: "failed" or "read"

    async def fails_once(
        rpc: Any, engine: Engine, adapter: Any, owners: list[str], **kwargs: Any
    ) -> Any:
        if ALICE not in owners:
            return await refresh(rpc, engine, adapter, owners, **kwargs)
        if not reads:
            reads.append("failed")
            raise RetryableError("node went away")
        reads.append("read")
        return await refresh(rpc, engine, adapter, owners, **kwargs)

    async def scenario(ticks: Ticks) -> None:
        monkeypatch.setattr(chain_module, "refresh_owners", fails_once)
        assert world.gmx.liquidate(ALICE, "BTC/USD", "USDC", True)
        await ticks.tick()  # ended by its event
        await ticks.tick()  # her confirming read goes out behind this tick, and fails
        assert ticks.touched() == [ALICE]  # not consumed by the read that failed
        await ticks.tick()  # the failure is seen: she is taken again, behind this tick
        await ticks.tick()
        assert reads == ["failed", "read"]
        assert ticks.touched() == []  # read at last
        assert _status(world, engine, ALICE) is AccountStatus.LIQUIDATED

    _run(world, engine, scenario)
