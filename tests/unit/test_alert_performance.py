"""Alert performance against hand-made alert histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.levels import Level
from monitor.analysis.performance import AlertEvent, Liquidation, alert_performance

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_lead_time_missed_and_never_liquidated_by_hand() -> None:
    alerts = [
        # account 1: warning at block 100, critical at 105, liquidated at 110
        AlertEvent(1, 1, Level.WARNING, 1, 100, at(0)),
        AlertEvent(2, 1, Level.CRITICAL, 1, 105, at(12)),
        AlertEvent(3, 1, Level.LIQUIDATED, 1, 110, at(30)),
        # account 2: warned, recovered, never liquidated
        AlertEvent(4, 2, Level.WARNING, 1, 101, at(3)),
        AlertEvent(5, 2, Level.RECOVERED, 1, 120, at(50)),
        # account 3: warned, still open
        AlertEvent(6, 3, Level.CRITICAL, 1, 130, at(60)),
        # account 4: liquidated with no warning; a warning after it does not count
        AlertEvent(7, 4, Level.LIQUIDATED, 1, 140, at(70)),
        AlertEvent(8, 4, Level.WARNING, 2, 150, at(80)),
    ]
    liquidations = [Liquidation(1, 110, at(30)), Liquidation(4, 140, at(70))]
    perf = alert_performance(liquidations, alerts)
    assert perf.liquidations == 2
    assert perf.missed == 1
    first = perf.leads[0]
    assert first.first_warning is not None
    assert first.first_warning.alert_id == 1
    assert (first.lead_blocks, first.lead_s) == (10, 30.0)
    assert perf.leads[1].first_warning is None
    never = [(e.account_id, e.episode, e.recovered) for e in perf.never_liquidated]
    assert never == [(2, 1, True), (3, 1, False), (4, 2, False)]
    assert (perf.recovered_episodes, perf.open_episodes) == (1, 2)
    assert perf.median_lead_blocks == 10


def test_a_second_liquidation_needs_its_own_warning() -> None:
    alerts = [AlertEvent(1, 1, Level.WARNING, 1, 10), AlertEvent(2, 1, Level.LIQUIDATED, 1, 20)]
    perf = alert_performance([Liquidation(1, 20), Liquidation(1, 40)], alerts)
    assert [lead.lead_blocks for lead in perf.leads] == [10, None]
    assert perf.leads[0].lead_s is None  # no times given: no seconds


def test_a_partial_liquidation_is_one_and_its_alert_warns_of_the_next() -> None:
    # An account warned at 10, cut by a fifth at 20 (alert 2; the level alert after it at the
    # same block), then liquidated whole at 25 with no new level alert: warned by the partial.
    alerts = [
        AlertEvent(1, 1, Level.LIQUIDATABLE, 1, 10),
        AlertEvent(2, 1, Level.LIQUIDATED, 1, 20, partial=True),
        AlertEvent(3, 1, Level.LIQUIDATED, 2, 25),
    ]
    perf = alert_performance([Liquidation(1, 25), Liquidation(1, 20, told_by=2)], alerts)
    assert [(lead.liquidation.partial, lead.lead_blocks) for lead in perf.leads] == [
        (True, 10),
        (False, 5),
    ]
    assert [lead.first_warning.alert_id for lead in perf.leads if lead.first_warning] == [1, 2]
    assert (perf.liquidations, perf.partial, perf.missed) == (2, 1, 0)
    assert perf.never_liquidated == ()  # the episode's warning led to the partial


def test_a_warning_after_a_partial_at_its_block_warns_of_the_next_only() -> None:
    alerts = [
        AlertEvent(1, 1, Level.LIQUIDATED, 1, 20, partial=True),
        AlertEvent(2, 1, Level.CRITICAL, 2, 20),
    ]
    perf = alert_performance([Liquidation(1, 20, told_by=1), Liquidation(1, 30)], alerts)
    firsts = [lead.first_warning.alert_id if lead.first_warning else None for lead in perf.leads]
    assert firsts == [None, 1]  # the partial itself was not warned; its alert leads the next
    # An episode's warnings used by nothing would be listed; this one's were used.
    assert perf.never_liquidated == ()


levels = st.sampled_from([Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE, Level.RECOVERED])


@settings(deadline=None)  # a loaded machine is no failure of the code
@given(
    st.lists(st.tuples(st.integers(1, 4), levels, st.integers(1, 3), st.integers(0, 100))),
    st.lists(st.tuples(st.integers(1, 4), st.integers(0, 100))),
)
def test_leads_are_never_negative_and_every_warning_is_counted_once(
    raw_alerts: list[tuple[int, Level, int, int]], raw_liqs: list[tuple[int, int]]
) -> None:
    alerts = [AlertEvent(i, a, lv, ep, b) for i, (a, lv, ep, b) in enumerate(raw_alerts)]
    perf = alert_performance([Liquidation(a, b) for a, b in raw_liqs], alerts)
    assert perf.liquidations == len(raw_liqs)
    for lead in perf.leads:
        assert (lead.first_warning is None) == (lead.lead_blocks is None)
        assert lead.lead_blocks is None or lead.lead_blocks >= 0

    # Reference: a warning leads a liquidation when one of its account's liquidations is at or
    # after its block, with no earlier liquidation of that account at or after its block.
    def leads_one(alert: AlertEvent) -> bool:
        return any(a == alert.account_id and b >= alert.block_number for a, b in raw_liqs)

    warning_episodes = {(a.account_id, a.episode) for a in alerts if a.level is not Level.RECOVERED}
    led = {(a.account_id, a.episode) for a in alerts
           if a.level is not Level.RECOVERED and leads_one(a)}  # fmt: skip
    never = {(e.account_id, e.episode) for e in perf.never_liquidated}
    assert never == warning_episodes - led
