"""What ``bench.live`` reports, computed from the database a run left and the keeper's tally.

Kept apart from the runner so the definitions (which alert counts as a warning, how latency is
bounded) can be read in one place.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.models import AccountStatus
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.delivery.queue import Delivery
from monitor.tables import Alert

WARNING_LEVELS = frozenset({Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE})
"""Levels that warn before a liquidation (``liquidated`` and ``unknown`` do not)."""
EARLY_LEVELS = frozenset({Level.WARNING, Level.CRITICAL})
"""Alerts that come while the account cannot be liquidated yet: a trader can still act."""


@dataclass(frozen=True, slots=True)
class AlertFact:
    account_id: int
    ref: str
    level: Level
    episode: int
    block: int
    """The block the monitor evaluated the alert at (its payload's ``block_number``)."""
    partial: bool = False
    """A ``liquidated`` alert of a partial liquidation (the account stays open)."""
    lens: str = ""
    """The key of the account's alert state that decided it (``""``: the primary)."""


@dataclass(frozen=True, slots=True)
class TickFact:
    """One monitor tick: the block it read at, the previous tick's block, the head once done."""

    block: int
    previous_block: int
    head_after: int
    ms: float


@dataclass
class CountingNotifier:
    """Stands in for the console: counts each alert's deliveries (a second one is a duplicate)."""

    sent: Counter[tuple[int, str]] = field(default_factory=Counter)

    async def send(self, delivery: Delivery) -> None:
        self.sent[delivery.alert_id, delivery.channel] += 1


def phases_ms(phase_s: Mapping[str, float]) -> dict[str, float]:
    """A tick's phases (``monitor.runtime.phases``) in milliseconds, to 0.1."""
    return {name: round(1000 * seconds, 1) for name, seconds in phase_s.items()}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def read_alerts(engine: Engine) -> list[AlertFact]:
    query = sa.select(  # type: ignore[call-overload]
        Alert.account_id, Account.ref, Alert.level, Alert.episode, Alert.payload, Alert.lens
    ).join(Account, Account.id == Alert.account_id)
    with engine.connect() as conn:
        return [
            AlertFact(int(i), str(ref), Level(lv), int(ep), int(p["block_number"]),
                      "partial" in p, str(lens))
            for i, ref, lv, ep, p, lens in conn.execute(query)
        ]  # fmt: skip


def read_statuses(engine: Engine) -> dict[str, AccountStatus]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Account.ref, Account.status)).all()  # type: ignore[call-overload]
    return {str(ref): AccountStatus(status) for ref, status in rows}


def liquidation_metrics(
    liquidated: Sequence[tuple[str, int]], alerts: Sequence[AlertFact], engine: Engine
) -> dict[str, Any]:
    """Warned-before, endings and missed ``liquidated`` alerts, matched by ref and block as
    ``devnet.demo`` does. GMX refs are position keys (``0x…``), gTrade refs ``trader:index``;
    both venues tell a liquidation by an event. Hyperliquid refs (``owner:cross:dex``,
    ``owner:isolated:asset``) are counted apart: their liquidations are inferred (no event).
    ``liquidated`` holds the liquidations that ended an account; the alert of a partial one
    (``AlertFact.partial``) does not stand for them."""
    by_ref: dict[str, list[AlertFact]] = {}
    for alert in alerts:
        by_ref.setdefault(alert.ref, []).append(alert)
    statuses = read_statuses(engine)
    warned = early = closed = 0
    missed_events = missed_hl = 0
    leads: list[int] = []
    for ref, block in liquidated:
        mine = by_ref.get(ref, [])
        before = [a for a in mine if a.level in WARNING_LEVELS and a.block < block]
        if before:
            warned += 1
            early += any(a.level in EARLY_LEVELS for a in before)
            last_episode = max(a.episode for a in before)
            leads.append(block - min(a.block for a in before if a.episode == last_episode))
        closed += statuses.get(ref) is AccountStatus.CLOSED
        if not any(a.level is Level.LIQUIDATED and not a.partial for a in mine):
            if _is_hyperliquid(ref):
                missed_hl += 1
            else:
                missed_events += 1
    return {
        "liquidations": len(liquidated),
        "liquidations_gtrade": sum(_is_gtrade(ref) for ref, _ in liquidated),
        "liquidations_hyperliquid": sum(_is_hyperliquid(ref) for ref, _ in liquidated),
        "warned_before": warned,
        "warned_before_liquidatable": early,
        "recorded_as_closed": closed,
        "missed_liquidated_alerts": missed_events,
        "missed_liquidated_alerts_hyperliquid": missed_hl,
        "first_alert_lead_blocks_min": min(leads, default=None),
        "first_alert_lead_blocks_median": statistics.median(leads) if leads else None,
    }


