"""The monitor side of ``bench.live``, in a process of its own.

``perpwatch run`` and the chain it watches are separate processes. The bench builds the world
and runs its market (prices, keeper) in its own process, so the monitor runs in a child
process: ticks then compete with the market for CPU cores, as they would beside a real node,
and not for one interpreter's lock.

The two sides speak over a pipe:

    child  → ("ready",)                 first tick done (the book as built, not measured)
    parent starts the market
    parent → ("abort",)                 only if the market died: stop ticking now
    child  → ("done",)                  its market time is over
    parent stops the market
    parent → ("stopped", None | why)    why: the market's failure
    child  → ("result", {...}) or ("error", traceback)
"""

from __future__ import annotations

import asyncio
import resource
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.engine import Engine
from web3 import Web3

from bench.live_metrics import CountingNotifier, TickFact
from indexer.config.loader import Config
from indexer.protocols.base import ProtocolAdapter, RemembersOwners
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.rpc.client import RpcClient
from indexer.store.engine import make_engine
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.gc_pacing import GcPacing
from monitor.runtime.head_pacing import poll_step_s
from monitor.runtime.scheduler import CHECKPOINT_INTERVAL_S
from monitor.runtime.service import Monitor

BLOCK_TIME_S = 1.0
"""``demo_config`` declares 1 s blocks, and the issue's benchmark is at 1 s blocks."""
SETTLE_TICKS = 2
"""Ticks after the market stops, so the keeper's last liquidations are seen (not measured)."""


@dataclass(frozen=True, slots=True)
class MonitorJob:
    """What the child needs: the config (as JSON), which monitor, and how long to watch."""

    config: dict[str, Any]
    baseline: bool
    seconds: float


class RequestCount:
    """HTTP requests and ``eth_call`` equivalents made by the monitor's node clients. A tick
    that finds the node unreadable closes its client and the next opens a new one, so counts
    are kept per client."""

    def __init__(self) -> None:
        self._by_client: dict[int, tuple[int, int]] = {}

    def see(self, client: RpcClient) -> None:
        requests = sum(s.requests for s in client.stats())
        self._by_client[id(client)] = (requests, client.call_equivalents)

    @property
    def total(self) -> tuple[int, int]:
        """(HTTP requests, eth_call equivalents) so far."""
        counts = list(self._by_client.values())
        return sum(r for r, _ in counts), sum(c for _, c in counts)


