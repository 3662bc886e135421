"""``bench.health`` on a small book: both paths agree, the views' moves included."""

from __future__ import annotations

from bench.health import run


def test_bench_health_reports_agreeing_paths() -> None:
    out = run(400, seed=3, repeat=1)
    assert out["accounts"] == 400
    assert out["positions"] > 400  # cross accounts hold several markets: joint moves to solve
    assert out["move_pct_mismatches"] == 0
    assert out["max_rel_diff_health"] < 1e-9
    assert out["views_s"] > 0.0
