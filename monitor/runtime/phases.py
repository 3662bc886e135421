"""Where a tick's time goes: wall seconds per phase, for operators and the live benchmark.

phases = Phases()
sync = await runtime.sync()
phases.mark("sync")                  # the time since the previous mark (or the start)
phases.seconds                       # {"sync": 0.41, …}, in the order marked
"""

from __future__ import annotations

import time
from collections.abc import Callable

TICK_PHASES = ("scan", "read", "value", "judge", "latest", "rules", "record")
"""The phases of ``Monitor.tick``, in order: index new logs; re-read changed owners and read
prices; update and value the in-memory book; screen it and build observations; write the
latest view; the chain's and the accounts' alert rules; the heartbeat row."""


class Phases:
    """Wall time between marks; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._last = clock()
        self.seconds: dict[str, float] = {}

    def mark(self, name: str, *, split: tuple[str, float] | None = None) -> None:
        """End the phase ``name``. ``split``: (an earlier part's name, its seconds), taken out
        of this phase (the scan inside ``runtime.sync()``, which times it itself)."""
        now = self._clock()
        took = now - self._last
        if split is not None:
            part, part_s = split
            part_s = min(max(part_s, 0.0), took)
            self.seconds[part] = self.seconds.get(part, 0.0) + part_s
            took -= part_s
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self._last = now
