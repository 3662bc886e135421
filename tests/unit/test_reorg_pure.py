"""The pure reorg decisions: the fork point is the highest block both chains share, a fork
below the kept window raises, and a header is linked only when it extends what was stored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.errors import ReorgTooDeep
from indexer.scan.reorg import Header, checks_tip, find_fork_point, is_linked


def _hash(chain: str, number: int) -> str:
    """A distinct 32-byte hash per (fork name, block number)."""
    return "0x" + f"{chain}{number}".encode().hex().ljust(64, "0")[:64]


@st.composite
def forked_chains(draw: st.DrawFn) -> tuple[dict[int, str], dict[int, str], int]:
    """(stored, canonical, fork): stored hashes of a window (possibly with gaps, as the scanner
    keeps only each range's last header far from the head), and the node's chain, which agrees
    up to ``fork`` and may now be shorter or longer than what was stored."""
    low = draw(st.integers(0, 10_000))
    top = low + draw(st.integers(0, 80))
    numbers = draw(st.sets(st.integers(low, top), min_size=1))
    fork = draw(st.integers(low - 1, top))
    canonical_top = draw(st.integers(max(fork, low), top + 20))
    stored = {n: _hash("a", n) for n in numbers}
    canonical = {n: _hash("a" if n <= fork else "b", n) for n in range(low, canonical_top + 1)}
    return stored, canonical, fork


@given(forked_chains())
def test_fork_point_is_highest_common_block(
    case: tuple[dict[int, str], dict[int, str], int],
) -> None:
    stored, canonical, fork = case
    # Built independently of the implementation: the chains agree exactly up to ``fork``.
    expected = max((n for n in stored if n <= fork), default=None)
    if expected is not None:
        assert find_fork_point(stored, canonical) == expected
    else:
        with pytest.raises(ReorgTooDeep, match="deeper than the kept window"):
            find_fork_point(stored, canonical)


@given(st.integers(1, 300), st.integers(0, 1_000_000))
def test_fork_below_window_raises(window: int, top: int) -> None:
    stored = {n: _hash("a", n) for n in range(top, top + window)}
    canonical = {n: _hash("b", n) for n in range(top - 5, top + window + 3)}
    with pytest.raises(ReorgTooDeep, match=f"lowest kept block {top}"):
        find_fork_point(stored, canonical)


def test_nothing_stored_raises() -> None:
    with pytest.raises(ReorgTooDeep):
        find_fork_point({}, {1: _hash("a", 1)})


def test_unchanged_chain_forks_at_its_top() -> None:
    stored = {n: _hash("a", n) for n in range(5, 10)}
    assert find_fork_point(stored, {**stored, 10: _hash("a", 10)}) == 9


@given(st.integers(1, 10_000), st.integers(1, 30), st.booleans(), st.booleans())
def test_is_linked_iff_parent_and_own_hash_match(
    number: int, kept: int, parent_matches: bool, own_stored: bool
) -> None:
    stored = {n: _hash("a", n) for n in range(max(number - kept, 0), number)}
    if own_stored:
        stored[number] = _hash("a", number)
    parent = _hash("a" if parent_matches else "b", number - 1)
    same = Header(number, _hash("a", number), parent)
    other = Header(number, _hash("b", number), parent)
    assert is_linked(stored, same) is parent_matches
    assert is_linked(stored, other) is (parent_matches and not own_stored)


def test_header_with_unknown_parent_is_linked() -> None:
    stored = {5: _hash("a", 5)}
    assert is_linked(stored, Header(9, _hash("b", 9), _hash("b", 8)))


def test_lagging_urls_names_only_those_too_far_behind() -> None:
    from indexer.rpc.stats import EndpointStats
    from indexer.scan.scanner import lagging_urls

    def stats(url: str, head: int | None) -> EndpointStats:
        return EndpointStats(url, 1, 0, 0, False, head, None)

    got = lagging_urls([stats("a", 100), stats("b", 95), stats("c", 89), stats("d", None)], 10)
    assert got == [("c", 11)]
    assert lagging_urls([stats("a", 100), stats("b", 90)], 10) == []


@given(
    top=st.integers(0, 1_000),
    start_offset=st.integers(-3, 3),
    length=st.integers(-1, 5),
    near_offset=st.integers(-3, 3),
)
def test_a_range_checks_the_tip_iff_it_starts_after_it_with_its_header(
    top: int, start_offset: int, length: int, near_offset: int
) -> None:
    start = top + 1 + start_offset
    end = start + length
    first_header = start + max(0, near_offset)  # headers are fetched from near the head on
    headers = list(range(first_header, end + 1)) or ([end] if end >= start else [])
    # A range far from the head fetches only its last header: that is its first when it is
    # one block long.
    expected = start_offset == 0 and length >= 0 and (near_offset <= 0 or length == 0)
    assert checks_tip(top, start, end, headers) is expected
