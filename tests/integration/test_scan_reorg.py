"""Reorgs under a running ``Scanner.follow``: the index ends equal to a fresh index of the
canonical chain, and a reorg below the kept window of block hashes stops the scan loudly.

Each test gets its own anvil (automine: a block per transaction), so ``anvil_reorg`` never
disturbs the session's devnet. Replacement transactions emit logs the old blocks did not have.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from devnet.chain import Anvil
from devnet.solc import Artifact
from indexer.errors import ReorgTooDeep
from indexer.registry import json_decoder
from indexer.rpc.client import RpcClient
from indexer.scan.rows import LogSource
from indexer.scan.scanner import Scanner, ScanProgress, ScanSettings
from indexer.store.cursors import ScanStore
from tests.scan_helpers import (
    CHAIN_ID,
    answers,
    count_hash_requests,
    deploy_emitter,
    emit_tx,
    emitter_source,
    fresh_index,
    increases,
    index_state,
    node_log_count,
    send,
)

pytestmark = pytest.mark.chain

BLOCKS_BEFORE_REORG = 24
REPLACEMENT_PRICE = 9_000  # topic1 of every log the replacement transactions emit
CATCH_UP_LIMIT_S = 60.0  # a hang guard only: a caught-up scan takes a fraction of this


@pytest.fixture
def node() -> Iterator[Anvil]:
    with Anvil() as chain:
        yield chain


def _fill(node: Anvil, artifacts: Mapping[str, Artifact]) -> LogSource:
    """A LogEmitter and ``BLOCKS_BEFORE_REORG`` blocks of logs (GMX-style and flat, 3 each)."""
    emitter = deploy_emitter(node, artifacts)
    source = emitter_source(emitter, start_block=node.block_number())
    for i in range(BLOCKS_BEFORE_REORG):
        calldata = answers(100 + i, i * 3, 3) if i % 2 else increases(i * 3, 3)
        send(node, emit_tx(node, emitter, calldata))
    return source


async def _caught_up(
    node: Anvil, store: ScanStore, source: LogSource, task: asyncio.Task[None]
) -> None:
    """Wait until the scan stored the node's current head block, with its current hash."""
    deadline = time.monotonic() + CATCH_UP_LIMIT_S
    while time.monotonic() < deadline:
        if task.done():
            task.result()  # the follow loop ended early: raise its error
            pytest.fail("follow stopped before catching up")
        head = await asyncio.to_thread(node.block)
        number = int(head["number"], 16)
        stored = store.block_hashes(source.chain_id).get(number)
        if store.next_block(source) == number + 1 and stored == head["hash"]:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"follow did not catch up within {CATCH_UP_LIMIT_S:g} s")


