"""``perpwatch run``: the monitor as a long-running process."""

from __future__ import annotations

import asyncio
import logging
import signal

from rich.console import Console
from rich.logging import RichHandler

from indexer.config.loader import Config
from indexer.errors import UserError
from indexer.store.engine import ensure_schema, make_engine
from monitor.notify.channels import build_notifiers, close_notifiers
from monitor.runtime.scheduler import run_until_stopped
from monitor.runtime.service import Monitor


def run_monitor(cfg: Config, console: Console) -> None:
    """Validate everything, then run until SIGINT/SIGTERM."""
    if not cfg.protocols:
        raise UserError("nothing to monitor: the config has no protocols (see `perpwatch init`)")
    engine = make_engine(cfg.database_url)
    try:
        ensure_schema(engine)
        notifiers = build_notifiers(cfg)
        logging.basicConfig(
            level=logging.INFO, handlers=[RichHandler(console=console, show_path=False)], force=True
        )
        # APScheduler logs two INFO lines per job run and httpx one per request: at a 0.25 s
        # block time that drowns the alerts and errors worth reading.
        for chatty in ("apscheduler", "httpx"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        monitor = Monitor(cfg, engine, notifiers)
        chains = ", ".join(g.chain.name for g in monitor.groups)
        console.print(f"monitoring {chains}; channels: {', '.join(monitor.channels) or 'none'}")
        asyncio.run(_main(monitor))
    finally:
        engine.dispose()
    console.print("stopped cleanly")


async def _main(monitor: Monitor) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_until_stopped(monitor, stop)
    finally:
        # The notifiers' and nodes' HTTP clients belong to this event loop: close them here.
        await close_notifiers(monitor.notifiers)
        await monitor.close()
