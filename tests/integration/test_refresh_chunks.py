"""``refresh_owners`` over several chunks: reads overlap, saves stay in order, and a failed
read stores the chunks before it and nothing after (SQLite and PostgreSQL; the node is a stub
whose answers take time, the adapter one whose reads make no calls)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest
from sqlalchemy.engine import Engine

from indexer.models import Collateral, MarginAccount, MarginMode
from indexer.protocols.base import ProtocolAdapter, Read
from indexer.refresh import READS_IN_FLIGHT, refresh_owners
from indexer.rpc.client import RpcClient
from indexer.store.accounts import SaveResult, load_accounts

OWNERS = [f"0x{i:040x}" for i in range(1, 10)]  # 9 owners, 2 per read: 5 chunks


class SlowNode:
    """Answers each read after ``delay_s``; the ``fail_at``-th read (0-based) fails."""

    def __init__(self, delay_s: float = 0.05, fail_at: int | None = None) -> None:
        self.delay_s, self.fail_at = delay_s, fail_at
        self.started = self.in_flight = self.most_in_flight = 0
        self.call_equivalents = 0

    async def eth_calls(self, requests: Sequence[object], block: int) -> list[bytes]:
        index, self.started = self.started, self.started + 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            if index == self.fail_at:
                raise ConnectionError("node went away")
            return []
        finally:
            self.in_flight -= 1


class TwoPerRead:
    name, chain_id, owners_per_read = "stub", 1, 2

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        return Read((), lambda _results: [_account(o) for o in owners])


def _account(owner: str) -> MarginAccount:
    usdc = Collateral("USDC", 100 * 10**6, 6, "fixed:USDC")
    return MarginAccount(1, "stub", owner, owner, MarginMode.CROSS, (usdc,), (), block_number=7)


def _refresh(node: SlowNode, engine: Engine) -> SaveResult:
    rpc = cast(RpcClient, node)  # run_read asks the client for eth_calls only
    adapter = cast(ProtocolAdapter, TwoPerRead())
    return asyncio.run(refresh_owners(rpc, engine, adapter, OWNERS, block=7))


def _stored_owners(engine: Engine) -> list[str]:
    return sorted(a.owner for _, a in load_accounts(engine, chain_id=1))


def test_reads_overlap_and_every_chunk_is_stored(engine: Engine) -> None:
    node = SlowNode()
    result = _refresh(node, engine)
    assert node.started == 5
    assert node.most_in_flight == READS_IN_FLIGHT
    assert _stored_owners(engine) == OWNERS
    assert [a.owner for _, a in result.stored] == OWNERS


def test_a_failed_read_keeps_the_chunks_before_it_and_stores_none_after(engine: Engine) -> None:
    node = SlowNode(fail_at=2)
    with pytest.raises(ConnectionError, match="went away"):
        _refresh(node, engine)
    assert _stored_owners(engine) == OWNERS[:4]  # chunks 0 and 1; chunk 3, read or not, is not
    assert node.in_flight == 0  # nothing left running
