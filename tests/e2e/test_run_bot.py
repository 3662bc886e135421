"""``perpwatch run`` with ``commands = true`` as a user runs it: a chat of the Bot API stand-in
subscribes with /watch, asks /status with the monitor's prices, and through a crash hears
about its wallets only, delivered by the paced fair scheduler; SIGTERM stops it all (exit 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devnet.demo import DEMO_CHAT, demo_config
from devnet.scenario import World
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.store.engine import ensure_schema, make_engine
from monitor.notify.message import short_wallet
from tests.e2e.test_run_kill import MonitorProcess, wait_for_full_pass, wait_until
from tests.monitor_helpers import config_data, price_path, write_toml
from tests.monitor_helpers import telegram as telegram
from tests.monitor_helpers import world as world

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CHAT = 9001


def test_run_answers_commands_and_routes_alerts_to_the_chats_that_watch(
    world: World, telegram: TelegramApi, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    data = config_data(demo_config(world, db_url, telegram_url=telegram.url))
    data["chains"][0].update(block_time=0.2, stall_after_blocks=1_000_000)
    data["channels"]["telegram"].update(commands=True, paced=True, per_chat_rate_per_min=600)
    config = write_toml(Config.model_validate(data), tmp_path / "perpwatch.toml")
    engine = make_engine(db_url)
    ensure_schema(engine)
    mine = sorted({p.account for p in world.gmx_positions})[:6]
    for wallet in mine:
        telegram.command(CHAT, f"/watch {wallet}")
    process = MonitorProcess(config, tmp_path)
    process.start()
    try:

        def replies() -> list[str]:
            return telegram.texts(str(CHAT))

        wait_until(lambda: len(replies()) >= len(mine), process, "answers to /watch")
        assert all(r.startswith("watching 0x") for r in replies())
        wait_for_full_pass(engine, process)
        telegram.command(CHAT, "/status")
        wait_until(lambda: len(replies()) > len(mine), process, "an answer to /status")
        assert "gmx_v2 isolated: health " in replies()[-1]

        def alerts() -> list[dict[str, Any]]:
            return [m for m in telegram.messages
                    if m["chat_id"] == str(CHAT) and m["parse_mode"] == "HTML"]  # fmt: skip

        for factor in price_path(crash_steps=14, recover_steps=0, step_pct=0.8):
            world.move_prices(factor)
            wait_for_full_pass(engine, process)
            world.liquidate_what_is_allowed()
            if alerts():
                break
        wait_until(lambda: bool(alerts()), process, "an alert in the subscribed chat")
        assert process.terminate() == 0, process.err.read_text()
    finally:
        process.stop_if_running()
    shorts = [short_wallet(w.lower()) for w in mine]
    assert all(any(s in m["text"] for s in shorts) for m in alerts())  # only its wallets
    assert telegram.texts(DEMO_CHAT)  # the configured chat still hears everything
    assert "perpwatch-demo-token" not in process.err.read_text()  # no token in the logs
    engine.dispose()
