"""The steady screen's per-account inputs: ladder ranks of stored levels, and each account's
trigger bounds from its policy."""

from __future__ import annotations

import numpy as np

from indexer.config.sections import Thresholds
from monitor.alerts.levels import Level
from monitor.alerts.policy import LIQUIDATABLE_AT, Policy
from monitor.alerts.rules import AlertState
from monitor.alerts.screen import NOT_ON_LADDER, LevelBounds, ladder_ranks


def test_ranks_follow_the_ladder_and_leave_everything_else_off_it() -> None:
    levels = {1: Level.OK, 2: Level.WARNING, 3: Level.CRITICAL, 4: Level.LIQUIDATABLE,
              5: Level.UNKNOWN, 6: Level.LIQUIDATED}  # fmt: skip
    states = {i: AlertState(level) for i, level in levels.items()}
    ranks = ladder_ranks(states, [4, 3, 2, 1, 5, 6, 7])
    assert ranks.tolist() == [3, 2, 1, 0, NOT_ON_LADDER, NOT_ON_LADDER, NOT_ON_LADDER]


def test_bounds_hold_each_accounts_own_thresholds() -> None:
    mild = Thresholds(warning=1.6, critical=1.2, warning_distance_pct=12.0,
                      critical_distance_pct=4.0, warning_sigma=3.0, critical_sigma=1.5,
                      clear_margin=0.1)  # fmt: skip
    plain = Thresholds()
    bounds = LevelBounds.of([Policy(mild), Policy(plain), Policy(mild)])
    assert bounds.health.tolist()[0] == [1.6, 1.2, LIQUIDATABLE_AT]
    assert bounds.distance_pct.tolist()[0] == [12.0, 4.0, 0.0]
    assert bounds.sigma.tolist()[0] == [3.0, 1.5, 0.0]
    assert bounds.health.tolist()[1] == [plain.warning, plain.critical, LIQUIDATABLE_AT]
    assert bounds.sigma.tolist()[1] == [plain.warning_sigma, plain.critical_sigma, 0.0]
    assert np.allclose(bounds.clear, [1.1, 1.0 + plain.clear_margin, 1.1])
    assert bounds.health.shape == bounds.distance_pct.shape == (3, 3)
