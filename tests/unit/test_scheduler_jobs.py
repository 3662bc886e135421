"""``perpwatch run``'s jobs: a tick per chain, delivery, the status line, and on SQLite only the
write-ahead log checkpoint."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from monitor.runtime.head_pacing import MIN_STEP_S
from monitor.runtime.scheduler import build_scheduler
from monitor.runtime.service import Monitor


async def _nothing(*_args: object) -> None:
    return None


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("sqlite", {"tick:arbitrum", "deliver", "status", "checkpoint"}),
        ("postgresql", {"tick:arbitrum", "deliver", "status"}),
    ],
)
def test_jobs_by_database(dialect: str, expected: set[str]) -> None:
    chain = SimpleNamespace(name="arbitrum", block_time=0.25)
    stand_in = SimpleNamespace(
        groups=[SimpleNamespace(chain=chain)],
        engine=SimpleNamespace(dialect=SimpleNamespace(name=dialect)),
        tick_when_moved=_nothing,
        deliver=_nothing,
        checkpoint=_nothing,
    )
    scheduler, jobs = build_scheduler(cast(Monitor, stand_in))
    assert {job.id for job in scheduler.get_jobs()} == expected
    assert {job.name for job in jobs} == expected
    tick = scheduler.get_job("tick:arbitrum")
    # asked every step, polled when a block is due (a tick starts within a step of its block);
    # a twentieth of 0.25 s is closer than the closest polls allowed
    assert tick.trigger.interval.total_seconds() == pytest.approx(MIN_STEP_S)
    status = scheduler.get_job("status")
    assert (status.next_run_time - tick.next_run_time).total_seconds() == pytest.approx(60.0)
