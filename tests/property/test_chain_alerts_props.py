"""Properties of the per-chain alert state machine over random tick sequences (hypothesis):
random reads (readable or not), random gaps between ticks, random policies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.chain import ChainDecision, ChainPolicy, ChainState, readable, step_chain
from monitor.alerts.chain import unreadable as down
from monitor.alerts.levels import Level

T0 = datetime(2026, 1, 1, tzinfo=UTC)

policies = st.builds(
    ChainPolicy,
    outage_after_s=st.sampled_from([0.0, 5.0, 30.0]),
    recovery_after_s=st.sampled_from([0.0, 10.0, 60.0]),
)
ticks = st.lists(st.tuples(st.booleans(), st.integers(1, 40)), max_size=80)  # whole seconds


def run(policy: ChainPolicy, seq: list[tuple[bool, int]]) -> list[tuple[float, ChainDecision]]:
    state, at_s, out = ChainState(), 0.0, []
    for ok, gap_s in seq:
        at_s += gap_s
        read = readable(1) if ok else down("refused")
        state, alerts = step_chain(state, read, policy, T0 + timedelta(seconds=at_s))
        assert state.unreadable is (not ok)  # accounts shown unknown exactly while failing
        out += [(at_s, a) for a in alerts]
    return out


@given(policies, ticks)
def test_alerts_alternate_outage_then_recovery_with_rising_episodes(
    policy: ChainPolicy, seq: list[tuple[bool, int]]
) -> None:
    alerts = [a for _, a in run(policy, seq)]
    expected = [Level.UNKNOWN, Level.RECOVERED] * len(alerts)
    assert [a.level for a in alerts] == expected[: len(alerts)]
    assert [a.episode for a in alerts] == [1 + i // 2 for i in range(len(alerts))]


@given(policies, ticks)
def test_outage_alerts_are_spaced_by_the_policy(
    policy: ChainPolicy, seq: list[tuple[bool, int]]
) -> None:
    outages = [t for t, a in run(policy, seq) if a.level is Level.UNKNOWN]
    # After a recovery the chain must fail again (a tick later at least), so two outage alerts
    # are at least recovery_after_s apart: a flapping chain cannot spam.
    gap = policy.recovery_after_s + policy.outage_after_s
    assert all(b - a >= gap for a, b in itertools.pairwise(outages))


@given(policies, ticks)
def test_an_outage_alert_needs_outage_after_s_of_failures(
    policy: ChainPolicy, seq: list[tuple[bool, int]]
) -> None:
    for at_s, alert in run(policy, seq):
        if alert.level is Level.UNKNOWN:
            assert at_s - (alert.since - T0).total_seconds() >= policy.outage_after_s
        else:
            assert alert.outage_s is not None
            assert alert.outage_s >= policy.recovery_after_s
