"""Subscriptions as operations: the one place that changes who watches what. The bot calls
these, and so can an HTTP API; every operation is one transaction.

    sub = Target("telegram", "-1001", is_group=True)
    watch(engine, sub, "0xabc…", "main", limit=20)       # → Watched
    unwatch(engine, sub, "main")                          # by address or label
    watched(engine, sub)                                  # [Watched, …] in the order added
    set_thresholds(engine, sub, warning=1.4, critical=1.1)
    set_paused(engine, sub, True)
    seed_from_config(engine, cfg)                         # idempotent
    table = load_routes(engine, fixed=("console",))       # for the monitor's router

Errors a user can fix raise :class:`SubscriptionError` with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.config.loader import Config
from indexer.config.sections import ThresholdOverride, Thresholds
from indexer.errors import UserError
from indexer.store.columns import utcnow
from indexer.store.engine import write_transaction
from monitor.subscriptions.routing import (
    RouteTable,
    SubscriberRoute,
    WatchRoute,
    subscriber_channel,
)
from monitor.subscriptions.tables import Subscriber, Subscription

__all__ = [
    "SubscriberInfo", "SubscriptionError", "Target", "Watched", "load_routes", "seed_from_config",
    "set_paused", "set_quiet_hours", "set_thresholds", "subscriber_info", "subscribers",
    "unwatch", "watch", "watched",
]  # fmt: skip

SUBSCRIBERS = Subscriber.__table__  # type: ignore[attr-defined]
SUBSCRIPTIONS = Subscription.__table__  # type: ignore[attr-defined]
_THRESHOLDS = ("warning", "critical", "warning_distance_pct", "critical_distance_pct")


class SubscriptionError(UserError):
    """A subscription change that cannot be made (limit reached, unknown label, …)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A subscriber's address: ``kind`` telegram with ``target`` the chat id, or webhook."""

    kind: str
    target: str
    is_group: bool = False

    @property
    def channel(self) -> str:
        return subscriber_channel(self.kind, self.target)


@dataclass(frozen=True, slots=True)
class Watched:
    """One watched wallet of a subscriber."""

    owner: str
    label: str
    protocol: str | None = None
    account_ref: str | None = None

    @property
    def name(self) -> str:
        """The label, else the address."""
        return self.label or self.owner


@dataclass(frozen=True, slots=True)
class SubscriberInfo:
    """A subscriber's settings (threshold fields None: the config's apply)."""

    paused: bool
    overrides: ThresholdOverride
    quiet_from_hour: int | None
    quiet_to_hour: int | None
    watched: int


def _subscriber_id(
    conn: Connection, sub: Target, *, create: bool, source: str = "bot"
) -> int | None:
    key = sa.and_(SUBSCRIBERS.c.kind == sub.kind, SUBSCRIBERS.c.target == sub.target)
    found = conn.execute(sa.select(SUBSCRIBERS.c.id).where(key)).scalar_one_or_none()
    if found is not None or not create:
        return found
    conn.execute(
        SUBSCRIBERS.insert().values(
            kind=sub.kind, target=sub.target, is_group=sub.is_group, paused=False,
            watch_all=False, source=source, created_at=utcnow(),
        )
    )  # fmt: skip
    return int(conn.execute(sa.select(SUBSCRIBERS.c.id).where(key)).scalar_one())


def watch(
    engine: Engine,
    sub: Target,
    owner: str,
    label: str = "",
    *,
    limit: int,
    protocol: str | None = None,
    account_ref: str | None = None,
    source: str = "bot",
) -> Watched:
    """Make ``sub`` watch ``owner`` (a normalised address) under ``label``; watching a wallet
    again updates its label and narrowing.

    Raises:
        SubscriptionError: ``limit`` wallets are already watched, or ``label`` names another.
    """
    owner = owner.lower()
    with write_transaction(engine) as conn:
        sub_id = _subscriber_id(conn, sub, create=True, source=source)
        rows = {r.owner: r for r in conn.execute(
            sa.select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.subscriber_id == sub_id)
        )}  # fmt: skip
        if label and any(r.label == label and o != owner for o, r in rows.items()):
            raise SubscriptionError(f"the label {label!r} is already used for another wallet")
        values: dict[str, Any] = {"label": label, "protocol": protocol, "account_ref": account_ref}
        if owner in rows:
            conn.execute(
                SUBSCRIPTIONS.update().where(SUBSCRIPTIONS.c.id == rows[owner].id).values(**values)
            )
        else:
            if len(rows) >= limit:
                raise SubscriptionError(
                    f"this chat already watches {len(rows)} wallets, the limit; /unwatch one first"
                )
            conn.execute(
                SUBSCRIPTIONS.insert().values(
                    subscriber_id=sub_id, owner=owner, source=source, created_at=utcnow(), **values
                )
            )
    return Watched(owner, label, protocol, account_ref)


