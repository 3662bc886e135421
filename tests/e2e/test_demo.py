"""``perpwatch demo`` end to end, reduced: a crash over 25 traders on its own devnet, run in a
temporary working directory so the demo's SQLite file lands there."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from cli.serve import demo_config
from devnet.demo import Script, run_demo
from tests.api_helpers import ServeProcess
from tests.monitor_helpers import write_toml

pytestmark = [pytest.mark.chain, pytest.mark.slow]

SUMMARY_KEYS = {
    "accounts", "accounts_by_protocol", "liquidations_by_protocol", "warned_before_by_protocol",
    "steps", "blocks", "liquidations", "warned_before", "warned_before_liquidatable",
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
    script = Script(gmx_traders=20, hl_traders=5, gtrade_traders=10, crash_steps=30,
                    recover_steps=8)  # fmt: skip
    summary = run_demo(Console(file=out), as_json=True, script=script)

    assert json.loads(out.getvalue()) == summary
    assert set(summary) == SUMMARY_KEYS
    by_protocol = summary["accounts_by_protocol"]
    # HL traders: one cross and one isolated account; gTrade traders one or two trades each.
    assert by_protocol["gmx_v2"] == 20
    assert by_protocol["hyperliquid"] == 5 * 2
    assert 10 <= by_protocol["gtrade"] <= 20
    assert summary["accounts"] == sum(by_protocol.values())
    assert summary["steps"] == 30 + 8
    assert summary["liquidations"] > 0
    assert summary["warned_before"] == summary["liquidations"]
    assert summary["liquidations_by_protocol"]["gtrade"] > 0  # on lookback lows and highs
    assert summary["warned_before_by_protocol"] == summary["liquidations_by_protocol"]
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


def test_demo_serve_checks_its_port_before_the_demo(tmp_path: Path) -> None:

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "demo", "--serve", "--port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "perpwatch.db").exists()  # nothing ran


def test_the_demos_database_is_served_with_open_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.chdir(tmp_path)
    script = Script(gmx_traders=6, hl_traders=2, crash_steps=12, recover_steps=2)
    summary = run_demo(Console(file=io.StringIO()), as_json=True, script=script)
    cfg = demo_config(f"sqlite:///{tmp_path / 'perpwatch.db'}", token=None)
    with ServeProcess(write_toml(cfg, tmp_path / "serve.toml")) as server:
        page = httpx.get(server.url + "/api/accounts", params={"limit": 1000}).json()  # no token
        assert page["total"] == summary["accounts"] - summary["liquidations"]
        primary = httpx.get(server.url + "/api/alerts", params={"lens": ""}).json()
        assert primary["total"] == summary["alerts"]  # the config's thresholds
        every = httpx.get(server.url + "/api/alerts").json()
        assert every["total"] >= primary["total"]  # and the chats' own, where they differ
        assert "perpwatch" in httpx.get(server.url + "/").text
