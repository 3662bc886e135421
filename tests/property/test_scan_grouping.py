"""The backfill grouping rule: near the head nothing waits, groups stay within their bounds,
and far from the head a group grows only while the database is busy or the next range is in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.scan.grouping import GroupState, is_near_head, should_commit

_state = st.builds(
    GroupState,
    ranges=st.integers(1, 100),
    logs=st.integers(0, 50_000),
    last_block=st.integers(0, 1_000),
    target_block=st.integers(0, 1_000),
    committing=st.booleans(),
    next_ready=st.booleans(),
    more=st.booleans(),
)


@given(_state)
def test_grouping_rule(state: GroupState) -> None:
    commit = should_commit(state, commit_logs=20_000, commit_ranges=64, near_head_blocks=32)
    near = state.last_block > state.target_block - 32
    if near or not state.more:
        assert commit  # near the head (or at the end) nothing waits
    elif state.logs >= 20_000 or state.ranges >= 64:
        assert commit  # a group never outgrows its bounds
    else:
        # Far from the head a group grows while the database is busy or the next range is in.
        assert commit == (not state.committing and not state.next_ready)


def test_near_head_boundary() -> None:
    assert is_near_head(100, 100, 1)
    assert not is_near_head(99, 100, 1)
    assert not is_near_head(50, 100, 0)  # 0 blocks: never near
