"""Fair delivery under flood: which chat gets a message next, and when. Pure: no I/O, no clock
(``now`` is passed in, in seconds).

Telegram allows a bot about 30 messages a second overall, one a second into a private chat and
20 a minute into a group, and answers 429 with ``retry_after`` beyond that. In a crash with
thousands of accounts at risk the queue is minutes long, so the order matters:

- **Fair first**: a chat that has had fewer messages since its queue filled goes first, so
  every chat hears its first message before any chat hears its second.
- **Then urgent**: among those, the chat whose most urgent waiting alert is most urgent
  (liquidatable > critical > liquidated/unknown > warning > recovered; nearer liquidation
  first) goes first.
- **Per-chat order is kept** (alerts leave a chat's queue oldest first), and a backed-up
  chat's waiting alerts are **merged into one digest** (at most ``digest_max`` per message),
  so its first message carries its most urgent alert. The one exception to the order: a
  queue longer than ``digest_max`` has its most urgent alert pulled into the first digest.
- **Limits**: never more than ``global_per_s`` sends in any second, never a chat faster than
  its interval; a 429 blocks that chat until its ``retry_after`` has passed. Nothing is dropped:
  a send that is not acknowledged is planned again.

    scheduler = FairScheduler()
    for send in scheduler.plan(queues, now):      # queues: channel → [Item] in alert order
        ...                                       # send, then:
        scheduler.sent(send.channel, now)         # or scheduler.blocked(channel, now, 3.0)
    scheduler.next_wake(queues, now)              # when something may next be sent
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["URGENCY", "FairScheduler", "Item", "Send", "urgency"]

URGENCY = {"liquidatable": 0, "critical": 1, "liquidated": 2, "unknown": 2, "warning": 3,
           "recovered": 4}  # fmt: skip
"""Alert level → rank, most urgent first."""


def urgency(level: str, move_pct: float | None) -> tuple[int, float]:
    """The sort key of an alert: its level's rank, then its distance to liquidation."""
    distance = math.inf if move_pct is None or math.isnan(move_pct) else move_pct
    return URGENCY.get(level, len(URGENCY)), distance


@dataclass(frozen=True, slots=True, order=True)
class Item:
    """One waiting delivery: its outbox ``id``, the ``alert_id`` that orders its chat's queue,
    and its ``rank`` (:func:`urgency`)."""

    alert_id: int
    id: int
    rank: tuple[int, float] = (0, 0.0)


@dataclass(frozen=True, slots=True)
class Send:
    """One message to send: a single alert, or a digest of several (in alert order);
    ``first``: the chat's first message since its queue filled (send these before the others
    of the same round)."""

    channel: str
    items: tuple[Item, ...]
    first: bool = False


def _is_group(channel: str) -> bool:
    return channel.partition(":")[2].startswith("-")


@dataclass
class FairScheduler:
    """See the module docstring. Intervals are seconds between two sends to one chat;
    ``slack_s`` keeps every send a little inside the limits (clocks differ)."""

    global_per_s: int = 30
    private_interval_s: float = 1.0
    group_interval_s: float = 3.0
    digest_max: int = 20
    slack_s: float = 0.002
    _recent: deque[float] = field(default_factory=deque)
    _free_at: dict[str, float] = field(default_factory=dict)
    _served: dict[str, int] = field(default_factory=dict)

    def _interval(self, channel: str) -> float:
        base = self.group_interval_s if _is_group(channel) else self.private_interval_s
        return base + self.slack_s

    def _global_free_at(self, now: float) -> float:
        while self._recent and self._recent[0] <= now - 1.0 - self.slack_s:
            self._recent.popleft()
        if len(self._recent) < self.global_per_s:
            return now
        return self._recent[-self.global_per_s] + 1.0 + self.slack_s

    def plan(self, queues: Mapping[str, Sequence[Item]], now: float) -> list[Send]:
        """The sends allowed at ``now``, most deserving first; each is counted against the
        limits as if sent (call :meth:`blocked` for one the API refused)."""
        for channel in [c for c in self._served if not queues.get(c)]:
            del self._served[channel]  # its queue emptied: the next flood starts it afresh
        ready = [
            (self._served.get(channel, 0), min(item.rank for item in items), channel)
            for channel, items in queues.items()
            if items and self._free_at.get(channel, -math.inf) <= now
        ]
        sends = []
        for _, _, channel in sorted(ready):
            if self._global_free_at(now) > now:
                break
            first = channel not in self._served
            sends.append(Send(channel, self.digest(queues[channel], first=first), first))
            self._recent.append(now)
            self._free_at[channel] = now + self._interval(channel)
            self._served[channel] = self._served.get(channel, 0) + 1
        return sends

    def digest(self, queue: Sequence[Item], *, first: bool = False) -> tuple[Item, ...]:
        """What one message to a chat carries: its whole queue up to ``digest_max`` alerts in
        alert order; a longer queue gives its oldest, and in the chat's ``first`` message its
        most urgent alert is pulled forward when it is not among them."""
        ordered = sorted(queue)
        chosen = ordered[: self.digest_max]
        if len(ordered) <= self.digest_max or not first:
            return tuple(chosen)
        urgent = min(ordered, key=lambda item: (item.rank, item.alert_id))
        if urgent not in chosen:
            chosen = [*chosen[:-1], urgent]
        return tuple(sorted(chosen))

    def blocked(self, channel: str, now: float, retry_after_s: float) -> None:
        """The API refused a send to ``channel`` (429: wait ``retry_after_s`` seconds; other
        failures pass 0 and the chat keeps its interval). The send does not count as served."""
        served = self._served.get(channel, 0) - 1
        if served > 0:
            self._served[channel] = served
        else:
            self._served.pop(channel, None)
        self._free_at[channel] = max(self._free_at.get(channel, now), now + retry_after_s)

    def next_wake(self, queues: Mapping[str, Sequence[Item]], now: float) -> float | None:
        """When :meth:`plan` may next return a send (None: nothing waits)."""
        waiting = [self._free_at.get(c, now) for c, items in queues.items() if items]
        if not waiting:
            return None
        return max(min(waiting), self._global_free_at(now), now)
