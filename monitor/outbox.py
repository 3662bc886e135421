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

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from indexer.tables import Alert, Level, OutboxMessage, OutboxStatus

__all__ = [
    "DEFAULT_POLICY",
    "Delivery",
    "QueueRow",
    "RetryPolicy",
    "ack",
    "claim",
    "claimable",
    "due_channels",
    "enqueue",
    "fail",
    "release",
]

_alerts = Alert.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING)
_MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry timing. ``lease_s``: how long a claimed row stays with its worker (seconds);
    ``base_s``/``cap_s``: first and largest backoff; ``max_attempts``: claims before ``failed``.
    """

    lease_s: float = 120.0
    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 12

    def delay_s(self, attempts: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait after the ``attempts``-th failed try. Pure.

        Exponential (``base_s * 2**(attempts-1)``, capped), scaled by ``0.5 + jitter/2`` with
        ``jitter`` in [0, 1) so that workers do not retry in lockstep; never below the server's
        ``retry_after``.
        """
        exponent = min(max(attempts - 1, 0), 30)  # 2**30 already exceeds any sane cap
        backoff = min(self.cap_s, self.base_s * float(2**exponent)) * (0.5 + jitter / 2)
        return max(backoff, retry_after or 0.0)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed delivery: an outbox row and its alert. ``attempts`` counts this one."""

    id: int
    alert_id: int
    channel: str
    attempts: int
    account_id: int
    level: Level
    episode: int
    created_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """The state of an open outbox row that decides whether it may be claimed."""

    id: int
    status: OutboxStatus
    next_attempt_at: datetime


def claimable(
    order: Sequence[int], rows: Mapping[int, QueueRow], now: datetime, limit: int
) -> list[int]:
    """The ids to claim: the longest prefix of ``order`` (a channel's open rows in alert order)
    whose rows are in ``rows`` (locked by us), still open, and due at ``now``. Pure.
    """
    chosen: list[int] = []
    for row_id in order[:limit]:
        row = rows.get(row_id)
        if row is None or row.status not in _OPEN or row.next_attempt_at > now:
            break
        chosen.append(row_id)
    return chosen


def enqueue(
    db: Connection | Session,
    account_id: int,
    level: Level | str,
    episode: int,
    payload: Mapping[str, Any],
    channels: Iterable[str],
    *,
    now: datetime,
) -> int | None:
    """Write an alert and one pending outbox row per channel, in the caller's transaction.

    Returns the new alert id, or None when (account, level, episode) already exists, in which
    case nothing is written (a replayed monitor step is harmless). Commits nothing.

    Raises:
        ValueError: ``level`` is not an alert level (``ok``) or ``episode`` is negative.
    """
    level = Level(level)
    if level is Level.OK or episode < 0:
        raise ValueError(f"not an alert: level {level.value}, episode {episode}")
    conn = db.connection() if isinstance(db, Session) else db
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(_alerts)
        .values(account_id=account_id, level=level, episode=episode, created_at=now,
                payload=dict(payload))
        .on_conflict_do_nothing(index_elements=["account_id", "level", "episode"])
        .returning(_alerts.c.id)
    )  # fmt: skip
    alert_id: int | None = conn.execute(stmt).scalar_one_or_none()
    if alert_id is None:
        return None
    rows = [
        {"alert_id": alert_id, "channel": channel, "status": OutboxStatus.PENDING,
         "attempts": 0, "next_attempt_at": now}
        for channel in dict.fromkeys(channels)  # de-duplicated, order kept
    ]  # fmt: skip
    if rows:
        conn.execute(_outbox.insert(), rows)
    return alert_id


def due_channels(engine: Engine, now: datetime) -> list[str]:
    """Channels with a row that is pending and due, or leased with its lease run out."""
    query = (
        sa.select(_outbox.c.channel)
        .where(_outbox.c.status.in_(_OPEN), _outbox.c.next_attempt_at <= now)
        .distinct()
        .order_by(_outbox.c.channel)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def claim(
    engine: Engine, channel: str, limit: int, now: datetime, *, policy: RetryPolicy = DEFAULT_POLICY
) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries of ``channel``, in alert order, for one worker.

    Claimed rows become ``sending`` with ``attempts + 1`` and a lease until
    ``now + policy.lease_s``. Returns them oldest alert first; empty when the channel's oldest
    open row is not due (waiting for a retry, or leased to a worker).
    """
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock before reading: a read-then-write transaction could otherwise
            # fail with SQLITE_BUSY when another claim commits in between.
            conn.execute(sa.update(_outbox).where(sa.false()).values(attempts=0))
        order = list(
            conn.execute(
                sa.select(_outbox.c.id)
                .where(_outbox.c.channel == channel, _outbox.c.status.in_(_OPEN))
                .order_by(_outbox.c.alert_id)
                .limit(limit)
            ).scalars()
        )
        locked = conn.execute(
            sa.select(_outbox.c.id, _outbox.c.status, _outbox.c.next_attempt_at)
            .where(_outbox.c.id.in_(order))
            .with_for_update(skip_locked=True)
        ).all()
        rows = {r.id: QueueRow(r.id, OutboxStatus(r.status), r.next_attempt_at) for r in locked}
        ids = claimable(order, rows, now, limit)
        if not ids:
            return []
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.id.in_(ids))
            .values(
                status=OutboxStatus.SENDING,
                attempts=_outbox.c.attempts + 1,
                next_attempt_at=now + timedelta(seconds=policy.lease_s),
            )
        )
        return _deliveries(conn, ids)


def _deliveries(conn: Connection, ids: list[int]) -> list[Delivery]:
    query = (
        sa.select(
            _outbox.c.id, _outbox.c.alert_id, _outbox.c.channel, _outbox.c.attempts,
            _alerts.c.account_id, _alerts.c.level, _alerts.c.episode, _alerts.c.created_at,
            _alerts.c.payload,
        )
        .join(_alerts, _alerts.c.id == _outbox.c.alert_id)
        .where(_outbox.c.id.in_(ids))
        .order_by(_outbox.c.alert_id)
    )  # fmt: skip
    return [
        Delivery(r.id, r.alert_id, r.channel, r.attempts, r.account_id, Level(r.level),
                 r.episode, r.created_at, dict(r.payload))
        for r in conn.execute(query)
    ]  # fmt: skip


def ack(engine: Engine, delivery_id: int, now: datetime) -> bool:
    """Record a delivery as sent. Returns False if the row was not ``sending`` (nothing done)."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == delivery_id, _outbox.c.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
        )
    return result.rowcount == 1


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
    with engine.begin() as conn:
        attempts = conn.execute(
            sa.select(_outbox.c.attempts).where(
                _outbox.c.id == delivery_id, _outbox.c.status == OutboxStatus.SENDING
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
            sa.update(_outbox)
            .where(_outbox.c.id == delivery_id)
            .values(status=status, next_attempt_at=next_at, last_error=error[:_MAX_ERROR_CHARS])
        )
    return status


def release(engine: Engine, delivery_ids: Sequence[int], now: datetime) -> None:
    """Hand back claimed deliveries that were not tried (an earlier one in the batch failed):
    ``pending`` and due at ``now``, with the claim's attempt uncounted.
    """
    if not delivery_ids:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.id.in_(delivery_ids), _outbox.c.status == OutboxStatus.SENDING)
            .values(
                status=OutboxStatus.PENDING,
                attempts=_outbox.c.attempts - 1,
                next_attempt_at=now,
            )
        )
