"""Full garbage collections run after ticks that leave room for one, or when overdue; never by
CPython's own trigger while installed."""

from __future__ import annotations

import gc

from monitor.runtime.gc_pacing import NEVER, GcPacing


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pacing(clock: Clock, runs: list[int]) -> GcPacing:
    return GcPacing({"fast": 1.0}, every_s=10.0, at_most_s=60.0, clock=clock,
                    collect=runs.append)  # fmt: skip


def test_a_collection_waits_until_due_then_for_a_tick_with_room() -> None:
    clock, runs = Clock(), list[int]()
    pacing = _pacing(clock, runs)
    clock.now = 5.0
    pacing.after_tick("fast", None, 0.2)
    assert runs == []  # not due yet
    clock.now = 12.0
    pacing.after_tick("fast", None, 1.3)  # due, but the tick overran its block
    assert runs == []
    pacing.after_tick("fast", None, 0.4)  # room left before the next block
    assert runs == [2]
    assert pacing.runs == 1


def test_the_next_one_needs_as_much_room_as_the_last_took() -> None:
    clock, runs = Clock(), list[int]()
    pacing = _pacing(clock, runs)
    clock.now = 10.0
    pacing.after_tick("fast", None, 0.1)
    assert pacing.runs == 1
    pacing.last_s = 0.5  # say it took half a second
    clock.now = 21.0
    pacing.after_tick("fast", None, 0.6)  # 0.4 s of room: not enough
    pacing.after_tick("unknown chain", None, 0.0)  # no block time known: no room
    assert pacing.runs == 1
    pacing.after_tick("fast", None, 0.4)
    assert pacing.runs == 2


def test_an_overdue_collection_runs_even_without_room() -> None:
    clock, runs = Clock(), list[int]()
    pacing = _pacing(clock, runs)
    clock.now = 59.0
    pacing.after_tick("fast", None, 5.0)
    assert runs == []
    clock.now = 60.0
    pacing.after_tick("fast", None, 5.0)
    assert runs == [2]


def test_install_turns_the_automatic_full_collection_off_and_uninstall_restores() -> None:
    before = gc.get_threshold()
    pacing = GcPacing({})
    pacing.install()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        pacing.install()  # twice: still restores what was there first
    finally:
        pacing.uninstall()
    assert gc.get_threshold() == before


def _full_collections_while_allocating() -> int:
    """Full collections CPython runs by itself while a large, surviving heap is built."""
    before = gc.get_stats()[2]["collections"]
    survivors: list[list[list[object]]] = [
        [[] for _ in range(4)] for _ in range(max(400_000, len(gc.get_objects())))
    ]
    ran = gc.get_stats()[2]["collections"] - before
    del survivors
    return int(ran)


def test_while_installed_cpython_runs_no_full_collection_on_its_own() -> None:
    assert _full_collections_while_allocating() > 0  # the trigger the pacing turns off
    pacing = GcPacing({})
    pacing.install()
    try:
        assert _full_collections_while_allocating() == 0
    finally:
        pacing.uninstall()
