"""A book kept up to date chunk by chunk evaluates as the same accounts compiled at once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from indexer.models import E30, MarginAccount, MarginMode
from monitor.health.book import account_healths, compile_accounts, evaluate, select_accounts
from monitor.health.chunked import ChunkedBook
from tests.health_helpers import (
    MARKS,
    account,
    accounts,
    gmx_account,
    gmx_position,
    prices,
    two_asset_cross,
    usdc,
)

OWNERS = [f"0x{n:040x}" for n in (0, 1, 2**150, 2**155, 2**159, 2**160 - 1)]
"""Owners across the address space (an account id keeps its owner, as on chain)."""

# (account id, account or None to remove it), applied in order.
edits = st.lists(
    st.tuples(st.integers(0, 12), st.one_of(st.none(), accounts())), min_size=1, max_size=30
)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True))


@given(edits, st.integers(1, 8), prices(), st.integers(1, 4))
def test_a_chunked_book_after_any_edits_equals_a_fresh_compile(
    steps: list[tuple[int, MarginAccount | None]], chunks: int, px: dict[str, float], every: int
) -> None:
    """Compiled every ``every`` edits: a chunk that only lost accounts since its compile keeps
    its rows (``select_accounts``), any other change recompiles it; either way the book is the
    fresh compile's."""
    chunked, expected = ChunkedBook(chunks), dict[int, MarginAccount]()
    for at, (account_id, drawn) in enumerate(steps):
        owner = OWNERS[account_id % len(OWNERS)]
        if drawn is None:
            chunked.remove(account_id, owner)
            expected.pop(account_id, None)
            if at % every == 0:
                chunked.compiled()
            continue
        account = replace(drawn, owner=owner, block_number=at)
        chunked.put(account_id, account)
        prior = expected.get(account_id)
        if prior is None or replace(prior, block_number=at) != account:
            expected[account_id] = account  # a read of the same terms keeps the earlier one
        if at % every == 0:
            chunked.compiled()  # compile part-way: later edits must recompile their chunks
    ids, book = chunked.compiled()
    assert sorted(ids.tolist()) == sorted(expected)
    assert [i for i, _ in chunked.rows()] == ids.tolist()
    assert list(book.accounts) == [expected[i] for i in ids.tolist()]
    fresh = compile_accounts([expected[i] for i in ids.tolist()])
    got = evaluate(book, book.price_vector(px))
    want = evaluate(fresh, fresh.price_vector(px))
    for field in ("equity_usd", "maintenance_usd", "health", "liquidation_price", "distance_pct"):
        assert _same(getattr(got, field), getattr(want, field)), field
    assert got.unknown.tolist() == want.unknown.tolist()
    assert book.joint.tolist() == fresh.joint.tolist()
    # A subset of accounts materialises as the same healths as the whole book does.
    vector = book.price_vector(px)
    whole = account_healths(book, got, vector)
    some = list(range(0, len(ids), 2))
    assert account_healths(book, got, vector, some) == [whole[i] for i in some]


def test_selecting_accounts_keeps_shared_positions_and_tiers_in_step() -> None:
    """Dropping accounts in front of one whose two positions share an asset (valued through
    the scalar module by row) and of tiered ones: the rows that stay are renumbered as a fresh
    compile numbers them."""
    long_eth = gmx_position(is_long=True, size_in_usd_e30=10**34, size_in_tokens=4 * 10**18,
                            fees_usd_e30=12 * E30)  # fmt: skip
    short_eth = replace(long_eth, market="ETH/USD [WETH-WETH]", size_raw=-(10**18))
    hedged = account(MarginMode.CROSS, (usdc(2_000),), long_eth, short_eth)
    books = [gmx_account(True, usdc(400)), two_asset_cross(), hedged, gmx_account(False, usdc(900))]
    px = {**MARKS, "ETH": 2_400.0, "BTC": 95_000.0, "USDC": 1.0}
    whole = compile_accounts(books)
    keep = np.array([False, True, True, False])
    got = select_accounts(whole, keep)
    fresh = compile_accounts([a for a, k in zip(books, keep.tolist(), strict=True) if k],
                             {asset: i for i, asset in enumerate(whole.assets)})  # fmt: skip
    assert got.shared == fresh.shared != ()
    a, b = evaluate(got, got.price_vector(px)), evaluate(fresh, fresh.price_vector(px))
    for field in ("equity_usd", "maintenance_usd", "health", "liquidation_price", "distance_pct"):
        assert _same(getattr(a, field), getattr(b, field)), field
