"""``perpwatch run`` ticks a chain as soon as its head moves (``Monitor.tick_when_moved``): no
poll before the next block is due, a poll without a new block costs one ``eth_blockNumber``
and ticks nothing, a new block is ticked at once with the head the poll read (and one check of
the stored tip for all the chain's scanners), and a head that does not move is still ticked
once per ``QUIET_TICK_BLOCKS`` block times. With a ``ws_url`` the node pushes its heads and
none is polled; a subscription that cannot be made leaves the polls as they were."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from indexer.config.loader import Config
from indexer.rpc.client import RpcClient
from indexer.scan.runner import live_backoff_max_s
from indexer.scan.scanner import Scanner, ScanProgress
from monitor.runtime.chain_pass import ChainProtocols
from monitor.runtime.head_pacing import PACE_SIGHTINGS, poll_step_s
from monitor.runtime.heartbeat import TickSummary
from monitor.runtime.service import QUIET_TICK_BLOCKS, Monitor
from tests.fixtures.faulty_proxy import FaultyProxy
from tests.scan_helpers import count_hash_requests

pytestmark = pytest.mark.chain


class HeadReads:
    """Counts a client's ``eth_blockNumber`` reads and all its HTTP requests."""

    def __init__(self, rpc: RpcClient, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rpc, self.heads = rpc, 0
        read_head = rpc.block_number

        async def counted() -> int:
            self.heads += 1
            return await read_head()

        monkeypatch.setattr(rpc, "block_number", counted)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.rpc.stats())


def with_ws_url(cfg: Config, url: str | None) -> Config:
    """``cfg`` with every chain's ``ws_url`` set to ``url`` (None: heads are polled)."""
    chains = tuple(c.model_copy(update={"ws_url": url}) for c in cfg.chains)
    return cfg.model_copy(update={"chains": chains})


def polled(world: World) -> Config:
    """The devnet's config without its ``ws_url``: the head is polled."""
    return with_ws_url(demo_config(world, "sqlite://"), None)


