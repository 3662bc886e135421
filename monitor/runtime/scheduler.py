"""Production scheduling with APScheduler 3 (every apscheduler import lives here).

    await run_until_stopped(monitor, stop)     # one tick job per chain, delivery, status, WAL

Each chain's head is polled around when its next block is due (``monitor.runtime.head_pacing``)
and the chain ticked as soon as it moved (``Monitor.tick_when_moved``), and the outbox drained
every second. ``max_instances=1`` and coalescing mean a slow tick is never run twice at once
nor queued up: the next run simply starts late. SIGINT/SIGTERM set ``stop``; running jobs
finish before the function returns.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from indexer.errors import PerpwatchError
from monitor.runtime.head_pacing import poll_step_s
from monitor.runtime.service import Monitor

log = logging.getLogger("perpwatch.scheduler")

DELIVERY_INTERVAL_S = 1.0
STATUS_INTERVAL_S = 60.0
"""How often ``run`` logs its one-line status (chains' last ticks, deliveries pending)."""
CHECKPOINT_INTERVAL_S = 5.0
"""How often ``run`` checkpoints an SQLite database's write-ahead log (``Monitor.checkpoint``),
so that no tick's commit has to."""


class _Guarded:
    """A job that logs its failures (the scheduler keeps going) and counts running instances.

    A failure perpwatch raises on purpose (a database locked past the wait) says what
    happened in its message: one line. Anything else is a bug: its traceback."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]]) -> None:
        self.name, self.job, self.running = name, job, 0

    async def __call__(self) -> None:
        self.running += 1
        try:
            await self.job()
        except PerpwatchError as exc:
            log.error("job %s failed: %s; it runs again at its next interval", self.name, exc)
        except Exception:
            log.exception("job %s failed; it runs again at its next interval", self.name)
        finally:
            self.running -= 1


def build_scheduler(monitor: Monitor) -> tuple[AsyncIOScheduler, list[_Guarded]]:
    """A scheduler with a tick job per chain, delivery, the status line and (SQLite) the
    checkpoint job, not yet started."""
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    jobs: list[_Guarded] = []
    start = datetime.now(UTC)

    def every(seconds: float, name: str, job: Callable[[], Awaitable[object]], *,
              first: datetime = start) -> None:  # fmt: skip
        guarded = _Guarded(name, job)
        # The bound coroutine method, not the instance: APScheduler awaits a job only if it is
        # a coroutine function, and runs anything else (an object with an async __call__ too)
        # in a thread, where the coroutine is created and never awaited.
        scheduler.add_job(
            guarded.__call__, "interval", seconds=seconds, id=name, next_run_time=first
        )
        jobs.append(guarded)

    for group in monitor.groups:
        tick = functools.partial(monitor.tick_when_moved, group)
        every(poll_step_s(group.chain.block_time), f"tick:{group.chain.name}", tick)
    every(DELIVERY_INTERVAL_S, "deliver", monitor.deliver)
    every(STATUS_INTERVAL_S, "status", functools.partial(_log_status, monitor),
          first=start + timedelta(seconds=STATUS_INTERVAL_S))  # fmt: skip
    if monitor.engine.dialect.name == "sqlite":
        every(CHECKPOINT_INTERVAL_S, "checkpoint", monitor.checkpoint,
              first=start + timedelta(seconds=CHECKPOINT_INTERVAL_S))  # fmt: skip
    return scheduler, jobs


async def _log_status(monitor: Monitor) -> None:
    log.info("%s", await monitor.status_line())


async def run_until_stopped(monitor: Monitor, stop: asyncio.Event) -> None:
    """Run the monitor's jobs until ``stop`` is set, then let running jobs finish."""
    scheduler, jobs = build_scheduler(monitor)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        while any(job.running for job in jobs):
            await asyncio.sleep(0.05)
