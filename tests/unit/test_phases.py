"""``Phases``: wall time per phase of a tick, from marks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.runtime.phases import Phases


def _clock(*readings: float) -> Iterator[float]:
    return iter(readings)


def test_each_mark_ends_a_phase_and_a_repeated_name_adds_up() -> None:
    readings = _clock(10.0, 10.5, 11.0, 11.25)
    phases = Phases(clock=lambda: next(readings))
    phases.mark("read")
    phases.mark("judge")
    phases.mark("read")
    assert phases.seconds == pytest.approx({"read": 0.75, "judge": 0.5})
    assert list(phases.seconds) == ["read", "judge"]  # in the order first marked


def test_a_split_takes_an_earlier_part_out_of_the_phase() -> None:
    readings = _clock(0.0, 1.0)
    phases = Phases(clock=lambda: next(readings))
    phases.mark("read", split=[("scan", 0.25)])
    assert phases.seconds == pytest.approx({"scan": 0.25, "read": 0.75})


@pytest.mark.parametrize(("part_s", "scan", "read"), [(5.0, 1.0, 0.0), (-1.0, 0.0, 1.0)])
def test_a_split_never_exceeds_the_phase(part_s: float, scan: float, read: float) -> None:
    readings = _clock(0.0, 1.0)
    phases = Phases(clock=lambda: next(readings))
    phases.mark("read", split=[("scan", part_s)])
    assert phases.seconds == pytest.approx({"scan": scan, "read": read})


def test_parts_are_taken_out_in_turn_each_at_most_what_is_left() -> None:
    readings = _clock(0.0, 1.0)
    phases = Phases(clock=lambda: next(readings))
    phases.mark("read", split=[("behind", 0.25), ("scan", 5.0)])
    assert phases.seconds == pytest.approx({"behind": 0.25, "scan": 0.75, "read": 0.0})