def watch_in_child(job: MonitorJob, conn: Connection) -> None:
    """The child process's entry point: run the job, answer with its result or traceback."""
    try:
        conn.send(("result", _run(job, conn)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def bench_monitor(
    cfg: Config, engine: Engine, notifier: CountingNotifier, *, baseline: bool
) -> Monitor:
    """The monitor as ``perpwatch run`` builds it, alerting to ``notifier``; with
    ``baseline``, every chain runtime re-reads every owner and reloads the book on every tick
    (what each tick did before the long-lived runtime), with adapters that remember nothing
    between reads."""
    monitor = Monitor(cfg, engine, {"console": notifier})
    if baseline:
        watched = [w.address for w in cfg.wallets]
        for group in monitor.groups:
            for adapter in group.adapters:
                # Each tick built its adapters anew: no wallet or configuration kept.
                if isinstance(adapter, HyperliquidAdapter):
                    adapter.memory = None
                if isinstance(adapter, GmxV2Adapter):
                    adapter.config = None
            monitor.runtimes[group.chain.name] = ChainRuntime(
                group, engine, watched=watched, full_refresh_s=0.0
            )
    return monitor


def _run(job: MonitorJob, conn: Connection) -> dict[str, Any]:
    cfg = Config.model_validate(job.config)
    engine = make_engine(cfg.database_url)
    notifier = CountingNotifier()
    monitor = bench_monitor(cfg, engine, notifier, baseline=job.baseline)
    pacing = GcPacing.attach(monitor)  # as `perpwatch run` does
    try:
        result = asyncio.run(_watch(monitor, job.seconds, conn))
    finally:
        pacing.uninstall()
        engine.dispose()
    result["full_collections"] = pacing.runs
    # ru_maxrss is KiB on Linux: this process only (the monitor, not the world or anvil).
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["sent"] = notifier.sent
    return result


async def _watch(monitor: Monitor, seconds: float, conn: Connection) -> dict[str, Any]:
    """Tick the monitor as ``perpwatch run`` does (on a new head) while the parent's market runs."""
    group = monitor.groups[0]  # demo_config has one chain
    runtime = monitor.runtimes[group.chain.name]
    # The bench's own view of the head: a separate client, so perpwatch's counts exclude it.
    node = Web3(Web3.HTTPProvider(group.chain.rpc_urls[0]))
    first = await monitor.tick_or_unknown(group)  # the whole book, built with automine
    await monitor.deliver()
    reads_before = owner_reads(group.adapters)
    requests = RequestCount()
    requests.see(await runtime.client())
    requests_before = requests.total
    head_before = await asyncio.to_thread(node.eth.get_block_number)
    ticks = [TickFact(first.block, first.block, head_before, 0.0)]
    phases: list[dict[str, float]] = []  # per measured tick: phase → seconds
    slowest_requests: list[float] = []  # per measured tick: its longest node request, seconds
    cpu: list[float] = []  # per measured tick: this process's CPU time (all threads), seconds
    conn.send(("ready",))
    checkpoints = asyncio.create_task(_checkpoint_every(monitor, CHECKPOINT_INTERVAL_S))
    loop = asyncio.get_running_loop()
    started = next_at = loop.time()
    poll_s = poll_step_s(BLOCK_TIME_S)
    while loop.time() < started + seconds and not conn.poll():
        # As `perpwatch run` schedules it: the head polled when a block is due, a tick as
        # soon as it moved. A tick's time includes the poll that started it.
        t0, cpu0 = time.perf_counter(), time.process_time()
        summary = await monitor.tick_when_moved(group)
        if summary is not None:
            ms = (time.perf_counter() - t0) * 1000
            cpu.append(time.process_time() - cpu0)
            head_after = await asyncio.to_thread(node.eth.get_block_number)
            ticks.append(TickFact(summary.block, ticks[-1].block, head_after, ms))
            phases.append(dict(summary.phase_s))
            slowest_requests.append(summary.slowest_request_s)
            requests.see(await runtime.client())
            await monitor.deliver()
        next_at = max(next_at + poll_s, loop.time())
        await asyncio.sleep(next_at - loop.time())
    checkpoints.cancel()
    conn.send(("done",))
    why = await asyncio.to_thread(_until_stopped, conn)
    if why is not None:
        await monitor.close()
        raise RuntimeError(f"the market died: {why}")
    head_after_market = await asyncio.to_thread(node.eth.get_block_number)
    reads = owner_reads(group.adapters) - reads_before
    spent = requests.total[0] - requests_before[0]
    calls = requests.total[1] - requests_before[1]
    for _ in range(SETTLE_TICKS):
        await asyncio.sleep(BLOCK_TIME_S)
        await monitor.tick_or_unknown(group)
        await monitor.deliver()
    await monitor.close()
    return {
        "accounts_watched": first.accounts,
        "blocks": head_after_market - head_before,
        "rpc_requests": spent,
        "rpc_call_equivalents": calls,
        "tick_list": ticks,
        "phase_list": phases,
        "slowest_request_list": slowest_requests,
        "cpu_list": cpu,
        "owner_reads": dict(sorted(reads.items())),
    }


def owner_reads(adapters: Iterable[ProtocolAdapter]) -> Counter[str]:
    """Reads of owners the adapters remember (Hyperliquid's wallets) so far, by outcome."""
    total: Counter[str] = Counter()
    for adapter in adapters:
        if isinstance(adapter, RemembersOwners):
            total.update(adapter.read_outcomes())
    return total


async def _checkpoint_every(monitor: Monitor, seconds: float) -> None:
    """What ``perpwatch run``'s scheduler does beside the ticks (``Monitor.checkpoint``)."""
    while True:
        await asyncio.sleep(seconds)
        await monitor.checkpoint()


def _until_stopped(conn: Connection) -> str | None:
    """Wait for the parent's ("stopped", why), passing over an earlier ("abort",)."""
    while True:
        message = conn.recv()
        if message[0] == "stopped":
            return message[1]  # type: ignore[no-any-return]
