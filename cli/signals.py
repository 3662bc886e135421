"""Run a command's event loop so that SIGINT and SIGTERM are honoured within a second.

    value, interrupted = run_interruptible(lambda stop: work(stop))

The first signal sets ``stop`` (long-running loops finish their step and return) and, if the
work has not ended ``GRACE_S`` later, cancels it: a connect or retry loop that is waiting on a
silent node never looks at ``stop``, and cancelling is what ends it at once. A second signal
cancels at once. Cancellation is the expected end here, so it is swallowed, never printed.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

GRACE_S = 0.5
"""Seconds between the stop request and the cancellation of whatever still runs."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_interruptible(
    work: Callable[[asyncio.Event], Awaitable[T]],
    *,
    grace_s: float = GRACE_S,
    on_stop: Callable[[], None] | None = None,
) -> tuple[T | None, bool]:
    """Run ``work(stop)`` in a new event loop: ``(its result, whether a signal came)``.

    The result is None when the work had to be cancelled. ``on_stop`` runs once, when the first
    signal arrives (e.g. to quiet loggers that would report the cancellation).
    """
    return asyncio.run(_supervise(work, grace_s, on_stop))


async def _supervise(
    work: Callable[[asyncio.Event], Awaitable[T]],
    grace_s: float,
    on_stop: Callable[[], None] | None,
) -> tuple[T | None, bool]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task: asyncio.Future[T] = asyncio.ensure_future(work(stop))

    def on_signal() -> None:
        if stop.is_set():
            task.cancel()
            return
        stop.set()
        if on_stop is not None:
            on_stop()
        loop.call_later(grace_s, task.cancel)

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    try:
        return await task, stop.is_set()
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        return None, True
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
