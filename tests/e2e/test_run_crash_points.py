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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_CHAT, DEVNET_CHAIN_ID, demo_config
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.crash_points import ENV
from indexer.store.accounts import touched_owners
from indexer.store.columns import utcnow
from indexer.store.engine import ensure_schema, make_engine
from monitor.notify.message import format_digest, parse_payload
from tests.e2e.test_run_kill import (
    TELEGRAM_CHANNEL,
    WAIT_S,
    MonitorProcess,
    evaluated_after,
    expire_dead_leases,
    leased_alert_ids,
)
from tests.monitor_helpers import (
    AlertRow,
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

CRASH = price_path(crash_steps=11, recover_steps=1, step_pct=1.0)  # GMX liquidates at 10 %
POINTS = [
    # (point, n, Telegram paced): the first alert transaction is the start's (accounts already
    # near their thresholds), the second the crash's.
    ("alerts-before-commit", 2, False),
    ("alerts-committed", 2, False),
    ("delivery-sent", 2, False),
    ("delivery-sent", 2, True),  # the fair scheduler's driver: the message may be a digest
    # The first scan that indexes events is the start's backfill; the second, the keeper's
    # first liquidation.
    ("tick-scanned", 2, False),
]


def alert_line(row: AlertRow) -> str:
    """The line that stands for one alert in a Telegram digest."""
    return format_digest([parse_payload(row.payload)]).split("\n")[1]


def chat_lines(texts: list[str], rows: list[AlertRow]) -> list[str]:
    """The alerts a chat received, one line each in order: a digest's lines, or the line of
    the alert a single message carries."""
    single = {text: alert_line(r) for text, r in zip(telegram_texts(rows), rows, strict=True)}
    lines: list[str] = []
    for text in texts:
        head, _, rest = text.partition("\n")
        digest = head.startswith("<b>") and head.endswith(" alerts</b>") and rest
        lines += rest.split("\n") if digest else [single[text]]
    return lines


def without_last_copies(lines: list[str], repeated: Counter[str]) -> list[str]:
    """``lines`` with the last occurrence of each ``repeated`` line removed (as many times as
    it counts): what remains once the sends repeated after the restart are taken out."""
    out = list(lines)
    for line, count in repeated.items():
        for _ in range(count):
            out.pop(len(out) - 1 - out[::-1].index(line))
    return out


@dataclass
class Crash:
    """What the test saw when the armed process died."""

    repeatable: Counter[str] = field(default_factory=Counter)
    """Alerts (as chat lines) the chat had received but the outbox had not marked sent."""
    messages: list[str] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    stderr: str = ""
    alerts: int = 0
    touched: list[str] = field(default_factory=list)
    """GMX owners whose events were indexed and whose accounts were not yet re-read."""


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
        rows = alert_rows(self.engine)
        messages = self.telegram.texts(DEMO_CHAT)
        # Sent but not acknowledged when the process died: those sends are repeated.
        in_flight = leased_alert_ids(self.engine, TELEGRAM_CHANNEL)
        leased = Counter(alert_line(r) for r in rows if r.id in in_flight)
        self.crash = Crash(
            repeatable=leased & Counter(chat_lines(messages, rows)),
            messages=messages,
            acked=sent_alert_ids(self.engine, TELEGRAM_CHANNEL),
            stderr=stderr,
            alerts=len(rows),
            touched=touched_owners(self.engine, DEVNET_CHAIN_ID, "gmx_v2"),
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
    world: World, db_url: str, telegram: TelegramApi, tmp_path: Path, paced: bool
) -> Iterator[MonitorProcess]:
    cfg = demo_config(world, db_url, telegram_url=telegram.url)
    cfg = with_chain(cfg, block_time=0.2, stall_after_blocks=1_000_000)
    data = config_data(cfg)
    # Telegram alone: every pass of ``delivery-sent`` is then a message the chat accepted.
    data["channels"]["console"] = False
    data["channels"]["telegram"]["paced"] = paced
    process = MonitorProcess(write_toml(type(cfg).model_validate(data), tmp_path / "pw.toml"),
                             tmp_path)  # fmt: skip
    yield process
    process.stop_if_running()


@pytest.mark.parametrize(
    ("point", "nth", "paced"),
    POINTS,
    ids=[p + ("-paced" if paced else "") for p, _, paced in POINTS],
)
def test_run_killed_at_a_crash_point_loses_and_repeats_nothing(
    point: str,
    nth: int,
    paced: bool,
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
    assert crash.alerts > 0  # killed in the crash, after the first alerts
    if point == "tick-scanned":  # the liquidation was indexed, its account not yet re-read
        assert crash.touched
    rows = alert_rows(engine)
    assert world.liquidated
    assert unwarned_liquidations(world, rows) == []
    # Hyperliquid liquidations leave no EVM log: only GMX ones can be reported as liquidated.
    unreported = unreported_liquidations(world, rows)
    assert all(":" in ref for ref in unreported), unreported
    assert duplicate_keys(rows) == []
    assert crash.acked <= sent_alert_ids(engine, TELEGRAM_CHANNEL)
    # At most the one message in flight at the kill was repeated (``delivery-sent``: certainly).
    in_one_message = [
        m for m in crash.messages if not crash.repeatable - Counter(chat_lines([m], rows))
    ]
    assert in_one_message or not crash.repeatable
    if point == "delivery-sent":
        assert crash.repeatable
    # Every alert reached the chat once, in order, but for those repeats.
    lines = chat_lines(telegram.texts(DEMO_CHAT), rows)
    assert without_last_copies(lines, crash.repeatable) == [alert_line(r) for r in rows]
    engine.dispose()
