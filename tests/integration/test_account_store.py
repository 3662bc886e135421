"""Saving complete reads of owners on every backend: closed accounts leave the open book and the
owners' touches up to the read's block are consumed, even when the read found no account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.models import AccountStatus, MarginAccount, MarginMode
from indexer.protocols.hyperliquid.margin import MarginTier, tiers_for
from indexer.scan.rows import LogSource, Touch, TouchKind
from indexer.scan.scanner import RangeBatch
from indexer.store.accounts import (
    end_from_events,
    load_accounts,
    open_assets,
    save_read,
    touched_owner_states,
    touched_owners,
)
from indexer.store.cursors import ScanStore
from indexer.store.engine import make_engine, upgrade
from monitor.alerts.apply import newly_liquidated
from tests.health_helpers import account, gmx_position, hl_position, usdc

OWNER = "0x00000000000000000000000000000000000000aa"
SOURCE = LogSource("devnet:test", 42161, ("0x" + "e1" * 20,), (None,), start_block=1)


def _touch(engine: Engine, block: int, kind: TouchKind = TouchKind.TOUCHED) -> None:
    touch = Touch("test", "1", OWNER, block, kind)
    ScanStore(engine).commit_range(SOURCE, RangeBatch(block, block, [], [], [touch]), window=256)


def _open_account(block: int) -> MarginAccount:
    position = gmx_position(is_long=True, size_in_usd_e30=10**33, size_in_tokens=10**18,
                            fees_usd_e30=0)  # fmt: skip
    return replace(account(MarginMode.ISOLATED, (usdc(100),), position), block_number=block)


def test_a_read_that_finds_no_account_closes_and_consumes_the_touch(engine: Engine) -> None:
    opened = _open_account(5)
    save_read(engine, 42161, "test", [OWNER], [opened], read_block=5)
    _touch(engine, 7)
    assert touched_owners(engine, 42161, "test") == [OWNER]

    result = save_read(engine, 42161, "test", [OWNER], [], read_block=8)

    assert (result.written, result.closed, result.liquidated) == (0, 1, 0)
    assert touched_owners(engine, 42161, "test") == []
    (closed,) = load_accounts(engine, status=None)
    assert closed[1].status is AccountStatus.CLOSED


def test_touches_above_the_read_block_stay(engine: Engine) -> None:
    _touch(engine, 9, TouchKind.LIQUIDATED)
    save_read(engine, 42161, "test", [OWNER], [], read_block=8)
    assert touched_owners(engine, 42161, "test") == [OWNER]


def test_an_owner_is_ended_by_events_only_if_every_touch_up_to_the_block_is_an_ending(
    engine: Engine,
) -> None:
    _touch(engine, 9, TouchKind.LIQUIDATED)
    assert touched_owner_states(engine, 42161, "test", block=9) == {OWNER: True}
    assert touched_owner_states(engine, 42161, "test", block=8) == {OWNER: False}  # not yet
    assert touched_owner_states(engine, 42161, "test", among=["0x01"], block=9) == {}
    _touch(engine, 10)  # a later plain touch: something to read
    assert touched_owner_states(engine, 42161, "test", block=10) == {OWNER: False}


def test_ending_from_events_decides_like_a_read_and_keeps_the_touch(engine: Engine) -> None:
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    assert end_from_events(engine, 42161, "test", [OWNER], block=6).ended == ()  # above it
    result = end_from_events(engine, 42161, "test", [OWNER], block=7)
    (account_id,) = [i for i, _ in load_accounts(engine, status=None)]
    assert (result.closed, result.liquidated, result.ended) == (0, 1, ((account_id, OWNER),))
    ((_, ended),) = load_accounts(engine, status=None)
    assert (ended.status, ended.block_number, ended.positions) == (AccountStatus.LIQUIDATED, 7, ())
    assert touched_owners(engine, 42161, "test") == [OWNER]  # a read confirms it later
    again = end_from_events(engine, 42161, "test", [OWNER], block=7)
    assert (again.liquidated, again.ended) == (0, ())  # once


def test_an_ending_of_an_earlier_life_of_the_ref_does_not_decide_this_one(engine: Engine) -> None:
    """A GMX position key outlives its position: liquidated at 7, open again when read at 10,
    then gone from a read at 12 with no ending event since (a node that answered from a later
    state than the events indexed): a close, not the old liquidation again."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=8).liquidated == 1
    save_read(engine, 42161, "test", [OWNER], [_open_account(10)], read_block=10)
    result = save_read(engine, 42161, "test", [OWNER], [], read_block=12)
    assert (result.closed, result.liquidated) == (1, 0)
    ((_, ended),) = load_accounts(engine, status=None)
    assert ended.status is AccountStatus.CLOSED


