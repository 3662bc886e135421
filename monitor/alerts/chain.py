"""The per-chain alert state machine: one alert when a chain cannot be read, one when it can
again. Pure: no I/O, no clock; ``now`` is passed in.

A chain is *unreadable* when a tick fails after the RPC client's retries (every URL) or its
head has not moved for ``stall_after_blocks`` block times. While it is, none of its accounts
can be judged: they are shown as ``unknown`` but not alerted one by one; this machine alerts
once for the whole chain instead.

    state, alerts = step_chain(ChainState(), unreadable("connection refused"), policy, now)
    alerts  # [ChainDecision(level=<Level.UNKNOWN>, episode=1, reason='connection refused', …)]

States: ``ok`` and ``outage``. An *episode* is one outage: it opens with its ``unknown``
alert and closes with ``recovered``; the next outage gets the next episode number, so it
alerts again.

Decisions, and why:

- ``outage_after_s`` (default 0): how long the chain must stay unreadable before the outage
  alert. The RPC client already retried every URL before a tick counts as failed, so by
  default the first failed tick alerts.
- ``recovery_after_s`` (default 60): how long the chain must stay readable before the
  recovery alert closes the episode. This is the anti-flapping rule: a chain that fails
  again within that time is still in the same outage (no second alert), so a flapping node
  gives one outage alert and, once it holds, one recovery; at most one outage alert per
  ``outage_after_s + recovery_after_s``. Accounts are judged from every readable tick
  meanwhile (their data is fresh), so waiting for the recovery alert hides no account alert.
- A failure shorter than ``outage_after_s`` that ends is silent: nothing was alerted, so
  nothing recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from monitor.alerts.levels import Level

__all__ = [
    "ChainDecision", "ChainLevel", "ChainPolicy", "ChainRead", "ChainState", "readable",
    "step_chain", "unreadable",
]  # fmt: skip


class ChainLevel(StrEnum):
    """Whether a chain's outage alert is out (``outage``) or not (``ok``)."""

    OK = "ok"
    OUTAGE = "outage"


@dataclass(frozen=True, slots=True)
class ChainPolicy:
    """See the module doc; both in seconds, ``>= 0``."""

    outage_after_s: float = 0.0
    recovery_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class ChainRead:
    """What one tick saw of a chain: readable or not (``reason`` says why not), and the newest
    block it knows (the head read, or the last one read before the outage)."""

    ok: bool
    reason: str = ""
    block_number: int = 0


def readable(block_number: int) -> ChainRead:
    """A tick that read the chain at ``block_number``."""
    return ChainRead(True, "", block_number)


def unreadable(reason: str, block_number: int = 0) -> ChainRead:
    """A tick that could not read the chain, for ``reason``."""
    return ChainRead(False, reason, block_number)


@dataclass(frozen=True, slots=True)
class ChainState:
    """One chain's alert state between ticks; start from ``ChainState()``.

    ``failing_since``: when the current run of unreadable ticks began (None: the last tick
    read the chain); while set, the chain's accounts are shown as ``unknown``.
    ``readable_since``: in an outage, when the current run of readable ticks began (the
    recovery wait). ``since``: when ``level`` was entered (an outage: when the chain became
    unreadable, not when it was alerted). ``reason``: the last failure.
    """

    level: ChainLevel = ChainLevel.OK
    episode: int = 1
    failing_since: datetime | None = None
    readable_since: datetime | None = None
    since: datetime | None = None
    reason: str = ""

    @property
    def unreadable(self) -> bool:
        """Whether the chain's last tick failed (its accounts cannot be judged)."""
        return self.failing_since is not None


@dataclass(frozen=True, slots=True)
class ChainDecision:
    """One chain alert to send: ``unknown`` (the outage) or ``recovered``. ``since`` is when
    the chain became unreadable; ``outage_s`` (recovery only) how long the outage lasted, from
    then until the recovery alert (the recovery wait included)."""

    level: Level
    episode: int
    reason: str
    since: datetime
    outage_s: float | None = None


ChainStep = tuple[ChainState, list[ChainDecision]]


def step_chain(state: ChainState, read: ChainRead, policy: ChainPolicy, now: datetime) -> ChainStep:
    """Advance one chain's alert state by one tick's read; returns the new state and alerts."""
    if not read.ok:
        return _on_failure(state, read.reason, policy, now)
    return _on_success(state, read.block_number, policy, now)


def _on_failure(state: ChainState, reason: str, policy: ChainPolicy, now: datetime) -> ChainStep:
    began = state.failing_since or now
    failing = replace(state, failing_since=began, readable_since=None, reason=reason)
    if state.level is ChainLevel.OUTAGE:
        return failing, []  # already told; a failure during the recovery wait is the same outage
    if (now - began).total_seconds() < policy.outage_after_s:
        return failing, []
    opened = replace(failing, level=ChainLevel.OUTAGE, since=began)
    return opened, [ChainDecision(Level.UNKNOWN, state.episode, reason, began)]


def _on_success(state: ChainState, block: int, policy: ChainPolicy, now: datetime) -> ChainStep:
    if state.level is ChainLevel.OK:
        # A failure too short to alert ends silently.
        return replace(state, failing_since=None, reason=""), []
    began = state.readable_since or now
    if (now - began).total_seconds() < policy.recovery_after_s:
        return replace(state, failing_since=None, readable_since=began), []
    opened = state.since or now
    outage_s = max(0.0, (now - opened).total_seconds())
    reason = f"readable again at block {block}"
    closed = ChainState(episode=state.episode + 1, since=now)
    return closed, [ChainDecision(Level.RECOVERED, state.episode, reason, opened, outage_s)]
