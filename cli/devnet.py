"""``perpwatch devnet``: a live local chain with the GMX v2, Hyperliquid and gTrade simulators,
a market and a keeper."""

from __future__ import annotations

import signal
import threading
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from devnet.live import live_world, run_market, write_live_config
from indexer.errors import UserError

DATABASE = "perpwatch-devnet.db"
"""The devnet's own SQLite file, started afresh: a new chain shares nothing with an old one."""


def run_devnet(
    console: Console, *, config: Path, block_time_s: float, accounts: int, seed: int, force: bool
) -> None:
    """Build the world, write ``config`` for it, then run the market until SIGINT/SIGTERM."""
    if block_time_s < 1 or block_time_s != int(block_time_s):
        raise UserError(f"--block-time must be a whole number of seconds >= 1 (got {block_time_s})")
    if accounts < 5:
        raise UserError(f"--accounts must be at least 5 (got {accounts})")
    if config.exists() and not force:
        raise UserError(f"{config}: already exists; use --force to overwrite it")
    database = config.parent / DATABASE
    database.unlink(missing_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"building a devnet with {accounts} accounts …")
    with live_world(accounts=accounts, seed=seed) as world:
        write_live_config(world, config, f"sqlite:///{database.resolve()}")
        console.print(
            f"devnet at {world.devnet.anvil.rpc_url} (chain 31337), {block_time_s:g} s blocks; "
            f"wrote {config}\nin another terminal: perpwatch --config {config} run\n"
            "Ctrl-C stops the devnet"
        )

        def report(step: int, factor: Decimal, liquidated: int) -> None:
            if liquidated or factor < Decimal("0.98"):
                console.print(f"step {step}: prices x{factor}, keeper liquidated {liquidated}")

        total = run_market(world, block_time_s=block_time_s, stop=stop, seed=seed, on_step=report)
    console.print(f"devnet stopped ({total} liquidations)")
