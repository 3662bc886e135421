"""Where a tick's time goes: wall seconds per phase, for operators and the live benchmark.

phases = Phases()
sync = await runtime.sync()
phases.mark("sync")                  # the time since the previous mark (or the start)
phases.seconds                       # {"sync": 0.41, …}, in the order marked
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

TICK_PHASES = ("behind", "scan", "read", "value", "judge", "rules", "record", "latest")
"""The phases of ``Monitor.tick``, in order: wait for the reads behind the last tick; index
new logs; re-read changed owners and read prices; update and value the in-memory book; screen
it and build observations; the chain's and the accounts' alert rules; the heartbeat row; hand
the latest view's write to a worker thread (the write itself runs behind the tick)."""


class Phases:
    """Wall time between marks; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._last = clock()
        self.seconds: dict[str, float] = {}

    def mark(self, name: str, *, split: Sequence[tuple[str, float]] = ()) -> None:
        """End the phase ``name``. ``split``: (an earlier part's name, its seconds) pairs,
        taken out of this phase in turn (parts of ``runtime.sync()``, which times them
        itself); none is more than what is left."""
        now = self._clock()
        took = now - self._last
        for part, part_s in split:
            part_s = min(max(part_s, 0.0), took)
            self.seconds[part] = self.seconds.get(part, 0.0) + part_s
            took -= part_s
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self._last = now
