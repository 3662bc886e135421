"""``perpwatch devnet``: a live local chain to point ``perpwatch run`` at.

    with live_world(accounts=300, seed=7) as world:       # a few hundred opens per block
        config = write_live_config(world, Path("perpwatch.toml"))
        run_market(world, block_time_s=1.0, stop=stop)      # interval mining from here on

The GMX v2, Hyperliquid and gTrade simulators, a few hundred accounts, prices on a seeded
random walk with occasional crashes, and a keeper that liquidates whatever the simulators' own
rules allow as soon as it can. Unlike ``perpwatch demo`` nothing waits for the monitor: blocks
come at the block time and the keeper acts between the monitor's scan and its reads, as on a
real chain.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from devnet.demo import demo_config
from devnet.deploy import start_devnet
from devnet.scenario import World, build_world
from devnet.toml import write_config
from devnet.txbatch import GAS_PER_TX, PER_BLOCK, send_pipelined

STATES_KEPT = 64
"""Block states anvil keeps in memory (``--prune-history``): reads pinned to a block up to about
a minute old at 1 s blocks. anvil holds a copy of the whole state per block (about 10 MB at 5,000
accounts): by default 20,000 accounts grew it past 10 GB in five minutes."""


@dataclass(frozen=True, slots=True)
class Walk:
    """The price process: per step a log-normal move of ``sigma``, and with probability
    ``crash_p`` a crash of ``crash_pct`` percent instead."""

    sigma: float = 0.004
    crash_p: float = 0.02
    crash_pct: float = 6.0

    def factor(self, rng: random.Random) -> Decimal:
        if rng.random() < self.crash_p:
            return Decimal(1) - Decimal(str(self.crash_pct)) / 100
        return Decimal(str(round(rng.lognormvariate(0.0, self.sigma), 6)))


@contextmanager
def live_world(*, accounts: int, seed: int) -> Iterator[World]:
    """A devnet with the three simulators and about ``accounts`` positions (a fifth of the
    traders on Hyperliquid, a tenth on gTrade with one or two trades each, the rest on GMX;
    one Hyperliquid whale per 2,000 accounts, at least one, whose large long the venue
    liquidates a fifth at a time), built a few hundred opens per block (``devnet.txbatch``);
    the caller switches to interval mining."""
    with start_devnet(extra_args=("--prune-history", str(STATES_KEPT))) as devnet:
        hl_traders, gtrade_traders = max(1, accounts // 5), max(1, accounts // 10)
        yield build_world(devnet, gmx_traders=accounts - hl_traders - gtrade_traders,
                          hl_traders=hl_traders, gtrade_traders=gtrade_traders,
                          hl_whales=max(1, accounts // 2000), seed=seed,
                          batched=True)  # fmt: skip


def write_live_config(world: World, path: Path, database_url: str) -> Path:
    """A ``perpwatch.toml`` for ``world``: GMX watched as a whole book, the Hyperliquid
    traders as wallets, console alerts."""
    cfg = demo_config(world, database_url)
    return write_config(path, cfg.model_dump(mode="json", exclude_none=True))


def start_interval_mining(world: World, block_time_s: float) -> None:
    """Switch the built world's chain to a block every ``block_time_s`` (whole seconds, at
    least one), each large enough for a crash's liquidations to fit a block or two."""
    anvil = world.devnet.anvil
    anvil.request("evm_setAutomine", [False])
    anvil.request("evm_setIntervalMining", [max(1, round(block_time_s))])
    # By gas limit, not gas used, anvil packs them.
    anvil.request("evm_setBlockGasLimit", [hex(GAS_PER_TX * PER_BLOCK)])


def run_market(
    world: World,
    *,
    block_time_s: float,
    stop: threading.Event,
    seed: int,
    walk: Walk = Walk(),
    on_step: Callable[[int, Decimal, int], None] | None = None,
) -> int:
    """Interval-mine at ``block_time_s`` and move prices at most once per block time, the
    keeper liquidating after every move, until ``stop`` is set. A move waits until it is mined
    and the keeper's pass until its liquidations are, so prices move every block or two.
    Returns the liquidations."""
    start_interval_mining(world, block_time_s)
    rng = random.Random(seed)
    liquidations, step = 0, 0
    next_at = time.monotonic() + block_time_s
    while not stop.wait(max(0.0, next_at - time.monotonic())):
        next_at = max(next_at + block_time_s, time.monotonic())
        factor = walk.factor(rng)
        # Each step's transactions are sent at once and mined by the chain's own clock: one
        # block for the move, one for the keeper's pass (sent one by one, waiting for each
        # receipt, a step took a block time per transaction).
        world.move_prices(factor, send=send_pipelined)
        done = world.liquidate_what_is_allowed(send=send_pipelined)
        liquidations += done
        step += 1
        if on_step is not None:
            on_step(step, factor, done)
    return liquidations
