"""Hyperliquid's wallet memory: when a wallet's margin summaries say its cross positions hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.protocols.hyperliquid.decode import MarginSummary, RawPosition
from indexer.protocols.hyperliquid.memory import (
    FULL_READ_EVERY,
    SeenWallet,
    WalletMemory,
    cross_unchanged,
    seen_wallet,
)

PERPS = (0, 1, 5)
sizes = st.integers(min_value=-(10**6), max_value=10**6)
marks = st.integers(min_value=1, max_value=10**8)


def cross(szi: int, entry: int = 1) -> RawPosition:
    return RawPosition(szi, entry, 0, 10, False)


def isolated(szi: int) -> RawPosition:
    return RawPosition(szi, 5, 7, 10, True)


def summary(raw_e6: int, legs: dict[int, int], mark_px: dict[int, int]) -> MarginSummary:
    """The venue's cross summary of ``legs`` (perp → szi), as the devnet's HlCore computes it."""
    value = raw_e6 + sum(szi * mark_px[m] for m, szi in legs.items())
    ntl = sum(abs(szi) * mark_px[m] for m, szi in legs.items())
    return MarginSummary(value, 0, ntl, raw_e6)


def wallet(raw_e6: int, legs: dict[int, int]) -> SeenWallet:
    positions = {m: cross(szi) for m, szi in legs.items()}
    return seen_wallet(100, {0: MarginSummary(0, 0, 0, raw_e6)}, positions)


@given(st.integers(-(10**12), 10**12), st.lists(sizes, min_size=3, max_size=3),
       st.lists(marks, min_size=3, max_size=3))  # fmt: skip
def test_the_same_sizes_at_any_marks_hold(raw: int, szis: list[int], pxs: list[int]) -> None:
    legs = {m: s for m, s in zip(PERPS, szis, strict=True) if s}
    mark_px = dict(zip(PERPS, pxs, strict=True))
    assert cross_unchanged(wallet(raw, legs), {0: summary(raw, legs, mark_px)}, {}, mark_px)


@given(st.lists(sizes, min_size=3, max_size=3), st.lists(marks, min_size=3, max_size=3),
       st.sampled_from(PERPS), sizes.filter(bool))  # fmt: skip
def test_any_one_size_changed_is_seen_even_with_raw_usd_as_it_was(
    szis: list[int], pxs: list[int], perp: int, delta: int
) -> None:
    before = {m: s for m, s in zip(PERPS, szis, strict=True) if s}
    after = dict(before)
    after[perp] = before.get(perp, 0) + delta
    after = {m: s for m, s in after.items() if s}
    mark_px = dict(zip(PERPS, pxs, strict=True))
    seen = wallet(1_000, before)
    assert not cross_unchanged(seen, {0: summary(1_000, after, mark_px)}, {}, mark_px)


def test_raw_usd_moved_or_an_isolated_perp_on_cross_margin_is_a_change() -> None:
    mark_px = {0: 100, 1: 50, 5: 10}
    seen = wallet(1_000, {0: 3})
    assert cross_unchanged(seen, {0: summary(1_000, {0: 3}, mark_px)}, {5: isolated(2)}, mark_px)
    assert not cross_unchanged(seen, {0: summary(1_001, {0: 3}, mark_px)}, {}, mark_px)
    assert not cross_unchanged(seen, {0: summary(1_000, {0: 3}, mark_px)}, {5: cross(2)}, mark_px)
    # A dex the wallet was not read on before is a change too.
    both = {0: summary(1_000, {0: 3}, mark_px), 1: summary(0, {}, mark_px)}
    assert not cross_unchanged(seen, both, {}, mark_px)


def test_seen_wallet_splits_cross_from_isolated_and_drops_empty_perps() -> None:
    seen = seen_wallet(
        7, {0: MarginSummary(9, 0, 0, 4)}, {0: cross(2), 1: cross(0), 5: isolated(-3)}
    )
    assert (dict(seen.cross), seen.isolated, dict(seen.raw_usd_e6)) == ({0: cross(2)}, (5,), {0: 4})


def test_memory_keeps_the_newest_block_and_asks_for_a_full_read_in_turn() -> None:
    memory = WalletMemory()
    assert memory.recall("0xa") is None
    memory.remember("0xa", SeenWallet(9, {0: 5}, {0: cross(1)}, ()))
    memory.remember("0xa", SeenWallet(8, {0: 6}, {}, ()))  # older: finished late, ignored
    recalled = memory.recall("0xa")
    assert recalled is not None
    assert recalled.block == 9
    memory.remember("0xa", SeenWallet(10, {0: 5}, {}, (), FULL_READ_EVERY - 2))
    assert memory.recall("0xa") is not None
    memory.remember("0xa", SeenWallet(11, {0: 5}, {}, (), FULL_READ_EVERY - 1))
    assert memory.recall("0xa") is None  # the next read of it is a full one
