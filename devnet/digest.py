"""The demo's compact alert output: one digest line per price step instead of every alert.

    digest = AlertDigest()                    # a console notifier that only counts
    monitor = Monitor(cfg, engine, {"console": digest, ...})
    ...                                       # a price step, monitor.deliver()
    if line := digest.flush():
        console.print(f"step 3/64 (-0.75 %): {line}")   # "12 alerts: 9 warning, 3 critical"

``perpwatch demo --verbose`` uses the real console notifier instead and prints every alert.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Self

from indexer.config.loader import Config
from monitor.delivery.outbox import Delivery


class AlertDigest:
    """A notifier for the ``console`` channel that counts alerts by level and prints nothing."""

    def __init__(self) -> None:
        self._levels: Counter[str] = Counter()
        self.total = 0

    @classmethod
    def from_config(cls, config: Config, **io: Any) -> Self:
        return cls()

    async def send(self, delivery: Delivery) -> None:
        self._levels[delivery.level.value] += 1
        self.total += 1

    def flush(self) -> str | None:
        """The alerts counted since the last flush as one line (None if there were none)."""
        if not self._levels:
            return None
        count = sum(self._levels.values())
        parts = ", ".join(f"{n} {level}" for level, n in self._levels.most_common())
        self._levels.clear()
        return f"{count} alert{'s' if count != 1 else ''}: {parts}"
