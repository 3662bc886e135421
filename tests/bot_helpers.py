"""Running the bot against the Bot API stand-in: a conversation until every command is
answered, with the waits the bot asked for recorded instead of slept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.engine import Engine

from devnet.telegram_api import TOKEN, TelegramApi
from indexer.config.sections import AlertConfig
from indexer.store.accounts import save_read
from monitor.bot.app import PerpwatchBot, PriceBook, build_application, poll
from tests.health_helpers import USDC, two_asset_cross

__all__ = ["OWNER", "PRICES", "Waits", "converse", "make_bot", "store_cross_account"]

OWNER = "0x00000000000000000000000000000000000000aa"
PRICES: PriceBook = {(42161, "test"): {"BTC": 100_000.0, "ETH": 2_000.0, USDC: 1.0}}
"""At the entry prices of :func:`store_cross_account`'s positions: healthy."""


class Waits:
    """An async sleep that records how long it was asked to wait, and yields only."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


def store_cross_account(engine: Engine) -> None:
    """A BTC+ETH cross account of :data:`OWNER` (protocol ``test`` on chain 42161)."""
    save_read(engine, 42161, "test", [OWNER], [two_asset_cross()], read_block=5)


def make_bot(engine: Engine, limit: int = 3) -> PerpwatchBot:
    return PerpwatchBot(engine, AlertConfig(), prices=lambda: PRICES, limit=limit)


async def converse(
    api: TelegramApi,
    engine: Engine,
    bot: PerpwatchBot,
    done: Callable[[], bool],
    waits: Waits | None = None,
    timeout_s: float = 30.0,
) -> int:
    """Poll as ``perpwatch run`` does until ``done()`` (or ``timeout_s``); returns the updates
    handled."""
    waits = waits or Waits()
    application = build_application(TOKEN, api.url, bot, timeout_s=5.0, poll_timeout_s=1.0,
                                    sleep=waits)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(poll(application, engine, stop, poll_timeout_s=1.0, sleep=waits))
    for _ in range(int(timeout_s / 0.05)):
        if done() or task.done():
            break
        await asyncio.sleep(0.05)
    stop.set()
    return await task
