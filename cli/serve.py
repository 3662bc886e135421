"""``perpwatch serve``: the HTTP API, ``/metrics`` and the dashboard over the monitor's
database (``monitor.api``), until Ctrl-C/SIGTERM (exit 0 with a ``stopped`` line).

    run_serve(cfg, console, host="127.0.0.1", port=8765)

Checked before listening: the schema is current (exit 3 or 2 as ``ensure_schema``), the port
is free (exit 3), and reads are reachable at all (without ``PERPWATCH_API_TOKEN`` only
``api.public_reads = true`` makes sense; else exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator

import uvicorn
from rich.console import Console

from cli.listen import check_port
from cli.signals import run_interruptible
from indexer.config.loader import Config
from indexer.errors import UserError
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.api.app import create_app


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``cli.signals`` stops it like ``run``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server, stop: asyncio.Event) -> None:
    serving = asyncio.ensure_future(server.serve())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True  # finish open requests, then return
    stopping.cancel()
    await serving


def run_serve(cfg: Config, console: Console, *, host: str, port: int) -> None:
    """Validate, then serve until SIGINT/SIGTERM."""
    if cfg.api_token is None and not cfg.api.public_reads:
        raise UserError(
            "serve: every request needs PERPWATCH_API_TOKEN, which is not set; set it, or "
            "api.public_reads = true to open reads (writes still need the token)"
        )
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        check_port(host, port)
        app = create_app(cfg, engine)
        shown = f"[{host}]" if ":" in host else host
        console.print(
            f"serving http://{shown}:{port}/ (dashboard), /api (OpenAPI: /docs), /metrics",
            highlight=False,
        )
        server = _Server(
            uvicorn.Config(app, host=host, port=port, log_level=logging.WARNING, access_log=False)
        )
        run_interruptible(lambda stop: _serve(server, stop))
    finally:
        engine.dispose()
    print("stopped", file=sys.stderr, flush=True)


def demo_config(database_url: str, *, token: str | None) -> Config:
    """What ``perpwatch demo --serve`` serves: the demo's database, reads open (a local demo),
    writes behind ``token`` when one is set. No chain is configured (its node is gone once
    the demo ends): chains are shown by id."""
    data: dict[str, object] = {"database_url": database_url, "api": {"public_reads": True}}
    if token:
        data["api_token"] = token
    return Config.model_validate(data)
