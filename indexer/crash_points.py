"""A test hook: make the process SIGKILL itself the n-th time it passes a named point.

    PERPWATCH_TEST_CRASH_AT=alerts-committed:2 perpwatch run    # dies right after the 2nd
                                                                # transaction that records alerts

Crash tests use it to kill ``perpwatch run`` at exact moments (around alert creation) instead
of at a random time. It is not a setting: production never sets the variable, and unarmed
:func:`crash_point` returns at once (the variable is read once, at import). The points:

``alerts-before-commit``
    the transaction that records alert decisions (alerts, alert states, outbox rows) has
    written them and is about to commit (``monitor.alerts.apply``); only passed when it
    records at least one alert.
``alerts-committed``
    just after that transaction committed.
``delivery-sent``
    a notifier accepted a message and its outbox rows are not yet marked sent
    (``monitor.delivery``): the one moment a send may be repeated after a restart.
``tick-scanned``
    mid-tick: the scan committed new events and the accounts they touched are not yet re-read
    (``monitor.runtime.chain``); only passed when the scan indexed at least one event.

A malformed value stops the process at start with one ``error:`` line (exit code 2).
Before dying it writes ``crash point <name> #<n>: SIGKILL (test hook)`` to stderr.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

__all__ = ["CRASH_POINTS", "ENV", "CrashPlan", "crash_point", "parse_plan"]

ENV = "PERPWATCH_TEST_CRASH_AT"
CRASH_POINTS = frozenset(
    {"alerts-before-commit", "alerts-committed", "delivery-sent", "tick-scanned"}
)


@dataclass(slots=True)
class CrashPlan:
    """Die at the ``nth`` pass of ``point``; ``passes`` counts the passes so far."""

    point: str
    nth: int
    passes: int = 0


def parse_plan(value: str | None) -> CrashPlan | None:
    """``"<point>:<n>"`` as a plan; None for an unset or empty variable.

    Raises:
        ValueError: an unknown point or an ``n`` that is not a positive integer.
    """
    if not value:
        return None
    point, _, nth = value.rpartition(":")
    if point not in CRASH_POINTS or not nth.isdigit() or int(nth) < 1:
        raise ValueError(
            f"{ENV}={value!r}: expected <point>:<n> with n ≥ 1 and a point among "
            f"{', '.join(sorted(CRASH_POINTS))}"
        )
    return CrashPlan(point, int(nth))


def _plan_from_env() -> CrashPlan | None:
    try:
        return parse_plan(os.environ.get(ENV))
    except ValueError as exc:  # one line and the exit code of a user error, as the CLI's
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


_PLAN = _plan_from_env()


def crash_point(name: str) -> None:
    """Pass the point ``name``: a no-op unless the process was started with ``ENV`` naming it,
    and then SIGKILL at its n-th pass (no cleanup, no flush: a power cut, as far as the
    database and the channels can tell)."""
    plan = _PLAN
    if plan is None or plan.point != name:
        return
    plan.passes += 1
    if plan.passes == plan.nth:
        sys.stderr.write(f"crash point {name} #{plan.nth}: SIGKILL (test hook)\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
