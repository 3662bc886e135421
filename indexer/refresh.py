"""Refresh stored margin accounts from the chain: touched owners first, then everyone open.

    result = await refresh_owners(rpc, engine, adapter, owners, block=head)

One adapter read per chunk of owners (all at one block, a few in flight at once), saved in
one transaction per chunk, in order; see :func:`indexer.store.accounts.save_read` for what
"complete" means.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from sqlalchemy.engine import Engine

from indexer.models import MarginAccount
from indexer.protocols.base import ProtocolAdapter
from indexer.reads.execute import ReadCache, run_read
from indexer.rpc.client import BlockTag, RpcClient
from indexer.store.accounts import SaveResult, open_owners, save_read, touched_owners

R = TypeVar("R")

OWNERS_PER_READ = 250  # ~61k gas per GMX owner: 15M gas per read, well under 30M
READS_IN_FLIGHT = 3
"""Chunks of one refresh read side by side: enough to keep the node busy while perpwatch
decodes and stores, few enough not to crowd out other requests (prices, other protocols)."""


def owners_per_read(adapter: ProtocolAdapter) -> int:
    """Owners per ``read_accounts`` call: the adapter's ``owners_per_read`` if it has one
    (gTrade reads in two steps, so bigger chunks save calls), else ``OWNERS_PER_READ``."""
    value = getattr(adapter, "owners_per_read", OWNERS_PER_READ)
    return value if isinstance(value, int) and value > 0 else OWNERS_PER_READ


def owners_to_refresh(
    engine: Engine, adapter: ProtocolAdapter, watched: Sequence[str] = ()
) -> list[str]:
    """Touched owners, owners with open accounts, and watched wallets, deduplicated."""
    owners = set(touched_owners(engine, adapter.chain_id, adapter.name))
    owners.update(open_owners(engine, adapter.chain_id, adapter.name))
    owners.update(w.lower() for w in watched)
    return sorted(owners)


async def refresh_owners(
    rpc: RpcClient,
    engine: Engine,
    adapter: ProtocolAdapter,
    owners: Sequence[str],
    *,
    block: BlockTag = "latest",
    save_lock: AbstractContextManager[object] | None = None,
    cache: ReadCache | None = None,
) -> SaveResult:
    """Read and store every account of ``owners`` at ``block``; totals over all chunks.

    A tag (``"latest"``, ``"safe"``…) is pinned to its block number first, so that every chunk
    reads the same block and the touches consumed are exactly those that read covered.
    ``save_lock`` is held around each save (in its worker thread): reads that run side by side
    then store one after another, handed over at once, where SQLite's own wait for its write
    lock sleeps in steps of up to 100 ms. The chunks share the calls every read of the block
    makes (``ReadCache``; ``cache``: the caller's, shared with its other reads of the block).
    """
    if isinstance(block, str):
        block = (await rpc.get_block_header(block))["number"]
    per_read = owners_per_read(adapter)
    chunks = [owners[start : start + per_read] for start in range(0, len(owners), per_read)]
    # The chunks' reads overlap (at most READS_IN_FLIGHT at once): while the node executes one,
    # the previous one is decoded and stored. Saves stay one at a time, in order.
    in_flight = asyncio.Semaphore(READS_IN_FLIGHT)
    shared = cache if cache is not None else ReadCache()

    async def read(chunk: Sequence[str]) -> list[MarginAccount]:
        async with in_flight:
            return await run_read(rpc, adapter.read_accounts(chunk), block, shared)

    reads = [asyncio.ensure_future(read(chunk)) for chunk in chunks]
    written = closed = liquidated = 0
    stored: list[tuple[int, MarginAccount]] = []
    try:
        for chunk, pending in zip(chunks, reads, strict=True):
            accounts = await pending
            # In a worker thread: a large read's transaction must not hold up the event loop
            # (other chains, alert delivery).
            save = functools.partial(
                save_read, engine, adapter.chain_id, adapter.name, chunk, accounts,
                read_block=block,
            )  # fmt: skip
            result = await asyncio.to_thread(locked, save_lock or nullcontext(), save)
            written += result.written
            closed += result.closed
            liquidated += result.liquidated
            stored += result.stored
    finally:
        for pending in reads:
            pending.cancel()  # after a failure, the reads not yet stored are not wanted
        await asyncio.gather(*reads, return_exceptions=True)
    return SaveResult(written, closed, liquidated, tuple(stored))


def locked(lock: AbstractContextManager[object], fn: Callable[[], R]) -> R:
    """``fn()`` with ``lock`` held (for ``asyncio.to_thread``: the wait happens in the worker)."""
    with lock:
        return fn()
