"""Who hears about an alert: the routing table built from subscriptions. Pure: no I/O.

    table = RouteTable(fixed=("console",), subscribers=(...), watches={"0xabc…": [...]})
    table.channels(account, Level.CRITICAL, health=1.1, move_pct=2.0, hour=3)   # ["console", …]
    table.thresholds(account, base)      # the most sensitive thresholds among its watchers

A subscriber hears about an account only when it watches it: it watches every account the
monitor covers (``watch_all``: the chats and webhook of the config, as before subscriptions),
or the account's owner (narrowed to one protocol or one account ref when the subscription
says so). Among those, a paused subscriber hears nothing; a warning during a subscriber's
quiet hours is held back; and a subscriber with its own thresholds hears a warning/critical
alert only when its thresholds put the account at that level too (the account is stepped with
the most sensitive thresholds of its watchers, so every watcher's crossing is seen).

A chain alert (an outage and its recovery, ``monitor.alerts.chain``) goes to every subscriber
that watches anything on the chain (``chain_channels``: the chain's accounts in the monitor's
scope), paused ones aside; quiet hours hold back warnings only, so they do not apply.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from indexer.config.sections import ThresholdOverride, Thresholds
from indexer.models import MarginAccount
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy, Reading, rank

__all__ = ["RouteTable", "SubscriberRoute", "WatchRoute", "most_sensitive", "subscriber_channel"]

_THRESHOLD_FIELDS = ("warning", "critical", "warning_distance_pct", "critical_distance_pct")


def subscriber_channel(kind: str, target: str) -> str:
    """The outbox channel of a subscriber: ``telegram:<chat_id>``, or ``webhook``."""
    return f"{kind}:{target}" if target else kind


@dataclass(frozen=True, slots=True)
class SubscriberRoute:
    """One subscriber as the router sees it; ``overrides`` holds its own thresholds (unset
    fields inherit the config's); quiet hours are UTC, ``quiet_from``..``quiet_to`` (end
    excluded, wrapping past midnight when ``quiet_to < quiet_from``)."""

    id: int
    channel: str
    paused: bool = False
    watch_all: bool = False
    overrides: ThresholdOverride = field(default_factory=ThresholdOverride)
    quiet_from: int | None = None
    quiet_to: int | None = None

    def quiet_at(self, hour: int) -> bool:
        start, end = self.quiet_from, self.quiet_to
        if start is None or end is None or start == end:
            return False
        return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True, slots=True)
class WatchRoute:
    """A subscription: subscriber ``subscriber_id`` watches an owner, optionally narrowed."""

    subscriber_id: int
    protocol: str | None = None
    account_ref: str | None = None

    def covers(self, account: MarginAccount) -> bool:
        if self.protocol is not None and self.protocol != account.protocol:
            return False
        return self.account_ref is None or self.account_ref == account.ref


def most_sensitive(base: Thresholds, overrides: Iterable[ThresholdOverride]) -> Thresholds:
    """``base`` with each threshold raised to the most sensitive value any override asks for
    (a higher health or a larger distance fires earlier). ``base`` itself when there are
    none (most accounts: nobody subscribed to them), rebuilt and validated for none of them."""
    overrides = tuple(overrides)
    if not overrides:
        return base
    values = base.model_dump()
    for override in overrides:
        merged = base.merged(override)
        for name in _THRESHOLD_FIELDS:
            values[name] = max(values[name], getattr(merged, name))
    return Thresholds(**values)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The routing table: ``fixed`` channels hear everything (console); ``subscribers`` by
    id; ``watches`` maps a lowercase owner to the subscriptions on it."""

    fixed: tuple[str, ...] = ()
    subscribers: Mapping[int, SubscriberRoute] = field(default_factory=dict)
    watches: Mapping[str, Sequence[WatchRoute]] = field(default_factory=dict)

    def watchers(self, account: MarginAccount) -> list[SubscriberRoute]:
        """Every subscriber watching ``account`` (paused ones included), by id."""
        ids = {s.id for s in self.subscribers.values() if s.watch_all}
        ids.update(
            w.subscriber_id
            for w in self.watches.get(account.owner.lower(), ())
            if w.covers(account)
        )
        return [self.subscribers[i] for i in sorted(ids) if i in self.subscribers]

    def chain_channels(self, accounts: Iterable[MarginAccount]) -> list[str]:
        """The channels of a chain alert: the fixed ones, every subscriber watching everything,
        and every subscriber watching one of ``accounts`` (the chain's), paused ones aside."""
        ids = {s.id for s in self.subscribers.values() if s.watch_all}
        for account in accounts:
            ids.update(s.id for s in self.watchers(account))
        chosen = [self.subscribers[i] for i in sorted(ids) if i in self.subscribers]
        return list(dict.fromkeys([*self.fixed, *(s.channel for s in chosen if not s.paused)]))

    def thresholds(self, account: MarginAccount, base: Thresholds) -> Thresholds:
        """The thresholds to step ``account`` with: ``base`` made as sensitive as its most
        sensitive watcher asks."""
        return most_sensitive(base, (s.overrides for s in self.watchers(account)))

    def channels(
        self,
        account: MarginAccount,
        level: Level,
        base: Thresholds,
        reading: Reading | None,
        hour: int,
    ) -> list[str]:
        """The channels an alert at ``level`` on ``account`` goes to (see the module doc);
        ``reading`` is what the alert was decided on (None: no health, e.g. liquidated)."""
        out = list(self.fixed)
        for sub in self.watchers(account):
            if sub.paused or (level is Level.WARNING and sub.quiet_at(hour)):
                continue
            if not _reaches(sub, level, base, reading):
                continue
            out.append(sub.channel)
        return out


def _reaches(sub: SubscriberRoute, level: Level, base: Thresholds, reading: Reading | None) -> bool:
    """Whether ``sub``'s own thresholds put ``reading`` at ``level`` or worse."""
    if level not in (Level.WARNING, Level.CRITICAL) or reading is None:
        return True  # liquidatable is the protocol's rule, not a threshold: everyone hears it
    own = _own_policy(base, sub.overrides).raw_level(reading)
    return rank(own) >= rank(level)


@functools.lru_cache(maxsize=1024)
def _own_policy(base: Thresholds, overrides: ThresholdOverride) -> Policy:
    """A subscriber's policy over ``base`` (both frozen, so hashable): built once, not for each
    of a crash's thousands of alerts."""
    return Policy(base.merged(overrides))
