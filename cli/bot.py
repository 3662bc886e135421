"""The Telegram bot inside ``perpwatch run`` (``[channels.telegram] commands = true``): chats
subscribe with ``/watch`` and ask ``/status``, answered with the monitor's latest prices.

    await serve_commands(cfg, engine, monitor.latest_prices, stop)    # until stop is set
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.errors import ConfigError
from monitor.bot.app import PerpwatchBot, PriceBook, build_application, poll

__all__ = ["serve_commands"]

log = logging.getLogger("perpwatch.bot")


def make_bot(cfg: Config, engine: Engine, prices: Callable[[], PriceBook]) -> PerpwatchBot:
    return PerpwatchBot(
        engine, cfg.alerts, prices=prices, limit=cfg.channels.telegram.max_wallets_per_chat
    )


async def serve_commands(
    cfg: Config,
    engine: Engine,
    prices: Callable[[], PriceBook],
    stop: asyncio.Event,
    *,
    bot: PerpwatchBot | None = None,
) -> int:
    """Answer bot commands until ``stop`` is set; returns the updates handled.

    Raises:
        ConfigError: ``PERPWATCH_TELEGRAM_BOT_TOKEN`` is not set.
    """
    if cfg.telegram_bot_token is None:
        raise ConfigError("telegram: PERPWATCH_TELEGRAM_BOT_TOKEN is not set")
    bot = bot or make_bot(cfg, engine, prices)
    application = build_application(
        cfg.telegram_bot_token.get_secret_value(), cfg.channels.telegram.base_url, bot
    )
    log.info("answering Telegram commands")
    return await poll(application, engine, stop)
