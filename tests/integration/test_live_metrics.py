"""bench.live's liquidation tally: a liquidation that ended an account counts as alerted only
by a whole ``liquidated`` alert, not by the alert of an earlier partial one."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bench.live_metrics import AlertFact, liquidation_metrics, partial_metrics
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


def test_each_partial_liquidation_is_matched_with_its_own_alert() -> None:
    first = AlertFact(1, REF, Level.LIQUIDATED, 1, 101, partial=True)
    stale = AlertFact(1, REF, Level.LIQUIDATED, 1, 90, partial=True)  # an earlier cut's
    early = AlertFact(1, REF, Level.LIQUIDATED, 1, 99, partial=True)  # anvil's head read
    cuts = [(REF, 100), (REF, 140)]
    assert partial_metrics(cuts, [first]) == {
        "partial_liquidations": 2,
        "partial_liquidations_told": 1,  # one alert tells one cut, not both
    }
    second = AlertFact(1, REF, Level.LIQUIDATED, 2, 141, partial=True)
    assert partial_metrics(cuts, [stale, second, first])["partial_liquidations_told"] == 2
    whole = AlertFact(1, REF, Level.LIQUIDATED, 3, 150)
    assert partial_metrics(cuts, [whole])["partial_liquidations_told"] == 0
    assert partial_metrics(cuts, [early])["partial_liquidations_told"] == 1
