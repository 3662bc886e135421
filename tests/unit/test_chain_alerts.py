"""The per-chain alert state machine (``monitor.alerts.chain``): one outage alert, one recovery,
episodes, and the recovery wait that keeps a flapping chain quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.alerts.chain import (
    ChainDecision,
    ChainLevel,
    ChainPolicy,
    ChainRead,
    ChainState,
    readable,
    step_chain,
    unreadable,
)
from monitor.alerts.levels import Level

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DOWN = unreadable("no RPC URL answered eth_chainId", 120)
UP = readable(130)


def run(
    reads: list[tuple[float, ChainRead]], policy: ChainPolicy, state: ChainState | None = None
) -> tuple[ChainState, list[ChainDecision]]:
    """Step through ``(seconds after T0, read)`` pairs; every alert, in order."""
    state = state or ChainState()
    alerts: list[ChainDecision] = []
    for at_s, read in reads:
        state, new = step_chain(state, read, policy, T0 + timedelta(seconds=at_s))
        alerts += new
    return state, alerts


def test_the_first_failed_tick_alerts_once_and_staying_down_is_silent() -> None:
    state, alerts = run([(0, UP), (10, DOWN), (20, DOWN), (30, DOWN)], ChainPolicy())
    assert [(a.level, a.episode, a.reason, a.since) for a in alerts] == [
        (Level.UNKNOWN, 1, "no RPC URL answered eth_chainId", T0 + timedelta(seconds=10))
    ]
    assert state.level is ChainLevel.OUTAGE
    assert state.unreadable


def test_recovery_waits_for_recovery_after_s_then_closes_the_episode() -> None:
    policy = ChainPolicy(recovery_after_s=60)
    state, alerts = run([(0, DOWN), (30, UP), (60, UP)], policy)
    assert [a.level for a in alerts] == [Level.UNKNOWN]  # readable for 30 s only
    assert state.level is ChainLevel.OUTAGE
    assert not state.unreadable
    state, more = run([(90, UP)], policy, state)
    assert [(a.level, a.episode, a.reason, a.outage_s) for a in more] == [
        (Level.RECOVERED, 1, "readable again at block 130", 90.0)
    ]
    assert state == ChainState(episode=2, since=T0 + timedelta(seconds=90))


def test_a_second_outage_is_a_new_episode_and_alerts_again() -> None:
    policy = ChainPolicy(recovery_after_s=0)
    _, alerts = run([(0, DOWN), (10, UP), (20, DOWN), (30, UP)], policy)
    assert [(a.level, a.episode) for a in alerts] == [
        (Level.UNKNOWN, 1), (Level.RECOVERED, 1), (Level.UNKNOWN, 2), (Level.RECOVERED, 2),
    ]  # fmt: skip


def test_a_flapping_chain_gives_one_outage_and_one_recovery() -> None:
    policy = ChainPolicy(recovery_after_s=60)
    flaps = [(t, DOWN if t % 20 == 0 else UP) for t in range(0, 600, 10)]
    state, alerts = run([*flaps, (700, UP), (800, UP)], policy)
    assert [(a.level, a.episode) for a in alerts] == [(Level.UNKNOWN, 1), (Level.RECOVERED, 1)]
    assert alerts[1].outage_s == 700.0  # last failure at 580 s, readable from 590 s on
    assert state.level is ChainLevel.OK


def test_outage_after_s_lets_a_short_failure_pass_silently() -> None:
    policy = ChainPolicy(outage_after_s=30)
    state, alerts = run([(0, DOWN), (20, DOWN), (25, UP)], policy)
    assert alerts == []
    assert state == ChainState()
    _, alerts = run([(100, DOWN), (120, DOWN), (130, DOWN)], policy, state)
    assert [(a.level, a.since) for a in alerts] == [(Level.UNKNOWN, T0 + timedelta(seconds=100))]


def test_the_state_a_restart_reloads_continues_the_outage_without_a_new_alert() -> None:
    state, alerts = run([(0, DOWN)], ChainPolicy(recovery_after_s=0))
    reloaded = ChainState(**{f: getattr(state, f) for f in ChainState.__slots__})
    _, later = run([(10, DOWN), (20, UP)], ChainPolicy(recovery_after_s=0), reloaded)
    assert [a.level for a in alerts + later] == [Level.UNKNOWN, Level.RECOVERED]