async def _follow_through_reorg(
    node: Anvil, engine: Engine, source: LogSource, depth: int, window: int
) -> ScanProgress:
    """Follow the chain, reorg it ``depth`` deep once the scan caught up, mine on, catch up."""
    store = ScanStore(engine)
    settings = ScanSettings(block_time_s=0.02, reorg_window=window, initial_block_range=4)
    progress = ScanProgress(source.start_block, source.start_block - 1, source.start_block)
    stop = asyncio.Event()
    async with RpcClient([node.rpc_url], chain_id=CHAIN_ID) as rpc:
        scanner = Scanner(rpc, store, source, json_decoder(), settings)
        task = asyncio.create_task(scanner.follow(stop, progress))
        try:
            await _caught_up(node, store, source, task)
            emitter = source.addresses[0]
            # A replacement at offset 0 makes the lowest replaced block differ for sure.
            offsets = sorted({0, depth // 2, depth - 1})
            txs = [
                (emit_tx(node, emitter, answers(REPLACEMENT_PRICE, 1_000 + o * 2, 2)), o)
                for o in offsets
            ]
            await asyncio.to_thread(node.reorg, depth, txs)
            for i in range(3):  # the chain moves on while the scan recovers
                tx = emit_tx(node, emitter, increases(5_000 + i * 4, 4))
                await asyncio.to_thread(send, node, tx)
            await _caught_up(node, store, source, task)
        finally:
            stop.set()
            await asyncio.wait([task])
        task.result()
    return progress


@pytest.mark.parametrize("depth", [1, 2, 5, 13, 20])
def test_follow_after_reorg_equals_fresh_index(
    depth: int, node: Anvil, artifacts: Mapping[str, Artifact], engine: Engine, tmp_path: Path
) -> None:
    source = _fill(node, artifacts)

    progress = asyncio.run(_follow_through_reorg(node, engine, source, depth, window=64))

    assert progress.reorgs >= 1
    followed = index_state(engine, source)
    reference = fresh_index(node.rpc_url, source, tmp_path / "reference", window=64)
    assert followed.row_count == len(followed.rows), "duplicate rows"
    assert followed.rows == reference.rows
    assert followed.cursor == reference.cursor == node.block_number() + 1
    assert followed.hashes == reference.hashes
    assert reference.row_count == node_log_count(node, source, node.block_number())
    replacement_topic1 = "0x" + REPLACEMENT_PRICE.to_bytes(32, "big").hex()
    replaced = [row for row in followed.rows if row[6] == replacement_topic1]
    assert len(replaced) == 2 * len({0, depth // 2, depth - 1})


def test_reorg_below_kept_window_raises(
    node: Anvil, artifacts: Mapping[str, Artifact], engine: Engine
) -> None:
    source = _fill(node, artifacts)
    window = 4

    with pytest.raises(ReorgTooDeep, match="deeper than the kept window"):
        asyncio.run(_follow_through_reorg(node, engine, source, window + 3, window=window))

    # Nothing was rolled back on a guess: the index still holds the pre-reorg chain.
    state = index_state(engine, source)
    assert state.cursor == node.block_number() + 1 - 3
    assert len(state.hashes) == window
    assert state.row_count == 3 * BLOCKS_BEFORE_REORG


async def _backfill_once(node: Anvil, engine: Engine, source: LogSource) -> ScanProgress:
    settings = ScanSettings(reorg_window=64, initial_block_range=4)
    async with RpcClient([node.rpc_url], chain_id=CHAIN_ID) as rpc:
        return await Scanner(rpc, ScanStore(engine), source, json_decoder(), settings).backfill()


@pytest.mark.parametrize("depth", [1, 5])
def test_reorg_under_new_blocks_is_found_without_a_tip_request(
    depth: int,
    node: Anvil,
    artifacts: Mapping[str, Artifact],
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scan whose range starts right after the stored tip asks no hash of the tip: the
    range's first header must name it as parent. A reorg of the tip under new blocks is
    found that way, and rolled back as the tip check would have."""
    source = _fill(node, artifacts)
    asyncio.run(_backfill_once(node, engine, source))
    asked = count_hash_requests(monkeypatch)
    send(node, emit_tx(node, source.addresses[0], increases(4_000, 2)))
    calm = asyncio.run(_backfill_once(node, engine, source))
    assert (calm.reorgs, asked) == (0, [])  # a new block, no reorg: no hash asked

    offsets = sorted({0, depth - 1})
    node.reorg(
        depth,
        [(emit_tx(node, source.addresses[0], answers(REPLACEMENT_PRICE, 2_000 + o, 1)), o)
         for o in offsets],
    )  # fmt: skip
    for i in range(2):
        send(node, emit_tx(node, source.addresses[0], increases(5_000 + i * 4, 4)))
    progress = asyncio.run(_backfill_once(node, engine, source))

    assert progress.reorgs == 1
    assert all(len(numbers) > 1 for numbers in asked)  # the reorg's lookup, no tip request
    followed = index_state(engine, source)
    reference = fresh_index(node.rpc_url, source, tmp_path / "reference", window=64)
    assert followed.rows == reference.rows
    assert followed.cursor == reference.cursor == node.block_number() + 1
    assert followed.hashes == reference.hashes


def test_a_scan_stores_only_while_it_holds_the_write_lock(
    node: Anvil, artifacts: Mapping[str, Artifact], engine: Engine
) -> None:
    """Other writers of the database (a monitor's reads stored behind its tick) take turns
    with the scan through one lock: held elsewhere, the scan fetches but stores nothing."""
    source = _fill(node, artifacts)
    store, lock = ScanStore(engine), threading.Lock()

    async def main() -> tuple[int, int]:
        settings = ScanSettings(reorg_window=64)
        async with RpcClient([node.rpc_url], chain_id=CHAIN_ID) as rpc:
            scanner = Scanner(rpc, store, source, json_decoder(), settings, write_lock=lock)
            lock.acquire()
            task = asyncio.create_task(scanner.backfill())
            await asyncio.sleep(0.5)  # long enough to fetch and decode a few dozen blocks
            held = store.next_block(source)
            lock.release()
            await asyncio.wait_for(task, timeout=CATCH_UP_LIMIT_S)
            return held, store.next_block(source)

    held, done = asyncio.run(main())
    assert held == source.start_block  # nothing stored while the lock was held elsewhere
    assert done == node.block_number() + 1


def _split(source: LogSource) -> tuple[LogSource, LogSource]:
    """``source`` as two scans of one chain: its Chainlink answers, and its GMX logs."""
    answers_only, gmx_only = (((topic0,),) for topic0 in (source.topics[0] or ()))
    return (
        LogSource("devnet:answers", CHAIN_ID, source.addresses, answers_only, source.start_block),
        LogSource("devnet:gmx", CHAIN_ID, source.addresses, gmx_only, source.start_block),
    )


def _reorg_and_move_on(node: Anvil, emitter: str, depth: int) -> None:
    """Replace the last ``depth`` blocks (each replacement emits an answer), mine two more."""
    offsets = sorted({0, depth - 1})
    node.reorg(
        depth,
        [(emit_tx(node, emitter, answers(REPLACEMENT_PRICE, 3_000 + o, 1)), o) for o in offsets],
    )
    for i in range(2):
        send(node, emit_tx(node, emitter, increases(6_000 + i * 4, 4)))


def test_a_scan_whose_cursor_another_scan_rolled_back_starts_again_from_it(
    node: Anvil, artifacts: Mapping[str, Artifact], engine: Engine, tmp_path: Path
) -> None:
    """Two scans of one chain run side by side (a monitor's GMX and gTrade scanners). One
    fetched the range after the stored tip; before it stores it, the other rolls the chain
    back below that tip (a reorg). The range still links to what is stored (its parent is
    gone), but the blocks between the fork and it are missing from it: the scan must not
    store it, and starts again from its cursor, now the fork."""
    full = _fill(node, artifacts)
    answers_source, gmx_source = _split(full)
    store, lock = ScanStore(engine), threading.Lock()
    settings = ScanSettings(reorg_window=64)
    depth = 3

    async def scan(source: LogSource, *, check_tip: bool) -> ScanProgress:
        async with RpcClient([node.rpc_url], chain_id=CHAIN_ID) as rpc:
            scanner = Scanner(rpc, store, source, json_decoder(), settings, write_lock=lock)
            return await scanner.backfill(check_tip=check_tip)

    async def race() -> ScanProgress:
        lock.acquire()
        task = asyncio.create_task(scan(answers_source, check_tip=False))
        await asyncio.sleep(0.5)  # it fetched the new blocks and waits to store them
        fork = node.block_number() - 2 - depth  # the other scan found the reorg
        store.rollback_above(CHAIN_ID, fork)
        lock.release()
        return await asyncio.wait_for(task, timeout=CATCH_UP_LIMIT_S)

    for source in (answers_source, gmx_source):
        asyncio.run(scan(source, check_tip=True))
    _reorg_and_move_on(node, full.addresses[0], depth)
    raced = asyncio.run(race())
    asyncio.run(scan(gmx_source, check_tip=True))

    assert raced.reorgs == 0  # it rolled nothing back itself
    state = index_state(engine, answers_source)
    reference = fresh_index(node.rpc_url, full, tmp_path / "reference", window=64)
    assert state.rows == reference.rows
    assert state.hashes == reference.hashes
    head = node.block_number()
    assert store.next_block(answers_source) == store.next_block(gmx_source) == head + 1


def test_scans_side_by_side_through_a_reorg_roll_back_once(
    node: Anvil, artifacts: Mapping[str, Artifact], engine: Engine, tmp_path: Path
) -> None:
    """Both scans of the chain find the reorg under the new blocks at once; one rolls back,
    the other sees it did and starts again from its moved cursor. The index is a fresh one."""
    full = _fill(node, artifacts)
    sources = _split(full)
    store, lock = ScanStore(engine), threading.Lock()
    settings = ScanSettings(reorg_window=64)

    async def side_by_side() -> list[ScanProgress]:
        async with RpcClient([node.rpc_url], chain_id=CHAIN_ID) as rpc:
            scanners = [
                Scanner(rpc, store, s, json_decoder(), settings, write_lock=lock) for s in sources
            ]
            return await asyncio.gather(
                *(s.backfill(check_tip=i == 0) for i, s in enumerate(scanners))
            )

    asyncio.run(side_by_side())
    _reorg_and_move_on(node, full.addresses[0], 4)
    progress = asyncio.run(side_by_side())

    assert sum(p.reorgs for p in progress) == 1
    state = index_state(engine, full)
    reference = fresh_index(node.rpc_url, full, tmp_path / "reference", window=64)
    assert (state.rows, state.hashes) == (reference.rows, reference.hashes)
    assert {store.next_block(s) for s in sources} == {node.block_number() + 1}
