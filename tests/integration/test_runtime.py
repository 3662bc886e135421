"""The long-lived chain runtime: a tick costs what changed, not what exists.

After the first (full) tick, a tick in which only prices moved makes the same node requests
whether the book holds 4 accounts or 40; a position opened since the last tick is read and
joins the in-memory book; a full refresh re-reads everyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World, build_world
from indexer import refresh
from indexer.config.loader import Config
from indexer.prices import PriceBook, PriceSource
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.reads import execute
from indexer.reads.execute import ReadCache
from indexer.rpc.client import RpcClient
from indexer.store import accounts as stored_accounts
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.chain_pass import ChainSync, by_chain
from monitor.runtime.live_book import LiveBook

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


class _Rendezvous:
    """A price source that holds each protocol's first read until every protocol of the chain
    has started one: read one after another, the first read would wait forever. (A second
    read, of the markets the owners' read found new, passes.)"""

    def __init__(self, inner: PriceSource, arrived: list[str], everyone: asyncio.Event, n: int):
        self.inner, self.arrived, self.everyone, self.n = inner, arrived, everyone, n
        self.first = True

    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook:
        if self.first:
            self.first = False
            self.arrived.append(type(self.inner).__name__)
        if len(self.arrived) == self.n:
            self.everyone.set()
        await asyncio.wait_for(self.everyone.wait(), timeout=20)
        return await self.inner.read(rpc, assets, block)


def test_the_protocols_of_a_chain_are_read_side_by_side(devnet: Devnet, engine: Engine) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    raw["protocols"] = [p for p in raw["protocols"] if p["name"] in ("gmx_v2", "hyperliquid")]
    (group,) = by_chain(Config.model_validate(raw))
    _open(world, "side", 1)
    arrived: list[str] = []

    async def sync() -> ChainSync:
        everyone = asyncio.Event()  # made on the loop that waits on it
        sources = tuple(
            _Rendezvous(p, arrived, everyone, len(group.adapters)) for p in group.price_sources
        )
        runtime = ChainRuntime(replace(group, price_sources=sources), engine)
        try:
            return await runtime.sync()
        finally:
            await runtime.close()

    synced = asyncio.run(sync())
    assert len(arrived) == 2
    assert list(synced.prices) == ["gmx_v2", "hyperliquid"]  # in config order, however read
    assert synced.prices["gmx_v2"]["ETH"] > 0  # the reads went through


def test_a_market_new_to_the_book_is_priced_in_the_tick_that_reads_it(
    devnet: Devnet, engine: Engine
) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))

    async def ticks() -> tuple[ChainSync, ChainSync, ChainSync]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0)
        try:
            _open(world, "eth", 2)
            first = await runtime.sync()
            owner = devnet_address("btc:0").lower()
            world.gmx.increase(owner, "BTC/USD", "USDC", True, 1_000 * USDC, 4_000 * E30)
            opened = await runtime.sync()  # BTC: found by this read, priced after it
            world.gmx.set_price("BTC", 61_000)
            return first, opened, await runtime.sync()
        finally:
            await runtime.close()

    first, opened, quiet = asyncio.run(ticks())
    assert "BTC" not in first.prices["gmx_v2"]  # nobody held it
    assert opened.refreshed == 1
    assert opened.prices["gmx_v2"]["BTC"] == pytest.approx(60_000)
    assert opened.prices["gmx_v2"]["ETH"] > 0
    assert quiet.prices["gmx_v2"]["BTC"] == pytest.approx(61_000)  # priced from then on