def test_after_a_reorg_an_ending_below_the_old_read_decides(engine: Engine) -> None:
    """Read open at 9 on a chain that a reorg forking at 6 replaces; the new chain liquidates
    the account at 7, below that read: the read that finds it gone records the liquidation."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(9)], read_block=9)
    ScanStore(engine).rollback_above(42161, 6)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    result = save_read(engine, 42161, "test", [OWNER], [], read_block=10)
    assert (result.closed, result.liquidated) == (0, 1)


def test_after_a_reorg_a_liquidation_below_the_closing_read_relabels_the_close(
    engine: Engine,
) -> None:
    """Found gone by the read at 9 with no ending event (a close), on a chain a reorg forking
    at 6 replaces; the new chain liquidates it at 7: the next read of the owner records the
    liquidation."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=9).closed == 1
    ScanStore(engine).rollback_above(42161, 6)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=10).liquidated == 1
    ((_, ended),) = load_accounts(engine, status=None)
    assert ended.status is AccountStatus.LIQUIDATED


def test_open_assets_lists_what_open_accounts_hold_and_trade(engine: Engine) -> None:
    opened = _open_account(5)
    save_read(engine, 42161, "test", [OWNER], [opened], read_block=5)
    assert open_assets(engine, 42161, "test") == sorted(opened.assets)
    assert open_assets(engine, 42161, "other") == []
    save_read(engine, 42161, "test", [OWNER], [], read_block=6)  # closed: nothing to price
    assert open_assets(engine, 42161, "test") == []


def test_maintenance_tiers_round_trip_exactly(engine: Engine) -> None:
    eth = tiers_for(25, [MarginTier(0, 25), MarginTier(100_000_000, 15)])
    position = replace(hl_position("ETH", 10**8, 4, 20_000_000 * 10**6, 25), mm_tiers=eth)
    saved = replace(account(MarginMode.CROSS, (usdc(1_000_000),), position), block_number=5)
    save_read(engine, 42161, "test", [OWNER], [saved], read_block=5)
    ((_, loaded),) = load_accounts(engine)
    assert loaded == saved
    assert loaded.positions[0].mm_tiers[1].deduction_usd_e30 == eth[1].deduction_usd_e30


