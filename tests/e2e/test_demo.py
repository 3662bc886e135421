"""``perpwatch demo`` end to end, reduced: a crash over 25 traders on its own devnet, run in a
temporary working directory so the demo's SQLite file lands there."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from devnet.demo import Script, run_demo

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SUMMARY_KEYS = {
    "accounts", "steps", "blocks", "liquidations", "warned_before", "warned_before_liquidatable",
    "min_lead_blocks",
    "median_lead_blocks", "alerts", "alerts_sent", "duplicate_alerts", "telegram_messages",
    "median_tick_s", "seconds", "telegram_chats", "bot_commands", "bot_chat_alerts",
    "misrouted_alerts",
}  # fmt: skip


def test_reduced_demo_warns_every_liquidation_early_and_prints_its_summary_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    script = Script(gmx_traders=20, hl_traders=5, crash_steps=30, recover_steps=8)
    summary = run_demo(Console(file=out), as_json=True, script=script)

    assert json.loads(out.getvalue()) == summary
    assert set(summary) == SUMMARY_KEYS
    assert summary["accounts"] == 20 + 5 * 2  # HL traders: one cross and one isolated account
    assert summary["steps"] == 30 + 8
    assert summary["liquidations"] > 0
    assert summary["warned_before"] == summary["liquidations"]
    assert summary["warned_before_liquidatable"] == summary["liquidations"]  # default thresholds
    assert summary["min_lead_blocks"] >= 3
    assert summary["duplicate_alerts"] == 0
    assert summary["telegram_messages"] == summary["alerts"]
    # Every alert went to the console and to the demo chat, and each was recorded as sent;
    # the chats that subscribed through the bot heard about their wallets, and only those.
    assert summary["alerts_sent"] == 2 * summary["alerts"] + summary["bot_chat_alerts"]
    assert summary["telegram_chats"] == 4  # the configured chat and three that used /watch
    assert summary["bot_commands"] == 18  # 13 before the crash, 5 after
    assert summary["bot_chat_alerts"] > 0
    assert summary["misrouted_alerts"] == 0
    assert (tmp_path / "perpwatch.db").is_file()
