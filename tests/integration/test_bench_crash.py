"""``bench.crash`` on a tiny devnet: the same steps in order for both phases, each tick with
its phases, and the keeper's liquidations seen."""

from __future__ import annotations

import orjson
import pytest

from bench.crash import main
from monitor.runtime.phases import TICK_PHASES

STEPS = ["calm", "calm", "crash", "liquidations", "after", "reconfigured", "reread"]


@pytest.mark.chain
@pytest.mark.slow
def test_bench_crash_ticks_each_step_for_both_phases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--accounts", "10", "--crash-pct", "30", "--json"]) == 0
    summary = orjson.loads(capsys.readouterr().out)
    for ticks in (summary["ticks"], summary["baseline_ticks"]):
        assert [t["step"] for t in ticks] == STEPS
        assert all(set(t["phases_ms"]) == set(TICK_PHASES) for t in ticks)
        assert all(t["ms"] > 0 for t in ticks)
    assert summary["liquidations"] > 0  # a 30 % crash leaves the keeper work to do
    assert summary["baseline_liquidations"] == summary["liquidations"]  # the same world
    crash = summary["ticks"][2]
    assert crash["stepped"] > 0  # the crash moved accounts across their thresholds
    assert summary["crash_tick_ms_ratio"] > 0