def test_a_reorg_below_the_read_that_ended_an_account_queues_it_again(engine: Engine) -> None:
    """An account last read open at block 5 and found liquidated by the read at block 8: a
    reorg forking at block 6 may have removed the liquidation, so the account must be re-read
    (even though its last open read stands below the fork)."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    result = save_read(engine, 42161, "test", [OWNER], [], read_block=8)
    assert result.liquidated == 1
    assert touched_owners(engine, 42161, "test") == []

    ScanStore(engine).rollback_above(42161, 6)

    assert touched_owners(engine, 42161, "test") == [OWNER]
    save_read(engine, 42161, "test", [OWNER], [_open_account(9)], read_block=9)
    (reopened,) = load_accounts(engine)
    assert reopened[1].status is AccountStatus.OPEN


def _liquidated_at_7_then_reorged_at_6(engine: Engine) -> None:
    """Open at 5, liquidated by an event at 7 (recorded by the read at 8), then a reorg
    forking at 6 removes that event."""
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=8).liquidated == 1
    ScanStore(engine).rollback_above(42161, 6)


def test_a_liquidation_a_reorg_replaces_with_a_close_becomes_a_close(engine: Engine) -> None:
    _liquidated_at_7_then_reorged_at_6(engine)
    _touch(engine, 7, TouchKind.CLOSED)  # the new chain: the trader closed it in time
    result = save_read(engine, 42161, "test", [OWNER], [], read_block=9)
    assert (result.closed, result.liquidated) == (0, 0)  # already ended: nothing newly ended
    ((_, ended),) = load_accounts(engine, status=None)
    assert ended.status is AccountStatus.CLOSED
    assert newly_liquidated(engine, 42161, ()) == []


def test_a_liquidation_the_new_chain_repeats_stays_a_liquidation(engine: Engine) -> None:
    _liquidated_at_7_then_reorged_at_6(engine)
    _touch(engine, 8, TouchKind.LIQUIDATED)  # the same liquidation, a block later
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=9).liquidated == 1
    ((_, ended),) = load_accounts(engine, status=None)
    assert (ended.status, ended.block_number) == (AccountStatus.LIQUIDATED, 9)


def test_a_liquidation_below_the_fork_survives_a_reorg_of_the_read_that_saw_it(
    engine: Engine,
) -> None:
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    _touch(engine, 7, TouchKind.LIQUIDATED)
    save_read(engine, 42161, "test", [OWNER], [], read_block=9)
    ScanStore(engine).rollback_above(42161, 8)  # the event at 7 is history both chains share
    ((_, ended),) = load_accounts(engine, status=None)
    assert ended.status is AccountStatus.LIQUIDATED
    save_read(engine, 42161, "test", [OWNER], [], read_block=10)
    ((_, ended),) = load_accounts(engine, status=None)
    assert ended.status is AccountStatus.LIQUIDATED


def test_a_reorg_above_the_read_that_ended_an_account_leaves_it(engine: Engine) -> None:
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    save_read(engine, 42161, "test", [OWNER], [], read_block=8)
    ScanStore(engine).rollback_above(42161, 8)
    assert touched_owners(engine, 42161, "test") == []


def test_touched_owners_among_a_scope_leaves_the_rest_unscanned(engine: Engine) -> None:
    _touch(engine, 4)
    assert touched_owners(engine, 42161, "test", among={OWNER}) == [OWNER]
    assert touched_owners(engine, 42161, "test", among={"0x" + "bb" * 20}) == []
    assert touched_owners(engine, 42161, "test", among=set()) == []
    # more owners than one statement binds
    many = {f"0x{i:040x}" for i in range(1200)} | {OWNER}
    assert touched_owners(engine, 42161, "test", among=many) == [OWNER]


def test_a_close_read_a_block_before_its_liquidation_event_becomes_a_liquidation(
    engine: Engine,
) -> None:
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    # The read at block 8 already finds the account gone: stored as a close...
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=8).closed == 1
    # ...but the liquidation's own event is in block 9, and a liquidation at 12 is not seen
    # by a read at 10.
    _touch(engine, 9, TouchKind.LIQUIDATED)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=8).liquidated == 0
    result = save_read(engine, 42161, "test", [OWNER], [], read_block=10)
    assert (result.closed, result.liquidated) == (0, 1)
    ((_, ended),) = load_accounts(engine, status=None)
    assert (ended.status, ended.block_number) == (AccountStatus.LIQUIDATED, 10)
    assert save_read(engine, 42161, "test", [OWNER], [], read_block=11).liquidated == 0  # once


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement ``engine`` executes meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_storing_a_read_looks_up_its_owners_not_the_whole_book(tmp_path: Path) -> None:
    """SQLite's plan for every owner lookup of a stored read: the (chain, protocol, owner)
    index. Through the unique (chain, protocol, ref) key instead, each store scanned every
    account the protocol ever had, closed ones too."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade(engine)
    others = [replace(_open_account(5), owner=f"0x{i:040x}", ref=str(i)) for i in range(50)]
    save_read(engine, 42161, "test", [a.owner for a in others], others, read_block=5)
    save_read(engine, 42161, "test", [OWNER], [_open_account(6)], read_block=6)
    with _statements(engine) as seen:
        save_read(engine, 42161, "test", [OWNER], [], read_block=8)
        end_from_events(engine, 42161, "test", [OWNER], block=9)
    by_owner = [(s, p) for s, p in seen if re.search(r"(?<!touched_)accounts\.owner IN", s)]
    assert len(by_owner) >= 3  # open refs; liquidated after close, from both calls
    with engine.connect() as conn:
        for statement, parameters in by_owner:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            searches = [row[-1] for row in plan if " accounts " in f" {row[-1]} "]
            assert searches, plan
            assert all("ix_accounts_book_owner" in s for s in searches), plan
    engine.dispose()


