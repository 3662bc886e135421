"""The outbox's queue: retry timing, claimed deliveries, the pure claim rule, and the two
queue operations that need no alert data (:func:`due_channels`, :func:`release`).

``monitor.delivery.outbox`` re-exports every public name here; see its module doc for the delivery
guarantee and the ordering rule these pieces implement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.store.engine import write_transaction
from monitor.alerts.levels import Level
from monitor.tables import OutboxMessage, OutboxStatus

__all__ = [
    "DEFAULT_POLICY",
    "OPEN",
    "Delivery",
    "QueueRow",
    "RetryPolicy",
    "claimable",
    "due_channels",
    "release",
]

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING)
"""Statuses of a row still owed a send (``sending`` rows come back when their lease ends)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry timing. ``lease_s``: how long a claimed row stays with its worker (seconds);
    ``base_s``/``cap_s``: first and largest backoff; ``max_attempts``: claims before ``failed``.
    """

    # Comfortably above a notifier's 10 s request timeout; a killed worker's claims come back
    # after this long.
    lease_s: float = 30.0
    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 12
    # A server's wait is honoured beyond cap_s, but not without bound: an absurd or infinite
    # Retry-After would otherwise overflow the next-attempt datetime and stall the channel.
    retry_after_cap_s: float = 86_400.0

    def delay_s(self, attempts: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait after the ``attempts``-th failed try. Pure.

        Exponential (``base_s * 2**(attempts-1)``, capped), scaled by ``0.5 + jitter/2`` with
        ``jitter`` in [0, 1) so that workers do not retry in lockstep; never below the server's
        ``retry_after``, itself bounded by ``retry_after_cap_s`` (NaN counts as no hint).
        """
        exponent = min(max(attempts - 1, 0), 30)  # 2**30 already exceeds any sane cap
        backoff = min(self.cap_s, self.base_s * float(2**exponent)) * (0.5 + jitter / 2)
        if retry_after is None or math.isnan(retry_after):
            return backoff
        return max(backoff, min(retry_after, self.retry_after_cap_s))


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed delivery: an outbox row and its alert. ``attempts`` counts this one. The
    alert is about an account (``account_id``) or a whole chain (``chain_id``), never both."""

    id: int
    alert_id: int
    channel: str
    attempts: int
    account_id: int | None
    level: Level
    episode: int
    created_at: datetime
    payload: dict[str, Any]
    chain_id: int | None = None


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
        if row is None or row.status not in OPEN or row.next_attempt_at > now:
            break
        chosen.append(row_id)
    return chosen


def due_channels(engine: Engine, now: datetime) -> list[str]:
    """Channels with a row that is pending and due, or leased with its lease run out."""
    query = (
        sa.select(OUTBOX.c.channel)
        .where(OUTBOX.c.status.in_(OPEN), OUTBOX.c.next_attempt_at <= now)
        .distinct()
        .order_by(OUTBOX.c.channel)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def release(engine: Engine, delivery_ids: Sequence[int], now: datetime) -> None:
    """Hand back claimed deliveries that were not tried (an earlier one in the batch failed):
    ``pending`` and due at ``now``, with the claim's attempt uncounted.
    """
    if not delivery_ids:
        return
    with write_transaction(engine) as conn:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id.in_(delivery_ids), OUTBOX.c.status == OutboxStatus.SENDING)
            .values(
                status=OutboxStatus.PENDING,
                attempts=OUTBOX.c.attempts - 1,
                next_attempt_at=now,
            )
        )