def partial_metrics(
    partials: Sequence[tuple[str, int]], alerts: Sequence[AlertFact]
) -> dict[str, int]:
    """Hyperliquid's partial liquidations (ref, block) and how many a partial alert told: per
    account, each cut matched in block order with the first partial alert not matched yet at
    or after the block before it (anvil answers a read pinned to its head block from the state
    it is mining into now and then: 3 of 846 head reads in a probe at 1 s blocks; one run told
    a cut of block 230 at block 229). A cut the venue followed with the rest before any read
    saw it is told by the whole liquidation's alert instead, and counts as not told here."""
    told = 0
    by_ref: dict[str, list[int]] = {}
    for alert in alerts:
        if alert.partial:
            by_ref.setdefault(alert.ref, []).append(alert.block)
    for ref, blocks in by_ref.items():
        pending = sorted(blocks)
        for block in sorted(b for r, b in partials if r == ref):
            match = next((i for i, b in enumerate(pending) if b >= block - 1), None)
            if match is not None:
                told += 1
                del pending[: match + 1]
    return {"partial_liquidations": len(partials), "partial_liquidations_told": told}


def _is_hyperliquid(ref: str) -> bool:
    return ":cross:" in ref or ":isolated:" in ref


def _is_gtrade(ref: str) -> bool:
    return ":" in ref and not _is_hyperliquid(ref)


def duplicate_alerts(alerts: Sequence[AlertFact], notifier: CountingNotifier) -> int:
    """(account, lens, level, episode) recorded twice, plus deliveries of one alert made
    twice."""
    keys = Counter((a.account_id, a.lens, a.level, a.episode) for a in alerts)
    return sum(n - 1 for n in keys.values()) + sum(n - 1 for n in notifier.sent.values())


def alert_latency(alerts: Sequence[AlertFact], ticks: Sequence[TickFact]) -> list[int]:
    """Per warning-level alert raised after the first tick: an upper bound, in blocks, from the
    block whose prices first made the account cross to the head when the alert was in the
    outbox. The crossing is somewhere after the previous tick's block (that tick saw it on the
    safe side) and at or before the alert's block, so the bound is
    ``head_after - (previous + 1)``: it charges the monitor for blocks it skipped, and for
    blocks mined while it ticked."""
    by_block: dict[int, TickFact] = {}
    for tick in ticks:
        if tick.block > ticks[0].block:  # the first tick reads a book built already crossed
            by_block.setdefault(tick.block, tick)
    return [
        max(0, t.head_after - (t.previous_block + 1))
        for a in alerts
        if a.level in WARNING_LEVELS and (t := by_block.get(a.block)) is not None
    ]


def stat_cpu_s(stat: str, clock_ticks_per_s: int) -> float:
    """A process's CPU seconds (user + system, every thread) from its ``/proc/<pid>/stat``
    line. The command name (field 2) is in parentheses and may hold spaces and parentheses
    itself, so the fields are counted from the last ``)``: utime and stime are fields 14 and
    15 of the line."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks_per_s
