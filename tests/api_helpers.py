"""A real ``perpwatch serve`` process over a database the real monitor wrote.

run_monitor_crash(world, cfg, engine)            # the demo's loop, shortened
with ServeProcess(config_path, env) as server:   # waits until it answers
    httpx.get(server.url + "/api/stress", headers=server.auth)
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import TracebackType

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from sqlalchemy.engine import Engine

from devnet.scenario import World
from indexer.config.loader import Config
from monitor.delivery.worker import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.runtime.service import Monitor
from tests.monitor_helpers import SteppingClock, price_path

TOKEN = "serve-test-token"
# 20 steps of 0.6 % down, 10 back up: liquidates a GMX and a Hyperliquid account of the
# 12 + 4 trader world and brings others back (as tests/e2e/test_monitor_e2e.py).
CRASH = price_path(crash_steps=20, recover_steps=10, step_pct=0.6)


def run_monitor_crash(
    world: World, cfg: Config, engine: Engine, path: list[Decimal] = CRASH
) -> None:
    """Tick the real monitor through ``path`` with the keeper liquidating after each step,
    delivering alerts to a console (its text is dropped) after each tick."""
    notifiers: dict[str, Notifier] = {"console": ConsoleNotifier(Console(file=io.StringIO()))}
    monitor = Monitor(cfg, engine, notifiers, clock=SteppingClock(12.0))

    async def go() -> None:
        try:
            await monitor.tick_all()
            for factor in path:
                world.move_prices(factor)
                await monitor.tick_all()
                await monitor.deliver()
                world.liquidate_what_is_allowed()
            await monitor.tick_all()
            await monitor.deliver()
        finally:
            await monitor.close()

    asyncio.run(go())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """``python -m cli.main --config FILE serve --port P`` on 127.0.0.1, stopped on exit."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = {"Authorization": f"Bearer {TOKEN}"}
        self.config, self.env = config, {**os.environ, "PERPWATCH_API_TOKEN": TOKEN, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServeProcess:
        command = [sys.executable, "-m", "cli.main", "--config", str(self.config), "serve",
                   "--port", str(self.port)]  # fmt: skip
        self.proc = subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"serve exited {self.proc.returncode}: {stderr}")
            try:
                httpx.get(self.url + "/openapi.json", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("serve did not answer within 60 s")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.stdout, self.stderr = self.proc.communicate(timeout=30)
        self.returncode = self.proc.returncode

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """``/metrics`` as {(sample name, sorted labels): value}."""
        return parse_metrics(self.get("/metrics").text)

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(self.url + path, params=params, headers=self.auth, timeout=30.0)  # type: ignore[arg-type]


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text exposition as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
