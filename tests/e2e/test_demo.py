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
    "accounts", "accounts_by_protocol", "liquidations_by_protocol", "warned_before_by_protocol",
    "steps", "blocks", "liquidations", "warned_before", "warned_before_liquidatable",
    "min_lead_blocks",
    "median_lead_blocks", "alerts", "alerts_sent", "duplicate_alerts", "telegram_messages",
    "median_tick_s", "seconds",
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
    # Every alert went to the console and to the demo chat, and each was recorded as sent.
    assert summary["alerts_sent"] == 2 * summary["alerts"]
    assert (tmp_path / "perpwatch.db").is_file()
