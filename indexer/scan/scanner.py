"""Log scanning: from a source's cursor to the safe head, in adaptive ranges, exactly once.

    scanner = Scanner(rpc, store, source, decoder, ScanSettings(finality_blocks=20))
    summary = await scanner.backfill()              # to head - finality, then return
    await scanner.follow(stop_event)                # keep up with new heads until stopped

Ranges are fetched concurrently and committed strictly in block order; a range's events,
block hashes, touched accounts and the new cursor are written in one transaction (during a
backfill several ranges share one, see :mod:`indexer.scan.grouping`), so a killed process
resumes exactly where the last commit left it. Every ``eth_getLogs`` goes out in one
JSON-RPC batch with ``eth_blockNumber`` and the headers it must be checked against, so the same
node answers all three: a node whose head does not cover the range (it would answer ``[]``)
is retried, and logs whose block hash differs from the header's mean the chain moved.

The scanners of one chain may run side by side on one store (a monitor's tick scans its
protocols at once). A reorg one of them finds rolls every cursor of the chain back; a scan that
took its start from a cursor before that rollback stores nothing more and starts again from
the moved cursor (the store counts its rollbacks, and each commit checks the count under the
write lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from contextlib import AbstractContextManager
from typing import Any

from indexer.errors import ChainMoved, RpcRangeTooLarge
from indexer.rpc.client import RpcClient
from indexer.rpc.ranges import block_count, next_range_size, split_range
from indexer.scan.checks import check_headers, check_log_hashes, lagging_urls, parse_header
from indexer.scan.data import ProgressFn, RangeBatch, ScanProgress, ScanSettings, ScanStore
from indexer.scan.grouping import GroupState, should_commit
from indexer.scan.reorg import checks_tip, find_fork_point, is_linked, node_lags
from indexer.scan.rows import Decoder, LogSource, TouchFn, event_rows

__all__ = [
    "ChainMoved",
    "ProgressFn",
    "RangeBatch",
    "ScanProgress",
    "ScanSettings",
    "ScanStore",
    "Scanner",
    "lagging_urls",
]

log = logging.getLogger("perpwatch.scan")

# Attempts at one range whose answers disagree (a lagging node behind a load balancer, a reorg
# in flight) before the scan goes looking for a reorg.
_RANGE_ATTEMPTS = 3


class Scanner:
    """Scans one :class:`LogSource` on one chain into a :class:`ScanStore`."""

    def __init__(
        self,
        rpc: RpcClient,
        store: ScanStore,
        source: LogSource,
        decoder: Decoder,
        settings: ScanSettings,
        *,
        touched: TouchFn | None = None,
        on_progress: ProgressFn | None = None,
        write_lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.rpc, self.store, self.source = rpc, store, source
        self.decoder, self.settings = decoder, settings
        self.touched = touched
        self.on_progress = on_progress
        # Held around each write to the store (in its worker thread), when other writers of
        # the same database run beside the scan: they take turns at once, where SQLite's own
        # wait for its write lock sleeps in steps of up to 100 ms.
        self._write_lock = write_lock or contextlib.nullcontext()
        self._range_size = min(settings.initial_block_range, settings.max_block_range)
        # The store's rollback count when this scan last took its start from the cursor: the
        # scanners of one chain share the store and scan side by side, and a range fetched
        # from a cursor that another's rollback has since moved must not be committed.
        self._basis = store.rollbacks

    async def safe_head(self) -> int:
        """The newest block this scan may index: head minus the finality depth."""
        return await self.rpc.block_number() - self.settings.finality_blocks

    async def backfill(
        self,
        from_block: int | None = None,
        to_block: int | None = None,
        *,
        head: int | None = None,
        check_tip: bool = True,
        tip_checked: asyncio.Event | None = None,
    ) -> ScanProgress:
        """Index from ``from_block`` (default: the cursor) to ``to_block`` (default and cap: the
        safe head), then return. Re-indexing blocks already stored is harmless (rows are
        unique), and the cursor never moves backwards because of ``from_block``. ``head``: the
        node's head as just read by the caller (several scanners of one chain share one read);
        by default the scan asks the node. ``check_tip=False`` skips the check that the last
        stored block is still canonical: the stored blocks are the chain's, not the source's,
        so of several scanners of one chain in one pass the first one's check covers the rest
        (a reorg it finds rolls every cursor of the chain back; what the others then fetch must
        still link to the stored blocks). ``tip_checked``: set by the scanner that checks once
        it has, awaited by the others before they start: a sibling that stored its range first
        moved the tip under the check, which then cost a request of its own."""
        if tip_checked is not None and not check_tip:
            await tip_checked.wait()
        try:
            if from_block is None:
                start = await self._start_block()
            else:  # no cursor to read; the rollback count still dates this scan's start
                start, self._basis = from_block, self.store.rollbacks
            if head is None:
                head = await self.rpc.block_number()
            target = head - self.settings.finality_blocks
            if to_block is not None:
                target = min(target, to_block)
            progress = ScanProgress(first_block=start, target_block=target, next_block=start)
            rolled_back = check_tip and await self._check_tip(head, progress, scan=(start, target))
        finally:  # checked or failed: the siblings go on (a failure is the tick's anyway)
            if tip_checked is not None and check_tip:
                tip_checked.set()
        if from_block is None and rolled_back:
            start = await self._start_block()  # the rollback moved the cursor back
        await self._scan(start, target, head, progress)
        return progress

    async def follow(self, stop: asyncio.Event, progress: ScanProgress | None = None) -> None:
        """Keep indexing new blocks at the chain's block time until ``stop`` is set.

        Raises ``RetryableError`` subclasses only after the client's own retries are spent;
        reports a head that stops moving (a stalled node) as a warning every stall period.
        """
        start = await self._start_block()
        progress = progress or ScanProgress(
            first_block=start, target_block=start - 1, next_block=start
        )
        last_head, last_move = -1, time.monotonic()
        stall_s = self.settings.stall_after_blocks * self.settings.block_time_s
        while not stop.is_set():
            head = await self.rpc.block_number()
            now = time.monotonic()
            if head != last_head:
                last_head, last_move = head, now
            elif now - last_move > stall_s:
                log.warning("node head stalled at %d for %.0f s", head, now - last_move)
                last_move = now
            for lag in lagging_urls(self.rpc.stats(), self.settings.stall_after_blocks):
                log.warning("rpc %s lags %d blocks behind another URL", lag[0], lag[1])
            target = head - self.settings.finality_blocks
            start = await self._start_block()
            if await self._check_tip(head, progress, scan=(start, target)):
                start = await self._start_block()  # the rollback moved the cursor back
            progress.target_block = max(progress.target_block, target)
            await self._scan(start, target, head, progress)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.block_time_s)

    # The store's calls run in worker threads: a monitor's event loop also serves other
    # chains and alert delivery, and a write (a rollback) may wait on SQLite's lock.
    async def _start_block(self) -> int:
        """The cursor, as of the store's rollback count taken just before reading it."""
        self._basis = self.store.rollbacks
        return await asyncio.to_thread(self.store.next_block, self.source)

    async def _stored_hashes(self) -> dict[int, str]:
        return await asyncio.to_thread(self.store.block_hashes, self.source.chain_id)

    async def _check_tip(
        self, head: int, progress: ScanProgress, *, scan: tuple[int, int] | None = None
    ) -> bool:
        """Roll back when the last stored block is no longer canonical (a reorg at the tip);
        whether it did (the source's cursor then moved back).

        ``scan``: the range about to be scanned. When its first block is the one after the
        stored tip and near the head, its header is fetched with the logs and must name the
        tip as its parent before anything is stored (``_commit``), which is this check at no
        round trip of its own: a tick waits for one node answer fewer."""
        stored = await self._stored_hashes()
        if not stored:
            return False
        top = max(stored)
        if scan is not None and checks_tip(top, *scan, self._header_numbers(*scan, head)):
            return False
        canonical = await self._canonical_hashes([top]) if top <= head else {}
        if canonical.get(top) == stored[top]:
            return False
        return await self._handle_reorg(stored, progress)

    async def _canonical_hashes(self, numbers: list[int]) -> dict[int, str]:
        """The node's hashes of ``numbers``; a block it no longer has (a reorg shortening the
        chain while we ask) is simply absent."""
        results = await self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return {n: r["hash"] for n, r in zip(numbers, results, strict=True) if r is not None}

    async def _handle_reorg(self, stored: dict[int, str], progress: ScanProgress) -> bool:
        """Find the fork point and roll back above it; False when the node merely lags what
        is stored (nothing rolled back)."""
        numbers = sorted(stored)
        head = await self.rpc.block_number()
        present = [n for n in numbers if n <= head]
        canonical = await self._canonical_hashes(present) if present else {}
        if node_lags(stored, canonical, head):
            log.info(
                "node head %d is below the stored block %d: waiting, not a reorg", head, numbers[-1]
            )
            return False
        fork = find_fork_point(stored, canonical)
        removed = await asyncio.to_thread(self._rollback_above, fork)
        if removed is None:
            log.info("another scan of chain %d rolled back first", self.source.chain_id)
            return True
        progress.reorgs += 1
        progress.next_block = min(progress.next_block, fork + 1)
        log.warning(
            "reorg on chain %d: fork at block %d, %d events rolled back",
            self.source.chain_id,
            fork,
            removed,
        )
        return True

    async def _scan(self, start: int, end: int, head: int, progress: ScanProgress) -> None:
        """Index ``[start, end]``; after a reorg, start again from the fork until done."""
        while True:
            try:
                await self._scan_ranges(start, end, head, progress)
                return
            except ChainMoved as exc:
                if self.store.rollbacks == self._basis:
                    log.info("chain moved under the scan (%s): checking for a reorg", exc)
                    await self._handle_reorg(await self._stored_hashes(), progress)
                # else another scan of the chain rolled back under this one: its cursor moved
                start = await self._start_block()
                head = await self.rpc.block_number()
                end = min(end, head - self.settings.finality_blocks)

    async def _scan_ranges(self, start: int, end: int, head: int, progress: ScanProgress) -> None:
        """Fetch ``[start, end]`` with bounded concurrency; commit in block order.

        The commit of one group of ranges (decoded rows to the database, in a worker thread)
        overlaps the network wait for the next ones; commits never overlap each other. Which
        ranges share a transaction is :func:`indexer.scan.grouping.should_commit`'s rule.
        """
        pending: deque[asyncio.Task[list[RangeBatch]]] = deque()
        next_from = start
        commit: asyncio.Future[None] | None = None
        group: list[RangeBatch] = []
        group_logs = 0
        settings = self.settings
        try:
            while next_from <= end or pending:
                while next_from <= end and len(pending) < settings.concurrency:
                    to = min(next_from + self._range_size - 1, end)
                    pending.append(asyncio.create_task(self._fetch(next_from, to, head)))
                    next_from = to + 1
                batches = await pending.popleft()
                progress.splits += len(batches) - 1
                for batch in batches:
                    self._adapt(batch)
                    group.append(batch)
                    group_logs += len(batch.rows)
                state = GroupState(
                    ranges=len(group),
                    logs=group_logs,
                    last_block=group[-1].to_block,
                    target_block=end,
                    committing=commit is not None and not commit.done(),
                    next_ready=bool(pending) and pending[0].done(),
                    more=next_from <= end or bool(pending),
                )
                if not should_commit(
                    state,
                    commit_logs=settings.commit_logs,
                    commit_ranges=settings.commit_ranges,
                    near_head_blocks=settings.near_head_blocks,
                ):
                    continue
                if commit is not None:
                    await commit
                    self._report(progress)
                commit = asyncio.ensure_future(asyncio.to_thread(self._commit, group))
                progress.ranges += len(group)
                progress.logs += group_logs
                progress.next_block = group[-1].to_block + 1
                group, group_logs = [], 0
            if commit is not None:
                await commit
                commit = None
                self._report(progress)
        finally:
            for task in pending:
                task.cancel()
            if commit is not None:
                # Let an in-flight commit finish (or fail) before unwinding: it owns a session.
                await asyncio.wait([commit])

    def _report(self, progress: ScanProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    def _adapt(self, batch: RangeBatch) -> None:
        if block_count(batch.from_block, batch.to_block) >= self._range_size:
            self._range_size = next_range_size(
                self._range_size,
                len(batch.rows),
                target_results=self.settings.target_logs_per_call,
                max_size=self.settings.max_block_range,
            )

    def _rollback_above(self, fork: int) -> int | None:
        """Roll the chain back above ``fork``; the events deleted, or None when another scan
        of the chain rolled back since this one took its start (its rollback came first;
        whether this one's is still needed shows when this scan's next range is checked)."""
        with self._write_lock:
            rolled = self.store.rollbacks == self._basis
            removed = self.store.rollback_above(self.source.chain_id, fork) if rolled else None
            self._basis = self.store.rollbacks
            return removed

    def _commit(self, batches: list[RangeBatch]) -> None:
        # Ranges are fetched concurrently, so only now is the previous range stored: check
        # that each one still extends the stored chain (and the group's earlier ranges)
        # before writing anything. Under the write lock: another scanner of the chain may be
        # committing or rolling back beside this one.
        with self._write_lock:
            if self.store.rollbacks != self._basis:
                raise ChainMoved("another scan of the chain rolled back its cursor")
            stored: dict[int, str] | None = None
            for batch in batches:
                if not batch.headers:
                    continue
                if stored is None:
                    stored = self.store.block_hashes(self.source.chain_id)
                if not is_linked(stored, batch.headers[0]):
                    raise ChainMoved(
                        f"block {batch.headers[0].number} does not extend the stored chain"
                    )
                stored.update((h.number, h.hash) for h in batch.headers)
            self.store.commit_ranges(self.source, batches, self.settings.reorg_window)

    async def _fetch(self, from_block: int, to_block: int, head: int) -> list[RangeBatch]:
        """One range, split as the node demands; each part verified against its headers."""
        try:
            return [await self._fetch_verified(from_block, to_block, head)]
        except RpcRangeTooLarge as exc:
            parts = split_range(from_block, to_block, exc.advice)
            if len(parts) == 1:
                raise
            self._range_size = max(1, min(self._range_size, block_count(*parts[0])))
            batches: list[RangeBatch] = []
            for a, b in parts:
                batches.extend(await self._fetch(a, b, head))
            return batches

    async def _fetch_verified(self, from_block: int, to_block: int, head: int) -> RangeBatch:
        numbers = self._header_numbers(from_block, to_block, head)
        for attempt in range(1, _RANGE_ATTEMPTS + 1):
            try:
                return await self._fetch_once(from_block, to_block, numbers)
            except ChainMoved as exc:
                log.info("range [%d, %d] inconsistent (%s); retrying", from_block, to_block, exc)
                if attempt == _RANGE_ATTEMPTS:
                    raise
                await asyncio.sleep(min(self.settings.block_time_s, 1.0))
        raise AssertionError("unreachable")

    def _header_numbers(self, from_block: int, to_block: int, head: int) -> list[int]:
        """Headers to fetch with a range: every block near the head, else only the last one."""
        near = head - self.settings.reorg_window + 1
        first = max(from_block, near)
        return list(range(first, to_block + 1)) if first <= to_block else [to_block]

    async def _fetch_once(self, from_block: int, to_block: int, numbers: list[int]) -> RangeBatch:
        query: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": list(self.source.addresses),
        }
        if self.source.topics:
            query["topics"] = [None if t is None else list(t) for t in self.source.topics]
        calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", []), ("eth_getLogs", [query])]
        calls += [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        results = await self.rpc.batch(calls)
        node_head = int(results[0], 16)
        if node_head < to_block:
            raise ChainMoved(f"node head {node_head} below range end {to_block}")
        headers = [parse_header(h) for h in results[2:]]
        check_headers(headers)
        logs: list[dict[str, Any]] = results[1]
        check_log_hashes(logs, headers)
        rows = event_rows(self.source, logs, self.decoder)
        touches = self.touched(rows) if self.touched is not None else []
        return RangeBatch(from_block, to_block, rows, headers, touches)
