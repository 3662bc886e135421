"""The scanner's data: settings, a fetched range, running progress, and the store it needs.

Kept apart from :mod:`indexer.scan.scanner` (the loop) so the store and the CLI can use them without
the scanning machinery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from indexer.rpc.ranges import block_count
from indexer.scan.reorg import Header
from indexer.scan.rows import EventRow, LogSource, Touch


class ScanStore(Protocol):
    """What the scanner needs from the database (see :mod:`indexer.store.cursors`)."""

    rollbacks: int
    """How many rollbacks this store has made: the scanners of one chain sharing it scan side
    by side, and one that started from a cursor another's rollback has since moved must not
    commit (``Scanner._commit``)."""

    def next_block(self, source: LogSource) -> int: ...

    def block_hashes(self, chain_id: int) -> dict[int, str]: ...

    def commit_range(self, source: LogSource, batch: RangeBatch, window: int) -> None: ...

    def commit_ranges(
        self, source: LogSource, batches: Sequence[RangeBatch], window: int
    ) -> None: ...

    def rollback_above(self, chain_id: int, fork_block: int) -> int: ...


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Tuning of one chain's scan. Block counts are inclusive; times in seconds."""

    finality_blocks: int = 0
    max_block_range: int = 10_000
    initial_block_range: int = 500
    target_logs_per_call: int = 1_000
    concurrency: int = 3
    reorg_window: int = 256
    block_time_s: float = 1.0
    stall_after_blocks: int = 10
    # Backfill transactions (see indexer.scan.grouping): at most this many logs or ranges in
    # one; a range ending within near_head_blocks of the safe head commits at once.
    commit_logs: int = 5_000
    commit_ranges: int = 64
    near_head_blocks: int = 32


@dataclass(slots=True)
class RangeBatch:
    """One fetched, verified range ready to commit: rows, headers to keep, touched accounts."""

    from_block: int
    to_block: int
    rows: list[EventRow]
    headers: list[Header]
    touches: list[Touch]


@dataclass(slots=True)
class ScanProgress:
    """Running totals handed to the progress callback after every commit."""

    first_block: int
    target_block: int
    next_block: int
    logs: int = 0
    ranges: int = 0
    splits: int = 0
    reorgs: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def blocks_done(self) -> int:
        return self.next_block - self.first_block

    @property
    def blocks_total(self) -> int:
        return max(block_count(self.first_block, self.target_block), 0)

    def rates(self) -> tuple[float, float]:
        """(blocks/s, logs/s) since the start."""
        elapsed = max(time.monotonic() - self.started_at, 1e-9)
        return self.blocks_done / elapsed, self.logs / elapsed


ProgressFn = Callable[[ScanProgress], None]
