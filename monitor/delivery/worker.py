"""The delivery worker: drains the outbox through notifiers, and the contract notifiers keep.

A channel names one destination: ``<kind>`` or ``<kind>:<target>`` (``console``, ``webhook``,
``telegram:-1001234``). Notifiers are looked up by kind and send one delivery at a time::

    notifiers = {"console": ConsoleNotifier(), "telegram": TelegramNotifier(token)}
    report = await deliver_once(engine, notifiers, now=utcnow())
    await run_delivery(engine, notifiers, stop=stop_event)   # until stop_event is set

A notifier's ``send`` returns when the channel accepted the message, raises
:class:`~indexer.errors.RetryableError` (try later, after ``retry_after`` seconds if given) or
:class:`PermanentDeliveryError` (never retry this delivery). Error messages must hold no secret:
the worker stores them in the outbox and logs them. ``monitor.notify.base`` re-exports all of
this; the contract lives here so that the worker imports no channel module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine

from indexer.crash_points import crash_point
from indexer.errors import PermanentDeliveryError, RetryableError
from indexer.store.columns import utcnow
from monitor.delivery.outbox import ack, claim, fail
from monitor.delivery.queue import DEFAULT_POLICY, Delivery, RetryPolicy, due_channels, release
from monitor.tables import OutboxStatus

__all__ = [
    "DeliveryReport",
    "Notifier",
    "channel_kind",
    "channel_target",
    "deliver_once",
    "run_delivery",
]

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Sends one delivery to the destination its ``delivery.channel`` names."""

    async def send(self, delivery: Delivery) -> None: ...


def channel_kind(channel: str) -> str:
    """``telegram`` for ``telegram:-1001``; the channel itself when it has no target."""
    return channel.partition(":")[0]


def channel_target(channel: str) -> str:
    """``-1001`` for ``telegram:-1001``; empty when the channel has no target."""
    return channel.partition(":")[2]


@dataclass(slots=True)
class DeliveryReport:
    """What one :func:`deliver_once` pass did, counted in deliveries."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: DeliveryReport) -> None:
        """Count ``other``'s deliveries into this report."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed

    @property
    def busy(self) -> bool:
        return self.sent + self.retrying + self.failed > 0


async def deliver_once(
    engine: Engine,
    notifiers: Mapping[str, Notifier],
    now: datetime,
    *,
    limit: int = 20,
    policy: RetryPolicy = DEFAULT_POLICY,
    skip: Collection[str] = (),
    unserved: set[str] | None = None,
) -> DeliveryReport:
    """Claim, send and record every due delivery once; channels run concurrently, each one in
    alert order. Channels whose kind has no notifier are left pending and logged, each once
    per ``unserved`` (the caller's set of channels already said: a loop passing the same set
    says each once, not every pass); kinds in ``skip`` are left alone (another driver,
    ``monitor.delivery.paced``, sends them).
    """
    report = DeliveryReport()
    said = set() if unserved is None else unserved
    jobs = []
    for channel in due_channels(engine, now):
        if channel_kind(channel) in skip:
            continue
        notifier = notifiers.get(channel_kind(channel))
        if notifier is None:
            if channel not in said:
                said.add(channel)
                log.warning(
                    "no notifier for channel %s (is its kind configured?); its deliveries "
                    "stay pending",
                    channel,
                )
            continue
        jobs.append(_drain(engine, notifier, channel, now, limit, policy, report))
    await asyncio.gather(*jobs)
    return report


async def _drain(
    engine: Engine,
    notifier: Notifier,
    channel: str,
    now: datetime,
    limit: int,
    policy: RetryPolicy,
    report: DeliveryReport,
) -> None:
    """Send a channel's claimed batch in order; stop at the first retryable failure so that no
    later alert overtakes it (the untried rest is released)."""
    batch = claim(engine, channel, limit, now, policy=policy)
    for index, delivery in enumerate(batch):
        try:
            await notifier.send(delivery)
        except PermanentDeliveryError as exc:
            log.error("delivery %d to %s failed for good: %s", delivery.id, channel, exc)
            fail(engine, delivery.id, str(exc), None, now=now, permanent=True, policy=policy)
            report.failed += 1
            continue
        except Exception as exc:  # a notifier bug must not stop the other channels
            retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
            text = str(exc) if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
            log.warning("delivery %d to %s will be retried: %s", delivery.id, channel, text)
            status = fail(engine, delivery.id, text, retry_after, now=now, policy=policy)
            if status is OutboxStatus.FAILED:
                report.failed += 1
            else:
                report.retrying += 1
            release(engine, [d.id for d in batch[index + 1 :]], now)
            return
        crash_point("delivery-sent")
        ack(engine, delivery.id, now)
        report.sent += 1


async def run_delivery(
    engine: Engine,
    notifiers: Mapping[str, Notifier],
    *,
    stop: asyncio.Event,
    clock: Callable[[], datetime] = utcnow,
    idle_s: float = 2.0,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> None:
    """Run :func:`deliver_once` until ``stop`` is set, waiting ``idle_s`` seconds after a pass
    that found nothing to do. Database errors propagate (the caller's supervisor restarts it).
    """
    unserved: set[str] = set()
    while not stop.is_set():
        report = await deliver_once(engine, notifiers, clock(), policy=policy, unserved=unserved)
        if not report.busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_s)
