"""The durable alert outbox: alerts and their per-channel deliveries, in the database.

    with session(engine) as s:                    # the transaction that changes the state...
        enqueue(s, account_id, Level.CRITICAL, 3, payload, ["console", "telegram:-1001"])
    for d in claim(engine, "telegram:-1001", limit=10, now=now): ...   # send, then ack/fail

Delivery guarantee. An alert and its outbox rows are written in the caller's transaction, so an
alert exists exactly when the state change that caused it was committed. Each delivery is then
**at least once**: :func:`claim` marks rows ``sending`` under a lease (``next_attempt_at`` holds
the lease's end), and rows whose lease ran out are claimable again, so a process killed between
claim and send loses nothing. Once :func:`ack` has recorded a send as ``sent`` it is never sent
again. What cannot be exactly-once is the gap between a channel accepting a message and the ack
being committed (a crash there, or a send slower than the lease): that send is repeated. The
webhook carries a stable ``Idempotency-Key`` so a receiver can drop such a repeat; Telegram has
no such key, so keep the notifier timeout well below ``RetryPolicy.lease_s``.

Order. A channel is one destination (``telegram:<chat_id>``, ``webhook``, ``console``); its
deliveries go out in alert order: a claim takes only the due *prefix* of the channel's open
queue, so alert N+1 waits while alert N is pending a retry or leased to another worker.

Concurrency. On PostgreSQL the prefix is locked with ``FOR UPDATE SKIP LOCKED``; a row another
worker holds ends the prefix instead of being jumped over. On SQLite the claim first takes the
database write lock (a no-op UPDATE), so claims are serialized.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from indexer.store.bulk import BulkInsert
from indexer.store.columns import driver_datetime
from indexer.store.engine import is_postgres, upsert_insert, write_transaction
from monitor.alerts.levels import Level
from monitor.alerts.rules import PRIMARY_LENS
from monitor.delivery.queue import (
    DEFAULT_POLICY,
    OPEN,
    OUTBOX,
    Delivery,
    QueueRow,
    RetryPolicy,
    claimable,
    due_channels,
    release,
)
from monitor.tables import Alert, OutboxStatus

__all__ = [
    "DEFAULT_POLICY",
    "Delivery",
    "NewAlert",
    "QueueRow",
    "RetryPolicy",
    "ack",
    "ack_all",
    "claim",
    "claim_ids",
    "claimable",
    "due_channels",
    "enqueue",
    "enqueue_chain",
    "enqueue_many",
    "fail",
    "release",
    "waiting",
]

_alerts = Alert.__table__  # type: ignore[attr-defined]
_MAX_ERROR_CHARS = 1000


def enqueue(
    db: Connection | Session,
    account_id: int,
    level: Level | str,
    episode: int,
    payload: Mapping[str, Any],
    channels: Iterable[str],
    *,
    now: datetime,
    lens: str = PRIMARY_LENS,
) -> int | None:
    """Write an alert and one pending outbox row per channel, in the caller's transaction.

    Returns the new alert id, or None when (account, lens, level, episode) already exists, in
    which case nothing is written (a replayed monitor step is harmless). Commits nothing.
    ``lens``: the key of the account's alert state that decided it (``""``: the primary; see
    ``monitor.subscriptions.routing.Lens``).

    Raises:
        ValueError: ``level`` is not an alert level (``ok``) or ``episode`` is negative.
    """
    subject: dict[str, int | str] = {"account_id": account_id, "lens": lens}
    return _enqueue(db, subject, level, episode, payload, channels, now)


@dataclass(frozen=True, slots=True)
class NewAlert:
    """One alert about an account for :func:`enqueue_many`, decided by its ``lens``."""

    account_id: int
    level: Level
    episode: int
    payload: Mapping[str, Any]
    channels: Sequence[str]
    lens: str = PRIMARY_LENS


def enqueue_many(
    conn: Connection, alerts: Sequence[NewAlert], *, now: datetime
) -> list[int | None]:
    """:func:`enqueue` for many alerts at once, in the caller's transaction: the alert ids in
    order (None for one whose (account, lens, level, episode) exists already, as nothing is
    written for it). A crash that moves thousands of accounts across a threshold decides
    thousands of alerts in one tick; one statement per alert made recording them take most of
    a second.

    Raises:
        ValueError: an alert's level is ``ok`` or its episode is negative; nothing is written.
    """
    for alert in alerts:
        _check_alert(alert.level, alert.episode)
    if not alerts:
        return []
    # Plain tuples to the driver (indexer.store.bulk): through SQLAlchemy's per-row parameter
    # processing, recording a crash's 6,000 alerts cost more than the database's own work.
    at = driver_datetime(now, postgres=is_postgres(conn))
    rows = [
        (a.account_id, a.lens, Level(a.level).value, a.episode, at,
         orjson.dumps(dict(a.payload), option=orjson.OPT_SORT_KEYS).decode())
        for a in alerts
    ]  # fmt: skip
    ids = {
        (int(account_id), lens, Level(level), int(episode)): int(alert_id)
        for alert_id, account_id, lens, level, episode in _NEW_ALERTS.execute(conn, rows)
    }
    found = [ids.get((a.account_id, a.lens, Level(a.level), a.episode)) for a in alerts]
    pending = OutboxStatus.PENDING.value
    outbox = [
        (alert_id, channel, pending, 0, at)
        for alert, alert_id in zip(alerts, found, strict=True)
        if alert_id is not None
        for channel in _distinct(alert.channels)
    ]
    if outbox:
        _NEW_DELIVERIES.execute(conn, outbox)
    return found


_ALERT_COLUMNS = {"account_id": "integer", "lens": "text", "level": "text", "episode": "integer",
                  "created_at": "timestamptz", "payload": "jsonb"}  # fmt: skip
_DELIVERY_COLUMNS = {"alert_id": "integer", "channel": "text", "status": "text",
                     "attempts": "integer", "next_attempt_at": "timestamptz"}  # fmt: skip
# An alert that exists already is skipped, and not returned.
_NEW_ALERTS = BulkInsert(
    "alerts",
    _ALERT_COLUMNS,
    "ON CONFLICT (account_id, lens, level, episode) DO NOTHING",
    returning=("id", "account_id", "lens", "level", "episode"),
)
_NEW_DELIVERIES = BulkInsert("outbox", _DELIVERY_COLUMNS, "")


def enqueue_chain(
    db: Connection | Session,
    chain_id: int,
    level: Level | str,
    episode: int,
    payload: Mapping[str, Any],
    channels: Iterable[str],
    *,
    now: datetime,
) -> int | None:
    """:func:`enqueue` for an alert about a whole chain (``monitor.alerts.chain``): None when
    (chain, level, episode) already exists, so two workers or a restart cannot repeat it."""
    return _enqueue(db, {"chain_id": chain_id}, level, episode, payload, channels, now)


def _enqueue(
    db: Connection | Session,
    subject: Mapping[str, int | str],
    level: Level | str,
    episode: int,
    payload: Mapping[str, Any],
    channels: Iterable[str],
    now: datetime,
) -> int | None:
    level = Level(level)
    _check_alert(level, episode)
    conn = db.connection() if isinstance(db, Session) else db
    stmt = (
        upsert_insert(conn)(_alerts)
        .values(**subject, level=level, episode=episode, created_at=now, payload=dict(payload))
        .on_conflict_do_nothing(index_elements=[*subject, "level", "episode"])
        .returning(_alerts.c.id)
    )
    alert_id: int | None = conn.execute(stmt).scalar_one_or_none()
    if alert_id is None:
        return None
    rows = _outbox_rows(alert_id, channels, now)
    if rows:
        conn.execute(OUTBOX.insert(), rows)
    return alert_id


def _check_alert(level: Level, episode: int) -> None:
    if level is Level.OK or episode < 0:
        raise ValueError(f"not an alert: level {level.value}, episode {episode}")


def _outbox_rows(alert_id: int, channels: Iterable[str], now: datetime) -> list[dict[str, Any]]:
    """One pending delivery per channel."""
    return [
        {"alert_id": alert_id, "channel": channel, "status": OutboxStatus.PENDING,
         "attempts": 0, "next_attempt_at": now}
        for channel in _distinct(channels)
    ]  # fmt: skip


def _distinct(channels: Iterable[str]) -> list[str]:
    """``channels`` once each, in their first order: an alert is delivered once per channel."""
    return list(dict.fromkeys(channels))


def claim(
    engine: Engine, channel: str, limit: int, now: datetime, *, policy: RetryPolicy = DEFAULT_POLICY
) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries of ``channel``, in alert order, for one worker.

    Claimed rows become ``sending`` with ``attempts + 1`` and a lease until
    ``now + policy.lease_s``. Returns them oldest alert first; empty when the channel's oldest
    open row is not due (waiting for a retry, or leased to a worker).
    """
    with write_transaction(engine) as conn:  # reads, then writes, beside other writers
        order = list(
            conn.execute(
                sa.select(OUTBOX.c.id)
                .where(OUTBOX.c.channel == channel, OUTBOX.c.status.in_(OPEN))
                .order_by(OUTBOX.c.alert_id)
                .limit(limit)
            ).scalars()
        )
        locked = conn.execute(
            sa.select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.next_attempt_at)
            .where(OUTBOX.c.id.in_(order))
            .with_for_update(skip_locked=True)
        ).all()
        rows = {r.id: QueueRow(r.id, OutboxStatus(r.status), r.next_attempt_at) for r in locked}
        ids = claimable(order, rows, now, limit)
        if not ids:
            return []
        return _lease(conn, ids, now, policy)


