"""Run the scans of one chain: connect, backfill every source, optionally follow the head.

    async with open_rpc(chain) as rpc:
        results = await index_chain(rpc, chain_settings(chain), store, jobs, json_decoder())

The CLI and the scheduler both call this; it owns no UI (progress goes to a callback).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.config.sections import ChainConfig
from indexer.errors import DependencyError, UserError
from indexer.rpc.client import BACKOFF_MAX_S, RpcClient
from indexer.scan.rows import Decoder, LogSource, TouchFn
from indexer.scan.scanner import Scanner, ScanProgress, ScanSettings, ScanStore


@dataclass(frozen=True, slots=True)
class ScanJob:
    """One log source to scan and the adapter function that finds touched accounts in it."""

    source: LogSource
    touched: TouchFn | None = None


def chain_settings(chain: ChainConfig) -> ScanSettings:
    """Scan settings from a chain's configuration (tweak with ``dataclasses.replace``)."""
    return ScanSettings(
        finality_blocks=chain.finality_blocks,
        max_block_range=chain.max_block_range,
        # One block, then at most doubling per range (indexer.rpc.ranges.next_range_size): a
        # first guess of 100 blocks fetched a whole dense chain's 300 MB in one answer.
        initial_block_range=1,
        block_time_s=chain.block_time,
        stall_after_blocks=chain.stall_after_blocks,
    )


LIVE_BACKOFF_BLOCKS = 2.0
"""A live client's longest wait between retries, in block times (``live_backoff_max_s``)."""


def live_backoff_max_s(block_time_s: float) -> float:
    """The longest wait between retries of a client that must keep up with the chain: two
    block times, within [1 s, the client's default ``BACKOFF_MAX_S``]. A node gone for good is
    then said unreadable within seconds (with the default, a tick retrying it took 45 s at 1 s
    blocks before the chain alert), and a blip of a few seconds is still retried through."""
    return min(max(LIVE_BACKOFF_BLOCKS * block_time_s, 1.0), BACKOFF_MAX_S)


def open_rpc(chain: ChainConfig, *, live: bool = False) -> RpcClient:
    """A node client for ``chain`` (use as ``async with``: it checks the chain id). ``live``:
    for the monitor, whose next tick retries anyway (``live_backoff_max_s``); else the
    patient default (a backfill would rather wait out an outage than start over)."""
    backoff_max_s = live_backoff_max_s(chain.block_time) if live else BACKOFF_MAX_S
    return RpcClient(chain.rpc_urls, chain_id=chain.chain_id, backoff_max_s=backoff_max_s)


async def index_chain(
    rpc: RpcClient,
    settings: ScanSettings,
    store: ScanStore,
    jobs: Sequence[ScanJob],
    decoder: Decoder,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    follow: bool = False,
    stop: asyncio.Event | None = None,
    on_progress: Callable[[LogSource, ScanProgress], None] | None = None,
    wait_s: float = 30.0,
) -> list[ScanProgress]:
    """Backfill every job's source (one after another: they share the node), then with
    ``follow`` keep all of them at the head until ``stop`` is set. Returns each job's totals.

    ``decoder`` is shared by every scanner (``indexer.registry.json_decoder()``). A ``to_block``
    above the node's safe head is waited for, at most ``wait_s`` seconds per source.

    Raises:
        UserError: ``from_block`` lies beyond the node's head.
        ToBlockNotReached: the safe head did not reach ``to_block`` within ``wait_s``.
    """
    if from_block is not None:
        head = await rpc.block_number()
        if from_block > head:
            raise UserError(
                f"--from-block {from_block} is beyond the head of chain {rpc.expected_chain_id} "
                f"({head}): give a block at or below it"
            )
    scanners = [
        Scanner(
            rpc,
            store,
            job.source,
            decoder,
            settings,
            touched=job.touched,
            on_progress=None if on_progress is None else _bind(on_progress, job.source),
        )
        for job in jobs
    ]
    results = [await _backfill_to(s, settings, from_block, to_block, wait_s) for s in scanners]
    if follow:
        stop = stop or asyncio.Event()
        await asyncio.gather(*(s.follow(stop, p) for s, p in zip(scanners, results, strict=True)))
    return results


class ToBlockNotReached(DependencyError):
    """The node's safe head stayed below ``--to-block``; the message says how far the scan got."""


async def _backfill_to(
    scanner: Scanner,
    settings: ScanSettings,
    from_block: int | None,
    to_block: int | None,
    wait_s: float,
) -> ScanProgress:
    """Backfill, then (with ``to_block`` above the safe head) keep polling the head at the
    chain's block time until the scan reaches ``to_block`` or ``wait_s`` runs out."""
    progress = await scanner.backfill(from_block=from_block, to_block=to_block)
    if to_block is None:
        return progress
    deadline = time.monotonic() + wait_s
    while progress.next_block <= to_block:
        if time.monotonic() >= deadline:
            safe = await scanner.safe_head()
            raise ToBlockNotReached(
                f"{scanner.source.name}: indexed up to block {progress.next_block - 1}, short of "
                f"--to-block {to_block}: the node's safe head is {safe} (head minus "
                f"{settings.finality_blocks} finality blocks) after waiting {wait_s:g}s; run "
                "again later (it resumes) or raise --wait"
            )
        await asyncio.sleep(min(max(settings.block_time_s, 0.05), 2.0))
        more = await scanner.backfill(to_block=to_block)  # resumes from the cursor
        progress.next_block = max(progress.next_block, more.next_block)
        progress.target_block = max(progress.target_block, more.target_block)
        progress.logs += more.logs
        progress.ranges += more.ranges
        progress.splits += more.splits
        progress.reorgs += more.reorgs
    return progress


def _bind(
    callback: Callable[[LogSource, ScanProgress], None], source: LogSource
) -> Callable[[ScanProgress], None]:
    return lambda progress: callback(source, progress)
