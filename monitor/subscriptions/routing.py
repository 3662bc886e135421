"""Who hears about an alert: the routing table built from subscriptions. Pure: no I/O.

    table = RouteTable(fixed=("console",), subscribers=(...), watches={"0xabc…": [...]})
    primary, *others = table.lenses(account, base)   # one alert state per distinct thresholds
    table.channels(Level.CRITICAL, hour=3, lens=primary)   # ["console", …]

A subscriber hears about an account only when it watches it: it watches every account the
monitor covers (``watch_all``: the chats and webhook of the config, as before subscriptions),
or the account's owner (narrowed to one protocol or one account ref when the subscription
says so). Among those, a paused subscriber hears nothing, and a warning during a subscriber's
quiet hours is held back.

Each distinct set of thresholds among an account's watchers is a :class:`Lens` with an alert
state of its own, so every watcher hears exactly what it would hear as the account's only
watcher: a chat that warns at 20 % to liquidation and one that warns at 10 % each get their
warning, each at its own distance. The primary lens (key ``""``) steps with the config's
thresholds for the account; the fixed channels (console) and every watcher without thresholds
of its own hear it, and its level is the one the API and dashboard show, so a chat's
``/threshold`` changes what that chat hears and nothing else. Most accounts have no watcher
with thresholds of its own, and so only the primary lens. What keeps an account fresh (its
screen, re-reads and polls) follows the most sensitive thresholds of all (``thresholds``).

A chain alert (an outage and its recovery, ``monitor.alerts.chain``) goes to every subscriber
that watches anything on the chain (``chain_channels``: the chain's accounts in the monitor's
scope), paused ones aside; quiet hours hold back warnings only, so they do not apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from indexer.config.sections import ThresholdOverride, Thresholds
from indexer.models import MarginAccount
from monitor.alerts.levels import Level
from monitor.alerts.rules import PRIMARY_LENS

__all__ = [
    "Lens",
    "RouteTable",
    "SubscriberRoute",
    "WatchRoute",
    "lens_key",
    "most_sensitive",
    "subscriber_channel",
]

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


def lens_key(thresholds: Thresholds) -> str:
    """A secondary lens's key: its thresholds' values in field order (``1.5/1.15/0.05/…``)."""
    return "/".join(f"{value:g}" for value in thresholds.model_dump().values())


@dataclass(frozen=True, slots=True)
class Lens:
    """The watchers of an account who share one set of thresholds (``subscribers``, by id), and
    that set: the account's alert state in this lens is stepped with ``thresholds``, and its
    alerts go to these subscribers (and, in the primary lens, to the fixed channels)."""

    key: str
    thresholds: Thresholds
    subscribers: tuple[SubscriberRoute, ...] = ()


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

    @property
    def tailored(self) -> frozenset[str] | None:
        """Owners (lower case) watched by a subscriber with thresholds of its own, the only
        ones whose accounts can have more than one lens; None when such a subscriber watches
        everything (every account can)."""
        own = {i for i, s in self.subscribers.items() if s.overrides.overrides()}
        if any(self.subscribers[i].watch_all for i in own):
            return None
        return frozenset(
            o for o, ws in self.watches.items() if any(w.subscriber_id in own for w in ws)
        )

    def thresholds(self, account: MarginAccount, base: Thresholds) -> Thresholds:
        """``base`` made as sensitive as ``account``'s most sensitive watcher asks: what its
        freshness follows (a chat that wants an early warning wants fresh reads too)."""
        return most_sensitive(base, (s.overrides for s in self.watchers(account)))

    def lenses(self, account: MarginAccount, base: Thresholds) -> tuple[Lens, ...]:
        """``account``'s lenses: the primary (``base``, the config's thresholds for it) first,
        then one per other distinct thresholds among its watchers (each watcher's ``base`` with
        its own overrides), by key."""
        groups: dict[Thresholds, list[SubscriberRoute]] = {}
        for sub in self.watchers(account):
            own = base.merged(sub.overrides) if sub.overrides.overrides() else base
            groups.setdefault(own, []).append(sub)
        first = Lens(PRIMARY_LENS, base, tuple(groups.pop(base, ())))
        others = sorted(
            (Lens(lens_key(t), t, tuple(subs)) for t, subs in groups.items()),
            key=lambda lens: lens.key,
        )
        return first, *others

    def channels(self, level: Level, hour: int, lens: Lens) -> list[str]:
        """The channels an alert at ``level`` decided in ``lens`` goes to: its subscribers (the
        fixed channels too when it is the primary), paused ones aside and warnings held back
        in quiet hours."""
        out = list(self.fixed) if lens.key == PRIMARY_LENS else []
        for sub in lens.subscribers:
            if sub.paused or (level is Level.WARNING and sub.quiet_at(hour)):
                continue
            out.append(sub.channel)
        return out
