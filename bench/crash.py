"""Benchmark: one crash, tick by tick, perpwatch against the per-tick full re-read.

    python -m bench.crash --accounts 20000 --json

``bench.live`` runs its market on wall-clock time: from run to run its crashes fall on other
blocks, and its slowest ticks (the p99 is the second slowest of 180 ticks, the third of 300)
differ more than a change moves them. This benchmark repeats: the ``perpwatch devnet`` world
(``devnet.live``) mining a block a second, then the same steps in the same order, each followed
by one monitor tick once its transactions are mined: two calm price moves, a crash, the keeper's
liquidations, a tick with nothing new, a GMX configuration write (``RECONFIGURED``) and the tick
after it, which takes in the whole GMX book read again behind the write's tick. No market runs
during a tick, so a tick's CPU time is the monitor's own (all its threads); its wall time still
meets the node building its next block. Full garbage collections (``monitor.runtime.gc_pacing``,
counted in ``full_collections``) and the write-ahead log's checkpoints run between ticks, as
``perpwatch run`` has them. Per tick: the step, wall and CPU milliseconds and the phases
(``monitor.runtime.phases``), for perpwatch and then, on a fresh world of the same seed, the
baseline (every owner re-read and the book reloaded each tick). ``*_ratio`` keys are baseline
over perpwatch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bench.live_metrics import CountingNotifier, phases_ms
from bench.live_monitor import BLOCK_TIME_S, bench_monitor
from devnet.demo import demo_config
from devnet.live import live_world, start_interval_mining
from devnet.scenario import World
from devnet.txbatch import send_pipelined
from indexer.config.loader import Config
from indexer.store.engine import ensure_schema, make_engine
from monitor.runtime.gc_pacing import GcPacing
from monitor.runtime.service import Monitor

CALM = (Decimal("1.002"), Decimal("0.998"))
"""The price moves before the crash (factors on every asset)."""


RECONFIGURED = {"position_fee_factor_e30": 7 * 10**30 // 10_000}
"""The configuration write of the ``reconfigured`` step (ETH/USD's closing fee, 0.06 % to
0.07 %): its tick has the whole GMX book read behind it, which the ``reread`` tick waits for."""


def _steps(crash_pct: float) -> list[tuple[str, Decimal | None]]:
    """(step, price factor) in order; None: the keeper liquidates, or nothing happens."""
    crash = Decimal(1) - Decimal(str(crash_pct)) / 100
    return [("calm", CALM[0]), ("calm", CALM[1]), ("crash", crash),
            ("liquidations", None), ("after", None),
            ("reconfigured", None), ("reread", None)]  # fmt: skip


class TickEnd:
    """A tick listener registered before the others: when the tick itself ended, so a full
    collection run after it (``GcPacing``, a later listener) is not counted in it."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __call__(self, _chain: str, _summary: object, _seconds: float) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()


async def _tick(monitor: Monitor, step: str, end: TickEnd) -> dict[str, Any]:
    group = monitor.groups[0]  # demo_config has one chain
    wall, cpu = time.perf_counter(), time.process_time()
    summary = await monitor.tick_or_unknown(group)
    fact = {
        "step": step,
        "ms": round(1000 * (end.wall - wall), 1),
        "cpu_ms": round(1000 * (end.cpu - cpu), 1),
        "phases_ms": phases_ms(summary.phase_s),
        "stepped": summary.stepped,
    }
    await monitor.deliver()
    await monitor.checkpoint()  # as `perpwatch run`'s checkpoint job does, between ticks
    return fact


