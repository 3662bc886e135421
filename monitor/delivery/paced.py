"""Telegram delivery driven by the fair scheduler (``monitor.delivery.fair``): the outbox's
claimable queues in, one message per planned send out (an alert, or a digest of several).

    paced = PacedDelivery(engine, notifier, FairScheduler())
    report = await paced.deliver(now)           # one round: everything the limits allow now
    await paced.drain(stop)                     # rounds until nothing waits (tests, flood)

Every alert is acknowledged only after the API accepted the message that carries it (the
claims of a round are one transaction, and so are its acknowledgements). A 429
blocks that chat for the API's ``retry_after`` (the alerts go back to the queue, attempt
uncounted); other transient failures retry with the outbox backoff; a permanent refusal
fails the alerts of that message. ``clock`` (monotonic seconds) paces; ``wall`` stamps the
outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine

from indexer.crash_points import crash_point
from indexer.errors import PermanentDeliveryError, RetryableError
from indexer.store.columns import utcnow
from monitor.delivery.fair import FairScheduler, Item, Send, urgency
from monitor.delivery.outbox import ack_all, claim_ids, fail, waiting
from monitor.delivery.queue import DEFAULT_POLICY, Delivery, RetryPolicy, release
from monitor.delivery.worker import DeliveryReport

__all__ = ["BatchNotifier", "PacedDelivery"]

log = logging.getLogger(__name__)


class BatchNotifier(Protocol):
    """Sends one chat's deliveries as one message (``TelegramNotifier.send_batch``)."""

    async def send_batch(self, deliveries: list[Delivery]) -> None: ...


class PacedDelivery:
    """See the module docstring; ``kind`` is the channel kind it serves (``telegram``)."""

    def __init__(
        self,
        engine: Engine,
        notifier: BatchNotifier,
        scheduler: FairScheduler,
        *,
        kind: str = "telegram",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.engine, self.notifier, self.scheduler, self.kind = engine, notifier, scheduler, kind
        self.clock, self.wall, self.sleep, self.policy = clock, wall, sleep, policy
        self.messages = 0
        self._writes = asyncio.Lock()  # one database write at a time (SQLite has one writer)
        self.digests = 0
        self.refused_429 = 0

    def _queues(self, now: datetime) -> dict[str, list[Item]]:
        return {
            channel: [Item(alert_id, row_id, urgency(level, move))
                      for row_id, alert_id, level, move in rows]
            for channel, rows in waiting(self.engine, self.kind, now).items()
        }  # fmt: skip

    async def deliver(self, now: datetime | None = None) -> tuple[DeliveryReport, float | None]:
        """One round: send what the limits allow at this moment. Returns what it did and when
        the next send may go (monotonic seconds; None: nothing waits)."""
        now = now or self.wall()
        queues = await asyncio.to_thread(self._queues, now)
        tick = self.clock()
        sends = self.scheduler.plan(queues, tick)
        report = DeliveryReport()
        for first in (True, False):  # every chat's first message before any second
            tier = [send for send in sends if send.first is first]
            if not tier:
                continue
            batches = await asyncio.to_thread(
                claim_ids, self.engine, [[i.id for i in s.items] for s in tier], now,
                policy=self.policy,
            )  # fmt: skip
            done = await asyncio.gather(
                *(self._send(s, b, now, tick, report) for s, b in zip(tier, batches, strict=True))
            )
            acked = [row_id for ids in done for row_id in ids]
            if acked:
                crash_point("delivery-sent")
                await asyncio.to_thread(ack_all, self.engine, acked, now)
        for send in sends:
            sent = {i.id for i in send.items}
            queues[send.channel] = [i for i in queues[send.channel] if i.id not in sent]
        return report, self.scheduler.next_wake(queues, tick)

    async def _send(
        self, send: Send, batch: list[Delivery], now: datetime, tick: float, report: DeliveryReport
    ) -> list[int]:
        """Send one claimed batch; returns the ids to acknowledge (none when it failed)."""
        ids = [item.id for item in send.items]
        if not batch:  # another worker has them
            self.scheduler.blocked(send.channel, tick, 0.0)
            return []
        try:
            await self.notifier.send_batch(batch)
        except PermanentDeliveryError as exc:
            log.error("deliveries to %s failed for good: %s", send.channel, exc)
            async with self._writes:
                for delivery in batch:
                    await asyncio.to_thread(self._fail, delivery.id, str(exc), None, True)
            report.failed += len(batch)
            return []
        except Exception as exc:
            retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
            text = str(exc) if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
            log.warning("delivery to %s will be retried: %s", send.channel, text)
            self.scheduler.blocked(send.channel, tick, retry_after or 0.0)
            async with self._writes:
                if retry_after is not None:  # flood control: the same alerts, when it allows
                    self.refused_429 += 1
                    await asyncio.to_thread(release, self.engine, ids, now)
                else:
                    await asyncio.to_thread(self._fail, batch[0].id, text, None, False)
                    await asyncio.to_thread(release, self.engine, ids[1:], now)
            report.retrying += len(batch)
            return []
        self.messages += 1
        self.digests += len(batch) > 1
        report.sent += len(batch)
        return ids

    def _fail(self, delivery_id: int, error: str, retry: float | None, permanent: bool) -> None:
        fail(self.engine, delivery_id, error, retry, now=self.wall(), permanent=permanent,
             policy=self.policy)  # fmt: skip

    async def drain(self, *, max_rounds: int = 1_000_000) -> DeliveryReport:
        """Rounds until nothing waits, sleeping (``sleep``) until each next send may go."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            report, wake = await self.deliver()
            total.add(report)
            if wake is None:
                return total
            await self.sleep(max(wake - self.clock(), 0.0))
        return total
