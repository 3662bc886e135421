"""Pure reorg decisions: is a new header linked to what we stored, and where did the chain fork.

The scanner keeps the hashes of the last ``window`` blocks it processed per chain. These
functions compare them with canonical headers fetched from the node; they do no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.errors import ReorgTooDeep


@dataclass(frozen=True, slots=True)
class Header:
    """The part of a block header reorg detection needs (hashes as lower-case 0x hex)."""

    number: int
    hash: str
    parent_hash: str


def is_linked(stored: Mapping[int, str], header: Header) -> bool:
    """True when ``header`` extends the stored chain (or nothing is stored for its parent).

    A header whose own number is stored must also carry the stored hash.
    """
    own = stored.get(header.number)
    if own is not None and own != header.hash:
        return False
    parent = stored.get(header.number - 1)
    return parent is None or parent == header.parent_hash


def checks_tip(top: int, start: int, end: int, headers: Sequence[int]) -> bool:
    """Whether scanning ``[start, end]``, fetching the headers numbered ``headers`` with the
    logs, checks that the stored ``top`` block is still canonical: the range starts right
    after it and its first header is fetched (its parent hash is then compared with the
    stored hash of ``top`` before the range is stored, ``is_linked``)."""
    return start <= end and start == top + 1 and bool(headers) and headers[0] == start


def node_lags(stored: Mapping[int, str], canonical: Mapping[int, str], head: int) -> bool:
    """True when the node merely lags what we stored: blocks above its ``head`` are stored, and
    every stored block at or below ``head`` still has its canonical hash.

    Such a node (a fallback URL, one node behind a load balancer) has not seen our top blocks
    yet; that is no evidence they are gone, so nothing may be rolled back. (A reorg to a chain
    that is merely shorter looks the same; it shows as a hash mismatch once the chain grows.)
    """
    if not stored or max(stored) <= head:
        return False
    return all(canonical.get(n) == h for n, h in stored.items() if n <= head)


def find_fork_point(stored: Mapping[int, str], canonical: Mapping[int, str]) -> int:
    """Highest block number whose stored hash equals the canonical one.

    ``canonical`` must hold the node's current hashes for (at least) every stored number from the
    top down to the fork. Everything above the returned number was derived from blocks that are
    no longer canonical and must be deleted and rescanned.

    Raises:
        ReorgTooDeep: no stored block matches, so the fork lies below the kept window.
    """
    for number in sorted(stored, reverse=True):
        current = canonical.get(number)
        if current is None:
            continue  # the node's chain is now shorter than ours: this block is gone
        if current == stored[number]:
            return number
    lowest = min(stored) if stored else None
    raise ReorgTooDeep(
        f"reorg deeper than the kept window of {len(stored)} block hashes "
        f"(lowest kept block {lowest}): refusing to guess; raise the window or finality depth "
        "and re-index from an earlier block"
    )