def unwatch(engine: Engine, sub: Target, name: str) -> Watched:
    """Stop ``sub`` watching the wallet with address or label ``name``.

    Raises:
        SubscriptionError: no watched wallet has that address or label.
    """
    with write_transaction(engine) as conn:
        sub_id = _subscriber_id(conn, sub, create=False)
        for row in _rows(conn, sub_id):
            if name.lower() == row.owner or (row.label and name == row.label):
                conn.execute(SUBSCRIPTIONS.delete().where(SUBSCRIPTIONS.c.id == row.id))
                return Watched(row.owner, row.label, row.protocol, row.account_ref)
    raise SubscriptionError(f"not watching {name!r}; /list shows what this chat watches")


def watched(engine: Engine, sub: Target) -> list[Watched]:
    """The wallets ``sub`` watches, in the order they were added."""
    with engine.connect() as conn:
        sub_id = _subscriber_id(conn, sub, create=False)
        return [Watched(r.owner, r.label, r.protocol, r.account_ref) for r in _rows(conn, sub_id)]


def subscribers(engine: Engine) -> list[tuple[Target, SubscriberInfo, list[Watched]]]:
    """Every subscriber with its settings and watched wallets, in the order they came."""
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(SUBSCRIBERS).order_by(SUBSCRIBERS.c.id)))
        out = []
        for row in rows:
            wallets = [Watched(r.owner, r.label, r.protocol, r.account_ref)
                       for r in _rows(conn, row.id)]  # fmt: skip
            info = SubscriberInfo(
                bool(row.paused), _overrides(row), row.quiet_from_hour, row.quiet_to_hour,
                len(wallets),
            )  # fmt: skip
            out.append((Target(row.kind, row.target, bool(row.is_group)), info, wallets))
    return out


def _rows(conn: Connection, sub_id: int | None) -> list[Any]:
    if sub_id is None:
        return []
    query = (
        sa.select(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.subscriber_id == sub_id)
        .order_by(SUBSCRIPTIONS.c.id)
    )
    return list(conn.execute(query))


def _update(engine: Engine, sub: Target, **values: Any) -> None:
    with write_transaction(engine) as conn:
        sub_id = _subscriber_id(conn, sub, create=True)
        conn.execute(SUBSCRIBERS.update().where(SUBSCRIBERS.c.id == sub_id).values(**values))


def set_thresholds(
    engine: Engine, sub: Target, base: Thresholds | None = None, **thresholds: float | None
) -> ThresholdOverride:
    """Set ``sub``'s own thresholds (``warning``, ``critical``, ``warning_distance_pct``,
    ``critical_distance_pct``; None: the config's); the others are reset to the config's.
    ``base`` (the config's thresholds) is checked together with them.

    Raises:
        SubscriptionError: a value is out of range or critical is not below warning.
    """
    unknown = set(thresholds) - set(_THRESHOLDS)
    if unknown:
        raise ValueError(f"not thresholds: {sorted(unknown)}")
    try:
        override = ThresholdOverride(**{k: v for k, v in thresholds.items() if v is not None})
    except ValueError as exc:
        raise SubscriptionError(_first_error(exc)) from None
    for kind in ("", "_distance_pct"):
        warn, crit = thresholds.get(f"warning{kind}"), thresholds.get(f"critical{kind}")
        if warn and crit and crit >= warn:
            raise SubscriptionError(f"critical ({crit:g}) must be below warning ({warn:g})")
    if base is not None and (problem := base.merged(override).ordering_problem()):
        raise SubscriptionError(f"with the other levels unchanged, {problem}; set both levels")
    _update(engine, sub, **{name: thresholds.get(name) for name in _THRESHOLDS})
    return override


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def set_paused(engine: Engine, sub: Target, paused: bool) -> None:
    """Pause (no alerts at all) or resume ``sub``."""
    _update(engine, sub, paused=paused)


