"""The demo's Telegram users: three chats of the Bot API stand-in that subscribe through the bot
before the crash and ask about their wallets after it, and the check that each chat heard only
about the wallets it watches.

    chats = DemoChats(world, telegram)
    chats.before()                                 # queue the users' first commands
    async with chats.bot(cfg, engine, monitor):    # the bot answers while the crash runs
        await chats.answered(); ...; chats.after(); await chats.answered()
    chats.misrouted(engine)                        # alerts to a chat that did not watch them
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cli.bot import make_bot, serve_commands
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.store.tables import Account
from monitor.bot.app import PerpwatchBot
from monitor.notify.message import short_wallet
from monitor.runtime.service import Monitor
from monitor.subscriptions.service import SUBSCRIBERS, SUBSCRIPTIONS
from monitor.tables import Alert, OutboxMessage, OutboxStatus

__all__ = ["DemoChats"]

TRADER, GROUP, QUIET = 7001, -7002, 7003
ADMIN, MEMBER = 71, 72


class DemoChats:
    """A trader (private chat), a desk (group: an admin and a member) and a paused chat."""

    def __init__(self, world: World, telegram: TelegramApi) -> None:
        self.telegram = telegram
        gmx = sorted({p.account for p in world.gmx_positions})
        self.trader_wallets = [world.hl_traders[0], gmx[0]]
        self.desk_wallets = gmx[1:5]
        self.quiet_wallets = gmx[5:6]
        self.sent = 0
        self.bot_: PerpwatchBot | None = None
        telegram.admins[GROUP] = {ADMIN}

    def _say(self, chat: int, text: str, user: int | None = None) -> None:
        self.telegram.command(chat, text, user=user, group=chat < 0)
        self.sent += 1

    def before(self) -> None:
        """Subscriptions, with a few mistakes a user makes."""
        self._say(TRADER, "/start")
        self._say(TRADER, f"/watch {self.trader_wallets[0]} hl")
        self._say(TRADER, f"/watch {self.trader_wallets[1]} gmx")
        self._say(TRADER, "/watch vitalik.eth")
        self._say(TRADER, "/threshold 1.8 1.3")
        self._say(GROUP, f"/watch {self.desk_wallets[0]} intruder", MEMBER)  # not an admin
        for i, wallet in enumerate(self.desk_wallets):
            self._say(GROUP, f"/watch {wallet} desk{i}", ADMIN)
        self._say(GROUP, "/list", MEMBER)
        self._say(QUIET, f"/watch {self.quiet_wallets[0]}")
        self._say(QUIET, "/pause")

    def after(self) -> None:
        """What users ask once the dust settles."""
        self._say(TRADER, "/status")
        self._say(TRADER, "/simulate -5%")
        self._say(GROUP, "/history", MEMBER)
        self._say(GROUP, "/status desk0", MEMBER)
        self._say(QUIET, "/history")

    @contextlib.asynccontextmanager
    async def bot(self, cfg: Config, engine: Engine, monitor: Monitor) -> AsyncIterator[None]:
        """The bot answering commands (as ``perpwatch run`` does) for the block's duration."""
        self.bot_ = make_bot(cfg, engine, lambda: monitor.latest_prices)
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve_commands(cfg, engine, lambda: monitor.latest_prices, stop, bot=self.bot_)
        )
        try:
            yield
        finally:
            stop.set()
            await task

    async def answered(self, timeout_s: float = 30.0) -> None:
        """Wait until the bot has answered every command sent so far."""
        for _ in range(int(timeout_s / 0.05)):
            if self.commands >= self.sent:
                return
            await asyncio.sleep(0.05)

    @property
    def commands(self) -> int:
        return self.bot_.commands if self.bot_ is not None else 0

    def misrouted(self, engine: Engine) -> int:
        """Alerts a chat got about an account it did not watch: in the outbox (sent rows of
        subscribed chats whose account's owner the chat does not watch) and at the stand-in
        (alert messages to those chats naming none of their wallets)."""
        outbox, alerts = OutboxMessage.__table__, Alert.__table__  # type: ignore[attr-defined]
        accounts = Account.__table__  # type: ignore[attr-defined]
        channel = sa.literal("telegram:") + SUBSCRIBERS.c.target
        watches = sa.exists().where(
            SUBSCRIPTIONS.c.subscriber_id == SUBSCRIBERS.c.id,
            SUBSCRIPTIONS.c.owner == accounts.c.owner,
        )
        query = (
            sa.select(sa.func.count())
            .select_from(outbox)
            .join(alerts, alerts.c.id == outbox.c.alert_id)
            .join(accounts, accounts.c.id == alerts.c.account_id)
            .join(SUBSCRIBERS, channel == outbox.c.channel)
            .where(outbox.c.status == OutboxStatus.SENT, ~SUBSCRIBERS.c.watch_all, ~watches)
        )
        with engine.connect() as conn:
            in_outbox = int(conn.execute(query).scalar_one())
        at_api = 0
        for chat, wallets in ((TRADER, self.trader_wallets), (GROUP, self.desk_wallets),
                              (QUIET, self.quiet_wallets)):  # fmt: skip
            shorts = [short_wallet(w.lower()) for w in wallets]
            at_api += sum(
                m["parse_mode"] == "HTML" and not any(s in m["text"] for s in shorts)
                for m in self.telegram.messages
                if m["chat_id"] == str(chat)
            )
        return in_outbox + at_api

    def alerts_heard(self) -> int:
        """Alert messages the subscribed chats received."""
        chats = {str(TRADER), str(GROUP), str(QUIET)}
        return sum(
            m["parse_mode"] == "HTML" and m["chat_id"] in chats for m in self.telegram.messages
        )
