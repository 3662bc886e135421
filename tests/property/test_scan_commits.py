"""The pure parts of the store's commits: touched-account tuples equal a row-by-row upsert,
endings keep the liquidation, and the multi-row SQL text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.scan.rows import Touch, TouchKind
from indexer.scan.touches import KIND_RANK, ending_params, touch_params
from indexer.store.bulk import chunks, insert_sql, unnest_sql

_touch = st.builds(
    Touch,
    protocol=st.sampled_from(["gmx_v2", "hyperliquid"]),
    ref=st.sampled_from(["a", "b", "c"]),
    owner=st.sampled_from(["0x" + "AB" * 20, "0x" + "cd" * 20]),
    block_number=st.integers(1, 5),
    kind=st.sampled_from(list(TouchKind)),
)


def _row_by_row(touches: list[Touch]) -> dict[tuple[str, str], tuple[str, int, str]]:
    """What one upsert per touch (in order) leaves: a later row replaces an earlier one unless
    the stored one is newer (block, then kind rank)."""
    table: dict[tuple[str, str], Touch] = {}
    for t in touches:
        seen = table.get((t.protocol, t.ref))
        if seen is None or (t.block_number, KIND_RANK[t.kind]) >= (
            seen.block_number,
            KIND_RANK[seen.kind],
        ):
            table[(t.protocol, t.ref)] = t
    return {k: (t.owner.lower(), t.block_number, t.kind.value) for k, t in table.items()}


@given(st.lists(_touch, max_size=30))
def test_touch_params_equal_row_by_row_upserts(touches: list[Touch]) -> None:
    params = touch_params(7, touches)
    keys = [(p[1], p[2]) for p in params]
    assert len(keys) == len(set(keys)), "one multi-row upsert may name each key once"
    assert all(p[0] == 7 for p in params)
    assert {(p[1], p[2]): (p[3], p[4], p[5]) for p in params} == _row_by_row(touches)


@given(st.lists(_touch, max_size=30))
def test_ending_params_keep_every_ending_and_prefer_liquidation(touches: list[Touch]) -> None:
    params = ending_params(7, touches)
    keys = [(p[1], p[2], p[3]) for p in params]
    assert len(keys) == len(set(keys))
    expected: dict[tuple[str, str, int], set[str]] = {}
    for t in touches:
        if t.kind is not TouchKind.TOUCHED:
            expected.setdefault((t.protocol, t.ref, t.block_number), set()).add(t.kind.value)
    got = {(p[1], p[2], p[3]): p[4] for p in params}
    assert set(got) == set(expected)
    for key, kinds in expected.items():
        assert got[key] == ("liquidated" if "liquidated" in kinds else "closed")


@given(st.integers(0, 2_000), st.integers(1, 300))
def test_chunks_cover_in_order(count: int, per: int) -> None:
    parts = chunks(count, per)
    assert [i for a, b in parts for i in range(a, b)] == list(range(count))
    assert all(0 < b - a <= per for a, b in parts)


def test_insert_sql_per_dialect() -> None:
    sqlite = insert_sql("t", ("a", "b"), 2, "ON CONFLICT (a) DO NOTHING")
    assert sqlite == "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING"
    pg = unnest_sql("t", {"a": "bigint", "b": "jsonb"}, "ON CONFLICT (a) DO NOTHING")
    assert pg == (
        "INSERT INTO t (a, b) SELECT * FROM unnest(%b::bigint[], %b::jsonb[]) "
        "ON CONFLICT (a) DO NOTHING"
    )
    with pytest.raises(ValueError, match="at least one row"):
        insert_sql("t", ("a",), 0, "")
