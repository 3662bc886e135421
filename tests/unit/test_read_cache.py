"""Reads of one block share the calls every read makes (``Read.shared``, ``ReadCache``): asked
once per block, answered alike, asked again at another block, after a clear, or at a tag. The
node is a stub that decodes each ``aggregate3`` and answers every sub-call with its own block
and call data, so an answer from the wrong block or call would show."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from eth_abi.abi import decode, encode

from indexer.protocols.base import CallResult, Read
from indexer.reads.execute import ReadCache, run_read
from indexer.reads.multicall import Call3
from indexer.rpc.client import BlockTag, RpcClient

HEAD = 41


class EchoNode:
    """Answers each sub-call with (True, block number word + its call data); counts them."""

    def __init__(self) -> None:
        self.asked: list[bytes] = []
        self.call_equivalents = 0

    async def block_number(self) -> int:
        return HEAD

    async def eth_calls(
        self, requests: Sequence[tuple[str, bytes]], block: BlockTag
    ) -> list[bytes]:
        self.call_equivalents += len(requests)  # as ``RpcClient.batch`` counts them
        out = []
        for _, data in requests:
            (calls,) = decode(["(address,bool,bytes)[]"], data[4:])
            self.asked += [call_data for _, _, call_data in calls]
            number = HEAD if block == "safe" else cast(int, block)
            answers = [(True, number.to_bytes(32, "big") + d) for _, _, d in calls]
            out.append(encode(["(bool,bytes)[]"], [answers]))
        return out


def _read(owners: Sequence[str]) -> Read[list[CallResult]]:
    """Three calls everyone's read makes, then one per owner; decodes to the raw results."""
    shared = [Call3("0x" + "11" * 20, bytes([0xAA, i])) for i in range(3)]
    mine = [Call3("0x" + "22" * 20, owner.encode()) for owner in owners]
    return Read(tuple(shared + mine), list, batch_size=2, shared=len(shared))


def _run(
    node: EchoNode, owners: Sequence[str], block: BlockTag, cache: ReadCache | None
) -> list[CallResult]:
    return asyncio.run(run_read(cast(RpcClient, node), _read(owners), block, cache))


def test_a_second_read_of_the_block_asks_only_its_own_calls_and_decodes_alike() -> None:
    node, cache = EchoNode(), ReadCache()
    first = _run(node, ["a", "b"], 7, cache)
    assert len(node.asked) == 5
    second = _run(node, ["c"], 7, cache)
    assert node.asked[5:] == [b"c"]  # the shared three came from the first read
    assert second[:3] == first[:3]
    assert second == _run(EchoNode(), ["c"], 7, None)  # what an uncached read decodes
    assert node.call_equivalents == 5 + 1


def test_another_block_a_clear_or_a_tag_asks_again() -> None:
    node, cache = EchoNode(), ReadCache()
    _run(node, ["a"], 7, cache)
    at_8 = _run(node, ["a"], 8, cache)
    assert len(node.asked) == 8
    assert at_8[0][1][:32] == (8).to_bytes(32, "big")  # the block's own answers
    cache.clear()
    _run(node, ["a"], 8, cache)
    assert len(node.asked) == 12
    _run(node, ["a"], "safe", cache)
    _run(node, ["a"], "safe", cache)  # a tag's block moves: never shared
    assert len(node.asked) == 20


def test_latest_is_pinned_first_so_its_reads_share() -> None:
    node, cache = EchoNode(), ReadCache()
    _run(node, ["a"], "latest", cache)
    _run(node, ["b"], HEAD, cache)
    assert node.asked[4:] == [b"b"]


def test_a_read_whose_every_call_is_shared_asks_nothing_the_second_time() -> None:
    node, cache = EchoNode(), ReadCache()
    first = _run(node, [], 7, cache)
    again = _run(node, [], 7, cache)
    assert (len(node.asked), again) == (3, first)
