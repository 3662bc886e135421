"""The alert channel registry: each kind is one module; the dict below is the complete list.

notifiers = build_notifiers(config)                  # {"console": ..., "telegram": ...}
channels = channels_for(config.channels)             # ["console", "telegram:-1001", ...]
enqueue(session, account_id, level, episode, payload, channels, now=now)
await close_notifiers(notifiers)                     # their HTTP connections, at shutdown
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.sections import ChannelsConfig
from monitor.delivery.fair import FairScheduler
from monitor.delivery.paced import PacedDelivery
from monitor.delivery.worker import Notifier, channel_kind
from monitor.notify.console import ConsoleNotifier
from monitor.notify.telegram import TelegramNotifier
from monitor.notify.webhook import WebhookNotifier

__all__ = [
    "NOTIFIER_KINDS", "build_notifiers", "channels_for", "close_notifiers", "paced_telegram",
]  # fmt: skip

NOTIFIER_KINDS: dict[str, type[ConsoleNotifier | TelegramNotifier | WebhookNotifier]] = {
    "console": ConsoleNotifier,
    "telegram": TelegramNotifier,
    "webhook": WebhookNotifier,
}
"""Channel kind (the part of a channel name before ``:``) → notifier class."""


def channels_for(channels: ChannelsConfig) -> list[str]:
    """The outbox channels an alert goes to: one per enabled destination, one per chat."""
    names = ["console"] if channels.console else []
    if channels.telegram.enabled:
        names += [f"telegram:{chat}" for chat in channels.telegram.chat_ids]
    if channels.webhook.enabled:
        names.append("webhook")
    return names


def build_notifiers(config: Config, **io: Any) -> dict[str, Notifier]:
    """A notifier per enabled channel kind; ``io`` (transport, clock, ...) goes to each.

    Raises:
        ConfigError: an enabled channel lacks its secret or URL.
    """
    enabled = {channel_kind(channel) for channel in channels_for(config.channels)}
    if config.channels.telegram.enabled:  # chats that subscribe through the bot need it too
        enabled.add("telegram")
    return {kind: NOTIFIER_KINDS[kind].from_config(config, **io) for kind in sorted(enabled)}


def paced_telegram(
    config: Config, engine: Engine, notifiers: Mapping[str, Notifier]
) -> PacedDelivery | None:
    """The fair, paced driver of the Telegram channels (``channels.telegram.paced``), or None
    when Telegram is off, not paced, or its notifier cannot send batches."""
    telegram = config.channels.telegram
    notifier = notifiers.get("telegram")
    if not (telegram.enabled and telegram.paced and isinstance(notifier, TelegramNotifier)):
        return None
    group_interval_s = 60.0 / telegram.per_chat_rate_per_min
    scheduler = FairScheduler(
        global_per_s=telegram.global_rate_per_s,
        private_interval_s=min(1.0, group_interval_s),
        group_interval_s=group_interval_s,
        digest_max=telegram.digest_max,
    )
    return PacedDelivery(engine, notifier, scheduler)


async def close_notifiers(notifiers: Mapping[str, Notifier]) -> None:
    """Close every notifier that holds connections (those with an ``aclose``), each one even
    when closing another failed; the first failure is raised after all were tried."""
    failure: BaseException | None = None
    for notifier in notifiers.values():
        aclose = getattr(notifier, "aclose", None)  # the Notifier contract only needs send
        if aclose is None:
            continue
        try:
            await aclose()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