def test_unalerted_liquidations_are_looked_up_from_a_block_on(engine: Engine) -> None:
    """``newly_liquidated(since_block=…)`` finds the ends stored at or above the block (an end
    is stored with the block of the read that found it), and the ``breached`` ids wherever
    they are; without a block, every end not yet alerted."""
    hl_owner = "0x00000000000000000000000000000000000000bb"
    save_read(engine, 42161, "test", [OWNER], [_open_account(5)], read_block=5)
    hl_account = replace(_open_account(5), owner=hl_owner, protocol="hl")
    save_read(engine, 42161, "hl", [hl_owner], [hl_account],
              read_block=5)  # fmt: skip
    _touch(engine, 9, TouchKind.LIQUIDATED)
    save_read(engine, 42161, "test", [OWNER], [], read_block=10)  # liquidated, stored at 10
    save_read(engine, 42161, "hl", [hl_owner], [], read_block=6)  # closed at 6: no event
    ((liquidated_id, _),) = load_accounts(engine, status=AccountStatus.LIQUIDATED)
    ((closed_id, _),) = load_accounts(engine, status=AccountStatus.CLOSED)

    def found(since: int | None, breached: set[int] = set()) -> set[int]:  # noqa: B006
        return {i for i, _ in newly_liquidated(engine, 42161, ["hl"], breached, since_block=since)}

    assert found(None) == found(10) == {liquidated_id}
    assert found(11) == set()
    assert found(11, {closed_id}) == {closed_id}  # breached below the block: inferred anyway
    ((_, inferred),) = load_accounts(engine, status=None, ids=[closed_id])
    assert inferred.status is AccountStatus.LIQUIDATED


def test_a_read_stores_exact_integers_at_the_extremes(engine: Engine) -> None:
    """Positions and collateral go to the database as driver-level rows: the exact-integer
    columns must still hold any int256/uint256, and refuse what is outside."""
    opened = _open_account(5)
    (position,) = opened.positions
    wide = replace(position, size_raw=-(2**255), entry_notional_usd_e30=2**256 - 1,
                   pending_fees_usd_e30=-(2**200))  # fmt: skip
    rich = replace(opened.collateral[0], amount_raw=2**256 - 1)
    extreme = replace(opened, positions=(wide,), collateral=(rich,))
    save_read(engine, 42161, "test", [OWNER], [extreme], read_block=5)
    ((_, stored),) = load_accounts(engine)
    assert stored.positions == extreme.positions
    assert stored.collateral == extreme.collateral
    too_big = replace(extreme, collateral=(replace(extreme.collateral[0], amount_raw=2**256),))
    with pytest.raises(ValueError, match="outside"):
        save_read(engine, 42161, "test", [OWNER], [too_big], read_block=6)
    ((_, unchanged),) = load_accounts(engine)
    assert unchanged == stored  # the failed save wrote nothing


def test_storing_a_read_again_updates_in_place_and_takes_no_new_ids(engine: Engine) -> None:
    """An account read again keeps its id and row, its values replaced; and it draws nothing
    from the id sequence (an upsert on the ref would draw a value per row on PostgreSQL even
    when it updates, and every read of a big book would wear the sequence down)."""
    first, second = _open_account(5), replace(_open_account(5), ref="2", owner=OWNER)
    save_read(engine, 42161, "test", [OWNER], [first, second], read_block=5)
    ids = {a.ref: i for i, a in load_accounts(engine, status=None)}
    for block in (6, 7, 8):
        moved = replace(first, block_number=block, fixed_requirement_usd_e30=-(10**40) - block)
        save_read(engine, 42161, "test", [OWNER], [moved, second], read_block=block)
    stored = {a.ref: (i, a) for i, a in load_accounts(engine, status=None)}
    assert {ref: i for ref, (i, _) in stored.items()} == ids
    assert stored[first.ref][1].block_number == 8
    assert stored[first.ref][1].fixed_requirement_usd_e30 == -(10**40) - 8
    newcomer = replace(_open_account(9), ref="3")
    save_read(engine, 42161, "test", [OWNER], [first, second, newcomer], read_block=9)
    (new_id,) = [i for i, a in load_accounts(engine, status=None) if a.ref == "3"]
    assert new_id == max(ids.values()) + 1


def test_accounts_load_without_their_children_when_asked(engine: Engine) -> None:
    saved = _open_account(5)
    save_read(engine, 42161, "test", [OWNER], [saved], read_block=5)
    ((whole_id, whole),) = load_accounts(engine)
    ((bare_id, bare),) = load_accounts(engine, ids=[whole_id], children=False)
    assert whole.positions
    assert whole.collateral
    assert bare_id == whole_id
    assert bare == replace(whole, positions=(), collateral=())
