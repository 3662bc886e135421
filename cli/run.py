"""``perpwatch run``: the monitor as a long-running process.

Output: alerts (the console channel) on stdout; logs on stderr, one format
(``2024-06-11 12:00:00 WARNING perpwatch.rpc: …``). SIGINT/SIGTERM stop it within a second with a
``stopped`` line and exit 0, whatever it was waiting for (see ``cli.signals``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from rich.console import Console

from cli.signals import run_interruptible
from indexer.config.loader import Config
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.notify.channels import build_notifiers, close_notifiers
from monitor.notify.console import ConsoleNotifier
from monitor.runtime.scheduler import run_until_stopped
from monitor.runtime.service import Monitor

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# APScheduler warns at every interval a slow job overlaps ("maximum number of running instances
# reached") and logs a cancelled job's traceback at shutdown; a job's own failures are logged by
# the monitor (perpwatch.scheduler). httpx logs one INFO line per request.
_QUIET = {"apscheduler": logging.ERROR, "httpx": logging.WARNING}


def setup_logging() -> None:
    """Logs on stderr in one plain format (stdout carries the alerts)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)


def _silence_shutdown() -> None:
    # Once a stop is requested, jobs still waiting on a node are cancelled: expected, not news.
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL + 1)


def run_monitor(cfg: Config, console: Console) -> None:
    """Validate everything, then run until SIGINT/SIGTERM. ``console`` (stdout) gets alerts."""
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        notifiers = build_notifiers(cfg)
        if "console" in notifiers:
            notifiers["console"] = ConsoleNotifier(console)
        setup_logging()
        monitor = Monitor(cfg, engine, notifiers)
        chains = ", ".join(g.chain.name for g in monitor.groups)
        logging.getLogger("perpwatch").info(
            "monitoring %s; channels: %s", chains, ", ".join(monitor.channels) or "none"
        )
        run_interruptible(lambda stop: _main(monitor, stop), on_stop=_silence_shutdown)
    finally:
        engine.dispose()
    print("stopped", file=sys.stderr, flush=True)


async def _main(monitor: Monitor, stop: asyncio.Event) -> None:
    try:
        await run_until_stopped(monitor, stop)
    finally:
        # The notifiers' HTTP clients belong to this event loop: close them before it ends.
        await close_notifiers(monitor.notifiers)