def test_the_whole_book_slice_is_read_behind_the_tick_and_joins_the_next_book(
    devnet: Devnet, engine: Engine
) -> None:
    """Borrowing accrues with no event: only the whole-book re-read sees it. That slice is read
    behind the tick that takes it (the tick neither waits for it nor counts it) and is in the
    book from the next tick on; an owner the next tick reads itself is taken from that read."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    owner = devnet_address("drift:0").lower()
    now = [0.0]

    def seen(book: LiveBook) -> dict[str, tuple[int, int]]:
        """Owner → (pending fees, size) of its one position."""
        return {
            a.owner: (a.positions[0].pending_fees_usd_e30, a.positions[0].size_raw)
            for a in book.accounts()
        }

    async def ticks() -> tuple[list[int], list[dict[str, tuple[int, int]]]]:
        runtime = ChainRuntime(group, engine, full_refresh_s=60.0, monotonic=lambda: now[0])
        try:
            _open(world, "drift", 2)
            books = [seen(await runtime.book(await runtime.sync()))]  # the full first read
            await runtime.book(await runtime.sync())  # the whole-book cycle starts here
            world.gmx.accrue_borrowing("ETH/USD", True, 10**27)  # 0.1 % of size more owed
            world.gmx.accrue_borrowing("ETH/USD", False, 10**27)
            now[0] += 10_000.0  # both tiers of the cycle are due
            behind = await runtime.sync()
            books.append(seen(await runtime.book(behind)))
            world.gmx.increase(owner, "ETH/USD", "USDC", True, 1_000 * USDC, 1_000 * E30)
            caught_up = await runtime.sync()
            books.append(seen(await runtime.book(caught_up)))
            return [behind.refreshed, caught_up.refreshed], books
        finally:
            await runtime.close()

    refreshed, books = asyncio.run(ticks())
    first, behind, caught_up = books
    assert refreshed == [0, 3]  # the slice's 2 owners count where they land, with the touch
    assert behind == first  # the tick that took the slice did not wait for it
    assert all(caught_up[o][0] > first[o][0] for o in first)  # the accrued borrowing
    assert caught_up[owner][1] > first[owner][1]  # the touched owner as the later read saw it


def test_a_configuration_write_has_the_whole_book_read_behind_the_tick_that_scans_it(
    devnet: Devnet, engine: Engine
) -> None:
    """GMX's Config raising a market's liquidation factor changes every open position's
    maintenance with no event of theirs. The tick that scans the SetUint has the whole book
    read behind it; from the next tick the book holds the new factor, and the tick after that
    reads neither the book nor the configuration again."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))

    def rates(book: LiveBook) -> set[int]:
        return {a.positions[0].mm_rate_entry_e30 for a in book.accounts()}

    async def ticks() -> tuple[list[set[int]], list[int], int]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0)
        try:
            _open(world, "config", 3)
            seen = [rates(await runtime.book(await runtime.sync()))]
            world.gmx.set_market_factors("ETH/USD", liquidation_factor_e30=9 * E30 // 1000)
            scanned = await runtime.sync()
            seen.append(rates(await runtime.book(scanned)))
            caught_up = await runtime.sync()
            seen.append(rates(await runtime.book(caught_up)))
            rpc = await runtime.client()
            before = rpc.call_equivalents
            quiet = await runtime.sync()
            await runtime.book(quiet)
            quiet_calls = rpc.call_equivalents - before
            runtime.forget()
            (adapter,) = group.adapters
            assert isinstance(adapter, GmxV2Adapter)
            assert adapter.config is not None
            assert adapter.config.recall() is None  # forgotten with the book
            return seen, [scanned.refreshed, caught_up.refreshed, quiet.refreshed], quiet_calls
        finally:
            await runtime.close()

    seen, refreshed, quiet_calls = asyncio.run(ticks())
    assert seen == [{5 * E30 // 1000}, {5 * E30 // 1000}, {9 * E30 // 1000}]
    assert refreshed == [0, 3, 0]  # the book's 3 owners, counted where they land
    # The quiet tick: the scan and the prices, no market configuration (55 calls) nor owners.
    assert quiet_calls < 55, quiet_calls


def test_a_configuration_write_is_re_read_a_share_per_tick_owners_near_a_warning_first(
    devnet: Devnet, engine: Engine
) -> None:
    """Re-read in one go, a large book stalled the tick after a write for seconds. It is read
    ``CONFIG_REREADS_PER_TICK`` reads' worth per block time instead (here reads of one owner:
    two owners a tick), the owners near a warning first."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    (adapter,) = group.adapters
    adapter.owners_per_read = 1  # type: ignore[attr-defined]
    owners = [devnet_address(f"share:{i}").lower() for i in range(3)]
    now = [0.0]

    def updated(book: LiveBook) -> list[str]:
        return sorted(
            a.owner for a in book.accounts() if a.positions[0].mm_rate_entry_e30 > 5 * E30 // 1000
        )

    async def ticks() -> list[list[str]]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0, monotonic=lambda: now[0])
        try:
            _open(world, "share", 3)
            await runtime.book(await runtime.sync())
            runtime.warm = {adapter.name: frozenset({owners[2]})}
            world.gmx.set_market_factors("ETH/USD", liquidation_factor_e30=9 * E30 // 1000)
            seen = []
            for _ in range(3):
                now[0] += group.chain.block_time
                seen.append(updated(await runtime.book(await runtime.sync())))
            return seen
        finally:
            await runtime.close()

    seen = asyncio.run(ticks())
    assert seen[0] == []  # the write's tick: its share is read behind it
    # Two owners: the warm one, then the first of the rest in address order.
    assert seen[1] == sorted([owners[2], min(owners[:2])])
    assert seen[2] == sorted(owners)


async def _until_a_slice_is_due(
    runtime: ChainRuntime, world: World, tag: str, now: list[float]
) -> None:
    """Two positions opened, the full first read, the tick that starts the whole-book cycle,
    then the clock past both tiers' period: the next sync takes a slice of both owners."""
    _open(world, tag, 2)
    await runtime.book(await runtime.sync())
    await runtime.book(await runtime.sync())
    now[0] += 10_000.0


@pytest.mark.parametrize("started", [True, False], ids=["reading", "not started"])
def test_a_forgotten_runtime_drops_the_slice_it_was_reading_behind(
    started: bool, devnet: Devnet, engine: Engine
) -> None:
    """A worker that loses the chain forgets it: the slice it was reading behind its last tick
    is cancelled, or never started if the tick had not started it yet (nothing of it may land
    after another worker's reads), and its next sync reads the book whole, as after a start.
    A sync leaves the slice to its caller: it goes out once the tick is recorded."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    now = [0.0]

    async def ticks() -> tuple[int, int, int]:
        runtime = ChainRuntime(group, engine, full_refresh_s=60.0, monotonic=lambda: now[0])
        try:
            await _until_a_slice_is_due(runtime, world, "forget", now)
            await runtime.sync()  # takes the slice, to read behind the tick
            unstarted = len(runtime._behind)
            if started:
                runtime.read_behind()  # as the monitor does once its tick is recorded
            pending = len(runtime._behind)
            runtime.forget()
            return unstarted, pending, (await runtime.sync()).refreshed
        finally:
            await runtime.close()

    unstarted, pending, refreshed = asyncio.run(ticks())
    assert (unstarted, pending) == (0, 1 if started else 0)
    assert refreshed == 2  # the whole book once, not the dropped slice on top


def test_a_slice_that_fails_behind_the_tick_is_one_warning_and_the_next_sync_goes_on(
    devnet: Devnet,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    now = [0.0]

    async def unreadable(*_args: object) -> None:
        raise RuntimeError("node went away")

    async def ticks() -> int:
        runtime = ChainRuntime(group, engine, full_refresh_s=60.0, monotonic=lambda: now[0])
        try:
            await _until_a_slice_is_due(runtime, world, "fails", now)
            monkeypatch.setattr(ChainRuntime, "_read_behind", unreadable)
            await runtime.book(await runtime.sync())  # takes the slice, which fails behind it
            return (await runtime.sync()).refreshed
        finally:
            await runtime.close()

    with caplog.at_level("WARNING", logger="perpwatch.monitor"):
        refreshed = asyncio.run(ticks())
    assert refreshed == 0  # nothing of the failed slice counted
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in warnings] == [
        "read behind the tick failed (retried later): node went away"
    ]
    assert all(r.exc_info is None for r in warnings)  # one line, no traceback


def test_the_next_sync_says_how_long_it_waited_for_the_slice_read_behind_the_last(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick's ``behind`` phase: a slice read behind one sync that takes 0.3 s more is
    waited for at the start of the next, and that sync says so (``behind_s``)."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    now = [0.0]
    read_behind = ChainRuntime._read_behind

    async def slow(self: ChainRuntime, *args: Any) -> Any:
        await asyncio.sleep(0.3)
        return await read_behind(self, *args)

    async def ticks() -> tuple[float, float]:
        runtime = ChainRuntime(group, engine, full_refresh_s=60.0, monotonic=lambda: now[0])
        try:
            await _until_a_slice_is_due(runtime, world, "slow", now)
            monkeypatch.setattr(ChainRuntime, "_read_behind", slow)
            took = await runtime.sync()  # takes the slice, read behind it
            return took.behind_s, (await runtime.sync()).behind_s
        finally:
            await runtime.close()

    before, after = asyncio.run(ticks())
    assert before < 0.25  # nothing was behind the tick before it
    assert after >= 0.25


def test_an_eventless_protocol_reads_beside_the_scan_not_after_it(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hyperliquid has nothing to scan: its wallet poll goes out as the tick starts, at the
    block the scan is to reach. Here the scan waits until a read has gone out: only
    Hyperliquid's can, so were its reads to wait for the scan, the tick would never end."""
    world = build_world(devnet, gmx_traders=2, hl_traders=2, seed=3)
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    raw["protocols"] = [p for p in raw["protocols"] if p["name"] in ("gmx_v2", "hyperliquid")]
    (group,) = by_chain(Config.model_validate(raw))
    events: list[tuple[str, Any]] = []
    run_read, save_read = execute.run_read, stored_accounts.save_read  # what refresh calls

    async def sync() -> tuple[ChainSync, int]:
        read_out = asyncio.Event()

        async def reading(rpc: RpcClient, read: Any, block: Any, *rest: Any) -> Any:
            events.append(("read", block))
            read_out.set()
            return await run_read(rpc, read, block, *rest)

        def saving(engine: Engine, chain_id: int, protocol: str, *args: Any, **kw: Any) -> Any:
            events.append(("save", protocol))
            return save_read(engine, chain_id, protocol, *args, **kw)

        monkeypatch.setattr(refresh, "run_read", reading)
        monkeypatch.setattr(refresh, "save_read", saving)
        runtime = ChainRuntime(group, engine)
        try:
            await runtime.client()
            (scanner,) = runtime._scanners
            backfill = scanner.backfill

            async def held(**kw: Any) -> Any:
                await asyncio.wait_for(read_out.wait(), timeout=20)
                done = await backfill(**kw)
                events.append(("scanned", None))
                return done

            scanner.backfill = held  # type: ignore[method-assign, assignment]
            head = await runtime.head()
            return await runtime.sync(head), head
        finally:
            await runtime.close()

    synced, head = asyncio.run(sync())
    assert synced.block == head - group.chain.finality_blocks  # the scan reached its target
    assert events[0] == ("read", synced.block)  # Hyperliquid's poll, at that very block
    saved = {protocol for kind, protocol in events if kind == "save"}
    assert saved == {"hyperliquid", "gmx_v2"}  # both protocols' reads were stored


def test_reads_of_one_block_ask_the_market_state_once_and_value_alike(
    devnet: Devnet, engine: Engine
) -> None:
    """GMX's reads carry every configured market's state; a second read of the block takes
    it from the first (``ReadCache``): one call for its one owner, and the same accounts as a
    read that asks the block's shared calls again."""
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    (group,) = by_chain(_gmx_only(world))
    (adapter,) = group.adapters
    _open(world, "cache", 2)
    first, second = (devnet_address(f"cache:{i}").lower() for i in range(2))

    async def reads() -> tuple[list[int], list[Any], list[Any]]:
        runtime = ChainRuntime(group, engine)
        rpc = await runtime.client()
        try:
            block, cache, spent, found = await rpc.block_number(), ReadCache(), [], []
            for owner, shared in ((first, cache), (second, cache), (second, None)):
                before = rpc.call_equivalents
                saved = await refresh.refresh_owners(
                    rpc, engine, adapter, [owner], block=block, cache=shared
                )
                spent.append(rpc.call_equivalents - before)
                found.append([a for _, a in saved.stored])
            return spent, found[1], found[2]
        finally:
            await runtime.close()

    spent, cached, uncached = asyncio.run(reads())
    assert spent[0] > 50  # the configuration, market state, feeds, block, one owner
    assert spent[1] == 1  # that owner's positions only
    # Without the cache the block's shared calls are asked again, but not the configuration
    # the adapter remembers: 3 global values and 26 for each of the 2 markets.
    assert spent[2] == spent[0] - 55
    assert cached == uncached
    assert len(cached) == 1
