"""Alert performance: did each liquidation get a warning, how early, and which warnings never
led to one. Pure.

    perf = alert_performance(liquidations, alerts)
    perf.leads[0].lead_blocks, perf.missed, perf.never_liquidated

A liquidation is *warned* when its account got a warning-level alert (warning, critical or
liquidatable) at a block at or before the liquidation's and after the account's previous
liquidation (within one block, in record order after a partial one: ``Liquidation.bound``); its
lead time is from the first such alert, in blocks and (where both times are
known) seconds. A warning episode (account, episode) none of whose alerts warned a liquidation
*never led to liquidation*: ``recovered`` when the episode closed with ``recovered``, else it is
still ``open`` (the account may yet be liquidated).

A partial liquidation (the venue closed part of the account; told by its own ``liquidated``
alert) is a liquidation like any other, and its alert, which says the rest is open, is also the
first warning of the account's next liquidation: the episode need not alert a level again.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.alerts.levels import Level

WARNING_LEVELS = frozenset({Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE})


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One recorded alert: the block the monitor evaluated it at, when it was recorded."""

    alert_id: int
    account_id: int
    level: Level
    episode: int
    block_number: int
    at: datetime | None = None
    partial: bool = False  # a ``liquidated`` alert telling a partial liquidation

    @property
    def warns(self) -> bool:
        return self.level in WARNING_LEVELS or self.partial


@dataclass(frozen=True, slots=True)
class Liquidation:
    """An account's liquidation at ``block_number`` (``at``: when, if known); a partial one
    names the alert that told it (``told_by``), which orders it among that block's alerts."""

    account_id: int
    block_number: int
    at: datetime | None = None
    told_by: int | None = None

    @property
    def partial(self) -> bool:
        return self.told_by is not None

    @property
    def bound(self) -> tuple[int, float]:
        """Alerts ordered before this key came before the liquidation: a liquidation from an
        event follows every alert of its block, a partial one the alerts recorded before it."""
        return (self.block_number, math.inf if self.told_by is None else self.told_by)


@dataclass(frozen=True, slots=True)
class Lead:
    """A liquidation and its first warning (None: missed)."""

    liquidation: Liquidation
    first_warning: AlertEvent | None
    lead_blocks: int | None
    lead_s: float | None


@dataclass(frozen=True, slots=True)
class Episode:
    """A warning episode that never led to liquidation."""

    account_id: int
    episode: int
    first_block: int
    levels: tuple[Level, ...]
    recovered: bool


@dataclass(frozen=True, slots=True)
class Performance:
    leads: tuple[Lead, ...]
    never_liquidated: tuple[Episode, ...]

    @property
    def liquidations(self) -> int:
        return len(self.leads)

    @property
    def missed(self) -> int:
        return sum(lead.first_warning is None for lead in self.leads)

    @property
    def partial(self) -> int:
        return sum(lead.liquidation.partial for lead in self.leads)

    @property
    def median_lead_blocks(self) -> float | None:
        values = [lead.lead_blocks for lead in self.leads if lead.lead_blocks is not None]
        return statistics.median(values) if values else None

    @property
    def median_lead_s(self) -> float | None:
        values = [lead.lead_s for lead in self.leads if lead.lead_s is not None]
        return statistics.median(values) if values else None

    @property
    def recovered_episodes(self) -> int:
        return sum(e.recovered for e in self.never_liquidated)

    @property
    def open_episodes(self) -> int:
        return sum(not e.recovered for e in self.never_liquidated)


def alert_performance(
    liquidations: Iterable[Liquidation], alerts: Iterable[AlertEvent]
) -> Performance:
    """Lead time per liquidation and the warning episodes that never led to one (see the
    module docstring); liquidations in block order, episodes by account then episode."""
    by_account: dict[int, list[AlertEvent]] = {}
    for alert in sorted(alerts, key=lambda a: (a.block_number, a.alert_id)):
        by_account.setdefault(alert.account_id, []).append(alert)
    leads: list[Lead] = []
    used: set[int] = set()
    previous: dict[int, tuple[int, float]] = {}
    for liq in sorted(liquidations, key=lambda x: (x.bound, x.account_id)):
        after = previous.get(liq.account_id, (-1, 0.0))
        warnings = [
            a
            for a in by_account.get(liq.account_id, [])
            if a.warns and after <= (a.block_number, a.alert_id) < liq.bound
        ]
        previous[liq.account_id] = liq.bound
        used.update(a.alert_id for a in warnings)
        leads.append(_lead(liq, warnings[0] if warnings else None))
    return Performance(tuple(leads), _never_liquidated(by_account, used))


def _lead(liq: Liquidation, first: AlertEvent | None) -> Lead:
    if first is None:
        return Lead(liq, None, None, None)
    seconds = None
    if liq.at is not None and first.at is not None:
        seconds = (liq.at - first.at).total_seconds()
    return Lead(liq, first, liq.block_number - first.block_number, seconds)


def _never_liquidated(
    by_account: dict[int, list[AlertEvent]], used: set[int]
) -> tuple[Episode, ...]:
    episodes: dict[tuple[int, int], list[AlertEvent]] = {}
    for account_id in sorted(by_account):
        for alert in by_account[account_id]:
            episodes.setdefault((account_id, alert.episode), []).append(alert)
    out = []
    for (account_id, episode), events in sorted(episodes.items()):
        warnings = [a for a in events if a.level in WARNING_LEVELS]
        if not warnings or any(a.alert_id in used for a in warnings):
            continue
        recovered = any(a.level is Level.RECOVERED for a in events)
        levels = tuple(a.level for a in warnings)
        out.append(Episode(account_id, episode, warnings[0].block_number, levels, recovered))
    return tuple(out)