def set_quiet_hours(engine: Engine, sub: Target, start: int | None, end: int | None) -> None:
    """Hold back warnings from ``start`` to ``end`` o'clock UTC (None: no quiet hours).

    Raises:
        SubscriptionError: an hour is outside 0..23.
    """
    if any(h is not None and not 0 <= h <= 23 for h in (start, end)):
        raise SubscriptionError("quiet hours are whole hours from 0 to 23")
    _update(engine, sub, quiet_from_hour=start, quiet_to_hour=end)


def subscriber_info(engine: Engine, sub: Target) -> SubscriberInfo:
    """``sub``'s settings; a subscriber never seen gets the defaults."""
    with engine.connect() as conn:
        key = sa.and_(SUBSCRIBERS.c.kind == sub.kind, SUBSCRIBERS.c.target == sub.target)
        row = conn.execute(sa.select(SUBSCRIBERS).where(key)).first()
        count = len(_rows(conn, row.id)) if row is not None else 0
    if row is None:
        return SubscriberInfo(False, ThresholdOverride(), None, None, 0)
    return SubscriberInfo(
        bool(row.paused), _overrides(row), row.quiet_from_hour, row.quiet_to_hour, count
    )


def _overrides(row: Any) -> ThresholdOverride:
    return ThresholdOverride(
        **{name: getattr(row, name) for name in _THRESHOLDS if getattr(row, name) is not None}
    )


def seed_from_config(engine: Engine, cfg: Config, *, now: datetime | None = None) -> int:
    """Create the subscribers the config names, idempotently: each ``[channels.telegram]``
    chat and the webhook (when enabled) hear about every account the monitor covers, as they
    did before subscriptions, and watch each ``[[wallets]]`` entry (its label kept). Returns
    the subscriptions added."""
    targets: list[Target] = []
    if cfg.channels.telegram.enabled:
        targets += [Target("telegram", str(chat)) for chat in cfg.channels.telegram.chat_ids]
    if cfg.channels.webhook.enabled:
        targets.append(Target("webhook", ""))
    added = 0
    with write_transaction(engine) as conn:
        # A chat dropped from the config stops hearing about everything (its list stays).
        conn.execute(
            SUBSCRIBERS.update().where(SUBSCRIBERS.c.source == "config").values(watch_all=False)
        )
        for target in targets:
            sub_id = _subscriber_id(conn, target, create=True, source="config")
            conn.execute(
                SUBSCRIBERS.update().where(SUBSCRIBERS.c.id == sub_id).values(watch_all=True)
            )
            have = {r.owner for r in _rows(conn, sub_id)}
            for wallet in cfg.wallets:
                if wallet.address.lower() in have:
                    continue
                conn.execute(
                    SUBSCRIPTIONS.insert().values(
                        subscriber_id=sub_id, owner=wallet.address.lower(), label=wallet.label,
                        source="config", created_at=now or utcnow(),
                    )
                )  # fmt: skip
                added += 1
    return added


def load_routes(engine: Engine, fixed: tuple[str, ...] = ()) -> RouteTable:
    """The routing table from the database; ``fixed`` channels (console) hear everything."""
    with engine.connect() as conn:
        subscribers = {
            r.id: SubscriberRoute(
                id=r.id,
                channel=subscriber_channel(r.kind, r.target),
                paused=bool(r.paused),
                watch_all=bool(r.watch_all),
                overrides=_overrides(r),
                quiet_from=r.quiet_from_hour,
                quiet_to=r.quiet_to_hour,
            )
            for r in conn.execute(sa.select(SUBSCRIBERS))
        }
        watches: dict[str, list[WatchRoute]] = {}
        for r in conn.execute(sa.select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.id)):
            watches.setdefault(r.owner, []).append(
                WatchRoute(r.subscriber_id, r.protocol, r.account_ref)
            )
    return RouteTable(fixed, subscribers, watches)


def watched_owners(engine: Engine) -> frozenset[str]:
    """Every wallet some subscriber watches (the monitor widens its wallet scope by them)."""
    with engine.connect() as conn:
        return frozenset(conn.execute(sa.select(SUBSCRIPTIONS.c.owner).distinct()).scalars())
