"""Full garbage collections between ticks, not inside them.

    pacing = GcPacing.attach(monitor)   # the automatic full collection off; after each tick
    ...                                 # of a chain, maybe one (GcPacing.after_tick)
    pacing.uninstall()

CPython's cyclic collector examines its oldest generation whenever enough long-lived objects
have piled up, from whatever allocation tips it over, which in a monitor is mostly inside a
tick. With a 20,000-account book it did so every ~10 s and each took 150-280 ms (measured in
``bench.live``: 23 full collections in about four minutes, 4.35 s in all), added to the tick
it landed in. Here the automatic full collection is off, and :meth:`GcPacing.after_tick` runs
one after a tick that leaves room for it before the chain's next block, at most every
``every_s``; when no tick leaves room, one runs anyway once ``at_most_s`` has passed, so cyclic
garbage is never kept for long. The young generations are collected as before (milliseconds).

On CPython 3.11-3.13 the third threshold counts young collections before a full one; raising it
out of reach is what turns the automatic full collection off.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.runtime.service import Monitor

NEVER = 1 << 30
"""A third threshold no count of young collections reaches."""


class GcPacing:
    """When full collections run: after ticks with room for one (see the module doc)."""

    def __init__(
        self,
        block_time_s: Mapping[str, float],
        *,
        every_s: float = 10.0,
        at_most_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], object] = gc.collect,
    ) -> None:
        self.block_time_s = dict(block_time_s)
        self.every_s, self.at_most_s = every_s, at_most_s
        self.clock, self.collect = clock, collect
        self.last_at = clock()
        self.last_s = 0.0  # how long the last one took: the room the next one needs
        self.runs = 0
        self._saved: tuple[int, int, int] | None = None

    @classmethod
    def attach(cls, monitor: Monitor) -> GcPacing:
        """Installed, and listening to ``monitor``'s ticks (as ``perpwatch run`` does)."""
        pacing = cls({g.chain.name: g.chain.block_time for g in monitor.groups})
        pacing.install()
        monitor.tick_listeners.append(pacing.after_tick)
        return pacing

    def install(self) -> None:
        """Turn CPython's automatic full collection off (until :meth:`uninstall`)."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, NEVER)

    def uninstall(self) -> None:
        """Restore the thresholds :meth:`install` found."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def after_tick(self, chain: str, _summary: object, seconds: float) -> None:
        """A tick listener (``Monitor.tick_listeners``): run a full collection now if one is
        due and this tick left room for it before the chain's next block, or if one is
        overdue."""
        now = self.clock()
        since = now - self.last_at
        room = self.block_time_s.get(chain, 0.0) - seconds
        if (since >= self.every_s and room >= self.last_s) or since >= self.at_most_s:
            started = time.perf_counter()
            self.collect(2)
            self.last_s = time.perf_counter() - started
            self.last_at, self.runs = self.clock(), self.runs + 1