def count_tip_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The heads at which any scanner checks its stored tip, from now on."""
    heads: list[int] = []
    check = Scanner._check_tip

    async def counted(
        self: Scanner, head: int, progress: ScanProgress, *, scan: tuple[int, int] | None = None
    ) -> bool:
        heads.append(head)
        return await check(self, head, progress, scan=scan)

    monkeypatch.setattr(Scanner, "_check_tip", counted)
    return heads


def test_a_tick_starts_when_the_head_moves(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=1, gtrade_traders=1)
    now = [100.0]
    monitor = Monitor(polled(world), engine, {}, monotonic=lambda: now[0])
    (group,) = monitor.groups
    assert len([a for a in group.adapters if a.log_source() is not None]) == 2  # two scanners
    block_time = group.chain.block_time

    async def go() -> None:
        first = await monitor.tick_when_moved(group)  # the first tick runs whatever the head
        assert first is not None
        assert first.leased
        reads = HeadReads(await monitor.runtimes[group.chain.name].client(), monkeypatch)
        step = poll_step_s(block_time)

        now[0] += block_time / 2
        before = reads.requests
        # The head the tick read was new: the next block may come at any time.
        assert await monitor.tick_when_moved(group) is None  # the same head: nothing to do
        assert (reads.heads, reads.requests - before) == (1, 1)

        devnet.anvil.mine()
        now[0] += step
        tip_checks = count_tip_checks(monkeypatch)
        hash_requests = count_hash_requests(monkeypatch)
        moved = await monitor.tick_when_moved(group)
        assert moved is not None
        assert moved.block == first.block + 1
        # One head read for the poll and every scanner of the tick (GMX's and gTrade's), and
        # one check that the stored tip is canonical: the stored blocks are the chain's. The
        # new block's header, fetched with the logs, does it: no request of its own.
        assert reads.heads == 2
        assert tip_checks == [moved.block]
        assert hash_requests == []

        # Seen a step after a poll that did not see it: the next block is a block time on.
        now[0] += block_time / 2
        assert await monitor.tick_when_moved(group) is None
        assert reads.heads == 2  # not polled: no block can be due yet
        now[0] += block_time / 2
        assert await monitor.tick_when_moved(group) is None  # due, polled, not there
        assert reads.heads == 3
        now[0] += block_time * (QUIET_TICK_BLOCKS - 1)  # QUIET_TICK_BLOCKS since the last tick
        again = await monitor.tick_when_moved(group)
        assert again is not None
        assert again.block == moved.block
        assert hash_requests == [[moved.block]]  # no new block: the tip is asked for
        await monitor.close()

    asyncio.run(go())


def test_a_chain_not_held_is_not_polled(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    cfg = polled(world)
    now = [100.0]
    holder = Monitor(cfg, engine, {}, monotonic=lambda: now[0])
    other = Monitor(cfg, engine, {}, monotonic=lambda: now[0])
    (group,) = other.groups

    async def go() -> None:
        assert (await holder.tick_when_moved(group)) is not None
        refused = await other.tick_when_moved(group)  # tries the lease: the holder has it
        assert refused is not None
        assert not refused.leased
        reads = HeadReads(await other.runtimes[group.chain.name].client(), monkeypatch)
        before = reads.requests
        devnet.anvil.mine()
        now[0] += group.chain.block_time / 2
        assert await other.tick_when_moved(group) is None
        # Not its chain: no poll until the next lease attempt.
        assert (reads.heads, reads.requests - before) == (0, 0)
        now[0] += group.chain.block_time / 2
        retried = await other.tick_when_moved(group)
        assert retried is not None
        assert not retried.leased
        await holder.close()
        await other.close()

    asyncio.run(go())


def test_a_chain_slower_than_its_block_time_is_said_once(
    devnet: Devnet, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The polls are paced by ``block_time``: a chain whose blocks come twice as far apart is
    polled many times per block, so the operator is told, once, what the chain does."""
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    now = [100.0]
    monitor = Monitor(polled(world), engine, {}, monotonic=lambda: now[0])
    (group,) = monitor.groups
    block_time = group.chain.block_time

    async def go() -> None:
        for _ in range(PACE_SIGHTINGS + 5):
            devnet.anvil.mine()
            now[0] += 2 * block_time  # a block every two block times
            assert await monitor.tick_when_moved(group) is not None
        await monitor.close()

    with caplog.at_level(logging.WARNING, logger="perpwatch.monitor"):
        asyncio.run(go())
    said = [r.getMessage() for r in caplog.records if "block_time" in r.getMessage()]
    assert len(said) == 1
    assert f"a block every {2 * block_time:.3g} s, but block_time is {block_time:g} s" in said[0]


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_pushed_heads_are_ticked_without_a_poll(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(devnet, gmx_traders=2, hl_traders=1, gtrade_traders=1)
    cfg = demo_config(world, "sqlite://")
    assert cfg.chains[0].ws_url == devnet.anvil.ws_url
    monitor = Monitor(cfg, engine, {})
    (group,) = monitor.groups
    runtime = monitor.runtimes[group.chain.name]

    async def go() -> None:
        first = await monitor.tick_when_moved(group)
        assert first is not None
        await monitor.tick_when_moved(group)  # subscribes (and polls: not subscribed yet)
        heads = runtime.heads
        assert heads is not None
        await until(lambda: heads.connected)
        rpc = await runtime.client()
        assert rpc.backoff_max_s == live_backoff_max_s(group.chain.block_time)
        reads = HeadReads(rpc, monkeypatch)
        block = first.block
        for _ in range(3):
            devnet.anvil.mine()
            block += 1
            await until(lambda b=block: heads.head == b)  # type: ignore[misc]
            ticked = await monitor.tick_when_moved(group)
            assert ticked is not None
            assert ticked.block == block
            assert await monitor.tick_when_moved(group) is None  # nothing new: nothing asked
        assert reads.heads == 0
        assert heads.pushes == 3
        await monitor.close()
        assert not heads.connected

    asyncio.run(go())


def test_a_subscription_that_fails_leaves_the_head_polled(
    devnet: Devnet,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{s.getsockname()[1]}"
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    monitor = Monitor(with_ws_url(demo_config(world, "sqlite://"), dead), engine, {})
    (group,) = monitor.groups
    runtime = monitor.runtimes[group.chain.name]

    async def go() -> None:
        first = await monitor.tick_when_moved(group)
        assert first is not None
        reads = HeadReads(await runtime.client(), monkeypatch)
        devnet.anvil.mine()
        ticked = None
        async with asyncio.timeout(10):
            while ticked is None:
                ticked = await monitor.tick_when_moved(group)
                await asyncio.sleep(poll_step_s(group.chain.block_time))
        assert ticked.block == first.block + 1
        assert reads.heads >= 1  # polled, as without a ws_url
        await monitor.close()

    with caplog.at_level(logging.WARNING, logger="perpwatch.rpc"):
        asyncio.run(go())
    said = [r.getMessage() for r in caplog.records if "head subscription" in r.getMessage()]
    assert len(said) == 1
    assert "polled meanwhile" in said[0]


def test_a_head_poll_that_fails_is_the_outage_at_once(
    devnet: Devnet,
    engine: Engine,
    faulty_proxy: Callable[..., FaultyProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The poll spent the client's retries: the chain is unreadable now, with no tick asking
    the node again (its cooldowns, grown by those failures, made that tick take 45 s at 1 s
    blocks before the chain alert came)."""
    world = build_world(devnet, gmx_traders=2, hl_traders=1)
    proxy = faulty_proxy(devnet.anvil.rpc_url, rate=0.0)
    cfg = polled(world)
    chain = cfg.chains[0].model_copy(update={"rpc_urls": (proxy.url,)})
    cfg = cfg.model_copy(update={"chains": (chain,)})
    now = [100.0]
    monitor = Monitor(cfg, engine, {}, monotonic=lambda: now[0])
    (group,) = monitor.groups
    ticks: list[int | None] = []
    tick = monitor.tick

    async def counted(g: ChainProtocols, head: int | None = None) -> TickSummary:
        ticks.append(head)
        return await tick(g, head)

    async def go() -> None:
        first = await monitor.tick_when_moved(group)
        assert first is not None
        assert first.unreadable is None
        monkeypatch.setattr(monitor, "tick", counted)
        proxy.go_down()
        now[0] += group.chain.block_time  # a block is due: the head is polled
        summary = await monitor.tick_when_moved(group)
        assert summary is not None
        assert summary.unreadable is not None
        assert "eth_blockNumber" in summary.unreadable
        assert ticks == []
        assert [a.decision.level.value for a in summary.chain_alerts] == ["unknown"]
        await monitor.close()

    asyncio.run(go())


def test_the_tip_is_checked_before_a_sibling_scanner_stores(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain's scanners scan side by side, and the first checks the stored tip: the others
    wait for that check, else one that stored its range first moved the tip under it, and the
    check cost a request of its own (seen once on a loaded machine; forced here by a slow
    database read of the first scanner's)."""
    world = build_world(devnet, gmx_traders=2, hl_traders=1, gtrade_traders=1)
    monitor = Monitor(polled(world), engine, {})
    (group,) = monitor.groups
    stored_hashes = Scanner._stored_hashes

    async def slow(self: Scanner) -> dict[int, str]:
        await asyncio.sleep(0.3)  # longer than a sibling's fetch and store of one block
        return await stored_hashes(self)

    async def go() -> None:
        first = await monitor.tick_or_unknown(group)
        devnet.anvil.mine()
        tip_checks = count_tip_checks(monkeypatch)
        hash_requests = count_hash_requests(monkeypatch)
        monkeypatch.setattr(Scanner, "_stored_hashes", slow)
        moved = await monitor.tick_or_unknown(group)
        assert moved.block == first.block + 1
        assert tip_checks == [moved.block]
        assert hash_requests == []
        await monitor.close()

    asyncio.run(go())
