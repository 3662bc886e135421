"""Touched accounts as parameter tuples for the store's multi-row upserts. Pure; no I/O.

    touch_params(42161, touches)    # one (chain_id, protocol, ref, owner, block, kind) per account
    ending_params(42161, touches)   # one (chain_id, protocol, ref, block, kind) per ending

A range (or several, committed together) may touch an account many times; one multi-row upsert
must name each key once (PostgreSQL refuses to update a row twice in one statement), so the
tuples are reduced here, in one pass, to what the upsert would have left anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.scan.rows import Touch, TouchKind

TouchParams = tuple[int, str, str, str, int, str]
"""``touched_accounts`` columns: chain_id, protocol, ref, owner, block_number, kind."""

EndingParams = tuple[int, str, str, int, str]
"""``account_endings`` columns: chain_id, protocol, ref, block_number, kind."""

# A liquidation outranks a close, which outranks a plain touch, within one block.
KIND_RANK = {TouchKind.TOUCHED: 0, TouchKind.CLOSED: 1, TouchKind.LIQUIDATED: 2}


def touch_params(chain_id: int, touches: Iterable[Touch]) -> list[TouchParams]:
    """The latest touch of each (protocol, ref): highest block, then highest kind rank; on a
    full tie the later touch wins. Owners are lower-cased."""
    latest: dict[tuple[str, str], tuple[int, int, Touch]] = {}
    rank = KIND_RANK
    for touch in touches:
        key = (touch.protocol, touch.ref)
        order = (touch.block_number, rank[touch.kind])
        seen = latest.get(key)
        if seen is None or order >= seen[:2]:
            latest[key] = (*order, touch)
    return [
        (chain_id, t.protocol, t.ref, t.owner.lower(), t.block_number, t.kind.value)
        for _, _, t in latest.values()
    ]


def ending_params(chain_id: int, touches: Iterable[Touch]) -> list[EndingParams]:
    """Every close or liquidation, one per (protocol, ref, block); a liquidation and a close of
    one account in one block leave the liquidation (that is what happened)."""
    ends: dict[tuple[str, str, int], TouchKind] = {}
    for t in touches:
        if t.kind is not TouchKind.TOUCHED:
            key = (t.protocol, t.ref, t.block_number)
            if key not in ends or t.kind is TouchKind.LIQUIDATED:
                ends[key] = t.kind
    return [(chain_id, p, r, b, k.value) for (p, r, b), k in ends.items()]
