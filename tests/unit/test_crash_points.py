"""The crash-point test hook: its variable's format, a no-op unarmed, SIGKILL at the n-th pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from indexer.crash_points import ENV, CrashPlan, crash_point, parse_plan

PASSES = "from indexer.crash_points import crash_point\nfor i in range(1, 4):\n" \
         "    print(i, flush=True)\n    crash_point('alerts-committed')\n"  # fmt: skip


def _run(plan: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if plan is not None:
        env[ENV] = plan
    return subprocess.run([sys.executable, "-c", PASSES], capture_output=True, text=True,
                          env=env, check=False, timeout=60)  # fmt: skip


def test_parse_plan() -> None:
    assert parse_plan(None) is None
    assert parse_plan("") is None
    assert parse_plan("delivery-sent:3") == CrashPlan("delivery-sent", 3)


@pytest.mark.parametrize("value", ["delivery-sent", "delivery-sent:0", "nowhere:1", "tick:x"])
def test_parse_plan_refuses_what_it_cannot_follow(value: str) -> None:
    with pytest.raises(ValueError, match=ENV):
        parse_plan(value)


def test_unarmed_points_do_nothing() -> None:
    crash_point("alerts-committed")  # this process is not armed: it lives on
    done = _run(None)
    assert (done.returncode, done.stdout.split()) == (0, ["1", "2", "3"])


def test_armed_point_kills_the_process_at_its_nth_pass() -> None:
    done = _run("alerts-committed:2")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["1", "2"]
    assert done.stderr == "crash point alerts-committed #2: SIGKILL (test hook)\n"


def test_another_point_armed_does_not_stop_this_one() -> None:
    assert _run("delivery-sent:1").returncode == 0


def test_a_malformed_plan_stops_the_process_with_one_line() -> None:
    done = _run("alerts-committed")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {ENV}='alerts-committed': expected <point>:<n>")
    assert len(done.stderr.splitlines()) == 1
