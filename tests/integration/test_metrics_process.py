"""``perpwatch run``'s own metrics: the real monitor ticking the devnet, scraped over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.scenario import World
from monitor.metrics.process import ProcessMetrics
from monitor.runtime.phases import TICK_PHASES
from monitor.runtime.service import Monitor
from tests.api_helpers import free_port, parse_metrics
from tests.monitor_helpers import world as world

pytestmark = pytest.mark.chain


def test_run_metrics_count_ticks_logs_rpc_requests_heads_and_head_lag(
    world: World, engine: Engine, db_url: str
) -> None:
    cfg = demo_config(world, db_url)
    monitor = Monitor(cfg, engine, {})
    metrics = ProcessMetrics(monitor)
    port = free_port()
    server = metrics.serve("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/metrics"

    async def ticks() -> str:
        try:
            for _ in range(4):
                for group in monitor.groups:
                    await monitor.tick_or_unknown(group)
            runtime = monitor.runtimes["devnet"]
            assert runtime.pushed_head() is None  # subscribing
            heads = runtime.heads
            assert heads is not None
            async with asyncio.timeout(10):
                while not heads.connected:
                    await asyncio.sleep(0.01)
                world.devnet.anvil.mine()
                while runtime.pushed_head() is None:
                    await asyncio.sleep(0.01)
            return httpx.get(url, timeout=10).text  # while the node clients are open
        finally:
            await monitor.close()

    try:
        text = asyncio.run(ticks())
    finally:
        server.shutdown()
    samples = parse_metrics(text)
    chain = (("chain", "devnet"),)
    assert samples["perpwatch_tick_duration_seconds_count", chain] == 4
    assert samples["perpwatch_tick_duration_seconds_sum", chain] > 0
    assert samples["perpwatch_logs_ingested_total", chain] > 0  # the world's opening events
    requests = [v for (name, _), v in samples.items() if name == "perpwatch_rpc_requests_total"]
    assert requests
    assert sum(requests) > 0
    assert samples["perpwatch_head_lag_blocks", chain] >= 0
    assert samples["perpwatch_head_subscription_up", chain] == 1
    assert samples["perpwatch_heads_pushed_total", chain] >= 1
    # The first tick read every Hyperliquid wallet in full; nothing else is an outcome.
    outcomes = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "perpwatch_owner_reads_total"
        and dict(labels)["protocol"] == "hyperliquid"
        and dict(labels)["chain"] == "devnet"
    }
    assert world.hl_traders
    assert outcomes["in_full"] >= len(world.hl_traders)
    assert set(outcomes) <= {"in_full", "unchanged", "changed"}
    # Every tick judged the chain: each phase was timed, and the phases fit in the tick.
    phases = {
        dict(labels)["phase"]: value
        for (name, labels), value in samples.items()
        if name == "perpwatch_tick_phase_seconds_sum"
    }
    assert set(phases) == set(TICK_PHASES)
    assert sum(phases.values()) <= samples["perpwatch_tick_duration_seconds_sum", chain]
    counts = [v for (n, _), v in samples.items() if n == "perpwatch_tick_phase_seconds_count"]
    assert counts == [4] * len(TICK_PHASES)
    # Each tick's longest node request: every tick asked the node something, within the tick.
    assert samples["perpwatch_tick_slowest_rpc_seconds_count", chain] == 4
    slowest_s = samples["perpwatch_tick_slowest_rpc_seconds_sum", chain]
    assert 0 < slowest_s <= samples["perpwatch_tick_duration_seconds_sum", chain]
