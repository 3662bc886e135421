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

from cli.errors import Debug
from cli.logs import setup_logging
from cli.signals import run_interruptible
from indexer.config.loader import Config
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.notify.channels import build_notifiers, close_notifiers
from monitor.notify.console import ConsoleNotifier
from monitor.runtime.gc_pacing import GcPacing
from monitor.runtime.scheduler import run_until_stopped
from monitor.runtime.service import Monitor


def _silence_shutdown() -> None:
    # Once a stop is requested, jobs still waiting on a node are cancelled: expected, not news.
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL + 1)


def run_monitor(
    cfg: Config,
    console: Console,
    *,
    metrics_host: str = "127.0.0.1",
    metrics_port: int | None = None,
) -> None:
    """Validate everything, then run until SIGINT/SIGTERM. ``console`` (stdout) gets alerts;
    with ``metrics_port``, Prometheus metrics of this process are served there (exit 3 if
    the port is taken)."""
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        notifiers = build_notifiers(cfg)
        if "console" in notifiers:
            notifiers["console"] = ConsoleNotifier(console)
        setup_logging(logging.INFO, debug=Debug.enabled, force=True)
        monitor = Monitor(cfg, engine, notifiers)
        exporter = None
        if metrics_port is not None:  # imported only when asked for: a plain `run` skips them
            from cli.listen import check_port
            from monitor.metrics.process import ProcessMetrics

            check_port(metrics_host, metrics_port)
            exporter = ProcessMetrics(monitor).serve(metrics_host, metrics_port)
        chains = ", ".join(g.chain.name for g in monitor.groups)
        logging.getLogger("perpwatch").info(
            "monitoring %s; channels: %s", chains, ", ".join(monitor.channels) or "none"
        )
        pacing = GcPacing.attach(monitor)
        try:
            run_interruptible(lambda stop: _main(monitor, stop), on_stop=_silence_shutdown)
        finally:
            pacing.uninstall()
            if exporter is not None:
                exporter.shutdown()
    finally:
        engine.dispose()
    print("stopped", file=sys.stderr, flush=True)


async def _main(monitor: Monitor, stop: asyncio.Event) -> None:
    commands = None
    if monitor.cfg.channels.telegram.enabled and monitor.cfg.channels.telegram.commands:
        from cli.bot import serve_commands  # python-telegram-bot only when the bot runs

        commands = asyncio.create_task(
            serve_commands(
                monitor.cfg,
                monitor.engine,
                lambda: monitor.latest_prices,
                stop,
                worker=monitor.worker,
            )
        )
    try:
        await run_until_stopped(monitor, stop)
        if commands is not None:
            await commands
    finally:
        if commands is not None and not commands.done():
            commands.cancel()
        # The notifiers' and nodes' HTTP clients belong to this event loop: close them here.
        await close_notifiers(monitor.notifiers)
        await monitor.close()
