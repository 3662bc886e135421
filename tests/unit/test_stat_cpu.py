"""A process's CPU seconds from its ``/proc/<pid>/stat`` line, whatever its command name."""

from __future__ import annotations

import os
import time

from hypothesis import given
from hypothesis import strategies as st

from bench.live_metrics import stat_cpu_s

# Fields 3 to 13 of a stat line (state, ppid, ... majflt), then utime and stime, then the rest.
_BEFORE = "S 1 1 1 0 -1 4194560 100 0 0 0"
_AFTER = "20 0 1 0 100 1000 200"


@given(
    name=st.text(alphabet=st.characters(blacklist_characters="\x00\n"), max_size=15),
    user_ticks=st.integers(0, 10**9),
    system_ticks=st.integers(0, 10**9),
)
def test_utime_and_stime_are_read_past_any_command_name(
    name: str, user_ticks: int, system_ticks: int
) -> None:
    line = f"4242 ({name}) {_BEFORE} {user_ticks} {system_ticks} {_AFTER}\n"
    assert stat_cpu_s(line, 100) == (user_ticks + system_ticks) / 100


def test_this_process_matches_its_own_clock() -> None:
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # some CPU to count
        pass
    with open(f"/proc/{os.getpid()}/stat") as f:
        from_proc = stat_cpu_s(f.read(), os.sysconf("SC_CLK_TCK"))
    # /proc counts in clock ticks (10 ms here): within a few of the process clock.
    assert abs(from_proc - time.process_time()) < 0.05
