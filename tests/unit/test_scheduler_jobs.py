"""``perpwatch run``'s jobs: a tick per chain, delivery, the status line, and on SQLite only the
write-ahead log checkpoint."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import cast

import pytest

from indexer.errors import DatabaseBusy
from monitor.runtime.head_pacing import MIN_STEP_S
from monitor.runtime.scheduler import _Guarded, build_scheduler
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


async def _locked() -> None:
    raise DatabaseBusy("database is locked: another process held it for 5 s")


async def _bug() -> None:
    raise KeyError("oops")


def test_a_failure_raised_on_purpose_is_one_line_and_a_bug_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="perpwatch.scheduler")
    asyncio.run(_Guarded("tick:arbitrum", _locked)())
    asyncio.run(_Guarded("deliver", _bug)())
    locked, bug = caplog.records
    assert locked.getMessage() == (
        "job tick:arbitrum failed: database is locked: another process held it for 5 s; "
        "it runs again at its next interval"
    )
    assert locked.exc_info is None
    assert bug.exc_info is not None
    assert bug.exc_info[0] is KeyError
