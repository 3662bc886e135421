"""``perpwatch run`` killed at exact moments around alert creation, then restarted.

The process is started with the test hook ``PERPWATCH_TEST_CRASH_AT=<point>:<n>``
(``indexer.crash_points``) and SIGKILLs itself the n-th time it passes the point: just before
or just after the transaction that records alerts commits, after Telegram accepted a message
whose outbox row is not yet marked sent, and mid-tick between the scan's commit and the
re-read of the accounts it touched. It is restarted unarmed and the crash goes on. Afterwards,
as in ``test_run_kill``: every liquidation was warned before and reported, no (account, level,
episode) was recorded twice, and the chat received every alert once, in order, but for the one
send accepted and not acknowledged (which ``delivery-sent`` makes certain, and repeats).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, demo_config
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.crash_points import ENV
from indexer.store.columns import utcnow
from indexer.store.engine import ensure_schema, make_engine
from tests.e2e.test_run_kill import (
    TELEGRAM_CHANNEL,
    WAIT_S,
    MonitorProcess,
    evaluated_after,
    expire_dead_leases,
    leased_alert_ids,
    without_repeats,
)
from tests.monitor_helpers import (
    alert_rows,
    config_data,
    duplicate_keys,
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

CRASH = price_path(crash_steps=12, recover_steps=2, step_pct=0.8)
POINTS = [
    # The first alert transaction is the start's (accounts already near their thresholds);
    # the second is the crash's.
    ("alerts-before-commit", 2),
    ("alerts-committed", 2),
    ("delivery-sent", 2),
    ("tick-scanned", 1),  # the first scan that indexes events: the keeper's first liquidation
]


@dataclass
class Crash:
    """What the test saw when the armed process died."""

    repeatable: set[str] = field(default_factory=set)
    acked: set[int] = field(default_factory=set)
    stderr: str = ""


class ArmedMonitor:
    """``perpwatch run`` armed with one crash point; restarted unarmed once it died there."""

    def __init__(self, process: MonitorProcess, engine: Engine, telegram: TelegramApi) -> None:
        self.process, self.engine, self.telegram = process, engine, telegram
        self.crash: Crash | None = None

    def start(self, point: str, nth: int) -> None:
        self.process.start({ENV: f"{point}:{nth}"})

    def _restart_if_crashed(self) -> None:
        proc = self.process.proc
        assert proc is not None
        if proc.poll() is None:
            return
        stderr = self.process.err.read_text()
        if self.crash is not None or proc.returncode != -signal.SIGKILL:
            pytest.fail(f"perpwatch run exited with {proc.returncode}: {stderr}")
        # Sent but not acknowledged when the process died: the send may be repeated.
        in_flight = leased_alert_ids(self.engine, TELEGRAM_CHANNEL)
        leased = [r for r in alert_rows(self.engine) if r.id in in_flight]
        self.crash = Crash(
            repeatable=set(telegram_texts(leased)) & set(self.telegram.texts(DEMO_CHAT)),
            acked=sent_alert_ids(self.engine, TELEGRAM_CHANNEL),
            stderr=stderr,
        )
        expire_dead_leases(self.engine)
        self.process.start()

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            self._restart_if_crashed()
            if time.monotonic() > deadline:
                pytest.fail(f"the monitor process did not get there: {what}")
            time.sleep(0.05)

    def wait_for_full_pass(self) -> None:
        """A pass that started after now (see ``test_run_kill.wait_for_full_pass``)."""
        self.wait_until(evaluated_after(self.engine, utcnow()), "a pass")
        self.wait_until(evaluated_after(self.engine, utcnow()), "a second pass")


@pytest.fixture
def monitor_process(
    world: World, db_url: str, telegram: TelegramApi, tmp_path: Path
) -> Iterator[MonitorProcess]:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    cfg = with_chain(cfg, block_time=0.2, stall_after_blocks=1_000_000)
    data = config_data(cfg)
    # Telegram alone: every pass of ``delivery-sent`` is then a message the chat accepted.
    data["channels"]["console"] = False
    process = MonitorProcess(write_toml(type(cfg).model_validate(data), tmp_path / "pw.toml"),
                             tmp_path)  # fmt: skip
    yield process
    process.stop_if_running()


@pytest.mark.parametrize(("point", "nth"), POINTS, ids=[p for p, _ in POINTS])
def test_run_killed_at_a_crash_point_loses_and_repeats_nothing(
    point: str,
    nth: int,
    world: World,
    db_url: str,
    telegram: TelegramApi,
    monitor_process: MonitorProcess,
) -> None:
    engine = make_engine(db_url)
    ensure_schema(engine)
    monitor = ArmedMonitor(monitor_process, engine, telegram)
    monitor.start(point, nth)
    monitor.wait_for_full_pass()
    for factor in CRASH:
        world.move_prices(factor)
        monitor.wait_for_full_pass()
        world.liquidate_what_is_allowed()
    monitor.wait_for_full_pass()  # the last liquidations
    monitor.wait_until(lambda: set(outbox_statuses(engine)) <= {"sent"}, "all sent")
    assert monitor_process.terminate() == 0, monitor_process.err.read_text()

    crash = monitor.crash
    assert crash is not None, f"never reached {point} #{nth}"
    assert crash.stderr.splitlines()[-1] == f"crash point {point} #{nth}: SIGKILL (test hook)"
    rows = alert_rows(engine)
    assert world.liquidated
    assert unwarned_liquidations(world, rows) == []
    # Hyperliquid liquidations leave no EVM log: only GMX ones can be reported as liquidated.
    unreported = unreported_liquidations(world, rows)
    assert all(":" in ref for ref in unreported), unreported
    assert duplicate_keys(rows) == []
    assert crash.acked <= sent_alert_ids(engine, TELEGRAM_CHANNEL)
    texts = telegram.texts(DEMO_CHAT)
    if point == "delivery-sent":  # the chat accepted it, the process died before the ack
        assert len(crash.repeatable) == 1
        assert texts.count(next(iter(crash.repeatable))) == 2
    else:
        assert len(crash.repeatable) <= 1  # a send of the delivery task in flight
    assert without_repeats(texts, crash.repeatable) == telegram_texts(rows)
    assert len(texts) <= len(rows) + len(crash.repeatable)
    engine.dispose()
