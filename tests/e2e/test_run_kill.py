"""``perpwatch run`` as a real process through a crash: SIGKILL mid-crash, restart, SIGTERM.

The Telegram stand-in runs in the test process and outlives both monitor processes; the test
moves prices step by step and lets the keeper liquidate only after the monitor has made a full
pass over the moved prices (as a real market gives a monitor a few blocks). The kill moment is
drawn from a seeded RNG. Afterwards: every liquidation was warned and (GMX) reported, no alert
was recorded twice, and Telegram received every alert once, in order. The one send a kill may
repeat is the one accepted by Telegram but not yet acknowledged in the outbox; it is allowed
to appear twice, and the test checks there was at most one such send.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from random import Random

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, DEMO_TOKEN, demo_config
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.store.columns import utcnow
from indexer.store.engine import ensure_schema, make_engine
from monitor.tables import OutboxMessage, OutboxStatus
from tests.monitor_helpers import (
    alert_rows,
    duplicate_keys,
    latest_evaluation,
    outbox_statuses,
    price_path,
    sent_alert_ids,
    telegram_texts,
    unreported_liquidations,
    unwarned_liquidations,
    with_chain,
    write_toml,
)
from tests.monitor_helpers import telegram as telegram
from tests.monitor_helpers import world as world

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SEED = 20240611
CRASH = price_path(crash_steps=20, recover_steps=4, step_pct=0.6)
TELEGRAM_CHANNEL = f"telegram:{DEMO_CHAT}"
WAIT_S = 90.0  # a bound on every wait for the monitor process, never a timing assertion
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


class MonitorProcess:
    """``perpwatch --config <toml> run`` as a child process, output in files under ``logs``."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config, self.logs = config, logs
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, extra_env: Mapping[str, str] | None = None) -> None:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not _from_shell_config(k)}
        env["PERPWATCH_TELEGRAM_BOT_TOKEN"] = DEMO_TOKEN  # secrets come from the environment
        env.update(extra_env or {})
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "--config", str(self.config), "run"],
                stdout=out, stderr=err, env=env, cwd=self.logs,
            )  # fmt: skip

    @property
    def out(self) -> Path:
        return self.logs / f"run-{self.starts}.out"

    @property
    def err(self) -> Path:
        return self.logs / f"run-{self.starts}.err"

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"perpwatch run exited with {self.proc.returncode}: {self.err.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=WAIT_S)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT_S)

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def _from_shell_config(name: str) -> bool:
    """Whether an environment variable would override the test's config file."""
    return name.upper().startswith("PERPWATCH_") or name.upper() == "DATABASE_URL"


def wait_until(done: Callable[[], bool], monitor: MonitorProcess, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        monitor.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"the monitor process did not get there: {what}")
        time.sleep(0.05)


def evaluated_after(engine: Engine, moment: datetime) -> Callable[[], bool]:
    def done() -> bool:
        latest = latest_evaluation(engine)
        return latest is not None and latest > moment

    return done


def wait_for_full_pass(engine: Engine, monitor: MonitorProcess) -> None:
    """Wait for a monitor pass that STARTED after now: the pass finishing first may have read
    the chain before the last price move, the one after it cannot have."""
    wait_until(evaluated_after(engine, utcnow()), monitor, "a pass")
    wait_until(evaluated_after(engine, utcnow()), monitor, "a second pass")


def expire_dead_leases(engine: Engine) -> None:
    """Deliveries the killed process had claimed are leased to it for ``lease_s`` (30 s by
    minutes); fast-forward that lease instead of sleeping through it."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.status == OutboxStatus.SENDING)
            .values(next_attempt_at=utcnow())
        )


def leased_alert_ids(engine: Engine, channel: str) -> set[int]:
    query = sa.select(_outbox.c.alert_id).where(
        _outbox.c.channel == channel, _outbox.c.status == OutboxStatus.SENDING
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def without_repeats(texts: list[str], allowed: set[str]) -> list[str]:
    """``texts`` with the later copies of the ``allowed`` texts dropped."""
    seen: set[str] = set()
    out = []
    for text in texts:
        if text in allowed and text in seen:
            continue
        seen.add(text)
        out.append(text)
    return out


@pytest.fixture
def monitor_process(
    world: World, db_url: str, telegram: TelegramApi, tmp_path: Path
) -> Iterator[MonitorProcess]:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    # Tick every 0.2 s. The devnet mines only when the test moves prices, so a quiet head is
    # normal here: it must not read as a stalled node.
    cfg = with_chain(cfg, block_time=0.2, stall_after_blocks=1_000_000)
    process = MonitorProcess(write_toml(cfg, tmp_path / "perpwatch.toml"), tmp_path)
    yield process
    process.stop_if_running()


def test_kill_mid_crash_then_restart_loses_and_repeats_nothing(
    world: World, db_url: str, telegram: TelegramApi, monitor_process: MonitorProcess
) -> None:
    engine = make_engine(db_url)
    ensure_schema(engine)
    rng = Random(SEED)
    kill_step, kill_after_s = rng.randrange(3, len(CRASH) - 3), rng.uniform(0.0, 0.6)
    repeatable: set[str] = set()
    acked_before_kill: set[int] = set()
    monitor_process.start()
    wait_for_full_pass(engine, monitor_process)
    for step, factor in enumerate(CRASH):
        world.move_prices(factor)
        if step == kill_step:
            time.sleep(kill_after_s)  # somewhere in a tick or a delivery
            monitor_process.kill()
            # Sent but not acknowledged when the process died: the send may be repeated.
            in_flight = leased_alert_ids(engine, TELEGRAM_CHANNEL)
            leased = [r for r in alert_rows(engine) if r.id in in_flight]
            repeatable = set(telegram_texts(leased)) & set(telegram.texts(DEMO_CHAT))
            acked_before_kill = sent_alert_ids(engine, TELEGRAM_CHANNEL)
            expire_dead_leases(engine)
            monitor_process.start()
        wait_for_full_pass(engine, monitor_process)
        world.liquidate_what_is_allowed()
    wait_for_full_pass(engine, monitor_process)  # the last liquidations
    wait_until(lambda: set(outbox_statuses(engine)) <= {"sent"}, monitor_process, "all sent")
    code = monitor_process.terminate()
    assert code == 0, monitor_process.err.read_text()
    # Logs and the "stopped" line on stderr; stdout holds only the console channel's alerts.
    assert monitor_process.err.read_text().splitlines()[-1] == "stopped"

    rows_after = alert_rows(engine)
    assert world.liquidated
    assert unwarned_liquidations(world, rows_after) == []
    # Hyperliquid liquidations leave no EVM log: only GMX ones can be reported as liquidated.
    unreported = unreported_liquidations(world, rows_after)
    assert all(":" in ref for ref in unreported), unreported
    assert duplicate_keys(rows_after) == []
    assert acked_before_kill <= sent_alert_ids(engine, TELEGRAM_CHANNEL)
    assert len(repeatable) <= 1  # one chat sends one message at a time
    texts = telegram.texts(DEMO_CHAT)
    assert without_repeats(texts, repeatable) == telegram_texts(rows_after)
    assert len(texts) <= len(rows_after) + len(repeatable)
    engine.dispose()
