"""ScanStore on SQLite and PostgreSQL: atomic range commits, a cursor that re-indexing never
moves back, rollback above a fork point only, and the touched-accounts ranking."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from indexer.scan.reorg import Header
from indexer.scan.rows import EventRow, LogSource, Touch, TouchKind
from indexer.scan.scanner import RangeBatch
from indexer.store.bulk import PARAMS_PER_STATEMENT
from indexer.store.cursors import ScanStore
from indexer.store.tables import TouchedAccount
from tests.scan_helpers import IndexState, index_state

CHAIN = 31337
OTHER_CHAIN = 42161
SOURCE = LogSource("devnet:test", CHAIN, ("0x" + "e1" * 20,), (None,), start_block=1)
OTHER = LogSource("arbitrum:test", OTHER_CHAIN, ("0x" + "e1" * 20,), (None,), start_block=1)
_touched = TouchedAccount.__table__  # type: ignore[attr-defined]


def _hash(number: int, fork: str = "a") -> str:
    return "0x" + f"{fork}{number}".encode().hex().ljust(64, "0")[:64]


def _row(chain_id: int, number: int, log_index: int, fork: str = "a") -> EventRow:
    return {
        "chain_id": chain_id,
        "block_number": number,
        "block_hash": _hash(number, fork),
        "log_index": log_index,
        "tx_hash": _hash(number * 100 + log_index, "t"),
        "address": SOURCE.addresses[0],
        "topic0": _hash(0, "e"),
        "topic1": None,
        "topic2": None,
        "topic3": None,
        "data": number.to_bytes(32, "big"),
        "source": SOURCE.name,
        "event_name": None,
        "args": None,
    }


def _batch(
    chain_id: int, first: int, last: int, touches: Sequence[Touch] = (), fork: str = "a"
) -> RangeBatch:
    """Blocks ``[first, last]`` with two logs each and every header."""
    rows = [_row(chain_id, n, i, fork) for n in range(first, last + 1) for i in range(2)]
    headers = [Header(n, _hash(n, fork), _hash(n - 1, fork)) for n in range(first, last + 1)]
    return RangeBatch(first, last, rows, headers, list(touches))


def _touches(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_touched.c.ref, _touched.c.block_number, _touched.c.kind))
        return {ref: (int(block), str(kind)) for ref, block, kind in rows}


def _blocks(state: IndexState) -> set[int]:
    return {row[0] for row in state.rows}


@pytest.fixture
def store(engine: Engine) -> ScanStore:
    return ScanStore(engine)


def test_commit_range_stores_rows_headers_touches_and_cursor(
    store: ScanStore, engine: Engine
) -> None:
    touch = Touch("gmx_v2", "0xpos", "0x" + "AB" * 20, 3)
    store.commit_range(SOURCE, _batch(CHAIN, 1, 4, [touch]), window=256)

    state = index_state(engine, SOURCE)
    assert state.row_count == 8
    assert _blocks(state) == {1, 2, 3, 4}
    assert state.cursor == store.next_block(SOURCE) == 5
    assert store.block_hashes(CHAIN) == {n: _hash(n) for n in range(1, 5)}
    assert _touches(engine) == {"0xpos": (3, "touched")}


def test_never_scanned_source_starts_at_its_start_block(store: ScanStore) -> None:
    assert store.next_block(SOURCE) == SOURCE.start_block
    assert store.block_hashes(CHAIN) == {}


def test_replayed_range_adds_nothing(store: ScanStore, engine: Engine) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 4), window=256)
    before = index_state(engine, SOURCE)
    store.commit_range(SOURCE, _batch(CHAIN, 1, 4), window=256)
    assert index_state(engine, SOURCE) == before


def test_cursor_never_moves_back_on_reindex(store: ScanStore, engine: Engine) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 10), window=256)
    store.commit_range(SOURCE, _batch(CHAIN, 3, 5), window=256)  # e.g. backfill --from-block 3
    assert store.next_block(SOURCE) == 11
    assert index_state(engine, SOURCE).row_count == 20


def test_reindex_keeps_newer_touch(store: ScanStore, engine: Engine) -> None:
    owner = "0x" + "0c" * 20
    newer = Touch("gmx_v2", "acct", owner, 9, TouchKind.LIQUIDATED)
    store.commit_range(SOURCE, _batch(CHAIN, 1, 10, [newer]), window=256)
    older = Touch("gmx_v2", "acct", owner, 4, TouchKind.TOUCHED)
    store.commit_range(SOURCE, _batch(CHAIN, 3, 5, [older]), window=256)
    assert _touches(engine) == {"acct": (9, "liquidated")}


def test_failed_commit_writes_nothing(store: ScanStore, engine: Engine) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 2), window=256)
    before = index_state(engine, SOURCE)
    bad = _batch(CHAIN, 3, 4)
    bad.rows[-1]["tx_hash"] = None  # NOT NULL: the insert fails after the first rows
    with pytest.raises(sa.exc.IntegrityError):
        store.commit_range(SOURCE, bad, window=256)
    assert index_state(engine, SOURCE) == before


def test_old_block_hashes_are_pruned_to_the_window(store: ScanStore) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 10), window=4)
    assert sorted(store.block_hashes(CHAIN)) == [7, 8, 9, 10]


def test_rollback_deletes_above_fork_only(store: ScanStore, engine: Engine) -> None:
    touches = [
        Touch("gmx_v2", "low", "0x" + "01" * 20, 3, TouchKind.CLOSED),
        Touch("gmx_v2", "high", "0x" + "02" * 20, 9, TouchKind.LIQUIDATED),
    ]
    store.commit_range(SOURCE, _batch(CHAIN, 1, 10, touches), window=256)
    store.commit_range(OTHER, _batch(OTHER_CHAIN, 1, 10), window=256)

    deleted = store.rollback_above(CHAIN, 6)

    assert deleted == 8
    state = index_state(engine, SOURCE)
    assert _blocks(state) == set(range(1, 7))
    assert state.cursor == 7
    assert sorted(store.block_hashes(CHAIN)) == list(range(1, 7))
    # A close below the fork stands; a liquidation above it is only a touch until rescanned.
    assert _touches(engine) == {"low": (3, "closed"), "high": (6, "touched")}
    other = index_state(engine, OTHER)
    assert (other.row_count, other.cursor, len(other.hashes)) == (20, 11, 10)


def test_rollback_above_cursor_leaves_cursor(store: ScanStore) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 4), window=256)
    assert store.rollback_above(CHAIN, 8) == 0
    assert store.next_block(SOURCE) == 5


def test_rescan_after_rollback_replaces_the_fork(store: ScanStore, engine: Engine) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 10), window=256)
    store.rollback_above(CHAIN, 6)
    fork = _batch(CHAIN, 7, 10, fork="b")
    fork.headers[0] = Header(7, _hash(7, "b"), _hash(6))
    store.commit_range(SOURCE, fork, window=256)

    state = index_state(engine, SOURCE)
    assert state.row_count == 20
    assert {row[2] for row in state.rows if row[0] > 6} == {_hash(n, "b") for n in range(7, 11)}
    assert store.next_block(SOURCE) == 11


_KINDS = list(TouchKind)
_RANK = {TouchKind.TOUCHED: 0, TouchKind.CLOSED: 1, TouchKind.LIQUIDATED: 2}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(_KINDS)), min_size=1, max_size=8))
def test_touched_kind_ranking(
    engine: Engine, store: ScanStore, events: list[tuple[int, TouchKind]]
) -> None:
    with engine.begin() as conn:
        conn.execute(_touched.delete())
    touches = [Touch("gmx_v2", "acct", "0x" + "0A" * 20, block, kind) for block, kind in events]
    batch = _batch(CHAIN, 1, 4, touches)

    store.commit_range(SOURCE, batch, window=256)

    # The newest block wins; within one block a liquidation beats a close beats a touch.
    block, kind = max(events, key=lambda e: (e[0], _RANK[e[1]]))
    assert _touches(engine) == {"acct": (block, kind.value)}


def test_commit_ranges_writes_several_ranges_in_one_transaction(
    store: ScanStore, engine: Engine
) -> None:
    owner = "0x" + "0d" * 20
    # More accounts than one multi-row statement holds, each touched in several ranges.
    accounts = 1_200
    batches = [
        _batch(
            CHAIN,
            first,
            first + 2,
            [Touch("gmx_v2", f"a{i}", owner, first) for i in range(accounts)],
        )
        for first in (1, 4, 7)
    ]
    batches[-1].touches.append(Touch("gmx_v2", "a5", owner, 8, TouchKind.LIQUIDATED))

    store.commit_ranges(SOURCE, batches, window=256)

    state = index_state(engine, SOURCE)
    assert state.row_count == 18
    assert state.cursor == 10
    assert sorted(store.block_hashes(CHAIN)) == list(range(1, 10))
    touched = _touches(engine)
    assert len(touched) == accounts
    assert touched["a5"] == (8, "liquidated")
    assert {v for k, v in touched.items() if k != "a5"} == {(7, "touched")}


def test_failed_group_commit_writes_none_of_its_ranges(store: ScanStore, engine: Engine) -> None:
    store.commit_range(SOURCE, _batch(CHAIN, 1, 2), window=256)
    before = index_state(engine, SOURCE)
    good, bad = _batch(CHAIN, 3, 4), _batch(CHAIN, 5, 6)
    bad.rows[-1]["tx_hash"] = None  # NOT NULL: fails after the first range's rows went in
    with pytest.raises(sa.exc.IntegrityError):
        store.commit_ranges(SOURCE, [good, bad], window=256)
    assert index_state(engine, SOURCE) == before


def test_a_commit_larger_than_one_statement_stores_every_row(
    engine: Engine, store: ScanStore
) -> None:
    """A backfill group spans several multi-row statements (SQLite takes at most
    PARAMS_PER_STATEMENT parameters in one): every row and touch lands, none twice."""
    per_statement = PARAMS_PER_STATEMENT // 13  # raw_events has 13 columns
    blocks = per_statement + 7  # two logs a block: more than two statements' worth of rows
    owner = "0x" + "0b" * 20
    touches = [Touch("gmx_v2", f"a{n}", owner, n) for n in range(1, blocks + 1)]
    store.commit_ranges(SOURCE, [_batch(CHAIN, 1, blocks, touches)], window=8)
    state = index_state(engine, SOURCE)
    assert state.row_count == len(state.rows) == 2 * blocks
    assert _blocks(state) == set(range(1, blocks + 1))
    assert len(_touches(engine)) == blocks
    assert state.cursor == blocks + 1
