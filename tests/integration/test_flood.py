"""A crash flood through the paced Telegram delivery against the Bot API stand-in enforcing
Telegram's limits, on a clock the test owns (so it is fast and never measures wall time):
5,000 at-risk accounts across 500 chats, every chat's most urgent alert in its first message
and every first message before any second, no 429 provoked, nothing lost."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.telegram_api import FloodLimits
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.delivery.fair import FairScheduler, urgency
from monitor.delivery.outbox import enqueue
from monitor.delivery.paced import PacedDelivery
from monitor.delivery.worker import DeliveryReport
from monitor.notify.message import short_wallet
from monitor.notify.telegram import TelegramNotifier
from monitor.tables import OutboxMessage
from tests.fixtures.telegram_api import TOKEN, TelegramApi
from tests.outbox_helpers import T0, alert_payload

ACCOUNTS, CHATS, BIG_CHATS, BIG = 5_000, 500, 100, 26  # 100 chats of 26 + 400 of 6 = 5,000
LEVELS = [Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE]


class FakeClock:
    """Seconds that pass only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def chat_of(i: int) -> str:
    """Account ``i``'s chat: the first 2,600 fill 100 big chats, the rest 400 small ones;
    odd chats are groups."""
    n = i // BIG if i < BIG_CHATS * BIG else BIG_CHATS + (i - BIG_CHATS * BIG) // 6
    return str(-(1000 + n) if n % 2 else 1000 + n)


def owner(i: int) -> str:
    return "0x" + f"{i:040x}"


def flood(engine: Engine) -> dict[str, tuple[tuple[int, float], str]]:
    """The crash: one alert per account, to its chat. Returns each chat's most urgent
    (rank, short wallet)."""
    rng = random.Random(14)
    accounts = Account.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(accounts.insert(), [
            {"chain_id": 42161, "protocol": "gmx_v2", "owner": owner(i), "ref": f"r{i}",
             "mode": "isolated", "status": "open", "fixed_requirement_usd_e30": 0,
             "block_number": 1, "updated_at": T0}
            for i in range(ACCOUNTS)
        ])  # fmt: skip
        ids: dict[str, int] = dict(conn.execute(sa.select(accounts.c.ref, accounts.c.id)).all())
        worst: dict[str, tuple[tuple[int, float], str]] = {}
        for i in rng.sample(range(ACCOUNTS), ACCOUNTS):  # alerts in no particular chat order
            level = rng.choice(LEVELS)
            move = -rng.uniform(0, 1) if level is Level.LIQUIDATABLE else rng.uniform(0.1, 9)
            payload = alert_payload() | {"owner": owner(i), "level": level.value,
                                         "move_pct": move, "health": 1.0 + move / 100}  # fmt: skip
            enqueue(conn, ids[f"r{i}"], level, 1, payload, [f"telegram:{chat_of(i)}"], now=T0)
            key = (urgency(level.value, move), short_wallet(owner(i)))
            worst[chat_of(i)] = min(worst.get(chat_of(i), key), key)
    return worst


@pytest.mark.parametrize("first_429", [False, True])
def test_a_crash_flood_is_delivered_fairly(
    engine: Engine, first_429: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    worst = flood(engine)
    clock = FakeClock()
    limits = FloodLimits(clock=clock)
    with TelegramApi(TOKEN, limits=limits) as api:
        if first_429:
            api.script(429, retry_after=4)
        notifier = TelegramNotifier(TOKEN, base_url=api.url)
        paced = PacedDelivery(
            engine, notifier, FairScheduler(digest_max=20), clock=clock,
            wall=lambda: T0 + timedelta(seconds=clock.now), sleep=clock.sleep,
        )  # fmt: skip

        async def deliver() -> DeliveryReport:
            try:
                return await paced.drain()
            finally:
                await notifier.aclose()

        report = asyncio.run(deliver())
    assert report.sent == ACCOUNTS
    with engine.connect() as conn:
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        statuses = conn.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))
        assert dict(statuses.all()) == {"sent": ACCOUNTS}  # nothing lost, nothing failed
    assert limits.refused == 0  # the stand-in's flood control never had to refuse
    assert paced.refused_429 == (1 if first_429 else 0)  # only the scripted one
    firsts: dict[str, int] = {}
    seconds = []
    for index, message in enumerate(api.messages):
        if message["chat_id"] in firsts:
            seconds.append(index)
        else:
            firsts[message["chat_id"]] = index
            assert worst[message["chat_id"]][1] in message["text"]  # its most urgent alert
    assert len(firsts) == CHATS
    assert len(seconds) == BIG_CHATS  # 26 alerts: a digest of 20, then one of 6
    assert max(firsts.values()) < min(seconds)
    assert len(api.messages) == paced.messages == CHATS + BIG_CHATS
    with capsys.disabled():
        print(f"\nflood: {ACCOUNTS} alerts to {CHATS} chats in {paced.messages} messages, "
              f"{clock.now:.1f} s of Telegram time (429 scripted: {first_429})")  # fmt: skip
