"""The head is polled around when the next block is due (``monitor.runtime.head_pacing``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.runtime.head_pacing import (
    LEAD_STEPS,
    MIN_STEP_S,
    PACE_SIGHTINGS,
    SLOW_POLLS_PER_BLOCK,
    STEPS_PER_BLOCK,
    HeadPacer,
)


def follow(pacer: HeadPacer, arrivals: list[float], until: float) -> list[tuple[float, int]]:
    """Run ``pacer`` as the tick job does (asked every step) against blocks that arrive at
    ``arrivals``; the (time, head) of every poll made."""
    polls: list[tuple[float, int]] = []
    for i in range(round(until / pacer.step_s)):
        now = i * pacer.step_s
        if pacer.due(now):
            head = sum(a <= now for a in arrivals)
            pacer.saw(head, now)
            polls.append((now, head))
    return polls


def seen_late(polls: list[tuple[float, int]], arrivals: list[float]) -> list[float]:
    """Per block, how long after its arrival a poll first saw it."""
    first: dict[int, float] = {}
    for now, head in polls:
        first.setdefault(head, now)
    return [first[k + 1] - a for k, a in enumerate(arrivals) if k + 1 in first]


def test_steady_blocks_are_seen_within_a_step_at_about_three_polls_each() -> None:
    pacer = HeadPacer(block_time_s=1.0)
    arrivals = [0.43 + k for k in range(60)]
    polls = follow(pacer, arrivals, until=60.0)
    late = seen_late(polls, arrivals)
    assert len(late) == 60
    # the first block is seen by the start-up polls; once locked on, within one step
    assert max(late[2:]) <= pacer.step_s + 1e-9
    per_block = len(polls) / 60
    assert per_block <= LEAD_STEPS + 2  # the old even polling made four per block
    assert per_block >= 2


def test_a_head_seen_after_a_gap_is_taken_as_early_as_it_could_have_come() -> None:
    """A head first seen long after its block (a tick that read it itself) may have come any
    time since the last poll: taken as early as that, the next block's polls start early and
    see it within a step, where taking it as late as seen would cost a block's polls each."""
    pacer = HeadPacer(block_time_s=1.0)
    pacer.saw(0, 0.0)
    pacer.saw(1, 0.6)  # block 1 came at 0.1, half a block before it was seen
    arrivals = [0.1 + k for k in range(10)]
    polls = follow(pacer, arrivals, until=10.0)
    late = seen_late(polls[1:], arrivals)
    assert max(late[1:]) <= pacer.step_s + 1e-9


def test_a_stalled_chain_falls_back_to_a_few_polls_per_block() -> None:
    pacer = HeadPacer(block_time_s=1.0)
    polls = follow(pacer, [0.5], until=12.0)
    # polled finely for a block time after the next block was due, then slowly
    late = [t for t, _ in polls if t > 3.0]
    assert len(late) == pytest.approx(9 * SLOW_POLLS_PER_BLOCK, abs=1)
    window = [t for t, _ in polls if 1.5 - LEAD_STEPS * pacer.step_s <= t <= 2.5]
    assert len(window) >= STEPS_PER_BLOCK


def test_fast_chains_are_not_polled_closer_than_the_floor() -> None:
    assert HeadPacer(block_time_s=2.0).step_s == pytest.approx(2.0 / STEPS_PER_BLOCK)
    assert HeadPacer(block_time_s=0.25).step_s == pytest.approx(MIN_STEP_S)


def test_nothing_is_polled_before_a_block_can_be_due() -> None:
    pacer = HeadPacer(block_time_s=2.0)
    assert pacer.due(0.0)  # nothing seen yet
    pacer.saw(6, 9.9)
    assert pacer.due(9.95)  # a first sighting: the next block may come at any time
    pacer.saw(7, 10.0)  # seen a step after the last poll: it came at 10.0
    assert not pacer.due(10.0 + 2.0 - (LEAD_STEPS + 1) * pacer.step_s)
    assert pacer.due(10.0 + 2.0 - LEAD_STEPS * pacer.step_s)
    pacer.saw(7, 11.9)
    assert pacer.due(12.05)  # the same head: still polled while the block is due


@given(
    block_time=st.sampled_from([0.25, 1.0, 2.0]),
    offset=st.floats(min_value=0.0, max_value=0.99),
    jitter=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=20, max_size=20),
)
def test_a_block_is_never_missed_for_long(
    block_time: float, offset: float, jitter: list[float]
) -> None:
    """Blocks that come up to a twentieth of a block time early or late are each seen within
    two steps once the pacer has locked on, whatever their phase."""
    pacer = HeadPacer(block_time_s=block_time)
    arrivals = [(offset + k + 1 + j) * block_time for k, j in enumerate(jitter)]
    polls = follow(pacer, arrivals, until=(len(arrivals) + 2) * block_time)
    late = seen_late(polls, arrivals)
    assert len(late) == len(arrivals)
    assert max(late[3:]) <= 2 * pacer.step_s + 1e-9


@pytest.mark.parametrize(
    ("configured_s", "actual_s", "mismatch"),
    [(1.0, 1.0, False), (1.0, 1.3, False), (2.0, 0.25, True), (1.0, 2.0, True)],
)
def test_the_chains_own_block_time_is_measured(
    configured_s: float, actual_s: float, mismatch: bool
) -> None:
    pacer = HeadPacer(block_time_s=configured_s)
    # long enough for PACE_SIGHTINGS new heads whichever paces the polls
    until = 2 * PACE_SIGHTINGS * max(configured_s, actual_s)
    arrivals = [0.3 + k * actual_s for k in range(round(until / actual_s))]
    follow(pacer, arrivals, until=until)
    assert pacer.observed_s == pytest.approx(actual_s, rel=0.1)
    assert (pacer.block_time_mismatch() is not None) is mismatch


def test_no_measure_before_enough_heads_or_after_the_head_went_back() -> None:
    pacer = HeadPacer(block_time_s=1.0)
    for k in range(PACE_SIGHTINGS - 1):
        pacer.saw(k, float(k))
    assert pacer.observed_s is None
    pacer.saw(PACE_SIGHTINGS, float(PACE_SIGHTINGS))
    assert pacer.observed_s is not None
    pacer.saw(3, 30.0)  # a reorg or a node restarted from an old state
    assert pacer.observed_s is None
    assert pacer.block_time_mismatch() is None


def test_a_crash_of_slow_blocks_is_not_taken_for_the_chains_pace() -> None:
    """A devnet building thousands of liquidations took 1.55 s a block over 20 blocks, then
    caught up (its blocks are due at a fixed rate): no mismatch at any point."""
    arrivals, t = [], 0.4
    for gap in [1.0] * 70 + [1.55] * 25 + [0.45] * 30 + [1.0] * 40:
        arrivals.append(t)
        t += gap
    pacer = HeadPacer(block_time_s=1.0)
    flagged = []
    for i in range(round(t / pacer.step_s)):
        now = i * pacer.step_s
        if pacer.due(now):
            pacer.saw(sum(a <= now for a in arrivals), now)
            flagged.append(pacer.block_time_mismatch() is not None)
    assert pacer.observed_s == pytest.approx(1.0, rel=0.1)
    assert not any(flagged)
