"""When the scanner commits: several ranges per transaction in a backfill, one near the head.

Pure; no I/O. The scanner collects fetched ranges (in block order) into a group and asks
:func:`should_commit` after each one. The rule:

- a range ending within ``near_head_blocks`` of the scan's target (the safe head) commits at
  once, alone or with the ranges already waiting: new blocks become visible without delay;
- otherwise the group grows until it holds ``commit_logs`` logs or ``commit_ranges`` ranges,
  or the database is idle while the next range is still on the network (a group never waits
  for the network while the database could be writing), or the scan has nothing more to fetch.

Every group commits in one transaction with the cursor after its last range, so a killed
process resumes exactly after the last group it committed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupState:
    """What the scanner knows when a fetched range joins the group."""

    ranges: int  # ranges in the group, the new one included
    logs: int  # logs in the group
    last_block: int  # the group's last block
    target_block: int  # the scan's target (the safe head, or --to-block)
    committing: bool  # a previous group is still being written
    next_ready: bool  # the next range is fetched already
    more: bool  # ranges remain to fetch or are in flight


def is_near_head(last_block: int, target_block: int, near_head_blocks: int) -> bool:
    """True when ``last_block`` lies within ``near_head_blocks`` of the scan's target."""
    return last_block > target_block - near_head_blocks


def should_commit(
    state: GroupState, *, commit_logs: int, commit_ranges: int, near_head_blocks: int
) -> bool:
    """Whether to commit the group now (see the module's rule)."""
    if not state.more or is_near_head(state.last_block, state.target_block, near_head_blocks):
        return True
    if state.logs >= commit_logs or state.ranges >= commit_ranges:
        return True
    return not state.committing and not state.next_ready
