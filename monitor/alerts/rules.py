"""The per-account alert state machine. Pure: no I/O, no clock; ``now`` is passed in.

Levels: ok → warning → critical → liquidatable on health and the adverse move to liquidation
(in percent and in σ; ``monitor.alerts.policy``),
liquidated on a chain event, unknown when the data is too stale to judge; ``recovered`` is sent
when an account is back to ok. An *episode* is one incident: it opens with its first alert and
closes with ``recovered``; the next incident gets the next episode number.

Decisions, and why:

- Escalation is immediate and emits ONE alert, at the highest level reached; the skipped milder
  levels count as alerted (``covered_by``): they would only repeat a worse message.
- Never the same (level, episode) twice: the store keys alerts on (account, level, episode).
- De-escalation is silent and happens only past a level's clear threshold (hysteresis).
- Stale data (a price older than its heartbeat, a stalled node head, no health) → ``unknown``
  with an alert, never silently "safe". Leaving unknown goes straight to the level the fresh
  data says; if that is ok, the episode closes with ``recovered``.
- A second stale spell (or a second liquidation) in an episode that already alerted it starts
  a new episode, so it alerts again: being blind twice must not pass unnoticed.
- A partial liquidation (``Report.partial``: the venue closed part of what the account held
  and it keeps a position) is told as ``liquidated`` once, in the episode (a new one if this
  episode told a liquidation already), and the same report's fresh reading then moves the level
  as usual: the account is still open, and its next liquidation is told too.
- A fresh reading after ``liquidated`` means the account is open again on the chain that stands
  (reopened, or its liquidation undone by a reorg): at ok the liquidation's episode closes with
  ``recovered``; at warning or worse a new episode opens and alerts, so the account's next
  liquidation is told too instead of passing for the one that was.

    >>> state = AlertState()
    >>> state, alerts = step(state, Report(health=1.12), Policy(), now)
    >>> alerts
    [AlertDecision(level=<Level.CRITICAL: 'critical'>, episode=1, reason='health 1.12 ≤ 1.15')]
    >>> step(AlertState(), Report(health=2.0, move_pct=8.0), Policy(), now)[1][0].reason
    'liquidation 8.0% away ≤ 10%'

"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.levels import Level
from monitor.alerts.policy import LADDER, Policy, Reading, covered_by
from monitor.health.account import AccountHealth

__all__ = [
    "AlertDecision", "AlertState", "Policy", "PriceFreshness", "Reading", "Report", "step",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PriceFreshness:
    """When a price used for the health was last updated, and how often it must update.

    Stale once ``now - updated_at`` exceeds ``heartbeat_s`` seconds (a Chainlink feed's
    heartbeat, say). ``updated_at`` must be timezone-aware like ``now``.
    """

    asset: str
    updated_at: datetime
    heartbeat_s: float


@dataclass(frozen=True, slots=True)
class Report:
    """What one evaluation of an account saw, or a chain event when ``liquidated`` is set.

    ``health`` is equity / maintenance (None or NaN: could not be computed); ``move_pct`` is
    the smallest adverse move that liquidates the account, in percent of the mark, and
    ``move_sigma`` the same in σ of its markets (None: no positions, or σ not known yet);
    ``unknown_reason`` says why there is no health (a bad price).
    ``head_stalled`` says the node stopped producing blocks, so the
    account state may be old even if prices are fresh. ``partial`` says what a partial
    liquidation closed (``monitor.alerts.inference.describe_cut``) when this reading is of
    what it left.
    """

    health: float | None = None
    move_pct: float | None = None
    move_sigma: float | None = None
    prices: tuple[PriceFreshness, ...] = ()
    head_stalled: bool = False
    liquidated: bool = False
    unknown_reason: str | None = None
    partial: str | None = None

    @classmethod
    def from_health(
        cls,
        account: AccountHealth,
        prices: Iterable[PriceFreshness] = (),
        *,
        head_stalled: bool = False,
        move_sigma: float | None = None,
        partial: str | None = None,
    ) -> Report:
        """A report from ``monitor.health.account.account_health``'s result and freshness facts
        (``move_sigma``: ``monitor.health.volatility.sigma_move``, when σ is known;
        ``partial``: see the class)."""
        distances = [p.distance_pct for p in account.positions if p.distance_pct is not None]
        move = account.move_pct if account.move_pct is not None else min(distances, default=None)
        return cls(
            health=account.health,
            move_pct=move,
            move_sigma=move_sigma,
            prices=tuple(prices),
            head_stalled=head_stalled,
            unknown_reason=account.reason,
            partial=partial,
        )

    def staleness(self, now: datetime) -> list[str]:
        """Why this report cannot be trusted at ``now``, one short line each; [] if fresh."""
        problems = [
            f"{p.asset} price {age:.0f}s old > heartbeat {p.heartbeat_s:g}s"
            for p in self.prices
            if (age := (now - p.updated_at).total_seconds()) > p.heartbeat_s
        ]
        if self.head_stalled:
            problems.append("node head stalled")
        if self.health is None or math.isnan(self.health):
            problems.append(self.unknown_reason or "health unavailable")
        return problems


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """One alert to send: ``reason`` is a short human line; the notifier adds the rest.
    ``partial``: what a partial liquidation closed (a ``liquidated`` alert only)."""

    level: Level
    episode: int
    reason: str
    partial: str | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """One account's alert state between evaluations; start from ``AlertState()``.

    ``alerted`` holds the levels already alerted (or covered) in ``episode``; it is empty
    exactly when ``level`` is ok. ``since`` is when ``level`` was entered, ``updated_at`` the
    last evaluation and ``health`` its health factor (None when unknown or not computed).
    """

    level: Level = Level.OK
    episode: int = 1
    alerted: frozenset[Level] = frozenset()
    health: float | None = None
    since: datetime | None = None
    updated_at: datetime | None = None

    # Both built directly, not with ``dataclasses.replace`` (several times slower): a crash
    # moves thousands of states per tick.
    def moved_to(self, level: Level, now: datetime, health: float | None) -> AlertState:
        """This state at ``level`` after an evaluation at ``now`` (``since`` kept if unchanged)."""
        since = self.since if level is self.level else now
        return AlertState(level, self.episode, self.alerted, health, since, now)

    def in_episode(self, episode: int, alerted: frozenset[Level]) -> AlertState:
        """This state in ``episode``, having alerted (or covered) ``alerted`` in it."""
        return AlertState(self.level, episode, alerted, self.health, self.since, self.updated_at)


PRIMARY_LENS = ""
"""The key of an account's primary lens: the alert state stepped with the config's thresholds
for it (``monitor.subscriptions.routing.Lens``), and the lens of every alert stored before
accounts had others."""

Step = tuple[AlertState, list[AlertDecision]]


def step(state: AlertState, report: Report, policy: Policy, now: datetime) -> Step:
    """Advance one account's alert state by one report; returns the new state and its alerts.

    ``now`` (timezone-aware) only judges price freshness; nothing here reads a clock.
    """
    if report.liquidated:
        return _enter_event_level(state, Level.LIQUIDATED, "liquidated on chain", now, None)
    if report.partial is not None:
        state, told = _partially_liquidated(state, report.partial)
        state, alerts = step(state, replace(report, partial=None), policy, now)
        return state, told + alerts
    problems = report.staleness(now)
    if problems or report.health is None:  # staleness() names a missing health too
        return _enter_event_level(state, Level.UNKNOWN, "; ".join(problems), now, report.health)
    reading = Reading(report.health, report.move_pct, report.move_sigma)
    return _on_fresh(state, reading, policy, now)


def _enter_event_level(
    state: AlertState, level: Level, reason: str, now: datetime, health: float | None
) -> Step:
    """Move to ``unknown`` or ``liquidated``, alerting on entry but not while staying."""
    if state.level is level:
        return state.moved_to(level, now, health), []
    told = _telling(state, level)
    return told.moved_to(level, now, health), [AlertDecision(level, told.episode, reason)]


def _partially_liquidated(state: AlertState, closed: str) -> Step:
    """Tell a partial liquidation once; the level is left to the reading that follows."""
    told = _telling(state, Level.LIQUIDATED)
    reason = f"partially liquidated: {closed}"
    return told, [AlertDecision(Level.LIQUIDATED, told.episode, reason, partial=closed)]


def _telling(state: AlertState, level: Level) -> AlertState:
    """``state`` once it alerts ``level``: in its episode, or, if the episode alerted it
    already, in a new one (only a new episode may say it again; see the module doc)."""
    if level in state.alerted:
        return state.in_episode(state.episode + 1, frozenset({level}))
    return state.in_episode(state.episode, state.alerted | {level})


def _on_fresh(state: AlertState, reading: Reading, policy: Policy, now: datetime) -> Step:
    """Apply trustworthy values: escalate at once, de-escalate with hysteresis, recover."""
    health = reading.health
    if state.level in LADDER:
        level = policy.held_level(state.level, reading)
    else:
        level = policy.raw_level(reading)
        if state.level is Level.LIQUIDATED and level is not Level.OK:
            # Open again (see the module doc): a new incident, whatever the last one alerted.
            state = state.in_episode(state.episode + 1, frozenset())
    moved = state.moved_to(level, now, health)
    if level is Level.OK:
        if not state.alerted:
            return moved, []
        came = f" from {state.level}" if state.level is not Level.OK else ""  # (a partial)
        reason = f"back to ok{came}: health {health:.2f}"
        closed = moved.in_episode(state.episode + 1, frozenset())
        return closed, [AlertDecision(Level.RECOVERED, state.episode, reason)]
    if level in state.alerted:  # includes liquidated, alerted on entry
        return moved, []
    reason = policy.reason(level, reading)
    escalated = moved.in_episode(state.episode, state.alerted | covered_by(level))
    return escalated, [AlertDecision(level, state.episode, reason)]
