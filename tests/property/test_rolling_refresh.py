"""The whole-book re-read spread over its period: each owner once per cycle, in order, and
never more of the book than the elapsed share of the period."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from monitor.runtime.rolling import RollingRefresh, TieredRefresh

PERIOD_S = 60.0


@given(
    owners=st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=300).map(sorted),
    steps=st.lists(st.floats(min_value=0.01, max_value=7.0), min_size=1, max_size=200),
)
def test_each_owner_once_per_cycle_and_no_faster_than_the_period(
    owners: list[str], steps: list[float]
) -> None:
    rolling, now, taken = RollingRefresh(PERIOD_S), 0.0, []
    rolling.take(now, lambda: owners)  # the cycle starts: nothing is due yet
    for step in steps:
        now += step
        taken += rolling.take(now, lambda: owners)
        if now < PERIOD_S:  # the first cycle, still running
            assert len(taken) <= math.floor(len(owners) * now / PERIOD_S)
    first_cycle = taken[: len(owners)]
    assert first_cycle == owners[: len(first_cycle)]  # in order, none twice
    if now >= PERIOD_S:
        assert first_cycle == owners  # done within its period


def test_a_new_cycle_takes_a_fresh_snapshot_once_the_period_is_over() -> None:
    rolling, loads = RollingRefresh(PERIOD_S), []

    def load() -> list[str]:
        loads.append(1)
        return ["a", "b", "c"] if len(loads) == 1 else ["a", "d"]

    assert rolling.take(0.0, load) == []
    assert rolling.take(20.0, load) == ["a"]
    assert rolling.take(60.0, load) == ["b", "c"]
    assert rolling.take(61.0, load) == []  # a new cycle from the new snapshot starts
    assert rolling.take(121.0, load) == ["a", "d"]
    assert len(loads) == 2


def test_a_zero_period_reads_everything_every_time() -> None:
    rolling = RollingRefresh(0.0)
    assert rolling.take(0.0, lambda: ["a", "b"]) == ["a", "b"]
    assert rolling.take(0.0, lambda: ["a", "b"]) == ["a", "b"]


@given(
    size=st.integers(min_value=0, max_value=5000),
    max_per_s=st.floats(min_value=1.0, max_value=100.0),
    steps=st.lists(st.floats(min_value=0.01, max_value=3.0), min_size=1, max_size=200),
)
@example(size=100, max_per_s=2.0, steps=[2.9999999999999996])  # a share rounded up took one more
def test_a_rate_cap_keeps_each_take_flat_and_stretches_the_cycle(
    size: int, max_per_s: float, steps: list[float]
) -> None:
    owners = [f"{i:05d}" for i in range(size)]
    rolling, now, taken = RollingRefresh(PERIOD_S, max_per_s=max_per_s), 0.0, []
    rolling.take(now, lambda: owners)
    cycle_s = max(PERIOD_S, size / max_per_s)
    assert rolling.cycle_s == cycle_s
    for step in steps:
        now += step
        due = rolling.take(now, lambda: owners)
        # never more than the cap allows for the time since the last take (plus rounding)
        assert len(due) <= max_per_s * step + 1
        taken += due
    first_cycle = taken[:size]
    assert first_cycle == owners[: len(first_cycle)]
    if now >= cycle_s:
        assert first_cycle == owners  # done within the stretched cycle
    else:
        assert len(first_cycle) <= math.floor(size * now / cycle_s)


def test_warm_owners_are_re_read_each_period_and_the_rest_ten_times_less_often() -> None:
    book = [f"o{i:03}" for i in range(100)]
    warm = frozenset(book[:10])
    tiers, loads, taken = TieredRefresh(PERIOD_S), [], []

    def load() -> list[str]:
        loads.append(1)
        return book

    for second in range(0, 601):  # a tick a second; a cycle restarts on the tick after its end
        taken += tiers.take(float(second), load, warm)
    counts = {owner: taken.count(owner) for owner in book}
    assert {counts[o] for o in warm} == {9, 10}  # a cycle every 61 s, the tenth under way
    assert {counts[o] for o in book if o not in warm} == {1}  # one cycle of 600 s
    assert len(loads) == 10  # both cycles started from one load, then one per warm cycle


@given(st.sets(st.integers(0, 99)), st.lists(st.floats(0.01, 30.0), min_size=1, max_size=80))
def test_the_tiers_take_every_owner_once_before_either_cycle_ends(
    warm_ids: set[int], steps: list[float]
) -> None:
    book = [f"o{i:03}" for i in range(100)]
    warm = frozenset(book[i] for i in warm_ids)
    tiers, now, taken = TieredRefresh(PERIOD_S), 0.0, []
    tiers.take(now, lambda: book, warm)
    for step in steps:
        now += step
        if now >= PERIOD_S:
            break
        taken += tiers.take(now, lambda: book, warm)
    assert len(taken) == len(set(taken))  # none twice within the first warm period
    assert {o for o in taken if o not in warm} <= set(book) - warm
