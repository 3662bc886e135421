"""The notifier registry: channels and notifiers from the config, and closing them at shutdown."""

from __future__ import annotations

import asyncio

import pytest

from indexer.config.loader import Config
from monitor.alerts.levels import Level
from monitor.delivery.outbox import Delivery
from monitor.notify.channels import build_notifiers, channels_for, close_notifiers
from monitor.notify.console import ConsoleNotifier
from monitor.notify.telegram import TelegramNotifier
from monitor.notify.webhook import WebhookNotifier
from tests.outbox_helpers import T0, alert_payload


def _config() -> Config:
    return Config.model_validate(
        {
            "channels": {
                "console": True,
                "telegram": {"enabled": True, "chat_ids": ["-1001", "-1002"]},
                "webhook": {"enabled": True, "url": "http://127.0.0.1:9/hook"},
            },
            "telegram_bot_token": "4242:registry-token",
        }
    )


def test_one_notifier_per_kind_and_one_channel_per_chat() -> None:
    cfg = _config()
    assert channels_for(cfg.channels) == ["console", "telegram:-1001", "telegram:-1002", "webhook"]
    notifiers = build_notifiers(cfg)
    assert {kind: type(n) for kind, n in notifiers.items()} == {
        "console": ConsoleNotifier,
        "telegram": TelegramNotifier,
        "webhook": WebhookNotifier,
    }
    asyncio.run(close_notifiers(notifiers))


def test_a_bot_without_configured_chats_still_gets_a_telegram_notifier() -> None:
    cfg = Config.model_validate(
        {
            "channels": {"console": False, "telegram": {"enabled": True, "commands": True}},
            "telegram_bot_token": "4242:registry-token",
        }
    )
    assert channels_for(cfg.channels) == []
    notifiers = build_notifiers(cfg)
    assert set(notifiers) == {"telegram"}
    asyncio.run(close_notifiers(notifiers))


def test_closed_notifiers_hold_no_connections() -> None:
    notifiers = build_notifiers(_config())
    delivery = Delivery(1, 1, "telegram:-1001", 1, 5, Level.CRITICAL, 0, T0, alert_payload())

    async def run() -> None:
        await close_notifiers(notifiers)
        for kind in ("telegram", "webhook"):
            with pytest.raises(RuntimeError, match="closed"):
                await notifiers[kind].send(delivery)

    asyncio.run(run())
