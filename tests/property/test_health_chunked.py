"""A book kept up to date chunk by chunk evaluates as the same accounts compiled at once."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from indexer.models import MarginAccount
from monitor.health.book import account_healths, compile_accounts, evaluate
from monitor.health.chunked import ChunkedBook
from tests.health_helpers import accounts, prices

# (account id, account or None to remove it), applied in order.
edits = st.lists(
    st.tuples(st.integers(0, 40), st.one_of(st.none(), accounts())), min_size=1, max_size=30
)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True))


@given(edits, st.integers(1, 8), prices())
def test_a_chunked_book_after_any_edits_equals_a_fresh_compile(
    steps: list[tuple[int, MarginAccount | None]], chunk_size: int, px: dict[str, float]
) -> None:
    chunked, expected = ChunkedBook(chunk_size), {}
    for at, (account_id, account) in enumerate(steps):
        if account is None:
            chunked.remove(account_id)
            expected.pop(account_id, None)
        else:
            chunked.put(account_id, account)
            expected[account_id] = account
        if at % 3 == 0:
            chunked.compiled()  # compile part-way: later edits must recompile their chunks
    ids, book = chunked.compiled()
    assert ids.tolist() == sorted(expected)
    assert [i for i, _ in chunked.rows()] == sorted(expected)
    fresh = compile_accounts([expected[i] for i in sorted(expected)])
    got = evaluate(book, book.price_vector(px))
    want = evaluate(fresh, fresh.price_vector(px))
    for field in ("equity_usd", "maintenance_usd", "health", "liquidation_price", "distance_pct"):
        assert _same(getattr(got, field), getattr(want, field)), field
    assert got.unknown.tolist() == want.unknown.tolist()
    assert book.joint.tolist() == fresh.joint.tolist()
    # A subset of accounts materialises as the same healths as the whole book does.
    vector = book.price_vector(px)
    every = account_healths(book, got, vector)
    some = list(range(0, len(ids), 2))
    assert account_healths(book, got, vector, some) == [every[i] for i in some]
