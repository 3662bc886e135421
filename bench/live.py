"""Benchmark: perpwatch's live monitor on a chain that never stops moving, against the old
per-tick full re-read (issue 10, item 7).

    python -m bench.live --accounts 300 --minutes 2 --json

Each phase builds the ``perpwatch devnet`` world (``devnet.live``: the three simulators, N
accounts, a few hundred opens per block: ``devnet.txbatch``), then interval-mines 1 s blocks
with prices on a seeded random walk and a keeper liquidating whatever the simulators allow (a
thread), while the production monitor (``Monitor.tick_when_moved`` then ``deliver``) ticks
as ``perpwatch run`` does, on every new head, for M minutes, on SQLite in a temporary
directory. The monitor runs in a process of its own (``bench.live_monitor``), as ``perpwatch
run`` runs beside a node: the market's Python work (the keeper dry-runs every position each
block) does not share its interpreter. ``peak_rss_mb`` is that process's peak.

- ``perpwatch``: the monitor as ``perpwatch run`` builds it (incremental ticks, whole-book
  re-read every 60 s, or over ``owners / owners_per_read`` blocks for a larger book).
- ``baseline``: the same world and seed on a fresh devnet and database, with every chain
  runtime replaced by ``ChainRuntime(full_refresh_s=0)``: every owner re-read, and the book
  reloaded, on every tick, which is what each tick did before the long-lived runtime.

The two phases see the same price path step by step, but not at exactly the same blocks (the
market runs on wall-clock time, and the keeper's pass over every position takes longer as the
book grows), so their liquidation counts can differ slightly. RPC cost is counted two ways while
the market runs, per block mined meanwhile and per tick:

- ``rpc_calls_per_block`` / ``_per_tick``: HTTP requests (a JSON-RPC batch is one), from
  perpwatch's own ``RpcClient.stats()``.
- ``rpc_call_equivalents_per_block`` / ``_per_tick``: what the same work costs as plain
  ``eth_call``s: every JSON-RPC call, a Multicall3 ``aggregate3`` counted as its sub-calls
  (``RpcClient.call_equivalents``). This is the node's work, which batching does not hide.

A baseline that cannot keep up ticks less often than once a block, so per block it looks
cheaper than it is; compare per tick too (``rpc_ratio_per_tick``,
``rpc_ratio_equivalents_per_tick``). The devnet's own web3 traffic (market, keeper, and the
bench's head reads) is not counted.

The node, the market and the monitor share the machine, so each phase also says how many cores
each used while the market ran (CPU seconds over wall seconds): ``node_cpu_cores`` (anvil),
``market_cpu_cores`` (this process: the market and its keeper) and ``monitor_tick_cpu_cores``
(the monitor's ticks). Their sum near the machine's core count means the node's slow answers
may be a queue for the CPU rather than the node's own work. Metric definitions:
``bench.live_metrics``.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import orjson

from bench.live_metrics import (
    CountingNotifier,
    TickFact,
    alert_latency,
    duplicate_alerts,
    liquidation_metrics,
    partial_metrics,
    percentile,
    phases_ms,
    read_alerts,
    stat_cpu_s,
)
from bench.live_monitor import BLOCK_TIME_S, MonitorJob, watch_in_child
from devnet.demo import demo_config
from devnet.live import live_world, run_market
from devnet.scenario import World
from indexer.store.engine import ensure_schema, make_engine

MARKET_JOIN_S = 60.0
"""How long the market thread may take to finish its last step once told to stop."""


def _tick_metrics(watched: dict[str, Any]) -> dict[str, Any]:
    """Per block and per tick costs, and tick times, from what the monitor process saw."""
    ticks: list[TickFact] = watched["tick_list"]
    tick_ms = [t.ms for t in ticks[1:]]
    phases: list[dict[str, float]] = watched["phase_list"]
    # The longest single node request of each measured tick (as ``phases``, one per tick_ms).
    node_ms = [1000 * s for s in watched["slowest_request_list"]]
    cpu_ms = [1000 * s for s in watched["cpu_list"]]
    slowest = sorted(range(len(tick_ms)), key=lambda i: -tick_ms[i])[:5]
    over = [i for i, ms in enumerate(tick_ms) if ms > BLOCK_TIME_S * 1000]
    blocks, spent = watched["blocks"], watched["rpc_requests"]
    calls = watched["rpc_call_equivalents"]
    return {
        "accounts_watched": watched["accounts_watched"],
        "blocks": blocks,
        "ticks": len(tick_ms),
        "rpc_requests": spent,
        "rpc_calls_per_block": round(spent / blocks, 2) if blocks else None,
        # Per tick too: a monitor that falls behind ticks less often and so looks cheaper per block.
        "rpc_calls_per_tick": round(spent / len(tick_ms), 2) if tick_ms else None,
        "rpc_call_equivalents": calls,
        "rpc_call_equivalents_per_block": round(calls / blocks, 2) if blocks else None,
        "rpc_call_equivalents_per_tick": round(calls / len(tick_ms), 2) if tick_ms else None,
        "tick_ms_p50": _round(percentile(tick_ms, 50)),
        "tick_ms_p90": _round(percentile(tick_ms, 90)),
        "tick_ms_p99": _round(percentile(tick_ms, 99)),
        "tick_ms_max": _round(max(tick_ms, default=None)),
        # Which ticks were slow (1 = the first after the startup read): a slow start and a
        # slow steady state call for different fixes. Each with its longest node request.
        "slowest_ticks": [[i + 1, round(tick_ms[i]), round(node_ms[i])] for i in slowest],
        # The monitor's own work per tick: its process's CPU time (every thread), which no
        # wait on the node counts. Above the block time, the monitor itself could not keep up.
        "tick_cpu_ms_p50": _round(percentile(cpu_ms, 50)),
        "tick_cpu_ms_p99": _round(percentile(cpu_ms, 99)),
        "ticks_cpu_over_block_time": sum(ms > BLOCK_TIME_S * 1000 for ms in cpu_ms),
        "tick_slowest_request_ms_p50": _round(percentile(node_ms, 50)),
        "tick_slowest_request_ms_p99": _round(percentile(node_ms, 99)),
        # Ticks longer than the block time, and an estimate of those the node made late: they
        # would have fit it had their longest request been answered at once (overlapping
        # work would still have taken its time; several slow requests in a row count once).
        "ticks_over_block_time": len(over),
        "ticks_over_block_time_by_node": sum(
            tick_ms[i] - node_ms[i] <= BLOCK_TIME_S * 1000 for i in over
        ),
        # Where the time went (``monitor.runtime.phases``): per phase over all ticks, and in
        # each of the slowest.
        "tick_phase_ms_p50": _phase_percentiles(phases, 50),
        "tick_phase_ms_p99": _phase_percentiles(phases, 99),
        "slowest_tick_phases_ms": [phases_ms(phases[i]) for i in slowest],
    }


def _phase_percentiles(phases: list[dict[str, float]], q: float) -> dict[str, float | None]:
    names = dict.fromkeys(name for tick in phases for name in tick)  # in the order marked
    return {
        name: _round(percentile([1000 * tick.get(name, 0.0) for tick in phases], q))
        for name in names
    }


def _watch(world: World, job: MonitorJob, seed: int) -> dict[str, Any]:
    """Run the monitor in a child process (``bench.live_monitor``) while the market runs here
    in a thread; the monitor's result."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads, no sockets
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=watch_in_child, args=(job, theirs), name="bench-monitor")
    child.start()
    theirs.close()
    stop = threading.Event()
    failed: list[BaseException] = []
    steps: list[float] = []  # when each market step (a price move, then the keeper) ended

    def step(_n: int, _factor: object, _done: int) -> None:
        steps.append(time.monotonic())

    def market_loop() -> None:
        # A market that dies (keeper error) must fail the bench, not leave a quiet chain.
        try:
            run_market(world, block_time_s=BLOCK_TIME_S, stop=stop, seed=seed, on_step=step)
        except BaseException as exc:
            failed.append(exc)
            raise

    market = threading.Thread(target=market_loop, name="bench-market", daemon=True)
    anvil_pid = world.devnet.anvil.pid
    try:
        _expect(ours, child, "ready")
        started = (time.monotonic(), _process_cpu_s(anvil_pid), time.process_time())
        market.start()
        while not _ready(ours, child):
            if failed and not stop.is_set():
                stop.set()
                ours.send(("abort",))
        _expect(ours, child, "done")
        ended = (time.monotonic(), _process_cpu_s(anvil_pid), time.process_time())
        stop.set()
        market.join(MARKET_JOIN_S)
        ours.send(("stopped", repr(failed[0]) if failed else None))
        _, result = _expect(ours, child, "result")
        if market.is_alive():
            raise RuntimeError(f"the market's last step did not end within {MARKET_JOIN_S} s")
    finally:
        stop.set()
        child.join(MARKET_JOIN_S)
        if child.is_alive():
            child.kill()
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    result["market_steps"] = len(steps)
    result["market_step_s_max"] = round(max(gaps), 1) if gaps else None
    wall_s = ended[0] - started[0]
    result["node_cpu_cores"] = round((ended[1] - started[1]) / wall_s, 2)
    result["market_cpu_cores"] = round((ended[2] - started[2]) / wall_s, 2)
    result["monitor_tick_cpu_cores"] = round(sum(result["cpu_list"]) / wall_s, 2)
    return result  # type: ignore[no-any-return]


