"""The whole-book re-read, spread over its period: a slice per tick instead of all at once.

    rolling = RollingRefresh(period_s=60.0, max_per_s=250.0)
    owners = rolling.take(now, load=lambda: open_owners_sorted())   # this tick's slice

Fees and funding accrue every second without an event, so every open owner is re-read once per
period to bound that drift. Reading them all on one tick made that tick as slow as the book is
large (minutes for a whole protocol), stalling alerts behind it; reading the share of the book
that the elapsed part of the period calls for keeps every tick's cost flat. A fixed period
still makes that share grow with the book, so ``max_per_s`` caps it: a cycle over more owners
than ``period_s · max_per_s`` lasts ``len(owners) / max_per_s`` instead (the drift bound grows
with the book, the cost per tick does not). Pure: the caller passes the time and the loader.

Most of a book is far from any warning, and drift that slow cannot bring it there for many
minutes, so :class:`TieredRefresh` re-reads those owners ``COLD_PERIOD_FACTOR`` times less often
than the owners of an account near a warning (``monitor.alerts.screen.far_from_warning``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

COLD_MARGIN = 1.25
"""An account is cold when no trigger of it would fire even at 1.25 times its threshold.
Borrowing and funding take well under 1 % of a position's collateral in ten minutes even at
100x, far from the quarter of a threshold's health this leaves."""
COLD_PERIOD_FACTOR = 10
"""Cold owners are re-read once per this many periods (ten minutes at the default 60 s)."""


@dataclass
class RollingRefresh:
    """One cycle over a snapshot of the owners, taken in order, each exactly once per cycle.

    A cycle starts with a fresh snapshot from ``load`` once the previous one is done and its
    cycle is over; by :attr:`cycle_s` after its start every owner of the snapshot was returned.
    """

    period_s: float
    max_per_s: float = math.inf
    owners: tuple[str, ...] = ()
    done: int = 0
    started: float = -math.inf

    @property
    def cycle_s(self) -> float:
        """How long the current cycle lasts: ``period_s``, or longer when the snapshot holds
        more than ``max_per_s`` owners per second of it."""
        return max(self.period_s, len(self.owners) / self.max_per_s)

    def take(self, now: float, load: Callable[[], Sequence[str]]) -> list[str]:
        """The owners due at ``now``: as many of the snapshot as the elapsed share of the
        cycle calls for (rounded down), less those already returned."""
        if self.done >= len(self.owners) and now - self.started >= self.cycle_s:
            self.owners, self.done, self.started = tuple(load()), 0, now
        cycle_s, size = self.cycle_s, len(self.owners)
        # The count times the elapsed time, then divided: with the share computed first, a
        # product like 100 * (2.9999999999999996 / 60) rounds up to 5 and takes one too many.
        target = (
            size if cycle_s <= 0 else min(size, math.floor(size * (now - self.started) / cycle_s))
        )
        due = self.owners[self.done : target]
        self.done = max(self.done, target)
        return list(due)


@dataclass
class TieredRefresh:
    """Two :class:`RollingRefresh` cycles over one book: the ``warm`` owners (given at each
    take; those with an account near a warning) once per ``period_s``, the rest once per
    ``COLD_PERIOD_FACTOR · period_s``. Each cycle snapshots its owners when it starts, so an
    owner that turns warm is re-read at the latest one warm cycle later."""

    period_s: float
    max_per_s: float = math.inf
    warm_cycle: RollingRefresh = field(init=False)
    cold_cycle: RollingRefresh = field(init=False)

    def __post_init__(self) -> None:
        self.warm_cycle = RollingRefresh(self.period_s, self.max_per_s)
        self.cold_cycle = RollingRefresh(self.period_s * COLD_PERIOD_FACTOR, self.max_per_s)

    def take(
        self, now: float, load: Callable[[], Sequence[str]], warm: Collection[str]
    ) -> list[str]:
        """The owners due at ``now`` in either cycle (``load`` is called at most once)."""
        loaded: list[Sequence[str]] = []

        def owners() -> Sequence[str]:
            if not loaded:
                loaded.append(load())
            return loaded[0]

        due = self.warm_cycle.take(now, lambda: [o for o in owners() if o in warm])
        return due + self.cold_cycle.take(now, lambda: [o for o in owners() if o not in warm])
