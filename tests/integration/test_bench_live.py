"""``bench.live`` on a tiny live devnet: every reported key is there, and the invariants that
hold at any size (no liquidation stored as a close, no alert recorded or delivered twice)."""

from __future__ import annotations

import os

import orjson
import pytest

from bench.live import main
from monitor.runtime.phases import TICK_PHASES

KEYS = (
    "accounts", "blocks", "liquidations", "warned_before", "warned_before_liquidatable",
    "recorded_as_closed", "missed_liquidated_alerts", "missed_liquidated_alerts_hyperliquid",
    "duplicate_alerts", "alert_latency_blocks_p50", "alert_latency_blocks_p99",
    "first_alert_lead_blocks_min", "first_alert_lead_blocks_median", "rpc_calls_per_block",
    "baseline_rpc_calls_per_block", "tick_ms_p50", "tick_ms_p99", "peak_rss_mb",
    "liquidations_gtrade", "liquidations_hyperliquid", "slowest_ticks", "tick_phase_ms_p50",
    "tick_phase_ms_p99", "slowest_tick_phases_ms", "market_steps", "market_step_s_max",
    "tick_slowest_request_ms_p50", "tick_slowest_request_ms_p99", "ticks_over_block_time",
    "ticks_over_block_time_by_node", "tick_cpu_ms_p50", "tick_cpu_ms_p99",
    "ticks_cpu_over_block_time", "node_block_ms", "node_cpu_cores", "market_cpu_cores",
    "monitor_tick_cpu_cores", "baseline_node_cpu_cores", "owner_reads",
)  # fmt: skip


@pytest.mark.chain
@pytest.mark.slow
def test_bench_live_reports_its_keys_and_invariants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--accounts", "10", "--minutes", "0.3", "--json"]) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert set(KEYS) <= summary.keys()
    assert summary["accounts"] == 10
    assert summary["blocks"] > 0
    assert summary["market_steps"] > 0
    assert summary["baseline_blocks"] > 0
    assert summary["recorded_as_closed"] == 0
    assert summary["baseline_recorded_as_closed"] == 0
    assert summary["duplicate_alerts"] == 0
    assert summary["missed_liquidated_alerts"] == 0
    assert summary["warned_before"] <= summary["liquidations"]
    assert summary["rpc_calls_per_block"] > 0
    assert set(summary["tick_phase_ms_p50"]) == set(TICK_PHASES)
    assert len(summary["slowest_tick_phases_ms"]) == len(summary["slowest_ticks"])
    # Each slow tick with its longest node request, which is part of it; some tick asked.
    assert all(0 <= node_ms <= ms + 1 for _, ms, node_ms in summary["slowest_ticks"])
    assert summary["tick_slowest_request_ms_p99"] > 0
    assert summary["ticks_over_block_time_by_node"] <= summary["ticks_over_block_time"]
    assert summary["tick_cpu_ms_p50"] > 0  # a tick does work of its own
    assert summary["node_block_ms"] > 0
    # The Hyperliquid wallets came due (poll_s 15 s) within the 18 s the market ran.
    assert set(summary["owner_reads"]) <= {"unchanged", "changed", "in_full"}
    assert sum(summary["owner_reads"].values()) > 0
    # The node mined and answered, the keeper dry-ran, the monitor ticked: each used some CPU,
    # and none more than the machine has.
    cores = os.cpu_count() or 1
    for key in ("node_cpu_cores", "market_cpu_cores", "monitor_tick_cpu_cores"):
        assert 0 < summary[key] <= cores, (key, summary[key])
