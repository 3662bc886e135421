"""Run the scans of one chain: connect, backfill every source, optionally follow the head.

    async with open_rpc(chain) as rpc:
        results = await index_chain(rpc, chain_settings(chain), store, jobs, json_decoder())

The CLI and the scheduler both call this; it owns no UI (progress goes to a callback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.config.sections import ChainConfig
from indexer.rpc.client import RpcClient
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
        initial_block_range=min(100, chain.max_block_range),
        block_time_s=chain.block_time,
        stall_after_blocks=chain.stall_after_blocks,
    )


def open_rpc(chain: ChainConfig) -> RpcClient:
    """A node client for ``chain`` (use as ``async with``: it checks the chain id)."""
    return RpcClient(chain.rpc_urls, chain_id=chain.chain_id)


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
) -> list[ScanProgress]:
    """Backfill every job's source (one after another: they share the node), then with
    ``follow`` keep all of them at the head until ``stop`` is set. Returns each job's totals.

    ``decoder`` is shared by every scanner (``indexer.registry.json_decoder()``)."""
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
    results = [await s.backfill(from_block=from_block, to_block=to_block) for s in scanners]
    if follow:
        stop = stop or asyncio.Event()
        await asyncio.gather(*(s.follow(stop, p) for s, p in zip(scanners, results, strict=True)))
    return results


def _bind(
    callback: Callable[[LogSource, ScanProgress], None], source: LogSource
) -> Callable[[ScanProgress], None]:
    return lambda progress: callback(source, progress)
