"""The Telegram bot: commands that change a chat's subscriptions and answer about its wallets,
on python-telegram-bot, polled with an offset kept in the database.

    bot = PerpwatchBot(engine, cfg.alerts, prices=monitor.latest_prices, limit=20)
    application = build_application(token, base_url, bot)
    await poll(application, engine, stop)          # until stop is set

:meth:`PerpwatchBot.answer` is the whole command logic (the text in, the reply out);
:func:`poll` fetches updates, hands each to python-telegram-bot and records the offset after
each one, so a restart resumes at the first unhandled command. In a group only administrators
may change the watch list, thresholds or pause state. A reply refused with 429 waits the API's
``retry_after``; 5xx and network errors are retried with a backoff; ``getUpdates`` failures
likewise (no update is lost: unconfirmed updates stay with Telegram).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from indexer.config.sections import AlertConfig
from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from indexer.store.tables import Account
from monitor.alerts.chain_store import chain_states
from monitor.analysis.book import PricedAccount
from monitor.analysis.stress import account_after
from monitor.bot.commands import (
    CHANGES_WATCH_LIST,
    HELP,
    BadInput,
    Parsed,
    Quiet,
    Simulate,
    Status,
    Threshold,
    Unwatch,
    Watch,
    parse,
)
from monitor.bot.cursor import load_offset, save_offset
from monitor.bot.replies import (
    AccountLine,
    HistoryLine,
    history_text,
    list_text,
    quiet_text,
    simulate_text,
    status_text,
    thresholds_text,
)
from monitor.health.account import account_health
from monitor.subscriptions import service
from monitor.subscriptions.service import SubscriptionError, Target, Watched
from monitor.tables import Alert, OutboxMessage, OutboxStatus

__all__ = ["Chat", "PerpwatchBot", "PriceBook", "build_application", "poll"]

log = logging.getLogger("perpwatch.bot")

PriceBook = Mapping[tuple[int, str], Mapping[str, float]]
"""(chain id, protocol) → asset → USD: the monitor's latest prices."""

HISTORY_LINES = 10
REPLY_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Chat:
    """Where a command came from: the chat, whether it is a group, and the sender."""

    id: int
    is_group: bool
    user: int

    @property
    def target(self) -> Target:
        return Target("telegram", str(self.id), is_group=self.is_group)


