"""The runtime's in-memory book follows re-reads protocol by protocol."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from indexer.models import AccountStatus, MarginAccount
from monitor.runtime.live_book import LiveBook, Lost
from tests.health_helpers import gmx_account, two_asset_cross, usdc

OWNER = "0x" + "ab" * 20


def _book() -> tuple[LiveBook, int, int]:
    gmx = replace(gmx_account(True, usdc(1_000)), protocol="gmx_v2", owner=OWNER)
    hl = replace(two_asset_cross(), protocol="hyperliquid", owner=OWNER)
    return LiveBook([(1, gmx), (2, hl)]), 1, 2


def test_a_read_that_finds_nothing_drops_the_owners_accounts_on_that_protocol_only() -> None:
    live, gmx_id, hl_id = _book()
    ((_, hl),) = [(i, a) for i, a in live.rows() if i == hl_id]
    lost = live.replace_owners("hyperliquid", [OWNER], [])  # polled there, nothing open
    assert lost == [Lost(hl_id, hl)]  # as it was last held, gone
    assert [i for i, _ in live.rows()] == [gmx_id]  # the GMX account of the same owner stays
    assert len(live) == 1
    ids, book = live.compiled("hyperliquid")
    assert (ids.tolist(), len(book.accounts)) == ([], 0)


def test_a_read_replaces_changed_accounts_and_keeps_unchanged_ones() -> None:
    live, gmx_id, _ = _book()
    _, before = live.compiled("gmx_v2")
    ((_, gmx),) = [(i, a) for i, a in live.rows() if i == gmx_id]
    live.replace_owners("gmx_v2", [OWNER], [(gmx_id, replace(gmx, block_number=99))])
    assert live.compiled("gmx_v2")[1] is before  # same terms: nothing recompiled
    richer = replace(gmx, collateral=(usdc(2_000),), block_number=100)
    live.replace_owners("gmx_v2", [OWNER], [(gmx_id, richer)])
    _, after = live.compiled("gmx_v2")
    assert after.accounts == (richer,)
    assert len(live) == 2


def test_an_account_read_again_without_a_position_is_reported_as_it_was() -> None:
    live, _, hl_id = _book()
    ((_, hl),) = [(i, a) for i, a in live.rows() if i == hl_id]
    assert len(hl.positions) == 2
    kept = replace(hl, positions=hl.positions[:1], block_number=hl.block_number + 1)
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, kept)]) == [Lost(hl_id, hl, kept)]
    grown = replace(hl, block_number=hl.block_number + 2)  # a position back: nothing lost
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, grown)]) == []
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, grown)]) == []  # unchanged


def test_an_account_read_again_with_a_smaller_or_flipped_position_is_reported() -> None:
    live, _, hl_id = _book()
    ((_, hl),) = [(i, a) for i, a in live.rows() if i == hl_id]
    btc, eth = hl.positions

    def sized(size_raw: int, block: int) -> MarginAccount:
        return replace(hl, positions=(replace(btc, size_raw=size_raw), eth), block_number=block)

    bigger = sized(btc.size_raw + 1, hl.block_number + 1)
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, bigger)]) == []
    smaller = sized(btc.size_raw * 4 // 5, hl.block_number + 2)  # a fifth liquidated
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, smaller)]) == [
        Lost(hl_id, bigger, smaller)
    ]
    flipped = sized(-btc.size_raw * 2, hl.block_number + 3)  # larger, on the other side
    assert live.replace_owners("hyperliquid", [OWNER], [(hl_id, flipped)]) == [
        Lost(hl_id, smaller, flipped)
    ]


def test_same_terms_ignores_the_block_and_nothing_else() -> None:
    gmx = replace(gmx_account(True, usdc(1_000)), protocol="gmx_v2", owner=OWNER)
    assert gmx.same_terms(replace(gmx, block_number=gmx.block_number + 7))
    hl = two_asset_cross()
    changed: dict[str, Any] = {
        "chain_id": 10,
        "protocol": "gtrade",
        "owner": "0x" + "cd" * 20,
        "ref": "other",
        "mode": hl.mode,
        "collateral": (usdc(2_000),),
        "positions": (),
        "fixed_requirement_usd_e30": 5,
        "status": AccountStatus.CLOSED,
    }
    for name, value in changed.items():
        assert not gmx.same_terms(replace(gmx, **{name: value})), name
