"""When to ask a chain's head next: rarely while its next block cannot be due, often around
when it is.

    pacer = HeadPacer(block_time_s=1.0)
    if pacer.due(now):                 # called every ``pacer.step_s`` by the tick job
        pacer.saw(await runtime.head(), now)

A tick should start as soon as its block exists: on a node that builds blocks at a fixed
rate, every millisecond between a block's arrival and the tick's reads is taken from the
time the tick has before the next block (a devnet's build even stops reads at the newest
block while it runs). Polling the head evenly a few times per block time started ticks up to a
quarter block late (an eighth on average). Blocks come at a steady pace, so once a block
is seen the next one is expected a block time later: no poll before ``LEAD_STEPS`` steps ahead
of then, one every step (:func:`poll_step_s`) from then on, and past a whole block time late
(an irregular or stalled chain) ``SLOW_POLLS_PER_BLOCK`` per block time, as before. A steady
chain costs about three polls per block (four before), one more per step a block comes late
(on the 20,000-account devnet, whose build time varies with its transactions, a tick's
requests rose from 13.7 to 16.6),
and a tick starts within a step of its block. Pure: the caller passes the time.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass, field

STEPS_PER_BLOCK = 20
"""Polls per block time while a block is due: a tick starts within a twentieth of a block time
of its block (50 ms at 1 s blocks)..."""
MIN_STEP_S = 0.025
"""...but polls are never closer than 25 ms (a 0.25 s chain would be asked 80 times a second
while a block is late, for 12 ms sooner ticks)."""
SLOW_POLLS_PER_BLOCK = 4
"""Polls per block time when no block came when due (an irregular or stalled chain)."""
LEAD_STEPS = 2
"""Steps before the expected block at which polling starts: room for a block a little early."""
PACE_SIGHTINGS = 61
"""New heads over which the chain's own block time is measured (:attr:`HeadPacer.observed_s`):
the median of 60 gaps, so that a crash's slow blocks (a devnet building thousands of
liquidations took 1.55 s a block over 20 of them) are not taken for the chain's pace."""
PACE_TOLERANCE = 1.5
"""A measured block time this many times off the configured one is a configuration problem:
polling is paced by the configured one (``block_time_mismatch``)."""


def poll_step_s(block_time_s: float) -> float:
    """How often a chain's tick job runs (:meth:`HeadPacer.due` decides whether it polls)."""
    return max(block_time_s / STEPS_PER_BLOCK, MIN_STEP_S)


@dataclass
class HeadPacer:
    """See the module docstring."""

    block_time_s: float
    head: int = -1
    seen_at: float = -math.inf
    """When ``head`` was first seen (monotonic seconds)."""
    polled_at: float = -math.inf
    """When the head was last asked."""
    sightings: deque[tuple[int, float]] = field(
        default_factory=lambda: deque(maxlen=PACE_SIGHTINGS)
    )
    """The last new heads and when each was first seen (as polled: not dated back like
    ``seen_at``, which would skew the gaps of a chain polled too rarely)."""

    @property
    def step_s(self) -> float:
        """The finest poll spacing (see :func:`poll_step_s`)."""
        return poll_step_s(self.block_time_s)

    @property
    def slow_s(self) -> float:
        """The poll spacing once a block is a block time late."""
        return self.block_time_s / SLOW_POLLS_PER_BLOCK

    def due(self, now: float) -> bool:
        """Whether to ask the head at ``now``."""
        expected = self.seen_at + self.block_time_s
        if now < expected - LEAD_STEPS * self.step_s:
            return False  # the next block cannot be here yet
        if now <= expected + self.block_time_s:
            return True
        return now - self.polled_at >= self.slow_s - 1e-9  # late: back to a few polls per block

    def saw(self, head: int, now: float) -> None:
        """The head as asked at ``now``.

        A new head came after the last poll that did not see it: taken as a step after that
        poll (``now`` itself while polling every step). Seen after a long gap (the first poll,
        a tick that read the head itself), it may have come up to a block time ago; taking
        the earliest time makes the next block's polls start early, and that block is then
        seen within a step (an estimate too late would shrink by only ``LEAD_STEPS`` steps a
        block).
        """
        if head != self.head:
            if head < self.head:  # a reorg to a shorter chain, a node restarted from old state
                self.sightings.clear()
            came = max(self.polled_at + self.step_s, now - self.block_time_s)
            self.head, self.seen_at = head, min(now, came)
            self.sightings.append((head, now))
        self.polled_at = now

    @property
    def observed_s(self) -> float | None:
        """The chain's block time: the median gap per block between the last
        ``PACE_SIGHTINGS`` new heads (None until that many were seen since the start or since
        the head last went back). A head seen blocks at once (after a long tick) counts its
        gap shared among them."""
        if len(self.sightings) < PACE_SIGHTINGS:
            return None
        pairs = itertools.pairwise(self.sightings)
        return statistics.median((t1 - t0) / (h1 - h0) for (h0, t0), (h1, t1) in pairs)

    def block_time_mismatch(self) -> float | None:
        """The measured block time when it is ``PACE_TOLERANCE`` times off the configured one
        (the head is then polled far too often, or ticks come blocks late), else None."""
        observed = self.observed_s
        if observed is None:
            return None
        ratio = observed / self.block_time_s
        return observed if not 1 / PACE_TOLERANCE <= ratio <= PACE_TOLERANCE else None
