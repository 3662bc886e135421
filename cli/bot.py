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
from indexer.store.columns import utcnow
from monitor.bot.app import PerpwatchBot, PriceBook, build_application, poll
from monitor.runtime.lease import acquire_lease

__all__ = ["serve_commands"]

log = logging.getLogger("perpwatch.bot")

POLL_TIMEOUT_S = 20.0
BOT_LEASE_CHAIN_ID = 0
"""The bot's lease lives beside the chains' (``chain_leases``) under an id no chain has."""


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
    worker: str | None = None,
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

    async def hold() -> bool:  # one poller among several workers sharing the database
        assert worker is not None
        return await asyncio.to_thread(
            acquire_lease, engine, BOT_LEASE_CHAIN_ID, worker, utcnow(), 3 * POLL_TIMEOUT_S
        )

    return await poll(application, engine, stop, poll_timeout_s=POLL_TIMEOUT_S,
                      hold=hold if worker is not None else None)  # fmt: skip
