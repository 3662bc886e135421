"""GMX v2's configuration values kept between reads, so that a read asks a market's state
(19 DataStore calls) and not its configuration too (26 more).

The factors a liquidation check reads split into two kinds (``market_reads``). Configuration
(fee, liquidation, impact, borrowing-rate and profit-cap factors, the collateral floor, the
virtual token ids) is written by GMX's ``Config`` contract only, and every write emits
``SetUint``, ``SetBool`` or ``SetBytes32`` through the EventEmitter (its risk-oracle syncer
writes through ``Config.setUint`` too). The adapter scans those events with its positions', so
a write of a value it reads (``market_reads.CONFIG_BASE_KEYS``, matched on the event's base-key
topic) is seen in the range that holds it, and the remembered values are dropped before any
read at or after its block is built. Every ``max_age_s`` they are read
again anyway: a bound on what a future path that writes without an event could hide.

Pure apart from the clock; no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CONFIG_EVENT_NAMES = ("SetUint", "SetBool", "SetBytes32")
"""EventLog1 names of ``Config``'s writes (topic1: the base key)."""

CONFIG_MAX_AGE_S = 60.0
"""Default time after which remembered configuration is read again, events or not."""


@dataclass(frozen=True, slots=True)
class RememberedConfig:
    """Configuration values (the adapter's own order) as read at ``block``, at ``read_at_s``
    on the monotonic clock."""

    block: int
    read_at_s: float
    values: tuple[int, ...]


class ConfigMemory:
    """The newest configuration read, until a configuration event or ``max_age_s`` retires it.

    A read built before a change and answered after it carries the values of its own (older)
    block: :meth:`remember` refuses those, so they cannot stand in for the new ones.
    """

    def __init__(
        self, max_age_s: float = CONFIG_MAX_AGE_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_s, self.monotonic = max_age_s, monotonic
        self._known: RememberedConfig | None = None
        self._changed_at = -1  # the newest block a configuration event was seen in

    def recall(self) -> tuple[int, ...] | None:
        """The remembered values, or None when there are none or they are ``max_age_s`` old."""
        known = self._known
        if known is None or self.monotonic() - known.read_at_s >= self.max_age_s:
            return None
        return known.values

    def remember(self, block: int, values: tuple[int, ...]) -> None:
        """Values read at ``block``; kept unless a change was seen after it, or newer ones are
        known."""
        if block < self._changed_at:
            return
        known = self._known
        if known is None or known.block <= block:
            self._known = RememberedConfig(block, self.monotonic(), values)

    def changed(self, block: int) -> None:
        """A configuration event at ``block`` (or a reorg's rewrite of one): forget the values.
        Forgotten whatever their block, since a reorg can put a change below it."""
        self._known = None
        self._changed_at = max(self._changed_at, block)

    def forget(self) -> None:
        """Forget the values (the next read asks for them)."""
        self._known = None