def waiting(
    engine: Engine, kind: str, now: datetime
) -> dict[str, list[tuple[int, int, str, float | None]]]:
    """The claimable queue of each ``kind:…`` channel at ``now``: its open rows' due prefix in
    alert order (as :func:`claim` would take them), each ``(outbox id, alert id, level,
    move_pct)``."""
    query = (
        sa.select(OUTBOX.c.id, OUTBOX.c.alert_id, OUTBOX.c.channel, OUTBOX.c.status,
                  OUTBOX.c.next_attempt_at, _alerts.c.level, _alerts.c.payload)
        .join(_alerts, _alerts.c.id == OUTBOX.c.alert_id)
        .where(OUTBOX.c.channel.like(f"{kind}:%"), OUTBOX.c.status.in_(OPEN))
        .order_by(OUTBOX.c.channel, OUTBOX.c.alert_id)
    )  # fmt: skip
    queues: dict[str, list[tuple[int, int, str, float | None]]] = {}
    blocked: set[str] = set()
    with engine.connect() as conn:
        for r in conn.execute(query):
            if r.channel in blocked:
                continue
            if r.next_attempt_at > now:  # waiting for a retry or leased: the prefix ends
                blocked.add(r.channel)
                continue
            move = r.payload.get("move_pct") if isinstance(r.payload, dict) else None
            queues.setdefault(r.channel, []).append(
                (r.id, r.alert_id, str(r.level), move if isinstance(move, int | float) else None)
            )
    return queues