def _process_cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far (Linux ``/proc``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat_cpu_s(stat, os.sysconf("SC_CLK_TCK"))


def _ready(conn: Connection, child: BaseProcess) -> bool:
    """Whether the child has said something; raises if it died without a word."""
    if conn.poll(0.5):
        return True
    if not child.is_alive():
        raise RuntimeError(f"the monitor process died (exit code {child.exitcode})")
    return False


def _expect(conn: Connection, child: BaseProcess, kind: str) -> tuple[Any, ...]:
    """The child's next message, which must be ``kind``; its traceback if it failed."""
    while not _ready(conn, child):
        pass
    message: tuple[Any, ...] = conn.recv()
    if message[0] == "error":
        raise RuntimeError(f"the monitor process failed:\n{message[1]}")
    if message[0] != kind:
        raise RuntimeError(f"the monitor process said {message[0]!r}, expected {kind!r}")
    return message


def run_phase(*, accounts: int, minutes: float, seed: int, baseline: bool,
              workdir: Path) -> dict[str, Any]:  # fmt: skip
    """Build the world, watch it for ``minutes``, and summarise what the database holds."""
    with live_world(accounts=accounts, seed=seed) as world:
        db = workdir / ("baseline.db" if baseline else "perpwatch.db")
        cfg = demo_config(world, f"sqlite:///{db}")
        engine = make_engine(cfg.database_url)
        ensure_schema(engine)
        job = MonitorJob(cfg.model_dump(mode="json", exclude_none=True), baseline, minutes * 60)
        block_ms = node_block_ms(world)
        watched = _watch(world, job, seed)
        notifier = CountingNotifier(watched["sent"])
        alerts = read_alerts(engine)
        latency = alert_latency(alerts, watched["tick_list"])
        out = {
            **_tick_metrics(watched),
            "monitor_peak_rss_mb": watched["peak_rss_mb"],
            "node_block_ms": block_ms,
            # Full garbage collections the monitor ran between ticks (monitor.runtime.gc_pacing).
            "full_collections": watched["full_collections"],
            # Price moves made (one per block time at most): fewer means a slow keeper.
            "market_steps": watched["market_steps"],
            "market_step_s_max": watched["market_step_s_max"],
            "node_cpu_cores": watched["node_cpu_cores"],
            "market_cpu_cores": watched["market_cpu_cores"],
            "monitor_tick_cpu_cores": watched["monitor_tick_cpu_cores"],
            # Hyperliquid wallet reads while the market ran, by outcome: `unchanged` (the
            # margin summary sufficed), `changed` (a second step), `in_full` (one full step).
            "owner_reads": watched["owner_reads"],
            **liquidation_metrics(world.liquidated, alerts, engine),
            **partial_metrics(world.partially_liquidated, alerts),
            "alerts": len(alerts),
            "duplicate_alerts": duplicate_alerts(alerts, notifier),
            "deliveries": sum(notifier.sent.values()),
            "alert_latency_alerts": len(latency),
            "alert_latency_blocks_p50": percentile(latency, 50),
            "alert_latency_blocks_p99": percentile(latency, 99),
        }
        engine.dispose()
        return out


def node_block_ms(world: World, samples: int = 3) -> float:
    """How long the devnet takes to mine an empty block at this world's size (median of
    ``samples``, before the market starts). It grows with the state (53 ms at 2,000 accounts,
    about 400 ms at 20,000), and anvil answers no read at its newest block meanwhile: that much
    of each block time is lost to any tick whose reads it overlaps."""
    anvil, took = world.devnet.anvil, []
    for _ in range(samples):
        started = time.perf_counter()
        anvil.request("evm_mine", [])
        took.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(took), 1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


BASELINE_KEYS = ("blocks", "ticks", "liquidations", "warned_before", "recorded_as_closed",
                 "rpc_calls_per_block", "rpc_calls_per_tick", "rpc_call_equivalents_per_block",
                 "rpc_call_equivalents_per_tick", "tick_ms_p50", "tick_ms_p99",
                 "node_cpu_cores", "market_cpu_cores")  # fmt: skip


def run(accounts: int, minutes: float, seed: int = 7, baseline: bool = True) -> dict[str, Any]:
    """Both phases, perpwatch first."""
    with tempfile.TemporaryDirectory(prefix="perpwatch-bench-live-") as tmp:
        summary: dict[str, Any] = {"accounts": accounts, "minutes": minutes, "seed": seed}
        summary.update(run_phase(accounts=accounts, minutes=minutes, seed=seed,
                                 baseline=False, workdir=Path(tmp)))  # fmt: skip
        summary["peak_rss_mb"] = summary.pop("monitor_peak_rss_mb")  # the monitor's process
        if not baseline:
            return summary
        base = run_phase(accounts=accounts, minutes=minutes, seed=seed, baseline=True,
                         workdir=Path(tmp))  # fmt: skip
    summary.update({f"baseline_{key}": base[key] for key in BASELINE_KEYS})
    for name, key in RATIOS.items():
        ours, theirs = summary[key], base[key]
        summary[name] = round(theirs / ours, 1) if ours and theirs else None
    return summary


RATIOS = {
    "rpc_ratio": "rpc_calls_per_block",
    "rpc_ratio_per_tick": "rpc_calls_per_tick",
    "rpc_ratio_equivalents": "rpc_call_equivalents_per_block",
    "rpc_ratio_equivalents_per_tick": "rpc_call_equivalents_per_tick",
}
"""Baseline over perpwatch, by the metric compared."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300, help="margin accounts (>= 5)")
    parser.add_argument("--minutes", type=float, default=2.0, help="market time per phase")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true", help="perpwatch only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.accounts < 5:
        parser.error("--accounts must be at least 5 (one Hyperliquid trader per five)")
    summary = run(args.accounts, args.minutes, args.seed, baseline=not args.no_baseline)
    if args.json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return 0
    for key, value in summary.items():
        print(f"{key:>38}  {'-' if value is None else value}")
    if summary.get("rpc_ratio"):
        print(f"\nbaseline makes {summary['rpc_ratio']}x perpwatch's RPC requests per block")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
