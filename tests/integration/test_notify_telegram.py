"""Telegram delivery through a real local Bot API stand-in, with the outbox on both backends:
retries on 429/5xx with every alert arriving once and in order per chat, a worker killed
between claim and send, permanent refusals, the per-chat rate limit, and a token that never
leaks into logs, errors or reprs."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta
from traceback import format_exception

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.errors import PermanentDeliveryError, RetryableError
from monitor.alerts.levels import Level
from monitor.delivery.outbox import Delivery, RetryPolicy, ack, claim
from monitor.delivery.worker import deliver_once
from monitor.notify.telegram import TelegramNotifier
from monitor.tables import OutboxMessage
from tests.fixtures.telegram_api import TOKEN, TelegramApi
from tests.outbox_helpers import T0, add_account, add_alerts, alert_payload, statuses

POLICY = RetryPolicy(lease_s=60, base_s=1, cap_s=60, max_attempts=20)
CHATS = ["telegram:-1001", "telegram:-1002"]


def notifier(api: TelegramApi, **kwargs: object) -> TelegramNotifier:
    return TelegramNotifier(TOKEN, base_url=api.url, per_chat_rate_per_min=60_000, **kwargs)  # type: ignore[arg-type]


def delivery(channel: str = "telegram:-1001", n: int = 0) -> Delivery:
    return Delivery(n + 1, n + 1, channel, 1, 1, Level.CRITICAL, n, T0, alert_payload(n=n))


async def drain(engine: Engine, tg: TelegramNotifier, rounds: int = 30) -> None:
    now = T0
    for _ in range(rounds):
        await deliver_once(engine, {"telegram": tg}, now, policy=POLICY)
        now += timedelta(minutes=5)


def test_429_and_502_still_deliver_each_alert_once_in_order(
    engine: Engine, telegram_api: TelegramApi
) -> None:
    add_alerts(engine, add_account(engine), 4, CHATS)
    telegram_api.script(429, retry_after=7, times=2)
    telegram_api.script(502, times=3)
    tg = notifier(telegram_api)

    async def run() -> None:
        report = await deliver_once(engine, {"telegram": tg}, T0, policy=POLICY)
        assert report.retrying == 2
        assert report.sent == 0
        with engine.connect() as conn:  # the API's retry_after is honoured
            table = OutboxMessage.__table__  # type: ignore[attr-defined]
            query = sa.select(table.c.next_attempt_at).where(table.c.attempts == 1)
            waits = conn.execute(query).scalars().all()
        assert len(waits) == 2
        assert min(waits) >= T0 + timedelta(seconds=7)
        await drain(engine, tg)
        await tg.aclose()

    asyncio.run(run())
    for chat in CHATS:
        target = chat.partition(":")[2]
        texts = telegram_api.texts(target)
        assert [t.count(f"ETH/USD #{n}") for n, t in enumerate(texts)] == [1, 1, 1, 1]
        assert statuses(engine, chat) == [("sent", a) for a in statuses_attempts(engine, chat)]
    assert len(telegram_api.messages) == 8
    assert all(m["parse_mode"] == "HTML" for m in telegram_api.messages)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def statuses_attempts(engine: Engine, chat: str) -> list[int]:
    return [attempts for _, attempts in statuses(engine, chat)]


def test_a_worker_killed_after_claim_loses_nothing_and_repeats_no_ack(
    engine: Engine, telegram_api: TelegramApi
) -> None:
    add_alerts(engine, add_account(engine), 3, CHATS[:1])
    batch = claim(engine, CHATS[0], 3, T0, policy=POLICY)
    assert len(batch) == 3
    assert ack(engine, batch[0].id, T0)  # the first was sent and acknowledged...
    del batch  # ...then the process died: its claims are simply gone
    tg = notifier(telegram_api)

    async def run() -> None:
        early = await deliver_once(engine, {"telegram": tg}, T0 + timedelta(seconds=30))
        assert not early.busy  # still leased: nobody else sends them yet
        late = await deliver_once(engine, {"telegram": tg}, T0 + timedelta(seconds=121))
        assert late.sent == 2
        await drain(engine, tg)
        await tg.aclose()

    asyncio.run(run())
    texts = telegram_api.texts("-1001")
    assert len(texts) == 2
    assert "#1" in texts[0]
    assert "#2" in texts[1]
    assert statuses(engine, CHATS[0]) == [("sent", 1), ("sent", 2), ("sent", 2)]


def test_a_refused_chat_fails_for_good_and_blocks_nothing(engine: Engine) -> None:
    add_alerts(engine, add_account(engine), 2, CHATS)
    with TelegramApi(known_chats={"-1002"}) as api:
        tg = notifier(api)

        async def run() -> None:
            await drain(engine, tg, rounds=3)
            await tg.aclose()

        asyncio.run(run())
    assert statuses(engine, CHATS[0]) == [("failed", 1), ("failed", 1)]
    assert statuses(engine, CHATS[1]) == [("sent", 1), ("sent", 1)]
    assert len(api.texts("-1002")) == 2


def test_per_chat_rate_limit_spaces_sends_to_one_chat(telegram_api: TelegramApi) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    tg = TelegramNotifier(TOKEN, base_url=telegram_api.url, per_chat_rate_per_min=20,
                          clock=lambda: 1000.0, sleep=sleep)  # fmt: skip

    async def run() -> None:
        await tg.send(delivery("telegram:-1001", 0))
        await tg.send(delivery("telegram:-1002", 1))
        await tg.send(delivery("telegram:-1001", 2))
        await tg.send(delivery("telegram:-1001", 3))
        await tg.aclose()

    asyncio.run(run())
    assert slept == [3.0, 6.0]  # 20 a minute: one every 3 s per chat, other chats unaffected
    assert len(telegram_api.messages) == 4


@pytest.mark.parametrize("status", [429, 502, 403, 0])
def test_the_token_never_leaks(
    status: int, telegram_api: TelegramApi, caplog: pytest.LogCaptureFixture, engine: Engine
) -> None:
    caplog.set_level(logging.DEBUG)
    if status:
        telegram_api.script(status, retry_after=3)
    add_alerts(engine, add_account(engine), 1, CHATS[:1])
    tg = (
        notifier(telegram_api)
        if status
        else TelegramNotifier(TOKEN, base_url=closed_port_url(), per_chat_rate_per_min=60_000)
    )

    async def run() -> BaseException:
        with pytest.raises((RetryableError, PermanentDeliveryError)) as info:
            await tg.send(delivery())
        await deliver_once(engine, {"telegram": tg}, T0)
        await tg.aclose()
        return info.value

    error = asyncio.run(run())
    secret = TOKEN.split(":")[1]
    texts = [str(error), repr(error), repr(tg), caplog.text, "".join(format_exception(error))]
    texts += [r.getMessage() for r in caplog.records]
    with engine.connect() as conn:
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        texts += [e or "" for e in conn.execute(sa.select(table.c.last_error)).scalars()]
    assert all(secret not in text for text in texts)
    assert error.__cause__ is None
    assert "telegram" in str(error)
    if status == 429:
        assert isinstance(error, RetryableError)
        assert error.retry_after == 3.0
    if status == 403:
        assert isinstance(error, PermanentDeliveryError)
    if status:  # httpx logged its request, with the token masked
        assert "bot***" in caplog.text