def claim_ids(
    engine: Engine,
    batches: Sequence[Sequence[int]],
    now: datetime,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> list[list[Delivery]]:
    """Claim each batch of deliveries (one message's, chosen by the fair scheduler) whole, in
    one transaction: a batch is claimed when every row of it is still open and due, else none
    of it (another worker took some). Returns the claimed deliveries per batch, in alert order
    (empty for a batch not claimed)."""
    with write_transaction(engine) as conn:  # reads, then writes, beside other writers
        wanted = [row_id for batch in batches for row_id in batch]
        free: set[int] = set()
        for start in range(0, len(wanted), 900):  # SQLite: at most 999 bound parameters
            locked = conn.execute(
                sa.select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.next_attempt_at)
                .where(OUTBOX.c.id.in_(wanted[start : start + 900]))
                .with_for_update(skip_locked=True)
            ).all()
            free.update(
                r.id for r in locked if OutboxStatus(r.status) in OPEN and r.next_attempt_at <= now
            )
        chosen = [list(batch) for batch in batches if free.issuperset(batch)]
        leased = {d.id: d for ids in chosen for d in _lease(conn, ids, now, policy)}
    return [[leased[i] for i in batch] if free.issuperset(batch) else [] for batch in batches]


def _lease(conn: Connection, ids: list[int], now: datetime, policy: RetryPolicy) -> list[Delivery]:
    """Mark ``ids`` as being sent (one more attempt, leased until ``now + lease_s``)."""
    conn.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(ids))
        .values(
            status=OutboxStatus.SENDING,
            attempts=OUTBOX.c.attempts + 1,
            next_attempt_at=now + timedelta(seconds=policy.lease_s),
        )
    )
    return _deliveries(conn, ids)


