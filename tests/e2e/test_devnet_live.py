"""``perpwatch devnet`` and ``perpwatch run`` as a user runs them, in two processes: a chain
that mines every second while prices move and a keeper liquidates, and a monitor that keeps up
(its heartbeat advances block by block) and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from indexer.store.engine import make_engine
from monitor.tables import ChainTick

pytestmark = [pytest.mark.chain, pytest.mark.slow]

_ticks = ChainTick.__table__  # type: ignore[attr-defined]
CLI = [sys.executable, "-m", "cli.main"]


def _wait(
    done: Callable[[], bool], what: str, timeout_s: float, *procs: subprocess.Popen[str]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        for proc in procs:
            assert proc.poll() is None, f"{proc.args!r} exited early while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _heartbeat(db: Path) -> tuple[int, int] | None:
    if not db.exists():
        return None
    try:
        with make_engine(f"sqlite:///{db}").connect() as conn:
            row = conn.execute(sa.select(_ticks.c.block_number, _ticks.c.accounts)).first()
    except sa.exc.OperationalError:  # the monitor has not created its schema yet
        return None
    return None if row is None else (int(row[0]), int(row[1]))


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def test_run_keeps_up_with_a_live_devnet(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    config = tmp_path / "perpwatch.toml"
    chain = subprocess.Popen(
        [*CLI, "devnet", "--accounts", "10", "--write-config", str(config)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    monitor: subprocess.Popen[str] | None = None
    try:
        _wait(config.exists, "the devnet's config", 180, chain)
        time.sleep(1)  # the file is written in one call; give the devnet its first blocks
        monitor = subprocess.Popen(
            [*CLI, "--config", str(config), "run"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        db = tmp_path / "perpwatch-devnet.db"
        _wait(lambda: _heartbeat(db) is not None, "a first tick", 60, chain, monitor)
        first = _heartbeat(db)
        assert first is not None
        assert first[1] >= 10  # GMX's whole book and the Hyperliquid wallets
        _wait(lambda: (_heartbeat(db) or (0, 0))[0] >= first[0] + 3, "3 more blocks", 60,
              chain, monitor)  # fmt: skip
    finally:
        if monitor is not None:
            out = _stop(monitor)
            assert out.strip().splitlines()[-1] == "stopped"
        assert "devnet stopped" in _stop(chain)
