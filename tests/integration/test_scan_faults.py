"""A backfill through a faulty RPC (timeouts, 429, 502, truncated bodies, "range too large"),
across a failover between two URLs, and with several ranges per transaction (a database slower
than the node) stores exactly what a clean run stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.engine import Engine

from devnet.solc import Artifact
from indexer.registry import json_decoder
from indexer.rpc.client import RpcClient
from indexer.scan.data import RangeBatch
from indexer.scan.rows import LogSource
from indexer.scan.scanner import Scanner, ScanProgress, ScanSettings
from indexer.store.cursors import ScanStore
from tests.fixtures.faulty_proxy import FAULTS, PROVIDER_RANGE_ERRORS, FaultyProxy
from tests.scan_helpers import CHAIN_ID, Filled, backfill, filled_node, index_state

pytestmark = pytest.mark.chain

# Two-block ranges: many requests (so every fault kind is drawn), and a refused range can
# still be split in two.
SETTINGS = ScanSettings(initial_block_range=2, max_block_range=2, concurrency=3)
# Fast retries: the proxy's faults are frequent on purpose. A timeout fault hangs 1 s.
RPC_OPTIONS: dict[str, Any] = {
    "timeout_s": 0.5,
    "max_retries": 12,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
}


# A proxy that refuses ranges inside batches -------------------------------------------------


class BatchRangeProxy(FaultyProxy):
    """A :class:`FaultyProxy` whose "range" fault also hits an ``eth_getLogs`` sent inside a
    JSON-RPC batch (the scanner batches it with the head and headers): the other items are
    answered by the node, the ``eth_getLogs`` item with the provider's refusal. One-block
    ranges are never refused: no provider refuses a block with a few logs for its size.
    """

    def pick_fault(self, body: bytes) -> str | None:
        if _batched_logs_index(body) is None:
            return super().pick_fault(body)
        # The base class draws "range" only for a lone eth_getLogs; here every kind applies.
        with self._lock:
            drawn = self._rng.random() < self.rate
            fault = self._rng.choice(self.faults) if drawn and self.faults else None
            self._counts[fault or "forwarded"] += 1
        return fault

    def range_answer(self, body: bytes) -> tuple[int, bytes]:
        index = _batched_logs_index(body)
        if index is None:
            return super().range_answer(body)
        calls = orjson.loads(body)
        answers_by_id = {a["id"]: a for a in orjson.loads(self.forward(body))}
        query = calls[index]["params"][0]
        span = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        _, code, message = PROVIDER_RANGE_ERRORS[self.provider](*span)
        call_id = calls[index]["id"]
        answers_by_id[call_id] = {
            "jsonrpc": "2.0",
            "id": call_id,
            "error": {"code": code, "message": message},
        }
        return 200, orjson.dumps(list(answers_by_id.values()))


def _batched_logs_index(body: bytes) -> int | None:
    """Position of a multi-block ``eth_getLogs`` in a batch ``body``, else None."""
    try:
        calls = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(calls, list):
        return None
    for index, call in enumerate(calls):
        if call.get("method") == "eth_getLogs":
            query = call["params"][0]
            if int(query["toBlock"], 16) > int(query["fromBlock"], 16):
                return index
    return None


@pytest.fixture(scope="module")
def filled(
    artifacts: Mapping[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Filled]:
    """300 blocks of 10 logs each, and a clean backfill's index of them."""
    workdir = tmp_path_factory.mktemp("reference")
    with filled_node(artifacts, workdir, "devnet:faults", logs=3_000, logs_per_block=10) as filled:
        yield filled


def _assert_same_index(engine: Engine, filled: Filled) -> None:
    state = index_state(engine, filled.source)
    assert state.row_count == len(state.rows), "duplicate rows"
    assert state.rows == filled.reference.rows
    assert state.cursor == filled.reference.cursor
    assert state.hashes == filled.reference.hashes


def test_backfill_through_faulty_rpc_equals_clean_run(
    filled: Filled, engine: Engine, tmp_path: Path
) -> None:
    with BatchRangeProxy(filled.node.rpc_url, rate=0.2, seed=11, retry_after="0") as proxy:
        progress, _ = asyncio.run(
            backfill([proxy.url], engine, filled.source, SETTINGS, **RPC_OPTIONS)
        )

    counts = proxy.counts()
    assert {kind: counts.get(kind, 0) > 0 for kind in FAULTS} == dict.fromkeys(FAULTS, True)
    assert counts["forwarded"] > 100
    assert progress.splits > 0  # the "range too large" answers were split, not retried as is
    assert progress.logs == filled.reference.row_count
    _assert_same_index(engine, filled)


def test_failover_to_second_url_misses_nothing(filled: Filled, engine: Engine) -> None:
    with (
        FaultyProxy(filled.node.rpc_url, rate=0.0) as first,
        FaultyProxy(filled.node.rpc_url, rate=0.0) as second,
    ):
        stopped: dict[str, int] = {}

        def stop_first(progress: ScanProgress) -> None:
            if progress.ranges >= 20 and not first.stopped:
                first.stop()
                stopped.update(next_block=progress.next_block, **first.counts())

        _, rpc = asyncio.run(
            backfill(
                [first.url, second.url],
                engine,
                filled.source,
                SETTINGS,
                on_progress=stop_first,
                # No injected faults here, and a stopped proxy refuses at once: a short timeout
                # only measured the machine's load (one 0.5 s stall of the second URL in CI).
                **{**RPC_OPTIONS, "timeout_s": 10.0},
            )
        )

    assert filled.reference.cursor is not None
    assert stopped["next_block"] < filled.reference.cursor - 100  # stopped early in the run
    assert first.counts()["forwarded"] == stopped["forwarded"]  # a stopped proxy forwards nothing
    assert second.counts()["forwarded"] > 100  # the second URL took over the rest
    first_stats, second_stats = rpc.stats()
    assert first_stats.failures > 0
    assert second_stats.failures == 0
    _assert_same_index(engine, filled)


# -- several ranges per transaction during a backfill, one near the head -----------------------

NEAR_HEAD = 40
GROUP_SETTINGS = ScanSettings(
    initial_block_range=2, max_block_range=2, concurrency=3, near_head_blocks=NEAR_HEAD
)


class SlowStore(ScanStore):
    """A store whose commits take a while and are recorded as (first, last) block per range."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.groups: list[list[tuple[int, int]]] = []

    def commit_ranges(self, source: LogSource, batches: Sequence[RangeBatch], window: int) -> None:
        time.sleep(0.03)
        super().commit_ranges(source, batches, window)
        self.groups.append([(b.from_block, b.to_block) for b in batches])


def test_backfill_groups_ranges_far_from_the_head_only(filled: Filled, engine: Engine) -> None:
    store = SlowStore(engine)

    async def run() -> int:
        async with RpcClient([filled.node.rpc_url], chain_id=CHAIN_ID) as rpc:
            scanner = Scanner(rpc, store, filled.source, json_decoder(), GROUP_SETTINGS)
            progress = await scanner.backfill()
            return progress.target_block

    target = asyncio.run(run())

    ranges = [r for group in store.groups for r in group]
    assert [a for a, _ in ranges] == [filled.source.start_block] + [b + 1 for _, b in ranges[:-1]]
    assert max(len(g) for g in store.groups) > 1, "a slow database should get several ranges"
    for group in store.groups:
        # Only a group's last range may end near the head: nothing near it waits for others.
        assert all(b <= target - NEAR_HEAD for _, b in group[:-1]), group
    _assert_same_index(engine, filled)