@dataclass
class PerpwatchBot:
    """Answers commands; ``prices`` returns the monitor's latest prices, ``limit`` is the most
    wallets one chat may watch. ``commands`` counts the commands answered."""

    engine: Engine
    alerts: AlertConfig
    prices: Callable[[], PriceBook] = dict
    limit: int = 20
    commands: int = 0
    by_chat: dict[int, int] = field(default_factory=dict)

    async def answer(self, chat: Chat, text: str, is_admin: Callable[[], Awaitable[bool]]) -> str:
        """The reply to ``text`` from ``chat``: one line when the input is bad."""
        self.commands += 1
        self.by_chat[chat.id] = self.by_chat.get(chat.id, 0) + 1
        try:
            command = parse(text)
            if chat.is_group and command.name in CHANGES_WATCH_LIST and not await is_admin():
                return f"only the group's administrators can use /{command.name}"
            return await asyncio.to_thread(self._run, chat, command)
        except (BadInput, SubscriptionError) as exc:
            return str(exc)

    def _run(self, chat: Chat, command: Parsed) -> str:
        sub = chat.target
        match command:
            case Watch(owner=owner, label=label):
                service.watch(self.engine, sub, owner, label, limit=self.limit)
                shown = f"{label} ({owner})" if label else owner
                return f"watching {shown}; /status shows its health"
            case Unwatch(target=target):
                gone = service.unwatch(self.engine, sub, target)
                return f"stopped watching {gone.name}"
            case Status(target=target):
                wallets = self._wallets(sub, target)
                return status_text(self._lines(wallets), len(wallets))
            case Threshold():
                own = service.set_thresholds(
                    self.engine, sub, self.alerts,
                    warning=command.warning, critical=command.critical,
                    warning_distance_pct=command.warning_distance_pct,
                    critical_distance_pct=command.critical_distance_pct,
                )  # fmt: skip
                return thresholds_text(self.alerts, own)
            case Simulate(move_pct=move):
                return simulate_text(move, self._simulated(self._wallets(sub, None), move))
            case Quiet(show=True):
                info = service.subscriber_info(self.engine, sub)
                return quiet_text(info.quiet_from_hour, info.quiet_to_hour)
            case Quiet(start_hour=start, end_hour=end):
                service.set_quiet_hours(self.engine, sub, start, end)
                return quiet_text(start, end)
        return self._simple(chat, command.name)

    def _simple(self, chat: Chat, name: str) -> str:
        sub = chat.target
        if name in ("start", "help"):
            return HELP
        if name == "list":
            info = service.subscriber_info(self.engine, sub)
            names = [(w.owner, w.label) for w in service.watched(self.engine, sub)]
            return list_text(names, info.paused, self.limit)
        if name in ("pause", "resume"):
            service.set_paused(self.engine, sub, name == "pause")
            return (
                "alerts paused; /resume to hear them again"
                if name == "pause"
                else ("alerts resumed")
            )
        return history_text(self._history(sub))

    def _wallets(self, sub: Target, target: str | None) -> list[Watched]:
        wallets = service.watched(self.engine, sub)
        if target is None:
            return wallets
        chosen = [w for w in wallets if target in (w.owner, w.label)]
        if not chosen:
            raise SubscriptionError(f"not watching {target!r}; /list shows what this chat watches")
        return chosen

    def _lines(self, wallets: list[Watched]) -> list[AccountLine]:
        names = {w.owner: w for w in wallets}
        if not names:
            return []
        prices = self.prices()
        down = {c: s.failing_since for c, s in chain_states(self.engine).items() if s.unreadable}
        lines = []
        for _, account in load_accounts(self.engine, owners=sorted(names)):
            watched = names[account.owner.lower()]
            if watched.protocol not in (None, account.protocol):
                continue
            since = down.get(account.chain_id)  # its chain cannot be read: no health to give
            health = None if since is not None else _health(account, prices)
            lines.append(AccountLine(watched.name, account, health, since))
        return lines

    def _simulated(self, wallets: list[Watched], move_pct: float) -> list[tuple[AccountLine, Any]]:
        prices = self.prices()
        out = []
        for line in self._lines(wallets):
            book = prices.get((line.account.chain_id, line.account.protocol))
            if line.health is None or book is None:
                continue
            shocks = {p.asset: move_pct for p in line.account.positions}
            out.append((line, account_after(PricedAccount(line.account, book), shocks)))
        return out

    def _history(self, sub: Target) -> list[HistoryLine]:
        outbox, alerts = OutboxMessage.__table__, Alert.__table__  # type: ignore[attr-defined]
        accounts = Account.__table__  # type: ignore[attr-defined]
        # A chain alert (an outage, its recovery) has no account: the outer join keeps it.
        query = (
            sa.select(outbox.c.sent_at, alerts.c.level, accounts.c.owner, accounts.c.protocol,
                      alerts.c.payload)
            .join(alerts, alerts.c.id == outbox.c.alert_id)
            .outerjoin(accounts, accounts.c.id == alerts.c.account_id)
            .where(outbox.c.channel == sub.channel, outbox.c.status == OutboxStatus.SENT)
            .order_by(outbox.c.id.desc())
            .limit(HISTORY_LINES)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [
                HistoryLine(r.sent_at.strftime("%Y-%m-%d %H:%M"), str(r.level), r.owner,
                            r.protocol, r.payload.get("health"),
                            chain=None if r.owner is not None else r.payload.get("chain"))
                for r in conn.execute(query)
            ]  # fmt: skip


def _health(account: MarginAccount, prices: PriceBook) -> Any:
    book = prices.get((account.chain_id, account.protocol))
    if book is None or not all(asset in book for asset in account.assets):
        return None
    return account_health(account, book)


async def _is_admin(application: Application[Any, Any, Any, Any, Any, Any], chat: Chat) -> bool:
    member = await application.bot.get_chat_member(chat.id, chat.user)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def build_application(
    token: str,
    base_url: str,
    bot: PerpwatchBot,
    *,
    timeout_s: float = 10.0,
    poll_timeout_s: float = 20.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A python-telegram-bot application answering every command through ``bot``; the Bot API
    at ``base_url`` (the stand-in in tests). Polling is :func:`poll`'s, not the library's."""
    request = HTTPXRequest(connect_timeout=timeout_s, read_timeout=timeout_s)
    updates = HTTPXRequest(connect_timeout=timeout_s, read_timeout=poll_timeout_s + timeout_s)
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url.rstrip("/") + "/bot")
        .request(request)
        .get_updates_request(updates)
        .updater(None)
        .build()
    )

    async def on_command(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or message.text is None or user is None:
            return
        chat = Chat(message.chat_id, message.chat.type in ("group", "supergroup"), user.id)
        reply = await bot.answer(chat, message.text, lambda: _is_admin(application, chat))
        await send_reply(application, chat.id, reply, sleep=sleep)

    application.add_handler(MessageHandler(filters.COMMAND, on_command))
    return application


async def send_reply(
    application: Application[Any, Any, Any, Any, Any, Any],
    chat_id: int,
    text: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Send ``text``, waiting out 429s (their ``retry_after``) and retrying 5xx/network errors;
    False when the chat refused it for good (bot blocked, chat gone) or retries ran out."""
    for attempt in range(REPLY_ATTEMPTS):
        try:
            await application.bot.send_message(chat_id, text)
            return True
        except RetryAfter as exc:
            await sleep(_seconds(exc))
        except Forbidden as exc:
            log.warning("chat %s refused a reply: %s", chat_id, exc)
            return False
        except NetworkError as exc:  # 5xx, timeouts, refused connections
            log.warning("reply to chat %s failed, retrying: %s", chat_id, exc)
            await sleep(_backoff_s(attempt))
        except TelegramError as exc:  # 400: nothing a retry can fix
            log.warning("chat %s refused a reply: %s", chat_id, exc)
            return False
    return False


def _backoff_s(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: 2, 4, 8, … up to 30."""
    return min(2.0 ** min(failures, 5), 30.0)


def _seconds(exc: RetryAfter) -> float:
    """The API's retry_after in seconds (an int today, a timedelta in a later version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


async def poll(
    application: Application[Any, Any, Any, Any, Any, Any],
    engine: Engine,
    stop: asyncio.Event,
    *,
    name: str = "telegram",
    poll_timeout_s: float = 20.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    hold: Callable[[], Awaitable[bool]] | None = None,
) -> int:
    """Long-poll ``getUpdates`` until ``stop`` is set, handle each update, then record its
    offset. Returns the updates handled. With ``hold`` (take or renew this worker's bot lease)
    only the worker holding it polls: Telegram refuses two pollers of one bot (409)."""
    handled = 0
    offset = await asyncio.to_thread(load_offset, engine, name)
    failures = 0
    ready = False
    try:
        while not stop.is_set():
            if not ready:  # getMe first, retried while the Bot API is down
                try:
                    await application.initialize()
                    ready, failures = True, 0
                except TelegramError as exc:
                    failures += 1
                    log.warning("the Bot API does not answer (%d in a row): %s", failures, exc)
                    await sleep(_backoff_s(failures))
                    continue
            if hold is not None and not await hold():
                await sleep(poll_timeout_s / 4)
                continue
            try:
                updates = await application.bot.get_updates(
                    offset=offset, timeout=int(poll_timeout_s), allowed_updates=["message"]
                )
                failures = 0
            except RetryAfter as exc:
                await sleep(_seconds(exc))
                continue
            except (NetworkError, TelegramError) as exc:
                failures += 1
                log.warning("getUpdates failed (%d in a row): %s", failures, exc)
                await sleep(_backoff_s(failures))
                continue
            for update in updates:
                await application.process_update(update)
                offset = update.update_id + 1
                await asyncio.to_thread(save_offset, engine, name, offset)
                handled += 1
    finally:
        await application.shutdown()
    return handled
