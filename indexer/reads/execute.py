"""Execute an adapter's :class:`~indexer.protocols.base.Read` through Multicall3.

    accounts = await run_read(rpc, adapter.read_accounts(owners), block=head)

Calls are packed into ``aggregate3`` batches of ``read.batch_size`` sub-calls (each sub-call may
fail on its own, ``allowFailure``); the batches go out together as one JSON-RPC batch, all
pinned to the same block so the answer is one consistent snapshot, and results are handed back
in call order.
"""

from __future__ import annotations

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
    batches = plan_batches(read.calls, read.batch_size)
    # One JSON-RPC batch for all the aggregate3 calls: one HTTP request per read (per
    # ``max_batch_size`` calls), where one request per batch made a wallet poll of a few
    # hundred owners dozens of requests.
    answers = await rpc.eth_calls(
        [(MULTICALL3_ADDRESS, encode_aggregate3(batch)) for batch in batches], block
    )
    rpc.call_equivalents += sum(len(batch) - 1 for batch in batches)  # each eth_call counted
    flat: list[CallResult] = [item for ret in answers for item in decode_aggregate3(ret)]
    if read.follow is not None:
        return await run_read(rpc, read.follow(flat), block)
    return read.decode(flat)
