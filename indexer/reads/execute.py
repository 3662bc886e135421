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


class ReadCache:
    """The answers to reads' shared calls (``Read.shared``: the block, market state, feeds),
    by block and calls, so that the reads of one block ask for them once.

    A GMX read carries every configured market's state (19 calls a market) before its owners'
    positions (one call an owner): at a hundred markets, 1,900 calls for 250 owners, asked
    again by every read of the block (the tick's, its whole-book slice, its confirming
    reads). The answers are those of a block number: whoever keeps a cache clears it when
    the chain may have moved under that number (a reorg keeps the height), as the monitor
    does at every tick's start.
    """

    def __init__(self) -> None:
        self._answers: dict[tuple[int, tuple[Call3, ...]], list[CallResult]] = {}

    def get(self, block: BlockTag, calls: tuple[Call3, ...]) -> list[CallResult] | None:
        """The answers to ``calls`` at ``block``, if a read asked them since the last clear
        (never at a tag: its block moves)."""
        return self._answers.get((block, calls)) if isinstance(block, int) else None

    def put(self, block: BlockTag, calls: tuple[Call3, ...], answers: list[CallResult]) -> None:
        if isinstance(block, int):
            self._answers[block, calls] = answers

    def clear(self) -> None:
        self._answers.clear()


async def run_read(
    rpc: RpcClient, read: Read[T], block: BlockTag = "latest", cache: ReadCache | None = None
) -> T:
    """Run ``read`` at ``block`` and decode it. ``"latest"`` is pinned to one block number first,
    so every batch sees the same state. With a ``cache``, the read's shared calls are asked
    only if no read at this block asked them before (and their answers kept for the next).

    Raises ``RpcError`` if a whole batch reverts (Multicall3 itself), ``DecodeError`` from the
    adapter's decoding.
    """
    if block == "latest":
        block = await rpc.block_number()
    prefix = read.calls[: read.shared] if cache is not None else ()
    known = cache.get(block, prefix) if cache is not None and prefix else None
    calls = read.calls[len(prefix) :] if known is not None else read.calls
    batches = plan_batches(calls, read.batch_size)
    # One JSON-RPC batch for all the aggregate3 calls: one HTTP request per read (per
    # ``max_batch_size`` calls), where one request per batch made a wallet poll of a few
    # hundred owners dozens of requests.
    answers = await rpc.eth_calls(
        [(MULTICALL3_ADDRESS, encode_aggregate3(batch)) for batch in batches], block
    )
    rpc.call_equivalents += sum(len(batch) - 1 for batch in batches)  # each eth_call counted
    flat: list[CallResult] = [item for ret in answers for item in decode_aggregate3(ret)]
    if known is not None:
        flat = known + flat
    elif cache is not None and prefix:
        cache.put(block, prefix, flat[: len(prefix)])
    if read.follow is not None:
        return await run_read(rpc, read.follow(flat), block, cache)
    return read.decode(flat)
