"""The long-lived chain runtime: a tick costs what changed, not what exists.

After the first (full) tick, a tick in which only prices moved makes the same node requests
whether the book holds 4 accounts or 40; a position opened since the last tick is read and
joins the in-memory book; a full refresh re-reads everyone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World
from indexer.config.loader import Config
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.chain_pass import by_chain

pytestmark = pytest.mark.chain

E30, USDC = 10**30, 10**6


def _gmx_only(world: World) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    raw["protocols"] = [p for p in raw["protocols"] if p["name"] == "gmx_v2"]
    raw["wallets"] = []
    return Config.model_validate(raw)


def _open(world: World, tag: str, n: int) -> None:
    for i in range(n):
        owner = devnet_address(f"{tag}:{i}").lower()
        world.gmx.increase(owner, "ETH/USD", "USDC", i % 2 == 0, 1_000 * USDC, 4_000 * E30)


async def _ticks(world: World, engine: Engine, book_size: int) -> tuple[int, int, int, int, int]:
    """Of a price-only tick: node requests, accounts re-read, book size; then of a tick after
    one more position opened: accounts re-read, book size."""
    (group,) = by_chain(_gmx_only(world))
    runtime = ChainRuntime(group, engine, full_refresh_s=3600.0)
    try:
        _open(world, f"book{book_size}", book_size)
        await runtime.book(await runtime.sync())  # the first tick reads everyone
        world.gmx.set_price("ETH", 2_400)
        rpc = await runtime.client()
        before = sum(s.requests for s in rpc.stats())
        quiet = await runtime.sync()
        book = len(await runtime.book(quiet))  # the live book: it changes in place
        requests = sum(s.requests for s in rpc.stats()) - before
        _open(world, f"late{book_size}", 1)
        busy = await runtime.sync()
        grown = len(await runtime.book(busy))
        return requests, quiet.refreshed, book, busy.refreshed, grown
    finally:
        await runtime.close()


@pytest.mark.parametrize("book_size", [4, 40])
def test_a_price_only_tick_costs_the_same_whatever_the_book_size(
    devnet: Devnet, engine: Engine, book_size: int
) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    requests, quiet_reads, book, busy_reads, grown = asyncio.run(_ticks(world, engine, book_size))
    assert (quiet_reads, book) == (0, book_size)  # nothing touched: nothing re-read
    assert (busy_reads, grown) == (1, book_size + 1)  # only the new position
    # Scan (head, logs, headers), price reads: a handful, never one per account.
    assert requests <= 8, requests