def run_phase(*, accounts: int, seed: int, crash_pct: float, baseline: bool) -> dict[str, Any]:
    """Build the world, tick once (the whole book), then each step and its tick."""
    with (
        tempfile.TemporaryDirectory(prefix="perpwatch-bench-crash-") as tmp,
        live_world(accounts=accounts, seed=seed) as world,
    ):
        cfg = demo_config(world, f"sqlite:///{Path(tmp) / 'crash.db'}")
        cfg = Config.model_validate(cfg.model_dump(mode="json", exclude_none=True))
        engine = make_engine(cfg.database_url)
        ensure_schema(engine)
        monitor = bench_monitor(cfg, engine, CountingNotifier(), baseline=baseline)
        end = TickEnd()
        monitor.tick_listeners.append(end)
        # Full collections between ticks, as `perpwatch run` has them: one landing in a tick
        # was counted in it (150-280 ms each in bench.live, monitor.runtime.gc_pacing; here
        # the world shares the heap too).
        pacing = GcPacing.attach(monitor)
        start_interval_mining(world, BLOCK_TIME_S)
        try:
            ticks, liquidated = asyncio.run(_ticks(world, monitor, crash_pct, end))
        finally:
            pacing.uninstall()
            engine.dispose()
    return {"ticks": ticks, "liquidations": liquidated, "full_collections": pacing.runs}


async def _ticks(
    world: World, monitor: Monitor, crash_pct: float, end: TickEnd
) -> tuple[list[dict[str, Any]], int]:
    liquidated = 0
    try:
        await monitor.tick_or_unknown(monitor.groups[0])  # the book as built: not measured
        await monitor.deliver()
        await monitor.checkpoint()
        ticks = []
        for step, factor in _steps(crash_pct):
            if factor is not None:
                await asyncio.to_thread(world.move_prices, factor, send_pipelined)
            elif step == "liquidations":
                liquidated = await asyncio.to_thread(
                    world.liquidate_what_is_allowed, send_pipelined
                )
            elif step == "reconfigured":  # GMX's Config raises a closing fee: every position
                await asyncio.to_thread(world.gmx.set_market_factors, "ETH/USD", **RECONFIGURED)
            ticks.append(await _tick(monitor, step, end))
        return ticks, liquidated
    finally:
        await monitor.close()


def run(
    accounts: int, seed: int = 7, crash_pct: float = 6.0, baseline: bool = True
) -> dict[str, Any]:
    """Both phases, perpwatch first; the ticks of each, and the ratios of the crash's."""
    summary: dict[str, Any] = {"accounts": accounts, "seed": seed, "crash_pct": crash_pct}
    ours = run_phase(accounts=accounts, seed=seed, crash_pct=crash_pct, baseline=False)
    summary.update(ours)
    for fact in ours["ticks"]:
        summary.setdefault(f"{fact['step']}_tick_ms", fact["ms"])
        summary.setdefault(f"{fact['step']}_tick_cpu_ms", fact["cpu_ms"])
    if not baseline:
        return summary
    theirs = run_phase(accounts=accounts, seed=seed, crash_pct=crash_pct, baseline=True)
    summary["baseline_ticks"] = theirs["ticks"]
    summary["baseline_liquidations"] = theirs["liquidations"]
    summary["baseline_full_collections"] = theirs["full_collections"]
    for ours_fact, their_fact in zip(ours["ticks"], theirs["ticks"], strict=True):
        step = ours_fact["step"]
        if f"{step}_tick_ms_ratio" not in summary:
            summary[f"baseline_{step}_tick_ms"] = their_fact["ms"]
            ratio = their_fact["ms"] / ours_fact["ms"] if ours_fact["ms"] else None
            summary[f"{step}_tick_ms_ratio"] = None if ratio is None else round(ratio, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300, help="margin accounts (>= 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--crash-pct", type=float, default=6.0, help="the crash, in percent")
    parser.add_argument("--no-baseline", action="store_true", help="perpwatch only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.accounts < 5:
        parser.error("--accounts must be at least 5 (one Hyperliquid trader per five)")
    if not 0 < args.crash_pct < 100:
        parser.error("--crash-pct must be between 0 and 100")
    summary = run(args.accounts, args.seed, args.crash_pct, baseline=not args.no_baseline)
    if args.json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return 0
    for fact in summary["ticks"]:
        phases = ", ".join(f"{k} {v:g}" for k, v in fact["phases_ms"].items())
        print(f"{fact['step']:>13}  {fact['ms']:>8.1f} ms  cpu {fact['cpu_ms']:>8.1f}  ({phases})")
    for key, value in summary.items():
        if key.endswith("_ratio") or key.endswith("liquidations"):
            print(f"{key:>32}  {'-' if value is None else value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
