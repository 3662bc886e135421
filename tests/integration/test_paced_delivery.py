"""Paced Telegram delivery as ``run`` wires it: built from the config, Telegram left to it by
the plain worker, a backed-up chat's alerts merged into one digest, a lone alert sent as is."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from monitor.delivery.worker import deliver_once
from monitor.notify.channels import paced_telegram
from monitor.notify.console import ConsoleNotifier
from monitor.notify.telegram import TelegramNotifier
from tests.fixtures.telegram_api import TOKEN, TelegramApi, html_problem
from tests.outbox_helpers import T0, add_account, add_alerts, statuses


def config(api_url: str, **telegram: object) -> Config:
    return Config.model_validate({
        "database_url": "sqlite://", "telegram_bot_token": TOKEN,
        "channels": {"telegram": {"enabled": True, "base_url": api_url, "chat_ids": [5],
                                  **telegram}},
    })  # fmt: skip


def test_paced_delivery_is_built_from_the_config(engine: Engine) -> None:
    notifier = TelegramNotifier(TOKEN, base_url="http://127.0.0.1:9")
    paced = paced_telegram(config("http://127.0.0.1:9", per_chat_rate_per_min=10), engine,
                           {"telegram": notifier})  # fmt: skip
    assert paced is not None
    assert paced.scheduler.group_interval_s == 6.0
    assert paced.scheduler.private_interval_s == 1.0
    assert paced.scheduler.global_per_s == 30
    off = config("http://127.0.0.1:9", paced=False)
    assert paced_telegram(off, engine, {"telegram": notifier}) is None


def test_a_backed_up_chat_gets_one_digest(engine: Engine, telegram_api: TelegramApi) -> None:
    account = add_account(engine)
    add_alerts(engine, account, 3, ["console", "telegram:-1001"])
    notifier = TelegramNotifier(TOKEN, base_url=telegram_api.url)
    paced = paced_telegram(config(telegram_api.url), engine, {"telegram": notifier})
    assert paced is not None

    async def run() -> None:
        try:
            report = await deliver_once(engine, {"console": ConsoleNotifier()}, T0,
                                        skip=("telegram",))  # fmt: skip
            assert report.sent == 3  # console only
            assert [s for s, _ in statuses(engine, "telegram:-1001")] == ["pending"] * 3
            report, wake = await paced.deliver(T0)
            assert report.sent == 3
            assert wake is None
        finally:
            await notifier.aclose()

    asyncio.run(run())
    [digest] = telegram_api.texts("-1001")
    assert digest.startswith("<b>3 alerts</b>")
    assert digest.count("Critical") == 3
    assert html_problem(digest) is None
    assert [s for s, _ in statuses(engine, "telegram:-1001")] == ["sent"] * 3
