"""The bot against the Bot API stand-in (a real HTTP server) with python-telegram-bot, on both
database backends: every command in a private chat and in a group, bad input answered in one
line with an example, admins only for changes in groups, a restart mid-conversation that
neither replays nor skips, and 429/502 storms on getUpdates and on replies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from monitor.alerts.chain import ChainPolicy, readable, unreadable
from monitor.alerts.chain_store import ChainSubject, record_chain_read
from monitor.bot.app import Chat
from monitor.bot.cursor import load_offset
from monitor.subscriptions.service import Target, subscriber_info, watched
from monitor.tables import OutboxMessage, OutboxStatus
from tests.bot_helpers import OWNER, Waits, converse, make_bot, store_cross_account
from tests.fixtures.telegram_api import TelegramApi

OTHER = "0x" + "bb" * 20
PRIVATE = 111
GROUP = -100500
ADMIN, MEMBER = 7, 8

# (command, a piece of its answer)
PRIVATE_SCRIPT = [
    ("/start", "/watch - watch a wallet"),
    ("/help", "/simulate - "),
    (f"/watch {OWNER} desk", f"watching desk ({OWNER})"),
    ("/watch 0x1234 desk", "not an address (0x and 40 hex digits), e.g. /watch 0x"),
    ("/watch vitalik.eth", "ENS names are not resolved; send the 0x address"),
    (f"/watch {OTHER} desk", "the label 'desk' is already used for another wallet"),
    (f"/watch {OTHER} b", f"watching b ({OTHER})"),
    ("/list", "watching 2 of at most 3 wallets"),
    ("/status", "desk · test cross: health "),
    ("/status nobody", "not watching 'nobody'; /list shows"),
    ("/status desk extra", "give at most one address or label, e.g. /status main"),
    ("/threshold 1.4 1.2", "alerts here: warning at health 1.4, critical at 1.2"),
    ("/threshold 1.2 1.4", "critical must be below warning, e.g. /threshold"),
    ("/threshold 0.9", "a health level is above 1 (1 = liquidation), e.g."),
    ("/threshold 8% 3%", "or within 8% / 3%"),
    ("/threshold 8% 1.2", "use health levels or percentages, not both"),
    ("/simulate -10%", "after a -10% move of every market: "),
    ("/simulate lots", "'lots' is not a number, e.g. /simulate -10%"),
    ("/simulate 0", "a move is between -95% and +500% and not 0"),
    ("/pause", "alerts paused"),
    ("/list", "(paused)"),
    ("/resume", "alerts resumed"),
    ("/history", "no alert was sent to this chat yet"),
    ("/history now", "/history takes no arguments, e.g. /history"),
    ("/unwatch b", "stopped watching b"),
    ("/unwatch b", "not watching 'b'"),
    ("/frobnicate", "unknown command /frobnicate; /help lists them"),
    ("/quiet", "no quiet hours: every alert is sent at once"),
    ("/quiet 22-25", "hours are 0 to 23, e.g. /quiet 22-7"),
    ("/quiet 22-7", "quiet 22:00-07:00 UTC: warnings are not sent then"),
    ("/quiet", "quiet 22:00-07:00 UTC"),
]


def test_every_command_in_a_private_chat(engine: Engine, telegram_api: TelegramApi) -> None:
    store_cross_account(engine)
    bot = make_bot(engine)
    for text, _ in PRIVATE_SCRIPT:
        telegram_api.command(PRIVATE, text)

    def replies() -> list[str]:
        return telegram_api.texts(str(PRIVATE))

    asyncio.run(converse(telegram_api, engine, bot, lambda: len(replies()) >= len(PRIVATE_SCRIPT)))
    got = replies()
    assert len(got) == len(PRIVATE_SCRIPT)
    for (text, expected), reply in zip(PRIVATE_SCRIPT, got, strict=True):
        assert expected in reply, (text, reply)
        if "e.g." in expected:
            assert "\n" not in reply  # bad input: one line
    status = got[8]
    assert "BTC long: liquidation $" in status
    assert "% away" in status
    assert "cross: one balance backs every position" in status
    assert [w.label for w in watched(engine, Target("telegram", str(PRIVATE)))] == ["desk"]
    info = subscriber_info(engine, Target("telegram", str(PRIVATE)))
    assert info.overrides.overrides() == {"warning_distance_pct": 8.0, "critical_distance_pct": 3.0}
    assert not info.paused
    assert (info.quiet_from_hour, info.quiet_to_hour) == (22, 7)


def test_a_group_lets_only_admins_change_what_it_watches(
    engine: Engine, telegram_api: TelegramApi
) -> None:
    telegram_api.admins[GROUP] = {ADMIN}
    store_cross_account(engine)
    bot = make_bot(engine, limit=1)
    script = [
        (MEMBER, "/start@perpwatch_bot", "perpwatch warns before"),
        (MEMBER, "/help", "/history - the last alerts sent here"),
        (MEMBER, f"/watch {OWNER}", "only the group's administrators can use /watch"),
        (ADMIN, f"/watch {OWNER} team", f"watching team ({OWNER})"),
        (ADMIN, f"/watch {OTHER}", "this chat already watches 1 wallets, the limit"),
        (MEMBER, "/list", "watching 1 of at most 1 wallets"),
        (MEMBER, "/status team", "team · "),
        (MEMBER, "/pause", "only the group's administrators can use /pause"),
        (ADMIN, "/pause", "alerts paused"),
        (MEMBER, "/resume", "only the group's administrators can use /resume"),
        (ADMIN, "/resume", "alerts resumed"),
        (MEMBER, "/history", "no alert was sent to this chat yet"),
        (
            ADMIN,
            "/threshold 1%",
            "critical_distance_pct (3.0) must be below warning_distance_pct (1.0); set both",
        ),
        (ADMIN, "/threshold 5 x", "'x' is not a number"),
        (MEMBER, "/threshold 2", "only the group's administrators can use /threshold"),
        (ADMIN, "/threshold@perpwatch_bot 2", "alerts here: warning at health 2"),
        (MEMBER, "/unwatch team", "only the group's administrators can use /unwatch"),
        (ADMIN, "/unwatch 0xnothex", "not an address (0x and 40 hex digits)"),
        (MEMBER, "/simulate +5", "after a +5% move of every market: 0 of 1 accounts"),
        (ADMIN, "/unwatch team", "stopped watching team"),
    ]
    for user, text, _ in script:
        telegram_api.command(GROUP, text, user=user, group=True)

    def replies() -> list[str]:
        return telegram_api.texts(str(GROUP))

    asyncio.run(converse(telegram_api, engine, bot, lambda: len(replies()) >= len(script)))
    for (_, text, expected), reply in zip(script, replies(), strict=True):
        assert expected in reply, (text, reply)
    assert watched(engine, Target("telegram", str(GROUP))) == []


def test_a_restart_mid_conversation_neither_replays_nor_skips(
    engine: Engine, telegram_api: TelegramApi
) -> None:
    for i in range(3):
        telegram_api.command(PRIVATE, f"/watch 0x{i:040x} w{i}")
    asyncio.run(converse(telegram_api, engine, make_bot(engine, limit=9),
                         lambda: len(telegram_api.texts(str(PRIVATE))) >= 3))  # fmt: skip
    assert load_offset(engine, "telegram") == 4
    for i in range(3, 5):  # sent while the bot is down
        telegram_api.command(PRIVATE, f"/watch 0x{i:040x} w{i}")
    bot = make_bot(engine, limit=9)
    asyncio.run(converse(telegram_api, engine, bot,
                         lambda: len(telegram_api.texts(str(PRIVATE))) >= 5))  # fmt: skip
    assert bot.commands == 2  # the first three were not replayed
    texts = telegram_api.texts(str(PRIVATE))
    assert [t.split()[1] for t in texts] == [f"w{i}" for i in range(5)]
    assert load_offset(engine, "telegram") == 6


@pytest.mark.parametrize("status", [429, 502])
def test_storms_on_updates_and_replies_lose_nothing(
    engine: Engine, telegram_api: TelegramApi, status: int
) -> None:
    telegram_api.script(status, retry_after=2, times=2, method="getMe")
    telegram_api.script(status, retry_after=3, times=6, method="getUpdates")
    telegram_api.script(status, retry_after=5, times=3, method="sendMessage")
    for i in range(4):
        telegram_api.command(PRIVATE, f"/watch 0x{i:040x} w{i}")
    waits = Waits()
    asyncio.run(converse(telegram_api, engine, make_bot(engine, limit=9),
                         lambda: len(telegram_api.texts(str(PRIVATE))) >= 4, waits))  # fmt: skip
    assert [t.split()[1] for t in telegram_api.texts(str(PRIVATE))] == [f"w{i}" for i in range(4)]
    if status == 429:  # the API's retry_after, every time
        assert waits.asked.count(3.0) == 6
        assert waits.asked.count(5.0) == 3
    assert waits.asked[:2] == [2.0, 4.0]  # getMe: backed off, then the bot started
    assert len(waits.asked) == 11
    assert len(watched(engine, Target("telegram", str(PRIVATE)))) == 4


def test_status_says_an_account_is_unknown_while_its_chain_cannot_be_read(engine: Engine) -> None:
    store_cross_account(engine)
    bot = make_bot(engine)
    chat = Chat(PRIVATE, is_group=False, user=PRIVATE)

    async def admin() -> bool:
        return True

    def ask(text: str) -> str:
        return asyncio.run(bot.answer(chat, text, admin))

    ask(f"/watch {OWNER} desk")
    assert "BTC long: liquidation $" in ask("/status")
    since = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    subject = ChainSubject(42161, "arbitrum", 1, ())
    record_chain_read(engine, subject, unreadable("refused"), ChainPolicy(), since)
    status = ask("/status")
    assert "desk · test cross: health unknown (chain unreadable since 2026-12-03 12:00 UTC)" in (
        status
    )
    assert "liquidation $" not in status
    record_chain_read(engine, subject, readable(5), ChainPolicy(), since + timedelta(seconds=9))
    assert "BTC long: liquidation $" in ask("/status")  # readable again: values are fresh


def test_history_lists_the_chain_alerts_sent_to_the_chat(engine: Engine) -> None:
    bot = make_bot(engine)
    chat = Chat(PRIVATE, is_group=False, user=PRIVATE)

    async def admin() -> bool:
        return True

    since = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    channel = Target("telegram", str(PRIVATE)).channel
    subject = ChainSubject(42161, "arbitrum", 1, (channel,))
    record_chain_read(engine, subject, unreadable("refused"), ChainPolicy(), since)
    for minutes in (4, 5):  # readable for the recovery wait (60 s): recovered
        at = since + timedelta(minutes=minutes)
        record_chain_read(engine, subject, readable(5), ChainPolicy(), at)
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        sent = conn.execute(
            outbox.update()
            .where(outbox.c.channel == channel)
            .values(status=OutboxStatus.SENT, sent_at=since + timedelta(minutes=6))
        ).rowcount
    assert sent == 2
    lines = asyncio.run(bot.answer(chat, "/history", admin)).splitlines()
    assert lines == [
        "2026-12-03 12:06 chain recovered · arbitrum",
        "2026-12-03 12:06 chain outage · arbitrum",
    ]
