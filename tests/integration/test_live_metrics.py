"""bench.live's liquidation tally: a liquidation that ended an account counts as alerted only
by a whole ``liquidated`` alert, not by the alert of an earlier partial one."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bench.live_metrics import AlertFact, liquidation_metrics
from monitor.alerts.levels import Level

REF = "0x" + "77" * 20 + ":cross:0"


def test_a_partial_liquidation_alert_does_not_stand_for_the_whole_one(engine: Engine) -> None:
    warned = AlertFact(1, REF, Level.CRITICAL, 1, 100)
    partial = AlertFact(1, REF, Level.LIQUIDATED, 1, 101, partial=True)
    whole = AlertFact(1, REF, Level.LIQUIDATED, 2, 103)
    ended = [(REF, 102)]
    missed = liquidation_metrics(ended, [warned, partial], engine)
    assert (missed["warned_before"], missed["missed_liquidated_alerts_hyperliquid"]) == (1, 1)
    told = liquidation_metrics(ended, [warned, partial, whole], engine)
    assert told["missed_liquidated_alerts_hyperliquid"] == 0
