"""Saving complete reads of owners on every backend: closed accounts leave the open book and the
owners' touches up to the read's block are consumed, even when the read found no account."""

from __future__ import annotations

from dataclasses import replace

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
