"""The fair delivery scheduler (pure), simulated on a clock it does not own: nothing lost or
sent twice, the global and per-chat limits never exceeded, every chat's first message (with its
most urgent alert) before any chat's second, per-chat order kept, 429 waits honoured."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Set as AbstractSet

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.delivery.fair import FairScheduler, Item, Send, urgency

LEVELS = ["warning", "critical", "liquidatable", "recovered", "unknown"]


@st.composite
def floods(draw: st.DrawFn) -> dict[str, list[Item]]:
    chats = draw(st.lists(st.integers(-50, 50).filter(bool), min_size=1, max_size=25, unique=True))
    queues: dict[str, list[Item]] = {}
    next_id = 1
    for chat in chats:
        items = []
        for _ in range(draw(st.integers(1, 12))):
            level = draw(st.sampled_from(LEVELS))
            move = draw(st.one_of(st.none(), st.floats(-5, 30)))
            items.append(Item(next_id, next_id, urgency(level, move)))
            next_id += 1
        queues[f"telegram:{chat}"] = items
    return queues


def simulate(
    scheduler: FairScheduler, queues: dict[str, list[Item]], refuse: AbstractSet[str] = frozenset()
) -> list[tuple[float, Send]]:
    """Run until every queue is empty; the first send to each chat in ``refuse`` gets a 429
    with retry_after 2. Returns (time, send) in order."""
    queues = {c: list(items) for c, items in queues.items()}
    log: list[tuple[float, Send]] = []
    now, refused = 0.0, set()
    for _ in range(100_000):
        for send in scheduler.plan(queues, now):
            if send.channel in refuse and send.channel not in refused:
                refused.add(send.channel)
                scheduler.blocked(send.channel, now, 2.0)
                continue
            log.append((now, send))
            queues[send.channel] = [i for i in queues[send.channel] if i not in send.items]
        wake = scheduler.next_wake(queues, now)
        if wake is None:
            return log
        now = max(wake, now + 1e-6)
    raise AssertionError("did not finish")


@settings(max_examples=60, deadline=None)
@given(floods(), st.integers(1, 8), st.integers(1, 6), st.data())
def test_flood_is_delivered_fairly_within_limits(
    queues: dict[str, list[Item]], per_s: int, digest_max: int, data: st.DataObject
) -> None:
    refuse = set(data.draw(st.lists(st.sampled_from(sorted(queues)), max_size=3)))
    scheduler = FairScheduler(global_per_s=per_s, digest_max=digest_max)
    log = simulate(scheduler, queues, refuse)
    sent = [item for _, send in log for item in send.items]
    assert sorted(sent) == sorted(i for items in queues.values() for i in items)  # all, once
    times = [t for t, _ in log]
    for i, t in enumerate(times):  # never more than per_s in any second
        assert sum(t - 1.0 < u <= t for u in times[: i + 1]) <= per_s
    by_chat: dict[str, list[tuple[float, Send]]] = defaultdict(list)
    for t, send in log:
        by_chat[send.channel].append((t, send))
    for channel, sends in by_chat.items():
        gap = 3.0 if channel.startswith("telegram:-") else 1.0
        assert all(b[0] - a[0] >= gap for a, b in itertools.pairwise(sends))
        first = sends[0][1].items
        assert min(i.rank for i in first) == min(i.rank for i in queues[channel])
        rest = [i for _, s in sends for i in s.items if i not in first]
        assert rest == sorted(rest)  # per-chat order, the pulled-forward one aside
        assert all(list(s.items) == sorted(s.items) for _, s in sends)
    last_first = max(sends[0][0] for sends in by_chat.values())
    seconds = [sends[1][0] for sends in by_chat.values() if len(sends) > 1]
    if not refuse:  # a 429 delays that chat's first message, by the API's own wish
        assert all(t >= last_first for t in seconds)
    for channel in refuse:  # the refused chat waited its retry_after
        assert by_chat[channel][0][0] >= 2.0


def test_urgency_orders_levels_then_distance() -> None:
    keys = [urgency("warning", 1.0), urgency("liquidatable", None), urgency("critical", 5.0),
            urgency("critical", 2.0), urgency("recovered", None)]  # fmt: skip
    assert sorted(keys) == [keys[1], keys[3], keys[2], keys[0], keys[4]]


def test_first_messages_go_most_urgent_first() -> None:
    queues = {
        "telegram:1": [Item(1, 1, urgency("warning", 9.0))],
        "telegram:2": [Item(2, 2, urgency("liquidatable", -1.0))],
        "telegram:3": [Item(3, 3, urgency("critical", 2.0))],
    }
    scheduler = FairScheduler(global_per_s=1)
    order = [send.channel for _, send in simulate(scheduler, queues)]
    assert order == ["telegram:2", "telegram:3", "telegram:1"]