def _deliveries(conn: Connection, ids: list[int]) -> list[Delivery]:
    query = (
        sa.select(
            OUTBOX.c.id, OUTBOX.c.alert_id, OUTBOX.c.channel, OUTBOX.c.attempts,
            _alerts.c.account_id, _alerts.c.level, _alerts.c.episode, _alerts.c.created_at,
            _alerts.c.payload, _alerts.c.chain_id,
        )
        .join(_alerts, _alerts.c.id == OUTBOX.c.alert_id)
        .where(OUTBOX.c.id.in_(ids))
        .order_by(OUTBOX.c.alert_id)
    )  # fmt: skip
    return [
        Delivery(r.id, r.alert_id, r.channel, r.attempts, r.account_id, Level(r.level),
                 r.episode, r.created_at, dict(r.payload), r.chain_id)
        for r in conn.execute(query)
    ]  # fmt: skip


def ack(engine: Engine, delivery_id: int, now: datetime) -> bool:
    """Record a delivery as sent. Returns False if the row was not ``sending`` (nothing done)."""
    return ack_all(engine, [delivery_id], now) == 1


def ack_all(engine: Engine, delivery_ids: list[int], now: datetime) -> int:
    """Record deliveries (one message's) as sent in one transaction; returns how many were
    ``sending`` (the others are left alone)."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id.in_(delivery_ids), OUTBOX.c.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
        )
    return int(result.rowcount)


def fail(
    engine: Engine,
    delivery_id: int,
    error: str,
    retry_after: float | None,
    *,
    now: datetime,
    permanent: bool = False,
    policy: RetryPolicy = DEFAULT_POLICY,
    jitter: float | None = None,
) -> OutboxStatus | None:
    """Record a failed send: back to ``pending`` after a backoff (at least ``retry_after``
    seconds), or ``failed`` when ``permanent`` or after ``policy.max_attempts`` claims.

    ``error`` is stored (truncated) as ``last_error``: it must hold no secret. ``jitter`` in
    [0, 1) defaults to a random draw. Returns the new status, None if the row was not
    ``sending``.
    """
    jitter = random.random() if jitter is None else jitter
    with write_transaction(engine) as conn:  # reads, then writes, beside other writers
        attempts = conn.execute(
            sa.select(OUTBOX.c.attempts).where(
                OUTBOX.c.id == delivery_id, OUTBOX.c.status == OutboxStatus.SENDING
            )
        ).scalar_one_or_none()
        if attempts is None:
            return None
        if permanent or attempts >= policy.max_attempts:
            status, next_at = OutboxStatus.FAILED, now
        else:
            status = OutboxStatus.PENDING
            next_at = now + timedelta(seconds=policy.delay_s(attempts, retry_after, jitter))
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == delivery_id)
            .values(status=status, next_attempt_at=next_at, last_error=error[:_MAX_ERROR_CHARS])
        )
    return status


def pending_count(engine: Engine) -> int:
    """Deliveries not yet sent or given up (pending or being sent)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(OUTBOX.c.status.in_([s.value for s in OPEN]))
            ).scalar_one()
        )
