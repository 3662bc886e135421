"""Execute an adapter's :class:`~indexer.protocols.base.Read` through Multicall3.

    accounts = await run_read(rpc, adapter.read_accounts(owners), block=head)

Calls are packed into ``aggregate3`` batches of ``read.batch_size`` sub-calls (each sub-call may
fail on its own, ``allowFailure``); batches go out concurrently, all pinned to the same block so
the answer is one consistent snapshot, and results are handed back in call order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from indexer.protocols.base import CallResult, Read
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3, decode_aggregate3, encode_aggregate3
from indexer.rpc.client import BlockTag, RpcClient

T = TypeVar("T")


def plan_batches(calls: Sequence[Call3], batch_size: int) -> list[Sequence[Call3]]:
    """Consecutive slices of at most ``batch_size`` calls (pure)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    return [calls[i : i + batch_size] for i in range(0, len(calls), batch_size)]


async def run_read(rpc: RpcClient, read: Read[T], block: BlockTag = "latest") -> T:
    """Run ``read`` at ``block`` and decode it. ``"latest"`` is pinned to one block number first,
    so every batch sees the same state.

    Raises ``RpcError`` if a whole batch reverts (Multicall3 itself), ``DecodeError`` from the
    adapter's decoding.
    """
    if block == "latest":
        block = await rpc.block_number()
    results = await asyncio.gather(
        *(_aggregate(rpc, batch, block) for batch in plan_batches(read.calls, read.batch_size))
    )
    flat: list[CallResult] = [item for batch in results for item in batch]
    if read.follow is not None:
        return await run_read(rpc, read.follow(flat), block)
    return read.decode(flat)


async def _aggregate(rpc: RpcClient, batch: Sequence[Call3], block: BlockTag) -> list[CallResult]:
    ret = await rpc.eth_call(MULTICALL3_ADDRESS, encode_aggregate3(batch), block)
    rpc.call_equivalents += len(batch) - 1  # the eth_call itself was counted
    return decode_aggregate3(ret)
